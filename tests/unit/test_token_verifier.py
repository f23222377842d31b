"""TokenVerifier remembers verified tokens, but never longer than its memo
window or the token's own expiry: a key withdrawn from the JWKS stops being
trusted once the memo ends."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from servers.platform.errors import Unauthenticated
from servers.platform.tokens import KeyCache, TokenVerifier

ISSUER, AUDIENCE = "aether-auth", "aether"


class Keys:
    """A JWKS endpoint whose keys the test can withdraw."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.private.public_key()))
        self.published: list[dict[str, Any]] = [jwk | {"kid": "k1", "alg": "EdDSA"}]
        self.fetches = 0

    async def fetch(self) -> list[dict[str, Any]]:
        self.fetches += 1
        return self.published

    def token(self, lifetime: float) -> str:
        now = int(time.time())
        claims = {
            "sub": "user-1",
            "jti": uuid.uuid4().hex,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + lifetime,
            "permissions": ["ai:use"],
        }
        return jwt.encode(claims, self.private, algorithm="EdDSA", headers={"kid": "k1"})


def verifier(keys: Keys, memo_seconds: float) -> TokenVerifier:
    # min_refetch=0: once the memo ends, an unknown kid is looked up again at once.
    return TokenVerifier(KeyCache(keys.fetch, ttl=0, min_refetch=0), ISSUER, AUDIENCE, memo_seconds)


async def test_a_verified_token_is_trusted_until_the_memo_ends() -> None:
    keys = Keys()
    tokens = verifier(keys, memo_seconds=0.3)
    token = keys.token(lifetime=600)
    principal = await tokens.verify(token)
    assert principal.user_id == "user-1" and "ai:use" in principal.permissions

    keys.published = []  # the key is withdrawn
    fetches = keys.fetches
    assert await tokens.verify(token) == principal  # remembered: no key lookup, no signature check
    assert keys.fetches == fetches

    await asyncio.sleep(0.35)
    with pytest.raises(Unauthenticated, match="unknown key"):
        await tokens.verify(token)


async def test_the_memo_never_outlives_the_token() -> None:
    keys = Keys()
    tokens = verifier(keys, memo_seconds=600)
    token = keys.token(lifetime=1)
    await tokens.verify(token)
    keys.published = []
    await asyncio.sleep(1.1)  # past exp: the memo has ended even though memo_seconds has not
    with pytest.raises(Unauthenticated):
        await tokens.verify(token)


async def test_a_forged_token_is_never_remembered_as_valid() -> None:
    keys = Keys()
    tokens = verifier(keys, memo_seconds=600)
    token = keys.token(lifetime=600)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await tokens.verify(forged)
    assert (await tokens.verify(token)).user_id == "user-1"
