"""Auth use cases: register, login, refresh (rotation + reuse detection),
validate, logout, me, jwks."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

from servers.auth import mapping
from servers.auth.domain import DEFAULT_ROLES, User, check_password_strength, normalize_email
from servers.auth.keys import ALGORITHM, KeyRing
from servers.auth.store import AuthStore
from servers.auth.throttle import LoginThrottle
from servers.platform import events
from servers.platform.context import Principal
from servers.platform.errors import (
    AlreadyExists,
    ErrorReason,
    FieldViolation,
    NotFound,
    Unauthenticated,
)
from servers.platform.tokens import TokenVerifier, revoked_token_key


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


class AuthUseCases:
    def __init__(
        self,
        store: AuthStore,
        keys: KeyRing,
        throttle: LoginThrottle,
        redis: Redis,
        verifier: TokenVerifier,
        policy: TokenPolicy,
        hasher: PasswordHasher | None = None,
    ):
        self._store = store
        self._keys = keys
        self._throttle = throttle
        self._redis = redis
        self._verifier = verifier
        self._policy = policy
        self._hasher = hasher or PasswordHasher()  # argon2id with the library's current defaults
        # Verified against when the email is unknown, so timing does not reveal it.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    async def register(self, email: str, password: str, name: str) -> User:
        email = normalize_email(email)
        check_password_strength(password, email)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)

        async def emit(conn: asyncpg.Connection, user: User) -> None:
            await events.publish(
                conn,
                event_type="user.registered",
                source="auth",
                subject=user.id,
                payload=mapping.user_registered(user),
            )

        user = await self._store.create_user(email, name.strip(), password_hash, DEFAULT_ROLES, emit)
        if user is None:
            raise AlreadyExists(
                "an account with this email already exists", [FieldViolation("email", "already registered")]
            )
        return user

    async def login(self, email: str, password: str) -> Session:
        email = normalize_email(email)
        await self._throttle.check(email)
        found = await self._store.user_with_hash(email)
        password_hash = found[1] if found else self._dummy_hash
        if not await asyncio.to_thread(self._verify, password_hash, password) or found is None:
            await self._throttle.failed(email)
            raise Unauthenticated("invalid email or password", reason=ErrorReason.INVALID_CREDENTIALS)
        user, _ = found
        await self._throttle.succeeded(email)
        if self._hasher.check_needs_rehash(password_hash):
            await self._store.update_password_hash(
                user.id, await asyncio.to_thread(self._hasher.hash, password)
            )
        refresh = secrets.token_urlsafe(32)
        await self._store.insert_refresh(
            self._store.pool, _hash_refresh(refresh), user.id, uuid.uuid4(), None, self._refresh_expiry()
        )
        return Session(await self._access_token(user), refresh, self._expires_in, user)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def refresh(self, refresh_token: str) -> Session:
        token_hash = _hash_refresh(refresh_token)
        reused = False
        async with self._store.pool.acquire() as conn, conn.transaction():
            record = await self._store.lock_refresh(conn, token_hash)
            if record is None or record.revoked_at is not None or record.expires_at <= datetime.now(UTC):
                raise Unauthenticated("refresh token is invalid, expired or revoked")
            if record.used_at is not None:
                # A spent token came back: someone holds a stolen copy. Kill the family.
                await self._store.revoke_family(conn, record.family_id)
                reused = True
            else:
                await self._store.mark_used(conn, record.id)
                new_refresh = secrets.token_urlsafe(32)
                await self._store.insert_refresh(
                    conn,
                    _hash_refresh(new_refresh),
                    str(record.user_id),
                    record.family_id,
                    record.id,
                    self._refresh_expiry(),
                )
        if reused:  # raised after commit so the revocation sticks
            raise Unauthenticated(
                "refresh token was already used; all its sessions are revoked", ErrorReason.TOKEN_REUSED
            )
        user = await self._store.get_user(str(record.user_id))
        if user is None:
            raise Unauthenticated("account no longer exists")
        return Session(await self._access_token(user), new_refresh, self._expires_in, user)

    async def validate(self, token: str) -> Principal | None:
        try:
            principal = await self._verifier.verify(token)
        except Unauthenticated:
            return None
        if await self._redis.exists(revoked_token_key(principal.token_id)):
            return None
        return principal

    async def logout(self, principal: Principal, refresh_token: str, all_sessions: bool) -> int:
        ttl = int((principal.expires_at - datetime.now(UTC)).total_seconds()) + 60
        await self._redis.set(revoked_token_key(principal.token_id), "1", ex=max(ttl, 1))
        if all_sessions:
            return await self._store.revoke_all_families(principal.user_id)
        if not refresh_token:
            return 0
        family = await self._store.family_of(_hash_refresh(refresh_token), principal.user_id)
        if family is None:
            raise NotFound("refresh token not found for this user")
        await self._store.revoke_family(self._store.pool, family)
        return 1

    async def me(self, principal: Principal) -> User:
        user = await self._store.get_user(principal.user_id)
        if user is None:
            raise NotFound("account not found")
        return user

    async def jwks(self) -> list[dict[str, Any]]:
        return await self._keys.jwks()

    @property
    def _expires_in(self) -> int:
        return int(self._policy.access_ttl.total_seconds())

    def _refresh_expiry(self) -> datetime:
        return datetime.now(UTC) + self._policy.refresh_ttl

    async def _access_token(self, user: User) -> str:
        key = await self._keys.active()
        now = int(time.time())
        claims = {
            "iss": self._policy.issuer,
            "aud": self._policy.audience,
            "sub": user.id,
            "email": user.email,
            "name": user.name,
            "roles": list(user.roles),
            "permissions": user.permissions,
            "iat": now,
            "nbf": now,
            "exp": now + self._expires_in,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
