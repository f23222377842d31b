"""Service identities: how an Aether service proves it is one, and what a
service token says.

Background work (event consumers, schedulers, webhook processing) has no
caller whose token it could forward, so it asks the auth service
(`aether.auth.v1.ServiceTokenService.IssueServiceToken`) for a short-lived
service token: `sub` "service:<name>", `on_behalf_of` the user it acts for,
that user's roles and permissions (or a subset), audience INTERNAL_AUDIENCE.
Servers turn it into a Principal whose user_id is the on-behalf-of user and
whose `service` is the name, so ownership scoping, limits and budgets apply
to the real user. Envoy only accepts the public audience, so a service token
is refused at the edge.

A service proves its name with a service credential: an HMAC of the name
under a key derived (HKDF) from the deployment's shared AETHER_SECRET_KEY,
which only the servers hold. Clients never see it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Metadata carrying the service credential to IssueServiceToken.
SERVICE_CREDENTIAL_METADATA = "x-aether-service-credential"
# The audience of service tokens (the public one is PlatformSettings.jwt_audience).
INTERNAL_AUDIENCE = "aether-internal"
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
# The RPC that mints service tokens (never sent with a service identity itself).
ISSUE_METHOD = "/aether.auth.v1.ServiceTokenService/IssueServiceToken"

_HKDF_INFO = b"aether/service-credential/v1"


def _credential_key(secret_key: str) -> bytes:
    """A key for service credentials only, derived from AETHER_SECRET_KEY (which
    also seals signing keys at rest, so it is not used directly)."""
    raw = base64.urlsafe_b64decode(secret_key.encode() + b"=" * (-len(secret_key) % 4))
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(raw)


def service_credential(secret_key: str, service: str) -> str:
    """The credential with which `service` asks for service tokens."""
    if not SERVICE_NAME.match(service):
        raise ValueError(f"invalid service name {service!r}")
    digest = hmac.new(_credential_key(secret_key), service.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def credential_matches(secret_key: str, service: str, presented: str) -> bool:
    """True if `presented` is `service`'s credential (constant-time compare)."""
    if not SERVICE_NAME.match(service):
        return False
    expected = service_credential(secret_key, service)
    return hmac.compare_digest(expected.encode(), presented.encode())
