"""Composition root of the analytics service: settings -> unit of work and
queries -> use cases -> servicer, plus its bus consumer (every domain event)
and health checker."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from aether.analytics.v1 import analytics_service_pb2_grpc
from aether.events.v1 import event_pb2

from servers import registry
from servers.analytics import mapping
from servers.analytics.health import HealthChecker, Target
from servers.analytics.queries import AnalyticsQueries
from servers.analytics.service import AnalyticsServicer
from servers.analytics.store import AnalyticsRepository
from servers.analytics.usecases import AnalyticsUseCases, ingest
from servers.platform.runtime import Domain, Mount, Resources, Service
from servers.platform.settings import PlatformSettings
from servers.platform.uow import PostgresUnitOfWork

CONSUMER = "analytics"


class AnalyticsSettings(PlatformSettings):
    # Where each service's gRPC server is, "name=host:port,..." (compose:
    # "auth=auth:50051,tasks=tasks:50051,..."). Domains served in this process
    # are found without it; auth defaults to AUTH_ADDR.
    health_targets: str = ""
    # The data volume whose usage GetHealth reports.
    health_disk_path: str = "/"


def _targets(s: AnalyticsSettings, res: Resources) -> list[Target]:
    configured = dict(item.split("=", 1) for item in s.health_targets.split(",") if "=" in item)
    targets = []
    for name in registry.DOMAINS:
        local = [svc for svc in res.local_services if svc.startswith(f"aether.{name}.v1.")]
        if name in configured:
            targets.append(Target(name, configured[name].strip()))
        elif local:
            targets.append(Target(name, res.local_address, local[0]))
        elif name == "auth":
            targets.append(Target(name, s.auth_addr))
        else:
            targets.append(Target(name, ""))
    return targets


def unit_of_work(pool: asyncpg.Pool) -> PostgresUnitOfWork[AnalyticsRepository]:
    """The analytics unit of work: its repository and its event mapping."""
    return PostgresUnitOfWork(
        pool, source="analytics", repository=AnalyticsRepository, to_event=mapping.to_event
    )


async def consume(event: event_pb2.Event, conn: asyncpg.Connection) -> None:
    """The bus handler: record every domain event through the repository bound
    to the consumer's transaction (inbox dedupe and the write commit together)."""
    await ingest(AnalyticsRepository(conn), mapping.from_bus(event))


async def build(res: Resources) -> Mount:
    s = AnalyticsSettings()
    if res.pool is None or res.bus is None:
        raise SystemExit("the analytics service needs DATABASE_URL")
    queries = AnalyticsQueries(res.pool)
    probes = {"postgres": queries.ping}
    if res.redis is not None:
        redis = res.redis

        async def ping_redis() -> float:
            await redis.ping()
            return 0.0

        probes["redis"] = ping_redis
    health = HealthChecker(lambda: _targets(s, res), probes, s.health_disk_path)
    usecases = AnalyticsUseCases(unit_of_work(res.pool), queries, health)
    res.bus.subscribe("#", consume, consumer=CONSUMER)
    return Mount(
        services=[
            Service(
                "aether.analytics.v1.AnalyticsService",
                AnalyticsServicer(usecases),
                analytics_service_pb2_grpc.add_AnalyticsServiceServicer_to_server,
            )
        ],
        on_stop=[health.close],
    )


DOMAIN = Domain(name="analytics", build=build, migrations=Path(__file__).with_name("migrations"))
