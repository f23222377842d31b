"""servers/platform/timestamps.py's fast conversions agree with protobuf's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf import timestamp_pb2

from servers.platform.timestamps import set_timestamp, timestamp

VALUES = [
    datetime(2026, 12, 4, 2, 53, 1, 123456, tzinfo=UTC),
    datetime(1969, 7, 20, 20, 17, 40, 1, tzinfo=UTC),  # before the epoch
    datetime(2026, 12, 4, 3, 53, 1, 654321, tzinfo=timezone(timedelta(hours=1))),
    datetime(2026, 12, 4, 2, 53, 1, 7),  # naive: UTC
]


@pytest.mark.parametrize("value", VALUES)
def test_built_and_set_in_place_equal_from_datetime(value: datetime) -> None:
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    in_place = timestamp_pb2.Timestamp()
    set_timestamp(in_place, value)
    assert timestamp(value) == expected == in_place
