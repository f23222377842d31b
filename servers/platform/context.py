"""Per-request context (request id, caller) carried in contextvars, so use
cases, logs and events read it without it being threaded through every call."""

from __future__ import annotations

import time
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
    # For a service token (background work): the service acting, e.g.
    # "integrations"; user_id is then the user it acts on behalf of, so
    # ownership scoping applies to that user. Empty for a user's own token.
    service: str = ""
    # The token's `iat` (Unix seconds): refused when before the user's token
    # epoch (servers.platform.revocations).
    issued_at: int = 0

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_service(self) -> bool:
        return bool(self.service)

    @property
    def on_behalf_of(self) -> str | None:
        """The user a service acts for (None for a user's own token)."""
        return self.user_id if self.service else None


class ResponseHeaders:
    """Headers for the current RPC's response, sent with its first message (or,
    for an error before any message, with the error), so a handler can still
    add some after it started, e.g. X-RateLimit-*. Envoy copies them into the
    REST response."""

    def __init__(self, *items: tuple[str, str]):
        self._items = list(items)
        self._sent = False

    def add(self, key: str, value: str) -> None:
        self._items.append((key.lower(), value))

    def take(self) -> list[tuple[str, str]]:
        """The headers not sent yet (empty once taken)."""
        if self._sent:
            return []
        self._sent = True
        return self._items


request_id_var: ContextVar[str] = ContextVar("request_id", default="")
response_headers_var: ContextVar[ResponseHeaders | None] = ContextVar("response_headers", default=None)
principal_var: ContextVar[Principal | None] = ContextVar("principal", default=None)
# The caller's verified bearer token, forwarded by servers.platform.clients so a
# call to another service acts as the same user.
access_token_var: ContextVar[str | None] = ContextVar("access_token", default=None)
# When the current RPC's deadline passes, in time.monotonic() seconds (None: no
# deadline); calls to other services get at most what is left.
deadline_var: ContextVar[float | None] = ContextVar("deadline", default=None)


def request_id() -> str:
    return request_id_var.get()


def access_token() -> str | None:
    """The current RPC's verified bearer token, if it had one."""
    return access_token_var.get()


def time_remaining() -> float | None:
    """Seconds left before the current RPC's deadline (None: no deadline)."""
    deadline = deadline_var.get()
    return None if deadline is None else deadline - time.monotonic()


def add_response_header(key: str, value: str) -> None:
    """Add a response header to the current RPC (before its first message)."""
    headers = response_headers_var.get()
    if headers is not None:
        headers.add(key, value)


def current_principal() -> Principal:
    """The caller of the current RPC; UNAUTHENTICATED if there is none."""
    principal = principal_var.get()
    if principal is None:
        raise Unauthenticated()
    return principal
