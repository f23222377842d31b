"""Auth domain: roles, permissions, password policy, refresh tokens, domain
events. No I/O, no protobuf."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from servers.platform.errors import FieldViolation, InvalidArgument

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "guest": frozenset({"tasks:read", "rag:read", "analytics:read"}),
    "user": frozenset(
        {
            "tasks:read",
            "tasks:write",
            "analytics:read",
            "analytics:write",  # record one's own events (README); reading others' needs admin
            "ai:chat",
            "ai:embed",
            "code:review",
            "code:run",
            "integrations:read",
            "integrations:write",
            "rag:read",
            "rag:write",
        }
    ),
}
ROLE_PERMISSIONS["developer"] = ROLE_PERMISSIONS["user"] | {"code:run"}
ROLE_PERMISSIONS["admin"] = ROLE_PERMISSIONS["developer"] | {
    "analytics:admin",
    "containers:read",
    "containers:write",
    "users:admin",
}
ROLES = frozenset(ROLE_PERMISSIONS)
DEFAULT_ROLES = ("user",)


def permissions_for(roles: tuple[str, ...] | list[str]) -> list[str]:
    """The union of the roles' permissions, sorted (unknown roles grant nothing)."""
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return sorted(granted)


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    roles: tuple[str, ...]
    created_at: datetime
    disabled: bool = False

    @property
    def permissions(self) -> list[str]:
        return permissions_for(self.roles)


@dataclass(frozen=True)
class RefreshToken:
    """A stored refresh token (by hash); one login's rotations share a family."""

    id: uuid.UUID
    family_id: uuid.UUID
    user_id: str
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None

    def usable(self, now: datetime) -> bool:
        """Neither revoked nor expired (a used one is a reuse, not merely unusable)."""
        return self.revoked_at is None and self.expires_at > now


@dataclass(frozen=True)
class UserRegistered:
    """An account was created ("user.registered")."""

    user: User


@dataclass(frozen=True)
class UserChanged:
    """An administrator changed an account: "user.roles_changed", "user.disabled",
    "user.enabled" or "user.deleted" (`change`)."""

    change: str
    user_id: str
    roles: tuple[str, ...]
    changed_by: str


AuthEvent = UserRegistered | UserChanged


def normalize_email(email: str) -> str:
    return email.strip().lower()


# A short deny-list of the most common passwords (length >= 10, as shorter ones
# already fail the length rule). Real deployments can extend it.
COMMON_PASSWORDS = frozenset(
    p.lower()
    for p in {
        "password123",
        "password1234",
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "iloveyou123",
        "administrator",
        "passw0rd123",
        "password!23",
        "welcome123",
        "letmein123",
        "qwerty12345",
        "1q2w3e4r5t",
        "abcdefghij",
        "changeme123",
        "monkey12345",
        "football123",
        "Password123",
        "Password1!",
        "P@ssw0rd123",
        "Qwerty123!",
        "Welcome123!",
        "Aa123456789",
    }
)
_CLASSES = (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")


def check_password_strength(password: str, email: str) -> None:
    """Raise InvalidArgument (field "password") for a weak password.
    Length bounds are already enforced by the proto rules."""
    problems = []
    if sum(bool(re.search(c, password)) for c in _CLASSES) < 3:
        problems.append("must mix at least three of: lower case, upper case, digits, symbols")
    if password.lower() in COMMON_PASSWORDS:
        problems.append("is a commonly used password")
    local_part = normalize_email(email).split("@", 1)[0]
    if len(local_part) >= 4 and local_part in password.lower():
        problems.append("must not contain the email address")
    if problems:
        violations = [FieldViolation("password", p) for p in problems]
        raise InvalidArgument("password is too weak: " + "; ".join(problems), violations)
