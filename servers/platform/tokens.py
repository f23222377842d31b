"""Access-token verification shared by every server: EdDSA/RS256 JWTs checked
locally against the auth service's published keys (JWKS), cached."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import jwt

from servers.platform.context import Principal
from servers.platform.errors import Unauthenticated

ALGORITHMS = ["EdDSA", "RS256"]
# Tolerated clock difference between auth and verifying servers.
LEEWAY_SECONDS = 10

JwksFetcher = Callable[[], Awaitable[Sequence[Mapping[str, Any]]]]


class KeyCache:
    """JWKS keys by kid. Refetched when older than `ttl`, or when a token names an
    unknown kid (at most once per `min_refetch` seconds, so forged kids cannot
    make us hammer the auth service)."""

    def __init__(self, fetch: JwksFetcher, ttl: float = 300.0, min_refetch: float = 5.0):
        self._fetch = fetch
        self._ttl = ttl
        self._min_refetch = min_refetch
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        stale = now - self._fetched_at > self._ttl
        unknown = kid not in self._keys and now - self._fetched_at > self._min_refetch
        if stale or unknown:
            await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at <= self._min_refetch:
                return  # another task just refreshed
            jwks = await self._fetch()
            self._keys = {k["kid"]: jwt.PyJWK.from_json(json.dumps(dict(k))) for k in jwks if k.get("kid")}
            self._fetched_at = time.monotonic()


class TokenVerifier:
    """Verifies access tokens and turns them into a Principal.

    A token that verified is remembered for `memo_seconds` (never past its own
    expiry): the signature check is most of an RPC's authentication CPU, and a
    client sends the same token with every call. Revocation is checked per call
    elsewhere, so remembering cannot keep a logged-out token alive; a key
    removed from the JWKS stops being trusted within `memo_seconds`."""

    def __init__(
        self,
        keys: KeyCache,
        issuer: str,
        audience: str,
        memo_seconds: float = 30.0,
        memo_size: int = 10_000,
    ):
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._memo_seconds = memo_seconds
        self._memo_size = memo_size
        self._verified: dict[str, tuple[Principal, float]] = {}  # token -> (principal, trusted until)

    async def verify(self, token: str) -> Principal:
        """Raises Unauthenticated for any token that is not authentic, current and ours."""
        now = time.monotonic()
        remembered = self._verified.get(token)
        if remembered is not None and now < remembered[1]:
            return remembered[0]
        principal = await self._verify(token)
        lifetime = (principal.expires_at - datetime.now(UTC)).total_seconds()
        if len(self._verified) >= self._memo_size:
            self._verified.pop(next(iter(self._verified)))  # the oldest
        self._verified[token] = (principal, now + min(self._memo_seconds, lifetime))
        return principal

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("malformed access token") from exc
        kid = header.get("kid")
        if not isinstance(kid, str) or header.get("alg") not in ALGORITHMS:
            raise Unauthenticated("access token has no usable key id or algorithm")
        key = await self._keys.get(kid)
        if key is None:
            raise Unauthenticated("access token signed by an unknown key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[header["alg"]],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("access token expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid access token") from exc
        return Principal(
            user_id=str(claims["sub"]),
            email=str(claims.get("email", "")),
            roles=frozenset(claims.get("roles", [])),
            permissions=frozenset(claims.get("permissions", [])),
            token_id=str(claims["jti"]),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )


def revoked_token_key(token_id: str) -> str:
    """Redis key marking an access token (by jti) as revoked until it expires."""
    return f"auth:revoked:{token_id}"
