"""GetUsage: the ledger's totals over a window (USAGE_WINDOW by default), for
the caller, another user (admins) or everyone (admins, no user named)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from servers.ai.domain import UsageQuery, UsageReport
from servers.ai.usecases.ports import UsageLedger, UsageReads
from servers.platform.scoping import current_viewer
from servers.platform.windows import USAGE_WINDOW, TimeWindow


def _utcnow() -> datetime:
    return datetime.now(UTC)


class UsageUseCases:
    def __init__(self, reads: UsageReads, ledger: UsageLedger, clock: Callable[[], datetime] = _utcnow):
        self._reads = reads
        self._ledger = ledger
        self._clock = clock

    async def report(self, query: UsageQuery) -> UsageReport:
        """PERMISSION_DENIED for another user's usage unless the caller is an admin.
        The window ends now unless given, and starts USAGE_WINDOW before its end;
        start == end is an empty window (the API allows it)."""
        target = current_viewer().target(query.user_id, what="AI usage")
        window = TimeWindow.of(
            query.start, query.end, now=self._clock(), default=USAGE_WINDOW, allow_empty=True
        )
        await self._ledger.flush()  # read your own requests, even those just answered
        return await self._reads.usage(target, window, query.model)
