"""Composition root of the AI gateway: settings -> catalogue and providers ->
router, limits, cache, unit of work and ledger -> use cases -> servicer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from aether.ai.v1 import ai_service_pb2_grpc

from servers.ai import config, mapping
from servers.ai.cache import ResponseCache
from servers.ai.fairness import FairQueue
from servers.ai.ledger import Ledger
from servers.ai.limits import Budgets, RateLimiter, Settler
from servers.ai.probe import ProviderProbe
from servers.ai.providers.local import LocalEmbeddings
from servers.ai.router import Policy, Router
from servers.ai.service import AiServicer
from servers.ai.store import AiQueries, AiRepository
from servers.ai.usecases import AiUseCases
from servers.ai.usecases.accounting import Accountant
from servers.ai.usecases.chat import ChatUseCases
from servers.ai.usecases.embeddings import EmbeddingCaps, EmbeddingUseCases
from servers.ai.usecases.models import ModelCatalogue
from servers.ai.usecases.usage import UsageUseCases
from servers.platform.runtime import Domain, Mount, Resources, Service
from servers.platform.uow import PostgresUnitOfWork


def unit_of_work(pool: asyncpg.Pool) -> PostgresUnitOfWork[AiRepository]:
    """The AI gateway's unit of work: its repository and its event mapping."""
    return PostgresUnitOfWork(pool, source="ai", repository=AiRepository, to_event=mapping.to_event)


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
    uow = unit_of_work(res.pool)
    queries = AiQueries(res.pool)
    limiter = RateLimiter(res.redis)
    budgets = Budgets(res.redis, s.ai_budget_period, s.ai_budget_tokens, s.ai_budget_usd)
    ledger = Ledger(uow, Settler(res.redis, limiter, budgets))
    models = ModelCatalogue(
        catalog,
        providers,
        router,
        ProviderProbe(providers),
        queries,
        uow,
        s.ai_default_model,
        config.REQUIRED_SETTING,
    )
    accountant = Accountant(limiter, budgets, ledger)
    usecases = AiUseCases(
        chat=ChatUseCases(models, accountant, router, ResponseCache(res.redis, s.ai_cache_ttl_seconds)),
        embeddings=EmbeddingUseCases(
            models,
            accountant,
            router,
            EmbeddingCaps(s.ai_embedding_max_texts, s.ai_embedding_max_chars_per_text),
            FairQueue(s.ai_embedding_concurrency_per_user, s.ai_embedding_max_wait_seconds),
        ),
        models=models,
        usage=UsageUseCases(queries, ledger),
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
