"""Encryption of secrets at rest (signing keys, integration credentials):
AES-256-GCM under AETHER_SECRET_KEY, with associated data binding each
ciphertext to what it belongs to (so rows cannot be swapped)."""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12


class SecretBox:
    def __init__(self, key: bytes):
        if len(key) != 32:
            raise ValueError("AETHER_SECRET_KEY must be 32 bytes (urlsafe base64)")
        self._aead = AESGCM(key)

    @classmethod
    def from_setting(cls, encoded: str) -> SecretBox:
        try:
            return cls(base64.urlsafe_b64decode(encoded.encode() + b"=" * (-len(encoded) % 4)))
        except (ValueError, TypeError) as exc:
            raise SystemExit(f"AETHER_SECRET_KEY is invalid: {exc}") from exc

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], context.encode())


def new_secret_key() -> str:
    """A fresh AETHER_SECRET_KEY value."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()
