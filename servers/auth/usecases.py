"""Auth use cases: register, login, refresh (rotation + reuse detection),
validate, logout, me, jwks. Every write commits in one unit of work with its
domain events; Redis (throttle, revocations) and keys are seen through the
Protocols below."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from servers.auth.domain import (
    DEFAULT_ROLES,
    RefreshToken,
    User,
    UserRegistered,
    check_password_strength,
    normalize_email,
)
from servers.platform.context import Principal
from servers.platform.errors import (
    AlreadyExists,
    ErrorReason,
    FieldViolation,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from servers.platform.uow import UnitOfWork


class AuthWrites(Protocol):
    """The repository inside a unit of work (servers.auth.store.AuthRepository)."""

    async def insert_user(
        self, email: str, name: str, password_hash: str, roles: tuple[str, ...]
    ) -> User | None: ...
    async def update_password_hash(self, user_id: str, password_hash: str) -> None: ...
    async def insert_refresh(
        self,
        token_hash: bytes,
        user_id: str,
        family_id: uuid.UUID,
        parent_id: uuid.UUID | None,
        expires_at: datetime,
    ) -> None: ...
    async def lock_refresh(self, token_hash: bytes) -> RefreshToken | None: ...
    async def mark_used(self, token_id: uuid.UUID) -> None: ...
    async def revoke_family(self, family_id: uuid.UUID) -> None: ...
    async def family_of(self, token_hash: bytes, user_id: str) -> uuid.UUID | None: ...
    async def revoke_all_families(self, user_id: str) -> int: ...
    async def set_roles(self, user_id: str, roles: tuple[str, ...]) -> User | None: ...
    async def set_disabled(self, user_id: str, disabled: bool) -> User | None: ...
    async def delete_user(self, user_id: str) -> bool: ...


class AuthReads(Protocol):
    """Reads outside a transaction (servers.auth.queries.AuthQueries)."""

    async def user_with_hash(self, email: str) -> tuple[User, str] | None: ...
    async def get_user(self, user_id: str) -> User | None: ...


class RevokedTokens(Protocol):
    """Access tokens revoked before expiry and per-user token epochs, as every
    server's auth interceptor sees them (servers.auth.revocations.TokenRevocations)."""

    async def revoke(self, token_id: str, ttl_seconds: int) -> None: ...
    async def is_revoked(self, principal: Principal) -> bool: ...
    async def start_epoch(self, user_id: str) -> int:
        """Refuse every token of the user issued until now."""
        ...

    async def epoch(self, user_id: str) -> int: ...


class LoginAttempts(Protocol):
    """Failed-login throttling per client, per (email, client) and per email
    (servers.auth.throttle.LoginThrottle)."""

    async def check(self, email: str, client: str) -> None:
        """Raise RateLimited while this client may not try this email."""
        ...

    async def failed(self, email: str, client: str) -> None: ...
    async def succeeded(self, email: str, client: str) -> None: ...


class SigningKeys(Protocol):
    """The token signing key ring (servers.auth.keys.KeyRing)."""

    async def sign(self, claims: dict[str, Any]) -> str: ...
    async def jwks(self) -> list[dict[str, Any]]: ...


class AccessTokenVerifier(Protocol):
    """Signature, issuer, audience and expiry checks (servers.platform.tokens.TokenVerifier)."""

    async def verify(self, token: str) -> Principal:
        """The token's principal; Unauthenticated if it is not valid."""
        ...


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    access_ttl: timedelta
    refresh_ttl: timedelta


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


