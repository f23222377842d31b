"""Domain errors and the one table that maps them to gRPC status + google.rpc details.

Domain and use-case code raise these (no grpc imports needed there); the error
interceptor turns them into a `google.rpc.Status` with ErrorInfo, BadRequest,
RetryInfo and RequestInfo details, which Envoy renders as the JSON error body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

import asyncpg
import grpc
import redis.exceptions
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

ERROR_DOMAIN = "aether.dev"

# Failures of a backing service (PostgreSQL, Redis, a peer's socket) rather than
# of the request: the client should retry, so these are UNAVAILABLE with
# RetryInfo (HTTP 503) instead of INTERNAL.
OUTAGES: tuple[type[BaseException], ...] = (
    ConnectionError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, cannot connect now
    asyncpg.exceptions.TooManyConnectionsError,
)
OUTAGE_RETRY_SECONDS = 1.0


def is_outage(error: BaseException) -> bool:
    """An outage, or an error raised while handling one: a PostgreSQL connection cut mid-transaction
    surfaces as asyncpg's InterfaceError from Transaction.__aexit__ with the ConnectionDoesNotExistError
    as its context (seen by tests/api/test_dependency_outages.py under load)."""
    seen: BaseException | None = error
    for _ in range(5):  # a short chain: the outage is at most a few handlers deep
        if seen is None:
            return False
        if isinstance(seen, OUTAGES):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class ErrorReason(StrEnum):
    """`aether.common.v1.ErrorReason` without its prefix: the ErrorInfo.reason
    clients see. tests/unit/test_platform.py holds it equal to the proto enum."""

    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    CONFLICT = "CONFLICT"
    TOKEN_REUSED = "TOKEN_REUSED"  # noqa: S105 (a reason, not a secret)
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"
    NOT_CONFIGURED = "NOT_CONFIGURED"
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"


@dataclass(frozen=True)
class FieldViolation:
    """One invalid request field: its JSON path (e.g. "dueDate") and why."""

    field: str
    description: str


@dataclass(eq=False)
class AetherError(Exception):
    """Base of every error a client may see; `message` is safe to show to the client."""

    message: str
    reason: ErrorReason = ErrorReason.INTERNAL
    violations: Sequence[FieldViolation] = ()
    retry_after_seconds: float | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


class InvalidArgument(AetherError):
    def __init__(
        self,
        message: str,
        violations: Sequence[FieldViolation] = (),
        reason: ErrorReason = ErrorReason.VALIDATION_ERROR,
    ):
        super().__init__(message, reason, violations)


class NotFound(AetherError):
    def __init__(self, message: str = "not found"):
        super().__init__(message, ErrorReason.NOT_FOUND)


class AlreadyExists(AetherError):
    def __init__(self, message: str, violations: Sequence[FieldViolation] = ()):
        super().__init__(message, ErrorReason.ALREADY_EXISTS, violations)


class Unauthenticated(AetherError):
    def __init__(
        self, message: str = "authentication required", reason: ErrorReason = ErrorReason.UNAUTHENTICATED
    ):
        super().__init__(message, reason)


class PermissionDenied(AetherError):
    def __init__(self, message: str, metadata: Mapping[str, str] | None = None):
        super().__init__(message, ErrorReason.PERMISSION_DENIED, metadata=metadata or {})


class FailedPrecondition(AetherError):
    def __init__(self, message: str, reason: ErrorReason = ErrorReason.FAILED_PRECONDITION):
        super().__init__(message, reason)


class StateConflict(FailedPrecondition):
    """The resource's current state refuses the request (a running container removed
    without force): FAILED_PRECONDITION to gRPC clients, but 409 over REST, where Envoy's
    code table would say 400 ("fix your request") when the fix is to change the resource."""


class Conflict(AetherError):
    def __init__(self, message: str):
        super().__init__(message, ErrorReason.CONFLICT)


class RateLimited(AetherError):
    def __init__(self, message: str, retry_after_seconds: float):
        super().__init__(message, ErrorReason.RATE_LIMIT_EXCEEDED, retry_after_seconds=retry_after_seconds)


class TooLarge(AetherError):
    """A request above its method's size limit (gRPC's own check is per server, not per method)."""

    def __init__(self, message: str):
        super().__init__(message, ErrorReason.VALIDATION_ERROR)


class Unavailable(AetherError):
    def __init__(
        self, message: str = "service temporarily unavailable", retry_after_seconds: float | None = None
    ):
        super().__init__(message, ErrorReason.UNAVAILABLE, retry_after_seconds=retry_after_seconds)


# The one table: domain error -> gRPC status code (Envoy maps codes to HTTP).
STATUS_CODES: Mapping[type[AetherError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    Conflict: grpc.StatusCode.ABORTED,
    RateLimited: grpc.StatusCode.RESOURCE_EXHAUSTED,
    TooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    AetherError: grpc.StatusCode.INTERNAL,
}


_T = TypeVar("_T")

# REST statuses that differ from Envoy's gRPC-code table. The server names them in the
# HTTP_STATUS_HEADER trailer; the edge's Lua filter (servers.edge.lua_filter) applies it.
HTTP_STATUS_HEADER = "x-aether-http-status"
HTTP_STATUSES: Mapping[type[AetherError], int] = {StateConflict: 409}


def _most_specific(table: Mapping[type[AetherError], _T], error: AetherError) -> _T | None:
    """The table's entry for the error's class or its nearest base class."""
    return next((table[cls] for cls in type(error).__mro__ if cls in table), None)


def http_status_metadata(error: AetherError) -> tuple[tuple[str, str], ...]:
    status = _most_specific(HTTP_STATUSES, error)
    return () if status is None else ((HTTP_STATUS_HEADER, str(status)),)


def status_code_of(error: AetherError) -> grpc.StatusCode:
    return _most_specific(STATUS_CODES, error) or grpc.StatusCode.INTERNAL


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def to_rpc_status(error: AetherError, request_id: str) -> status_pb2.Status:
    """Build the google.rpc.Status (code, message, details) for an error."""
    code = status_code_of(error)
    details = [
        _pack(
            error_details_pb2.ErrorInfo(
                reason=error.reason, domain=ERROR_DOMAIN, metadata=dict(error.metadata)
            )
        )
    ]
    if error.violations:
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                        for v in error.violations
                    ]
                )
            )
        )
    if error.retry_after_seconds is not None:
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(max(0, round(error.retry_after_seconds * 1000)))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    details.append(_pack(error_details_pb2.RequestInfo(request_id=request_id)))
    return status_pb2.Status(code=code.value[0], message=error.message, details=details)


def outage_status(request_id: str) -> status_pb2.Status:
    """What a client sees when a backing service is away: retry shortly."""
    return to_rpc_status(
        Unavailable("a backing service is unavailable; retry shortly", OUTAGE_RETRY_SECONDS), request_id
    )


def internal_status(request_id: str) -> status_pb2.Status:
    """What a client sees for an unexpected fault: no internals, just the id to quote."""
    return to_rpc_status(
        AetherError(f"internal error; quote request id {request_id} to support", ErrorReason.INTERNAL),
        request_id,
    )


def status_of(error: BaseException, request_id: str) -> status_pb2.Status:
    """The google.rpc.Status a call failing with `error` ends with: a domain error's own
    (the table above), an outage's UNAVAILABLE with RetryInfo, anything else a bare INTERNAL
    that leaks nothing."""
    if isinstance(error, AetherError):
        return to_rpc_status(error, request_id)
    if is_outage(error):
        return outage_status(request_id)
    return internal_status(request_id)


__all__ = [
    "OUTAGES",
    "AetherError",
    "AlreadyExists",
    "Conflict",
    "ErrorReason",
    "FailedPrecondition",
    "FieldViolation",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "Unauthenticated",
    "Unavailable",
    "internal_status",
    "is_outage",
    "outage_status",
    "status_code_of",
    "status_of",
    "to_rpc_status",
]
