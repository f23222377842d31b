"""The token signing key ring: Ed25519 keys created on first start, sealed at
rest, rotated by age, and published (active + recently retired) as a JWK Set."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from servers.platform.secrets import SecretBox

ALGORITHM = "EdDSA"


@dataclass(frozen=True)
class StoredKey:
    kid: str
    private_key_sealed: bytes
    public_jwk: dict[str, Any]
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    created_at: datetime


class KeyStore(Protocol):
    async def published_keys(self, retired_after: datetime) -> list[StoredKey]: ...

    async def rotate_in(self, new: StoredKey, max_age: timedelta) -> StoredKey:
        """Atomically: if the newest unretired key is younger than max_age return it,
        else retire all unretired keys and insert `new`."""
        ...


class KeyRing:
    def __init__(self, store: KeyStore, box: SecretBox, max_age: timedelta, publish_retired_for: timedelta):
        self._store = store
        self._box = box
        self._max_age = max_age
        self._publish_retired_for = publish_retired_for
        self._active: SigningKey | None = None

    def _new_key(self) -> StoredKey:
        kid = uuid.uuid4().hex
        private = Ed25519PrivateKey.generate()
        raw = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
        jwk.update(kid=kid, alg=ALGORITHM, use="sig")
        return StoredKey(kid, self._box.seal(raw, f"signing-key:{kid}"), jwk, datetime.now(UTC), None)

    async def active(self) -> SigningKey:
        """The key to sign with; rotates when the current one is older than max_age."""
        now = datetime.now(UTC)
        if self._active is None or now - self._active.created_at >= self._max_age:
            stored = await self._store.rotate_in(self._new_key(), self._max_age)
            raw = self._box.open(stored.private_key_sealed, f"signing-key:{stored.kid}")
            self._active = SigningKey(stored.kid, Ed25519PrivateKey.from_private_bytes(raw), stored.created_at)
        return self._active

    async def jwks(self) -> list[dict[str, Any]]:
        """Public keys that may still verify live tokens."""
        await self.active()
        cutoff = datetime.now(UTC) - self._publish_retired_for
        return [key.public_jwk for key in await self._store.published_keys(cutoff)]
