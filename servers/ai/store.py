"""PostgreSQL persistence of the AI gateway: the usage ledger and users'
default models. Writes go through a unit of work (AiRepository, bound to its
transaction's connection); reads run on the pool (AiQueries). No protobuf."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter

import asyncpg

from servers.ai.domain import LedgerEntry, ModelTotals, UsageReport
from servers.platform.windows import TimeWindow

_INSERT_USAGE = (
    "INSERT INTO ai.usage (request_id, user_id, operation, model, provider, fallback_from,"
    " input_tokens, output_tokens, cost_usd, latency_ms, cached, streamed, cancelled,"
    " success, error_code, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
)
# A LedgerEntry's values in _INSERT_USAGE's column order.
_values = attrgetter(
    "request_id", "user_id", "operation", "model", "provider", "fallback_from",
    "input_tokens", "output_tokens", "cost_usd", "latency_ms", "cached", "streamed", "cancelled",
    "success", "error_code", "finished_at",
)  # fmt: skip
# A window with no start (never the use case's: it defaults to USAGE_WINDOW).
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class AiRepository:
    """The AI gateway's writes inside one unit of work (servers.ai.main.unit_of_work)."""

    conn: asyncpg.Connection

    async def insert_entries(self, rows: Sequence[LedgerEntry]) -> None:
        """Ledger rows, in order."""
        if rows:
            await self.conn.executemany(_INSERT_USAGE, [_values(row) for row in rows])

    async def set_default_model(self, user_id: str, model: str) -> str | None:
        """Set the user's default; returns the previous one."""
        previous: str | None = await self.conn.fetchval(
            "SELECT default_model FROM ai.preferences WHERE user_id = $1 FOR UPDATE", user_id
        )
        await self.conn.execute(
            "INSERT INTO ai.preferences (user_id, default_model) VALUES ($1, $2)"
            " ON CONFLICT (user_id) DO UPDATE SET default_model = $2, updated_at = now()",
            user_id,
            model,
        )
        return previous


class AiQueries:
    """Reads outside a transaction."""

    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    async def usage(self, user_id: str | None, window: TimeWindow, model: str) -> UsageReport:
        """Totals per model in the window; user_id None means every user."""
        rows = await self._pool.fetch(
            "SELECT model, count(*)::int AS requests,"
            " coalesce(sum(input_tokens + output_tokens), 0)::bigint AS tokens,"
            " coalesce(sum(cost_usd), 0)::float8 AS cost"
            " FROM ai.usage WHERE created_at >= $1 AND created_at < $2"
            " AND ($3::text IS NULL OR user_id = $3) AND ($4 = '' OR model = $4)"
            " GROUP BY model ORDER BY model",
            window.start or _BEGINNING,
            window.end,
            user_id,
            model,
        )
        report = UsageReport(window)
        for row in rows:
            totals = ModelTotals(row["requests"], row["tokens"], row["cost"])
            report.by_model[row["model"]] = totals
            report.requests += totals.requests
            report.tokens += totals.tokens
            report.cost_usd += totals.cost_usd
        return report

    async def default_model(self, user_id: str) -> str | None:
        value: str | None = await self._pool.fetchval(
            "SELECT default_model FROM ai.preferences WHERE user_id = $1", user_id
        )
        return value
