"""datetime <-> google.protobuf.Timestamp, for every domain's mapping module."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2
from google.protobuf.message import Message


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def to_datetime(ts: timestamp_pb2.Timestamp) -> datetime:
    """An aware UTC datetime."""
    return ts.ToDatetime(tzinfo=UTC)


def field_datetime(message: Message, field: str) -> datetime | None:
    """The Timestamp field `field` of `message` as a datetime, or None when unset."""
    return to_datetime(getattr(message, field)) if message.HasField(field) else None
