"""PostgreSQL persistence of the AI gateway: the usage ledger (written with
its event in one transaction) and users' default models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

import asyncpg
from aether.events.v1 import event_pb2

from servers.platform import events


@dataclass(frozen=True)
class LedgerEntry:
    request_id: str
    user_id: str
    operation: str  # "chat" | "stream_chat" | "embeddings"
    model: str
    provider: str
    fallback_from: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0
    cached: bool = False
    streamed: bool = False
    cancelled: bool = False
    success: bool = True
    error_code: str = ""
    # When the request ended (the row's created_at): rows are written in batches
    # a little later, and a usage report up to "now" must include them.
    finished_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def values(self) -> tuple[object, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


@dataclass
class ModelTotals:
    requests: int = 0
    tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class UsageReport:
    requests: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    by_model: dict[str, ModelTotals] = field(default_factory=dict)


class AiStore:
    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    async def write_batch(self, rows: Sequence[LedgerEntry], outbox: Sequence[event_pb2.Event]) -> None:
        """Ledger rows and their events (in order), in one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            if rows:
                await conn.executemany(
                    "INSERT INTO ai.usage (request_id, user_id, operation, model, provider, fallback_from,"
                    " input_tokens, output_tokens, cost_usd, latency_ms, cached, streamed, cancelled,"
                    " success, error_code, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                    [row.values() for row in rows],
                )
            await events.insert(conn, *outbox)

    async def usage(self, user_id: str | None, start: datetime, end: datetime, model: str) -> UsageReport:
        """Totals per model in [start, end); user_id None means every user."""
        rows = await self._pool.fetch(
            "SELECT model, count(*)::int AS requests,"
            " coalesce(sum(input_tokens + output_tokens), 0)::bigint AS tokens,"
            " coalesce(sum(cost_usd), 0)::float8 AS cost"
            " FROM ai.usage WHERE created_at >= $1 AND created_at < $2"
            " AND ($3::text IS NULL OR user_id = $3) AND ($4 = '' OR model = $4)"
            " GROUP BY model ORDER BY model",
            start,
            end,
            user_id,
            model,
        )
        report = UsageReport()
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

    async def set_default_model(self, user_id: str, model: str) -> str | None:
        """Set the user's default; returns the previous one."""
        async with self._pool.acquire() as conn, conn.transaction():
            previous: str | None = await conn.fetchval(
                "SELECT default_model FROM ai.preferences WHERE user_id = $1 FOR UPDATE", user_id
            )
            await conn.execute(
                "INSERT INTO ai.preferences (user_id, default_model) VALUES ($1, $2)"
                " ON CONFLICT (user_id) DO UPDATE SET default_model = $2, updated_at = now()",
                user_id,
                model,
            )
        return previous
