"""The token signing key ring: Ed25519 keys created on first start, sealed at
rest, rotated by age, published as a JWK Set.

Rotation is two-phase because verifiers (Envoy, other servers) cache the JWKS:
a new key is published `propagation` before it starts signing, and a key stays
published until every token it signed has expired.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import jwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from servers.platform.secrets import SecretBox

ALGORITHM = "EdDSA"
# How long the chosen signing key is reused before the ring looks at the store again.
_RECHECK = timedelta(seconds=60)


class SecretKeyMismatch(Exception):
    """The stored signing keys were sealed under another AETHER_SECRET_KEY."""


@dataclass(frozen=True)
class StoredKey:
    kid: str
    private_key_sealed: bytes
    public_jwk: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey


class KeyStore(Protocol):
    async def live_keys(self, created_after: datetime) -> list[StoredKey]:
        """Unrevoked keys created after the cutoff, newest first."""
        ...

    async def add_key_unless_newer(self, new: StoredKey, newer_than: datetime) -> None:
        """Insert `new` unless some unrevoked key was created after `newer_than`
        (serialized across replicas)."""
        ...


@dataclass(frozen=True)
class RotationPolicy:
    max_age: timedelta  # a key signs for about this long
    propagation: timedelta  # published this long before it signs (> verifiers' JWKS cache)
    token_lifetime: timedelta  # the longest-lived token a key signs (access token TTL + leeway)

    @property
    def publish_window(self) -> timedelta:
        return self.propagation + self.max_age + self.token_lifetime


class KeyRing:
    def __init__(
        self,
        store: KeyStore,
        box: SecretBox,
        policy: RotationPolicy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._store = store
        self._box = box
        self._policy = policy
        self._clock = clock
        self._active: SigningKey | None = None
        self._checked_at = datetime.min.replace(tzinfo=UTC)

    def _new_key(self) -> StoredKey:
        kid = uuid.uuid4().hex
        private = Ed25519PrivateKey.generate()
        raw = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
        jwk.update(kid=kid, alg=ALGORITHM, use="sig")
        return StoredKey(kid, self._box.seal(raw, f"signing-key:{kid}"), jwk, self._clock())

    async def active(self) -> SigningKey:
        """The key to sign with: the newest key published for at least
        `propagation` (or, on a fresh install, the only key)."""
        now = self._clock()
        if self._active is not None and now - self._checked_at < _RECHECK:
            return self._active
        # Publish the successor early, so it has propagated when the current key ages out.
        await self._store.add_key_unless_newer(
            self._new_key(), now - self._policy.max_age + self._policy.propagation
        )
        keys = await self._store.live_keys(now - self._policy.publish_window)
        ready = [k for k in keys if now - k.created_at >= self._policy.propagation]
        chosen = ready[0] if ready else keys[-1]
        try:
            raw = self._box.open(chosen.private_key_sealed, f"signing-key:{chosen.kid}")
        except InvalidTag:
            raise SecretKeyMismatch(
                f"AETHER_SECRET_KEY does not open signing key {chosen.kid}: the key was sealed under "
                "another AETHER_SECRET_KEY. Set the one it was written with (every auth replica needs "
                "the same), or, to start over, delete the rows of auth.signing_keys (every token "
                "issued so far then stops verifying)"
            ) from None
        self._active = SigningKey(chosen.kid, Ed25519PrivateKey.from_private_bytes(raw))
        self._checked_at = now
        return self._active

    async def sign(self, claims: dict[str, Any]) -> str:
        """A JWT of `claims` signed by the active key (its kid in the header)."""
        key = await self.active()
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})

    async def jwks(self) -> list[dict[str, Any]]:
        """Public keys that may verify live tokens, including the not-yet-signing successor."""
        await self.active()
        cutoff = self._clock() - self._policy.publish_window
        return [key.public_jwk for key in await self._store.live_keys(cutoff)]
