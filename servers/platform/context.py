"""Per-request context (request id, caller) carried in contextvars, so use
cases, logs and events read it without it being threaded through every call."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from servers.platform.errors import Unauthenticated


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, from a verified access token."""

    user_id: str
    email: str
    roles: frozenset[str]
    permissions: frozenset[str]
    token_id: str
    expires_at: datetime

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


request_id_var: ContextVar[str] = ContextVar("request_id", default="")
principal_var: ContextVar[Principal | None] = ContextVar("principal", default=None)


def request_id() -> str:
    return request_id_var.get()


def current_principal() -> Principal:
    """The caller of the current RPC; UNAUTHENTICATED if there is none."""
    principal = principal_var.get()
    if principal is None:
        raise Unauthenticated()
    return principal
