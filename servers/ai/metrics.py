"""Prometheus counters of what the gateway spends, by model (the Grafana dashboard's AI panels).

Counted when a response is accounted (`UsageLedger.finished`), so they agree with the ledger."""

from __future__ import annotations

from prometheus_client import Counter

from servers.ai.domain import LedgerEntry

TOKENS = Counter("aether_ai_tokens_total", "Tokens used by AI requests", ["model", "kind"])
COST_USD = Counter("aether_ai_cost_usd_total", "Estimated provider cost of AI requests", ["model"])
REQUESTS = Counter("aether_ai_requests_total", "AI requests accounted", ["model", "outcome"])


def count(entry: LedgerEntry) -> None:
    TOKENS.labels(entry.model, "input").inc(entry.input_tokens)
    TOKENS.labels(entry.model, "output").inc(entry.output_tokens)
    COST_USD.labels(entry.model).inc(entry.cost_usd)
    outcome = "cached" if entry.cached else "ok" if entry.success else entry.error_code or "error"
    REQUESTS.labels(entry.model, outcome).inc()
