"""Composition root of the AI gateway: settings -> catalogue and providers ->
router, limits, cache, ledger -> use cases -> servicer."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aether.ai.v1 import ai_service_pb2_grpc

from servers.ai import config
from servers.ai.cache import ResponseCache
from servers.ai.ledger import Ledger
from servers.ai.limits import Budgets, RateLimiter
from servers.ai.providers.local import LocalEmbeddings
from servers.ai.router import Policy, Router
from servers.ai.service import AiServicer
from servers.ai.store import AiStore
from servers.ai.usecases import AiUseCases, ProviderProbe
from servers.platform.runtime import Domain, Mount, Resources, Service


async def build(res: Resources) -> Mount:
    s = config.AiSettings()
    if res.pool is None or res.redis is None:
        raise SystemExit("the AI gateway needs DATABASE_URL and REDIS_URL")
    catalog = config.catalog(s)
    providers = config.providers(s)
    router = Router(
        catalog,
        providers,
        Policy(
            attempts=s.ai_attempts_per_model,
            max_retry_wait=s.ai_max_retry_wait_seconds,
            backoff=s.ai_backoff_seconds,
            timeout=s.ai_request_timeout_seconds,
            breaker_failures=s.ai_breaker_failures,
            breaker_cooldown=s.ai_breaker_cooldown_seconds,
        ),
    )
    store = AiStore(res.pool)
    ledger = Ledger(store, res.redis)
    usecases = AiUseCases(
        catalog,
        providers,
        router,
        store,
        ledger,
        RateLimiter(res.redis),
        Budgets(res.redis, s.ai_budget_period, s.ai_budget_tokens, s.ai_budget_usd),
        ResponseCache(res.redis, s.ai_cache_ttl_seconds),
        s.ai_default_model,
        ProviderProbe(providers),
    )
    local = providers["local"]
    # Load the embedding model in the background so the first request needn't wait.
    warmup = asyncio.create_task(local.model()) if isinstance(local, LocalEmbeddings) else None

    async def stop() -> None:
        if warmup is not None:
            warmup.cancel()
        await ledger.close()  # every accepted request accounted before the pool closes
        for provider in providers.values():
            await provider.close()

    return Mount(
        services=[
            Service(
                "aether.ai.v1.AiService",
                AiServicer(usecases, s.ai_deadline_seconds),
                ai_service_pb2_grpc.add_AiServiceServicer_to_server,
            )
        ],
        on_stop=[stop],
    )


DOMAIN = Domain(name="ai", build=build, migrations=Path(__file__).with_name("migrations"))
