"""Two-phase signing-key rotation, with an in-memory key store and a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from servers.auth.keys import KeyRing, RotationPolicy, SecretKeyMismatch, StoredKey
from servers.platform.secrets import SecretBox, new_secret_key


class MemoryKeys:
    def __init__(self) -> None:
        self.keys: list[StoredKey] = []

    async def live_keys(self, created_after: datetime) -> list[StoredKey]:
        return sorted(
            (k for k in self.keys if k.created_at > created_after), key=lambda k: k.created_at, reverse=True
        )

    async def add_key_unless_newer(self, new: StoredKey, newer_than: datetime) -> None:
        if not any(k.created_at > newer_than for k in self.keys):
            self.keys.append(new)


POLICY = RotationPolicy(
    max_age=timedelta(days=30), propagation=timedelta(minutes=10), token_lifetime=timedelta(minutes=16)
)


async def test_keys_are_published_before_they_sign_and_kept_until_their_tokens_expire() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    store = MemoryKeys()
    ring = KeyRing(store, SecretBox.from_setting(new_secret_key()), POLICY, clock=lambda: now)

    first = await ring.active()  # fresh install: the only key signs at once
    assert [k["kid"] for k in await ring.jwks()] == [first.kid]
    sealed = store.keys[0].private_key_sealed
    assert first.private_key.private_bytes_raw() not in sealed  # sealed at rest

    now += timedelta(days=30) - timedelta(minutes=9)  # successor due: published, not yet signing
    assert (await ring.active()).kid == first.kid
    successor = store.keys[1].kid
    assert {k["kid"] for k in await ring.jwks()} == {first.kid, successor}

    now += timedelta(minutes=11)  # the successor has propagated: it signs now
    assert (await ring.active()).kid == successor
    assert first.kid in {k["kid"] for k in await ring.jwks()}  # its tokens may still be live

    now += timedelta(days=1)  # long after: the old key is no longer published
    assert {k["kid"] for k in await ring.jwks()} == {successor}
    assert len(store.keys) == 2


async def test_another_secret_key_is_a_clear_error_not_an_invalid_tag() -> None:
    store = MemoryKeys()
    await KeyRing(store, SecretBox.from_setting(new_secret_key()), POLICY).active()
    changed = KeyRing(store, SecretBox.from_setting(new_secret_key()), POLICY)
    with pytest.raises(SecretKeyMismatch, match="AETHER_SECRET_KEY does not open signing key"):
        await changed.active()
