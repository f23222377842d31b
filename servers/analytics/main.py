"""Composition root of the analytics service: settings -> store -> use cases ->
servicer, plus its bus consumer (every domain event) and health checker."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from aether.analytics.v1 import analytics_service_pb2_grpc
from aether.events.v1 import event_pb2

from servers import registry
from servers.analytics import mapping
from servers.analytics.domain import RecordedEvent
from servers.analytics.health import HealthChecker, Target
from servers.analytics.service import AnalyticsServicer
from servers.analytics.store import AnalyticsStore
from servers.analytics.usecases import AnalyticsUseCases
from servers.platform import events
from servers.platform.runtime import Domain, Mount, Resources, Service
from servers.platform.settings import PlatformSettings

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


async def build(res: Resources) -> Mount:
    s = AnalyticsSettings()
    if res.pool is None or res.bus is None:
        raise SystemExit("the analytics service needs DATABASE_URL")
    pool = res.pool
    store = AnalyticsStore(pool)
    probes = {"postgres": store.ping}
    if res.redis is not None:
        redis = res.redis

        async def ping_redis() -> float:
            await redis.ping()
            return 0.0

        probes["redis"] = ping_redis
    health = HealthChecker(lambda: _targets(s, res), probes, s.health_disk_path)

    async def on_recorded(conn: asyncpg.Connection, event: RecordedEvent) -> None:
        await events.publish(
            conn,
            event_type="analytics.metric.recorded",
            source="analytics",
            subject=event.id,
            payload=mapping.metric_recorded(event),
        )

    usecases = AnalyticsUseCases(store, health, on_recorded)

    async def consume(event: event_pb2.Event, conn: asyncpg.Connection) -> None:
        await usecases.ingest(conn, mapping.from_bus(event))

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
