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

    Two kinds are accepted: a user's access token (audience `audience`, the
    public one Envoy also checks) and, when `internal_audience` is set, a
    service token (sub "service:<name>", claim `on_behalf_of`: the user the
    service acts for; see servers/platform/identity.py). A service token's
    Principal has user_id = the on-behalf-of user and `service` = the name.

    A token that verified is remembered for `memo_seconds` (never past its own
    expiry): the signature check is most of an RPC's authentication CPU, and a
    client sends the same token with every call. Revocation is checked per call
    elsewhere, so remembering cannot keep a logged-out token alive; a key
    removed from the JWKS stops being trusted within `memo_seconds`.

    `clock` (Unix seconds) decides expiry, not-before and the memo, so tests
    can move time instead of sleeping."""

    def __init__(
        self,
        keys: KeyCache,
        issuer: str,
        audience: str,
        memo_seconds: float = 30.0,
        memo_size: int = 10_000,
        *,
        internal_audience: str | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._internal_audience = internal_audience
        self._audiences = [audience] + ([internal_audience] if internal_audience else [])
        self._memo_seconds = memo_seconds
        self._memo_size = memo_size
        self._clock = clock
        self._verified: dict[str, tuple[Principal, float]] = {}  # token -> (principal, trusted until)

    async def verify(self, token: str) -> Principal:
        """Raises Unauthenticated for any token that is not authentic, current and ours."""
        now = self._clock()
        remembered = self._verified.get(token)
        if remembered is not None and now < remembered[1]:
            return remembered[0]
        principal = await self._verify(token, now)
        if len(self._verified) >= self._memo_size:
            self._verified.pop(next(iter(self._verified)))  # the oldest
        until = min(now + self._memo_seconds, principal.expires_at.timestamp())
        self._verified[token] = (principal, until)
        return principal

    async def _verify(self, token: str, now: float) -> Principal:
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
                audience=self._audiences,
                issuer=self._issuer,
                # Times are checked below against the injected clock.
                options={
                    "require": ["exp", "iat", "sub", "jti", "iss", "aud"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid access token") from exc
        _check_times(claims, now)
        service, user_id = self._subject(claims)
        return Principal(
            user_id=user_id,
            email=str(claims.get("email", "")),
            roles=frozenset(claims.get("roles", [])),
            permissions=frozenset(claims.get("permissions", [])),
            token_id=str(claims["jti"]),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            service=service,
            issued_at=int(claims["iat"]),
        )

    def _subject(self, claims: Mapping[str, Any]) -> tuple[str, str]:
        """(service name or "", user id) of a token, by its audience: only the
        internal audience may name a service, and it must name one."""
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        internal = self._internal_audience is not None and self._internal_audience in audiences
        subject = str(claims["sub"])
        on_behalf_of = claims.get("on_behalf_of")
        if not internal:
            if subject.startswith(SERVICE_SUBJECT_PREFIX) or on_behalf_of is not None:
                raise Unauthenticated("invalid access token: a service identity needs the internal audience")
            return "", subject
        if self._audience in audiences:
            raise Unauthenticated("invalid access token: both the public and the internal audience")
        service = subject.removeprefix(SERVICE_SUBJECT_PREFIX)
        if service == subject or not service or not isinstance(on_behalf_of, str) or not on_behalf_of:
            raise Unauthenticated("invalid service token: needs sub 'service:<name>' and on_behalf_of")
        return service, on_behalf_of


# A service token's subject: "service:<name>" (never a user id).
SERVICE_SUBJECT_PREFIX = "service:"


def _check_times(claims: Mapping[str, Any], now: float) -> None:
    """exp, nbf and iat against `now`, with LEEWAY_SECONDS of tolerance."""
    try:
        exp = int(claims["exp"])
        nbf = int(claims.get("nbf", claims["iat"]))
        iat = int(claims["iat"])
    except (TypeError, ValueError, OverflowError) as exc:
        raise Unauthenticated("invalid access token: malformed time claims") from exc
    if exp <= now - LEEWAY_SECONDS:
        raise Unauthenticated("access token expired")
    if nbf > now + LEEWAY_SECONDS or iat > now + LEEWAY_SECONDS:
        raise Unauthenticated("access token not valid yet")
