"""Auth use cases against in-memory fakes of the Protocols they own."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher

from servers.auth.domain import RefreshToken, User, UserRegistered
from servers.auth.usecases import AuthUseCases, TokenPolicy
from servers.platform.context import Principal
from servers.platform.errors import (
    AlreadyExists,
    ErrorReason,
    InvalidArgument,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from servers.platform.uow import InMemoryUnitOfWork, Transaction
from tests.helpers import STRONG_PASSWORD, acting_as

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


CLIENT = "203.0.113.7"


class FakeAuthRepo:
    """AuthWrites and AuthReads over dicts."""

    def __init__(self) -> None:
        self.users: dict[str, tuple[User, str]] = {}  # email -> (user, password hash)
        self.tokens: dict[bytes, RefreshToken] = {}
        self.parents: dict[uuid.UUID, uuid.UUID | None] = {}

    async def insert_user(
        self, email: str, name: str, password_hash: str, roles: tuple[str, ...]
    ) -> User | None:
        if email in self.users:
            return None
        user = User(str(uuid.uuid4()), email, name, roles, datetime.now(UTC))
        self.users[email] = (user, password_hash)
        return user

    async def update_password_hash(self, user_id: str, password_hash: str) -> None:
        for email, (user, _) in self.users.items():
            if user.id == user_id:
                self.users[email] = (user, password_hash)

    async def insert_refresh(
        self,
        token_hash: bytes,
        user_id: str,
        family_id: uuid.UUID,
        parent_id: uuid.UUID | None,
        expires_at: datetime,
    ) -> None:
        token = RefreshToken(uuid.uuid4(), family_id, user_id, expires_at, None, None)
        self.tokens[token_hash] = token
        self.parents[token.id] = parent_id

    async def lock_refresh(self, token_hash: bytes) -> RefreshToken | None:
        return self.tokens.get(token_hash)

    def _update(self, match: Any, **changes: Any) -> int:
        families = set()
        for key, token in self.tokens.items():
            if match(token):
                self.tokens[key] = replace(token, **changes)
                families.add(token.family_id)
        return len(families)

    async def mark_used(self, token_id: uuid.UUID) -> None:
        self._update(lambda t: t.id == token_id, used_at=datetime.now(UTC))

    async def revoke_family(self, family_id: uuid.UUID) -> None:
        self._update(
            lambda t: t.family_id == family_id and t.revoked_at is None, revoked_at=datetime.now(UTC)
        )

    async def family_of(self, token_hash: bytes, user_id: str) -> uuid.UUID | None:
        token = self.tokens.get(token_hash)
        return token.family_id if token and token.user_id == user_id else None

    async def revoke_all_families(self, user_id: str) -> int:
        return self._update(
            lambda t: t.user_id == user_id and t.revoked_at is None, revoked_at=datetime.now(UTC)
        )

    async def user_with_hash(self, email: str) -> tuple[User, str] | None:
        return self.users.get(email)

    async def get_user(self, user_id: str) -> User | None:
        return next((u for u, _ in self.users.values() if u.id == user_id), None)


class TrackingUnitOfWork(InMemoryUnitOfWork[FakeAuthRepo]):
    """Also remembers whether each transaction committed or rolled back."""

    def __init__(self, repo: FakeAuthRepo):
        super().__init__(repo)
        self.outcomes: list[str] = []

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Transaction[FakeAuthRepo]]:
        try:
            async with super().__call__() as tx:
                yield tx
        except BaseException:
            self.outcomes.append("rolled back")
            raise
        self.outcomes.append("committed")


class FakeKeys:
    async def sign(self, claims: dict[str, Any]) -> str:
        return f"signed:{claims['sub']}:{claims['jti']}"

    async def jwks(self) -> list[dict[str, Any]]:
        return [{"kid": "k1"}]


class FakeAttempts:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.locked: set[str] = set()

    async def check(self, email: str, client: str) -> None:
        if email in self.locked:
            raise RateLimited("locked", retry_after_seconds=60)

    async def failed(self, email: str, client: str) -> None:
        self.failures.append(email)

    async def succeeded(self, email: str, client: str) -> None:
        self.failures = [e for e in self.failures if e != email]


class FakeRevoked:
    def __init__(self) -> None:
        self.ttls: dict[str, int] = {}
        self.epochs: dict[str, int] = {}

    async def revoke(self, token_id: str, ttl_seconds: int) -> None:
        self.ttls[token_id] = ttl_seconds

    async def is_revoked(self, principal: Principal) -> bool:
        return principal.token_id in self.ttls or principal.issued_at < self.epochs.get(principal.user_id, 0)

    async def start_epoch(self, user_id: str) -> int:
        self.epochs[user_id] = int(time.time()) + 1
        return self.epochs[user_id]

    async def epoch(self, user_id: str) -> int:
        return self.epochs.get(user_id, 0)


class FakeVerifier:
    def __init__(self) -> None:
        self.valid: dict[str, Principal] = {}

    async def verify(self, token: str) -> Principal:
        if token not in self.valid:
            raise Unauthenticated("invalid access token")
        return self.valid[token]


@dataclass
class Fakes:
    repo: FakeAuthRepo = field(default_factory=FakeAuthRepo)
    attempts: FakeAttempts = field(default_factory=FakeAttempts)
    revoked: FakeRevoked = field(default_factory=FakeRevoked)
    verifier: FakeVerifier = field(default_factory=FakeVerifier)

    def __post_init__(self) -> None:
        self.uow = TrackingUnitOfWork(self.repo)


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
def auth(fakes: Fakes) -> AuthUseCases:
    policy = TokenPolicy("aether-auth", "aether", timedelta(minutes=15), timedelta(days=30))
    f = fakes
    return AuthUseCases(f.uow, f.repo, FakeKeys(), f.attempts, f.revoked, f.verifier, policy, hasher=FAST)


async def test_register_records_user_registered(auth: AuthUseCases, fakes: Fakes) -> None:
    user = await auth.register("  Ada@Example.COM ", STRONG_PASSWORD, " Ada ")
    assert (user.email, user.name, user.roles) == ("ada@example.com", "Ada", ("user",))
    assert fakes.uow.committed == [UserRegistered(user)]
    assert "analytics:write" in user.permissions  # the README's analytics example works for a new user


async def test_duplicate_email_is_already_exists_and_records_nothing(
    auth: AuthUseCases, fakes: Fakes
) -> None:
    first = await auth.register("ada@example.com", STRONG_PASSWORD, "Ada")
    with pytest.raises(AlreadyExists):
        await auth.register("ADA@example.com", STRONG_PASSWORD, "Other Ada")
    assert fakes.uow.committed == [UserRegistered(first)]
    assert fakes.uow.outcomes == ["committed", "rolled back"]


async def test_weak_password_writes_nothing(auth: AuthUseCases, fakes: Fakes) -> None:
    with pytest.raises(InvalidArgument):
        await auth.register("ada@example.com", "aaaaaaaaaaaa", "Ada")
    assert fakes.uow.outcomes == []


async def test_login_starts_a_new_refresh_family(auth: AuthUseCases, fakes: Fakes) -> None:
    user = await auth.register("ada@example.com", STRONG_PASSWORD, "Ada")
    first = await auth.login("ada@example.com", STRONG_PASSWORD, CLIENT)
    second = await auth.login("ADA@example.com", STRONG_PASSWORD, CLIENT)
    assert first.user == second.user == user and first.expires_in == 900
    assert first.access_token.startswith(f"signed:{user.id}:")
    assert len({t.family_id for t in fakes.repo.tokens.values()}) == 2


async def test_wrong_password_and_unknown_email_fail_alike(auth: AuthUseCases, fakes: Fakes) -> None:
    await auth.register("ada@example.com", STRONG_PASSWORD, "Ada")
    for email, password in [("ada@example.com", "Wrong-Horse-42"), ("nobody@example.com", STRONG_PASSWORD)]:
        with pytest.raises(Unauthenticated) as err:
            await auth.login(email, password, CLIENT)
        assert err.value.reason == ErrorReason.INVALID_CREDENTIALS
    assert fakes.attempts.failures == ["ada@example.com", "nobody@example.com"]
    fakes.attempts.locked.add("ada@example.com")
    with pytest.raises(RateLimited):
        await auth.login("ada@example.com", STRONG_PASSWORD, CLIENT)


async def test_login_rehashes_an_outdated_hash(auth: AuthUseCases, fakes: Fakes) -> None:
    await auth.register("ada@example.com", STRONG_PASSWORD, "Ada")
    user, _ = fakes.repo.users["ada@example.com"]
    fakes.repo.users["ada@example.com"] = (
        user,
        PasswordHasher(time_cost=2, memory_cost=8, parallelism=1).hash(STRONG_PASSWORD),
    )
    await auth.login("ada@example.com", STRONG_PASSWORD, CLIENT)
    assert not FAST.check_needs_rehash(fakes.repo.users["ada@example.com"][1])


async def test_refresh_rotates_within_the_family(auth: AuthUseCases, fakes: Fakes) -> None:
    await auth.register("ada@example.com", STRONG_PASSWORD, "Ada")
    login = await auth.login("ada@example.com", STRONG_PASSWORD, CLIENT)
    rotated = await auth.refresh(login.refresh_token)
    assert rotated.refresh_token != login.refresh_token
    old, new = sorted(fakes.repo.tokens.values(), key=lambda t: t.used_at is None)
    assert old.used_at is not None and new.used_at is None
    assert old.family_id == new.family_id and fakes.repo.parents[new.id] == old.id


async def test_refresh_reuse_commits_the_family_revocation_then_fails(
    auth: AuthUseCases, fakes: Fakes
) -> None:
    await auth.register("ada@example.com", STRONG_PASSWORD, "Ada")
    login = await auth.login("ada@example.com", STRONG_PASSWORD, CLIENT)
    rotated = await auth.refresh(login.refresh_token)
    with pytest.raises(Unauthenticated) as err:
        await auth.refresh(login.refresh_token)
    assert err.value.reason == ErrorReason.TOKEN_REUSED
    assert fakes.uow.outcomes[-1] == "committed"
    assert all(t.revoked_at is not None for t in fakes.repo.tokens.values())
    with pytest.raises(Unauthenticated):  # the thief's rotation is dead too
        await auth.refresh(rotated.refresh_token)
    assert len(fakes.uow.committed) == 1  # only user.registered
    assert login.user.id in fakes.revoked.epochs  # access tokens the thief minted end too


async def test_refresh_with_an_unknown_or_expired_token_fails(auth: AuthUseCases, fakes: Fakes) -> None:
    await auth.register("ada@example.com", STRONG_PASSWORD, "Ada")
    login = await auth.login("ada@example.com", STRONG_PASSWORD, CLIENT)
    with pytest.raises(Unauthenticated):
        await auth.refresh("not-a-token")
    for key, token in fakes.repo.tokens.items():
        fakes.repo.tokens[key] = replace(token, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(Unauthenticated):
        await auth.refresh(login.refresh_token)


async def test_logout_revokes_the_access_token_and_the_session(auth: AuthUseCases, fakes: Fakes) -> None:
    user = await auth.register("ada@example.com", STRONG_PASSWORD, "Ada")
    login = await auth.login("ada@example.com", STRONG_PASSWORD, CLIENT)
    await auth.login("ada@example.com", STRONG_PASSWORD, CLIENT)
    with acting_as(user.id) as principal:
        assert await auth.logout(principal, login.refresh_token, all_sessions=False) == 1
    assert 900 < fakes.revoked.ttls[principal.token_id] <= 960  # until the token expires, plus leeway
    assert [t.revoked_at is not None for t in fakes.repo.tokens.values()] == [True, False]
    with pytest.raises(Unauthenticated):
        await auth.refresh(login.refresh_token)


async def test_logout_all_sessions_and_without_a_refresh_token(auth: AuthUseCases, fakes: Fakes) -> None:
    user = await auth.register("ada@example.com", STRONG_PASSWORD, "Ada")
    for _ in range(2):
        await auth.login("ada@example.com", STRONG_PASSWORD, CLIENT)
    with acting_as(user.id) as principal:
        assert await auth.logout(principal, "", all_sessions=False) == 0
        assert await auth.logout(principal, "", all_sessions=True) == 2
    assert principal.token_id in fakes.revoked.ttls
    assert user.id in fakes.revoked.epochs  # the other sessions' access tokens end too


async def test_logout_with_someone_elses_refresh_token_is_not_found(auth: AuthUseCases) -> None:
    await auth.register("ada@example.com", STRONG_PASSWORD, "Ada")
    mallory = await auth.register("mallory@example.com", STRONG_PASSWORD, "Mallory")
    ada = await auth.login("ada@example.com", STRONG_PASSWORD, CLIENT)
    with acting_as(mallory.id) as principal, pytest.raises(NotFound):
        await auth.logout(principal, ada.refresh_token, all_sessions=False)


async def test_validate_checks_the_revocations(auth: AuthUseCases, fakes: Fakes) -> None:
    with acting_as("u1") as principal:
        fakes.verifier.valid["good"] = principal
        assert await auth.validate("good") == principal
        assert await auth.validate("bad") is None
        await fakes.revoked.revoke(principal.token_id, 60)
        assert await auth.validate("good") is None


async def test_me_and_jwks(auth: AuthUseCases) -> None:
    user = await auth.register("ada@example.com", STRONG_PASSWORD, "Ada")
    with acting_as(user.id) as principal:
        assert await auth.me(principal) == user
    with acting_as(str(uuid.uuid4())) as stranger, pytest.raises(NotFound):
        await auth.me(stranger)
    assert await auth.jwks() == [{"kid": "k1"}]
