"""Who may see whose data: the one rule every domain applies.

An admin is a caller with the `admin` role (`Principal.is_admin`); there is no
other definition. Everyone else sees only their own data.
"""

from __future__ import annotations

from dataclasses import dataclass

from servers.platform.context import Principal, current_principal
from servers.platform.errors import PermissionDenied


@dataclass(frozen=True)
class Viewer:
    """Who is asking, as far as owner scoping cares."""

    user_id: str
    is_admin: bool = False

    @classmethod
    def of(cls, principal: Principal) -> Viewer:
        return cls(principal.user_id, principal.is_admin)

    def owns(self, owner_id: str) -> bool:
        """May this viewer see or change data owned by `owner_id`?"""
        return self.is_admin or owner_id == self.user_id

    def target(self, requested_user_id: str = "", *, what: str = "data") -> str | None:
        """Whose data a request reads: `requested_user_id` if it is the caller's
        own or the caller is an admin (PERMISSION_DENIED otherwise); with none
        requested, the caller's own, or None (everyone's) for an admin."""
        if requested_user_id and requested_user_id != self.user_id:
            if not self.is_admin:
                raise PermissionDenied(f"only admins can read another user's {what}")
            return requested_user_id
        if requested_user_id or not self.is_admin:
            return self.user_id
        return None


def current_viewer() -> Viewer:
    """The caller of the current RPC as a Viewer (UNAUTHENTICATED if none)."""
    return Viewer.of(current_principal())