def _hash_refresh(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AuthUseCases:
    def __init__(
        self,
        uow: UnitOfWork[AuthWrites],
        reads: AuthReads,
        keys: SigningKeys,
        attempts: LoginAttempts,
        revoked: RevokedTokens,
        verifier: AccessTokenVerifier,
        policy: TokenPolicy,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ):
        self._uow = uow
        self._reads = reads
        self._keys = keys
        self._attempts = attempts
        self._revoked = revoked
        self._verifier = verifier
        self._policy = policy
        self._hasher = hasher or PasswordHasher()  # argon2id with the library's current defaults
        self._clock = clock
        # Verified against when the email is unknown, so timing does not reveal it.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    async def register(self, email: str, password: str, name: str) -> User:
        """Create an account with the default roles; ALREADY_EXISTS if the email is taken."""
        email = normalize_email(email)
        check_password_strength(password, email)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        async with self._uow() as tx:
            user = await tx.repo.insert_user(email, name.strip(), password_hash, DEFAULT_ROLES)
            if user is None:
                raise AlreadyExists(
                    "an account with this email already exists",
                    [FieldViolation("email", "already registered")],
                )
            tx.record(UserRegistered(user))
        return user

    async def login(self, email: str, password: str, client: str) -> Session:
        """A new session (a new refresh token family); throttled per client and
        email (servers.auth.throttle). A disabled account is told so only after
        the right password, as Keycloak does."""
        email = normalize_email(email)
        await self._attempts.check(email, client)
        found = await self._reads.user_with_hash(email)
        password_hash = found[1] if found else self._dummy_hash
        if not await asyncio.to_thread(self._verify, password_hash, password) or found is None:
            await self._attempts.failed(email, client)
            raise Unauthenticated("invalid email or password", reason=ErrorReason.INVALID_CREDENTIALS)
        user, _ = found
        await self._attempts.succeeded(email, client)
        if user.disabled:
            raise PermissionDenied("this account is disabled")
        rehashed = None
        if self._hasher.check_needs_rehash(password_hash):
            rehashed = await asyncio.to_thread(self._hasher.hash, password)
        refresh = secrets.token_urlsafe(32)
        async with self._uow() as tx:
            if rehashed is not None:
                await tx.repo.update_password_hash(user.id, rehashed)
            await tx.repo.insert_refresh(
                _hash_refresh(refresh), user.id, uuid.uuid4(), None, self._refresh_expiry()
            )
        return Session(await self._access_token(user), refresh, self._expires_in, user)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def refresh(self, refresh_token: str) -> Session:
        """Rotate the refresh token. A spent one coming back means someone holds a
        stolen copy: its whole family is revoked (committed) and the call fails."""
        new_refresh = secrets.token_urlsafe(32)
        async with self._uow() as tx:
            record = await tx.repo.lock_refresh(_hash_refresh(refresh_token))
            if record is None or not record.usable(self._clock()):
                raise Unauthenticated("refresh token is invalid, expired or revoked")
            reused = record.used_at is not None
            if reused:
                await tx.repo.revoke_family(record.family_id)
                # The stolen copy may already have minted access tokens: refuse them all.
                await self._revoked.start_epoch(record.user_id)
            else:
                await tx.repo.mark_used(record.id)
                await tx.repo.insert_refresh(
                    _hash_refresh(new_refresh),
                    record.user_id,
                    record.family_id,
                    record.id,
                    self._refresh_expiry(),
                )
        if reused:  # raised after the commit, so the revocation sticks
            raise Unauthenticated(
                "refresh token was already used; all its sessions are revoked", ErrorReason.TOKEN_REUSED
            )
        user = await self._reads.get_user(record.user_id)
        if user is None or user.disabled:
            raise Unauthenticated("account no longer exists or is disabled")
        return Session(await self._access_token(user), new_refresh, self._expires_in, user)

    async def validate(self, token: str) -> Principal | None:
        """The token's principal, or None if it is invalid, expired or revoked."""
        try:
            principal = await self._verifier.verify(token)
        except Unauthenticated:
            return None
        if await self._revoked.is_revoked(principal):
            return None
        return principal

    async def logout(self, principal: Principal, refresh_token: str, all_sessions: bool) -> int:
        """Revoke the caller's access token and one session (by its refresh token)
        or all of them; returns how many sessions ended."""
        ttl = int((principal.expires_at - self._clock()).total_seconds()) + 60
        await self._revoked.revoke(principal.token_id, ttl)
        if not all_sessions and not refresh_token:
            return 0
        if all_sessions:
            async with self._uow() as tx:
                ended = await tx.repo.revoke_all_families(principal.user_id)
            await self._revoked.start_epoch(principal.user_id)  # every other access token too
            return ended
        async with self._uow() as tx:
            family = await tx.repo.family_of(_hash_refresh(refresh_token), principal.user_id)
            if family is None:
                raise NotFound("refresh token not found for this user")
            await tx.repo.revoke_family(family)
        return 1

    async def me(self, principal: Principal) -> User:
        user = await self._reads.get_user(principal.user_id)
        if user is None:
            raise NotFound("account not found")
        return user

    async def jwks(self) -> list[dict[str, Any]]:
        return await self._keys.jwks()

    @property
    def _expires_in(self) -> int:
        return int(self._policy.access_ttl.total_seconds())

    def _refresh_expiry(self) -> datetime:
        return self._clock() + self._policy.refresh_ttl

    async def _access_token(self, user: User) -> str:
        now = int(time.time())
        # Never before the user's token epoch, or a token issued in the epoch's
        # own second would be refused (iat has one-second resolution).
        issued_at = max(now, await self._revoked.epoch(user.id))
        return await self._keys.sign(
            {
                "iss": self._policy.issuer,
                "aud": self._policy.audience,
                "sub": user.id,
                "email": user.email,
                "name": user.name,
                "roles": list(user.roles),
                "permissions": user.permissions,
                "iat": issued_at,
                "nbf": now,
                "exp": now + self._expires_in,
                "jti": uuid.uuid4().hex,
            }
        )
