"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from servers.auth.domain import DEFAULT_ROLES, permissions_for
from servers.platform.client_address import CLIENT_ADDRESS_HEADER
from servers.platform.context import Principal, principal_var

STRONG_PASSWORD = "Correct-Horse-42"
REVOCATION_WINDOW_SECONDS = 5.0  # far above the feed's real window (servers.platform.revocations)


async def eventually(
    check: Callable[[], Awaitable[bool] | bool], within: float = REVOCATION_WINDOW_SECONDS
) -> bool:
    """Whether `check` (sync or async) comes true within `within` seconds, polled: for what the
    platform does moments later by design, such as a revocation reaching every server's feed."""
    deadline = time.monotonic() + within
    while not await _value(check()):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def _value(result: Awaitable[bool] | bool) -> bool:
    return await result if inspect.isawaitable(result) else result


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


@dataclass
class RichError:
    """A gRPC error with its google.rpc details unpacked."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    field_violations: dict[str, str] = field(default_factory=dict)
    request_id: str = ""
    retry_delay_seconds: float | None = None


def rich_error(error: grpc.aio.AioRpcError) -> RichError:
    status: status_pb2.Status | None = rpc_status.from_call(error)
    result = RichError(error.code(), error.details() or "")
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            result.reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            result.field_violations = {v.field: v.description for v in bad.field_violations}
        elif detail.Is(error_details_pb2.RequestInfo.DESCRIPTOR):
            req = error_details_pb2.RequestInfo()
            detail.Unpack(req)
            result.request_id = req.request_id
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            result.retry_delay_seconds = retry.retry_delay.ToTimedelta().total_seconds()
    return result


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def new_client_address() -> str:
    """A fresh client address (198.18.0.0/15, the benchmarking range) for
    login-throttling tests, so each test has its own per-client counters."""
    n = uuid.uuid4().int
    return f"198.{18 + n % 2}.{n // 2 % 256}.{n // 512 % 254 + 1}"


def from_client(address: str) -> tuple[tuple[str, str], ...]:
    """gRPC metadata as the edge sends it for a client at `address` (the server
    believes x-aether-client-address from a loopback peer: a trusted proxy)."""
    return ((CLIENT_ADDRESS_HEADER, address),)


def loopback_client_address() -> str:
    """A fresh 127.x source address for REST tests: Envoy appends the real peer
    address to x-forwarded-for, so a distinct source is a distinct client."""
    n = uuid.uuid4().int
    return f"127.{n % 250 + 1}.{n // 256 % 256}.{n // 65536 % 254 + 1}"


@contextlib.contextmanager
def acting_as(user_id: str, *roles: str) -> Iterator[Principal]:
    """Run use cases in-process as `user_id` holding the real permissions of
    `roles` (default: a freshly registered user's)."""
    roles = roles or DEFAULT_ROLES
    principal = Principal(
        user_id=user_id,
        email=f"{user_id}@example.com",
        roles=frozenset(roles),
        permissions=frozenset(permissions_for(roles)),
        token_id=uuid.uuid4().hex,
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
    )
    token = principal_var.set(principal)
    try:
        yield principal
    finally:
        principal_var.reset(token)


async def outbox_events(pool: asyncpg.Pool, subject: str) -> list[str]:
    """The event types written to the outbox for `subject`, oldest first."""
    rows = await pool.fetch("SELECT event_type FROM platform.outbox WHERE subject = $1 ORDER BY seq", subject)
    return [r["event_type"] for r in rows]


async def insert_account(pool: asyncpg.Pool, user_id: str, roles: tuple[str, ...] = DEFAULT_ROLES) -> None:
    """An account row in auth.users for a user whose token a test forges, so
    checks that ask the auth service whether the user exists (task assignees)
    find it. It cannot log in (no valid password hash)."""
    await pool.execute(
        "INSERT INTO auth.users (id, email, name, password_hash, roles) VALUES ($1, $2, 'Test', '!', $3)",
        uuid.UUID(user_id),
        f"{user_id}@example.com",
        list(roles),
    )
