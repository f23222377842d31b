"""Default time windows of every report RPC, in one place: a request may send
start and/or end; what it leaves out is filled in here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from servers.platform.errors import FieldViolation, InvalidArgument

# The window a report covers when the request names no start.
USAGE_WINDOW = timedelta(days=30)  # analytics usage, AI usage
ERRORS_WINDOW = timedelta(hours=24)  # analytics error groups


@dataclass(frozen=True)
class TimeWindow:
    """[start, end); start None means "since the beginning"."""

    start: datetime | None
    end: datetime

    @classmethod
    def of(
        cls,
        start: datetime | None,
        end: datetime | None,
        *,
        now: datetime,
        default: timedelta | None,
        allow_empty: bool = False,
    ) -> TimeWindow:
        """End defaults to `now`, start to `default` before the end (None: unbounded).
        INVALID_ARGUMENT when the request sent both and start is not before end
        (with `allow_empty`: after end, so start == end is an empty window); a
        start after the default end is simply an empty window."""
        if start is not None and end is not None and (start > end or (start == end and not allow_empty)):
            rule = "must not be after end_date" if allow_empty else "must be before end_date"
            raise InvalidArgument(f"start_date {rule}", [FieldViolation("start_date", rule)])
        end = end or now
        if start is None and default is not None:
            start = end - default
        return cls(start, end)
