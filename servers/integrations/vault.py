"""Credentials at rest: AES-256-GCM (servers.platform.secrets.SecretBox) under
a key id from settings. Each row keeps the id of the key that sealed it, so
after a new active key is configured the old ciphertext still opens until
`aether integrations rotate-key` has re-sealed every row."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

from servers.integrations.domain import CREDENTIAL_TYPES, Credentials, Provider
from servers.platform.errors import ErrorReason, FailedPrecondition
from servers.platform.secrets import SecretBox


@dataclasses.dataclass(frozen=True)
class Sealed:
    key_id: str
    ciphertext: bytes


def _context(integration_id: str) -> str:
    # Associated data: a row's ciphertext does not open as another row's.
    return f"aether.integrations.credentials:{integration_id}"


class Vault:
    """Seals under the active key; opens under whichever key id a row names."""

    def __init__(self, keys: Mapping[str, SecretBox], active: str | None):
        if active is not None and active not in keys:
            raise SystemExit(f"INTEGRATIONS_KEY_ID {active!r} is not among INTEGRATIONS_KEYS")
        self._keys = dict(keys)
        self.active = active

    @classmethod
    def from_settings(cls, keys: str, active: str | None, fallback: str | None) -> Vault:
        """`keys` is "id:base64key,id:base64key"; without it, AETHER_SECRET_KEY
        (`fallback`) under the id "default"; with neither, nothing can be sealed."""
        pairs = [item.strip().split(":", 1) for item in keys.split(",") if item.strip()]
        if any(len(p) != 2 or not p[0] for p in pairs):
            raise SystemExit('INTEGRATIONS_KEYS must be "id:base64key,..."')
        boxes = {kid: SecretBox.from_setting(key) for kid, key in pairs}
        if not boxes and fallback:
            boxes["default"] = SecretBox.from_setting(fallback)
        active = active or None  # compose passes unset settings as ""
        if active is None and boxes:
            active = pairs[-1][0] if pairs else "default"
        return cls(boxes, active)

    def _require_active(self) -> tuple[str, SecretBox]:
        if self.active is None:
            raise FailedPrecondition(
                "the server has no credential encryption key (INTEGRATIONS_KEYS)",
                ErrorReason.NOT_CONFIGURED,
            )
        return self.active, self._keys[self.active]

    def seal(self, integration_id: str, credentials: Credentials) -> Sealed:
        key_id, box = self._require_active()
        plaintext = json.dumps(dataclasses.asdict(credentials)).encode()
        return Sealed(key_id, box.seal(plaintext, _context(integration_id)))

    def open(self, integration_id: str, provider: Provider, sealed: Sealed) -> Credentials:
        box = self._keys.get(sealed.key_id)
        if box is None:
            raise FailedPrecondition(
                f"credentials are sealed under key {sealed.key_id!r}, which is not configured",
                ErrorReason.NOT_CONFIGURED,
            )
        fields = json.loads(box.open(sealed.ciphertext, _context(integration_id)))
        credentials: Credentials = CREDENTIAL_TYPES[provider](**fields)
        return credentials

    def reseal(self, integration_id: str, provider: Provider, sealed: Sealed) -> Sealed:
        """The same credentials under the active key."""
        return self.seal(integration_id, self.open(integration_id, provider, sealed))
