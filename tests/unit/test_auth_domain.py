from __future__ import annotations

import pytest
from aether.analytics.v1 import analytics_service_pb2  # noqa: F401 (registers its RPC descriptors)

from servers.auth.domain import (
    DEFAULT_ROLES,
    ROLE_PERMISSIONS,
    check_password_strength,
    normalize_email,
    permissions_for,
)
from servers.platform.access import access_rule
from servers.platform.errors import InvalidArgument


def test_roles_are_nested_from_guest_to_admin() -> None:
    # The user role runs tests in the sandbox too (issue 14): developer adds nothing over it yet.
    assert ROLE_PERMISSIONS["guest"] < ROLE_PERMISSIONS["user"] <= ROLE_PERMISSIONS["developer"]
    assert ROLE_PERMISSIONS["developer"] < ROLE_PERMISSIONS["admin"]
    assert "containers:write" in ROLE_PERMISSIONS["admin"]
    assert "containers:read" not in ROLE_PERMISSIONS["developer"]
    assert "tasks:write" not in ROLE_PERMISSIONS["guest"]


def test_a_new_user_may_do_what_the_readme_shows() -> None:
    record_event = access_rule("/aether.analytics.v1.AnalyticsService/RecordEvent")
    assert record_event.permissions <= set(permissions_for(DEFAULT_ROLES))
    assert "analytics:admin" not in permissions_for(DEFAULT_ROLES)


def test_permissions_for_unions_roles_and_ignores_unknown_ones() -> None:
    assert permissions_for(["guest", "nonsense"]) == sorted(ROLE_PERMISSIONS["guest"])
    assert permissions_for([]) == []


def test_normalize_email() -> None:
    assert normalize_email("  Ada@Example.COM ") == "ada@example.com"


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("onlylowercaseletters", "mix at least three"),
        ("Password123", "commonly used"),
        ("xx-Lovelace-2024", "email"),
    ],
)
def test_weak_passwords_are_rejected_with_a_field_violation(password: str, problem: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        check_password_strength(password, "lovelace@example.com")
    assert err.value.violations[0].field == "password"
    assert problem in err.value.message


def test_strong_password_passes() -> None:
    check_password_strength("Correct-Horse-42", "ada@example.com")
