"""TokenVerifier on a fake clock: expiry and not-before with their leeway, the
memo of verified tokens (never longer than its window or the token's own
expiry, so a key withdrawn from the JWKS stops being trusted once it ends),
and the two kinds of token it accepts (a user's, and a service's acting on
behalf of a user)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from servers.platform.errors import Unauthenticated
from servers.platform.tokens import LEEWAY_SECONDS, KeyCache, TokenVerifier

ISSUER, AUDIENCE, INTERNAL = "aether-auth", "aether", "aether-internal"
T0 = 1_900_000_000.0


class Clock:
    """Unix time that only moves when the test says so."""

    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Keys:
    """A JWKS endpoint whose keys the test can withdraw."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.private = Ed25519PrivateKey.generate()
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.private.public_key()))
        self.published: list[dict[str, Any]] = [jwk | {"kid": "k1", "alg": "EdDSA"}]
        self.fetches = 0

    async def fetch(self) -> list[dict[str, Any]]:
        self.fetches += 1
        return self.published

    def token(self, lifetime: float, *, not_before: float = 0, **claims: Any) -> str:
        now = int(self.clock())
        base = {
            "sub": "user-1",
            "jti": uuid.uuid4().hex,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now + int(not_before),
            "exp": now + int(lifetime),
            "permissions": ["ai:use"],
        }
        return jwt.encode(base | claims, self.private, algorithm="EdDSA", headers={"kid": "k1"})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(clock: Clock) -> Keys:
    return Keys(clock)


def verifier(
    keys: Keys, clock: Clock, memo_seconds: float = 30, internal: str | None = INTERNAL
) -> TokenVerifier:
    # min_refetch=0: once the memo ends, an unknown kid is looked up again at once.
    return TokenVerifier(
        KeyCache(keys.fetch, ttl=0, min_refetch=0),
        ISSUER,
        AUDIENCE,
        memo_seconds,
        internal_audience=internal,
        clock=clock,
    )


async def test_a_token_expires_on_the_injected_clock_with_the_leeway(keys: Keys, clock: Clock) -> None:
    tokens = verifier(keys, clock, memo_seconds=0)
    token = keys.token(lifetime=60)
    assert (await tokens.verify(token)).user_id == "user-1"
    clock.advance(60 + LEEWAY_SECONDS - 1)  # past exp, within the leeway
    assert (await tokens.verify(token)).user_id == "user-1"
    clock.advance(1)
    with pytest.raises(Unauthenticated, match="expired"):
        await tokens.verify(token)


async def test_a_token_is_not_valid_before_its_nbf(keys: Keys, clock: Clock) -> None:
    tokens = verifier(keys, clock, memo_seconds=0)
    early = keys.token(lifetime=600, not_before=LEEWAY_SECONDS + 5)
    with pytest.raises(Unauthenticated, match="not valid yet"):
        await tokens.verify(early)
    clock.advance(5)  # now within the leeway of nbf
    assert (await tokens.verify(early)).user_id == "user-1"


async def test_a_verified_token_is_trusted_until_the_memo_ends(keys: Keys, clock: Clock) -> None:
    tokens = verifier(keys, clock, memo_seconds=30)
    token = keys.token(lifetime=600)
    principal = await tokens.verify(token)
    assert principal.user_id == "user-1" and "ai:use" in principal.permissions
    assert not principal.is_service and principal.on_behalf_of is None

    keys.published = []  # the key is withdrawn
    fetches = keys.fetches
    clock.advance(29)
    assert await tokens.verify(token) == principal  # remembered: no key lookup, no signature check
    assert keys.fetches == fetches

    clock.advance(1)
    with pytest.raises(Unauthenticated, match="unknown key"):
        await tokens.verify(token)


async def test_the_memo_never_outlives_the_token(keys: Keys, clock: Clock) -> None:
    tokens = verifier(keys, clock, memo_seconds=600)
    token = keys.token(lifetime=1)
    await tokens.verify(token)
    keys.published = []
    clock.advance(1)  # at exp: the memo has ended even though memo_seconds has not
    with pytest.raises(Unauthenticated, match="unknown key"):
        await tokens.verify(token)


async def test_a_forged_token_is_never_remembered_as_valid(keys: Keys, clock: Clock) -> None:
    tokens = verifier(keys, clock, memo_seconds=600)
    token = keys.token(lifetime=600)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await tokens.verify(forged)
    assert (await tokens.verify(token)).user_id == "user-1"


async def test_a_service_token_is_the_user_it_acts_for(keys: Keys, clock: Clock) -> None:
    tokens = verifier(keys, clock)
    token = keys.token(300, aud=INTERNAL, sub="service:integrations", on_behalf_of="user-7")
    principal = await tokens.verify(token)
    assert principal.user_id == "user-7"  # ownership scoping sees the real user
    assert principal.service == "integrations" and principal.is_service
    assert principal.on_behalf_of == "user-7"


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": INTERNAL, "sub": "service:integrations"},  # on whose behalf?
        {"aud": INTERNAL, "sub": "user-7", "on_behalf_of": "user-7"},  # not a service subject
        {"aud": INTERNAL, "sub": "service:", "on_behalf_of": "user-7"},  # no service name
        {"aud": AUDIENCE, "sub": "service:integrations", "on_behalf_of": "user-7"},  # public audience
        {"aud": AUDIENCE, "sub": "user-1", "on_behalf_of": "user-7"},  # a user token claiming another user
        {"aud": [AUDIENCE, INTERNAL], "sub": "service:integrations", "on_behalf_of": "user-7"},
        {"aud": "somebody-else", "sub": "user-1"},
    ],
)
async def test_service_claims_only_with_the_internal_audience(
    keys: Keys, clock: Clock, claims: dict[str, Any]
) -> None:
    with pytest.raises(Unauthenticated):
        await verifier(keys, clock).verify(keys.token(300, **claims))


async def test_without_an_internal_audience_service_tokens_are_refused(keys: Keys, clock: Clock) -> None:
    token = keys.token(300, aud=INTERNAL, sub="service:integrations", on_behalf_of="user-7")
    with pytest.raises(Unauthenticated):
        await verifier(keys, clock, internal=None).verify(token)
