"""Small helpers shared by tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

STRONG_PASSWORD = "Correct-Horse-42"


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
