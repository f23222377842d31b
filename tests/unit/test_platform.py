from __future__ import annotations

import json
import logging

import grpc
from google.rpc import error_details_pb2

from servers.platform.context import request_id_var
from servers.platform.errors import (
    AetherError,
    Conflict,
    FieldViolation,
    InvalidArgument,
    NotFound,
    RateLimited,
    internal_status,
    status_code_of,
    to_rpc_status,
)
from servers.platform.logs import JsonFormatter
from servers.platform.secrets import SecretBox, new_secret_key


def test_error_table_maps_domain_errors_to_grpc_codes() -> None:
    assert status_code_of(NotFound()) == grpc.StatusCode.NOT_FOUND
    assert status_code_of(Conflict("x")) == grpc.StatusCode.ABORTED
    assert status_code_of(RateLimited("x", 3)) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert status_code_of(AetherError("x")) == grpc.StatusCode.INTERNAL


def test_rpc_status_carries_error_info_bad_request_retry_and_request_info() -> None:
    error = InvalidArgument("bad", [FieldViolation("dueDate", "must be a date")])
    status = to_rpc_status(error, "rid-1")
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] and status.message == "bad"
    kinds = [d.TypeName() for d in status.details]
    assert kinds == ["google.rpc.ErrorInfo", "google.rpc.BadRequest", "google.rpc.RequestInfo"]
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    assert (info.reason, info.domain) == ("VALIDATION_ERROR", "aether.dev")

    throttled = to_rpc_status(RateLimited("slow down", 2.5), "rid-2")
    retry = error_details_pb2.RetryInfo()
    assert throttled.details[1].Unpack(retry) and retry.retry_delay.ToMilliseconds() == 2500


def test_internal_status_leaks_nothing_but_the_request_id() -> None:
    status = internal_status("rid-9")
    assert status.code == grpc.StatusCode.INTERNAL.value[0]
    assert "rid-9" in status.message and "Traceback" not in status.message


def test_secret_box_round_trip_and_binding() -> None:
    box = SecretBox.from_setting(new_secret_key())
    sealed = box.seal(b"private key", "signing-key:a")
    assert b"private key" not in sealed
    assert box.open(sealed, "signing-key:a") == b"private key"
    try:
        box.open(sealed, "signing-key:b")
    except Exception as exc:  # InvalidTag: a row moved to another key id is rejected
        assert type(exc).__name__ == "InvalidTag"
    else:
        raise AssertionError("ciphertext opened under the wrong context")


def test_json_log_lines_carry_the_request_id() -> None:
    token = request_id_var.set("rid-log")
    try:
        record = logging.makeLogRecord(
            {"msg": "hello %s", "args": ("world",), "levelname": "INFO", "method": "/x"}
        )
        line = json.loads(JsonFormatter("aether-test").format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hello world" and line["request_id"] == "rid-log"
    assert line["service"] == "aether-test" and line["method"] == "/x"


def test_error_reasons_are_the_proto_enum() -> None:
    from aether.common.v1 import errors_pb2

    from servers.platform.errors import ErrorReason

    names = [n.removeprefix("ERROR_REASON_") for n in errors_pb2.ErrorReason.keys()]  # noqa: SIM118 (an EnumTypeWrapper)
    assert [r.value for r in ErrorReason] == [n for n in names if n != "UNSPECIFIED"]


def test_timestamp_matches_protobufs_own_conversion() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from google.protobuf import timestamp_pb2

    from servers.platform.timestamps import timestamp, to_datetime

    for value in (
        datetime(2026, 12, 2, 15, 4, 5, 123456, tzinfo=timezone(timedelta(hours=-7))),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1900, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 12, 0, 0, 1),  # naive: UTC, as FromDatetime takes it
    ):
        expected = timestamp_pb2.Timestamp()
        expected.FromDatetime(value)
        assert timestamp(value) == expected
    aware = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC)
    assert to_datetime(timestamp(aware)) == aware
