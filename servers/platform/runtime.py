"""The grpc.aio server runtime every Aether server uses.

A domain supplies a `Domain`: its name, its migrations folder and an async
`build(resources) -> Mount` that wires its store, use cases and servicers.
The runtime does the rest: settings, logs, tracing, metrics, pool, Redis,
migrations, the interceptor chain, health (per service), reflection, clients
for calling other services (servers/platform/clients.py), and a graceful
SIGTERM shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import grpc
from aether.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from google.protobuf.json_format import MessageToDict
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from redis.asyncio import Redis

from servers.platform import events
from servers.platform.access import check_service_rules, max_request_bytes
from servers.platform.admission import Admission
from servers.platform.bus import EventBus
from servers.platform.clients import ServiceClients
from servers.platform.db import create_pool, migrate
from servers.platform.interceptors import PlatformInterceptor
from servers.platform.logs import configure_logging
from servers.platform.rate_limits import RateLimits
from servers.platform.readiness import LIVENESS_SERVICE, DependencyWatch
from servers.platform.settings import PlatformSettings
from servers.platform.telemetry import configure_tracing, start_metrics_server, tracing_enabled
from servers.platform.tokens import JwksFetcher, KeyCache, TokenVerifier

log = logging.getLogger("aether.runtime")


@dataclass(frozen=True)
class Service:
    """One generated service mounted on the server."""

    name: str  # full proto name, e.g. "aether.auth.v1.AuthService"
    servicer: object
    add_to_server: Callable[[Any, grpc.aio.Server], None]


@dataclass
class Mount:
    """What a domain's build() returns."""

    services: Sequence[Service]
    # Where verification keys come from; default: AuthService.GetJwks at AUTH_ADDR.
    jwks: JwksFetcher | None = None
    # Awaited on shutdown, after the server stopped (close clients, stop tasks).
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


@dataclass
class Resources:
    """Shared infrastructure handed to a domain's build()."""

    settings: PlatformSettings
    pool: asyncpg.Pool | None
    redis: Redis | None
    # The event bus (relay + subscriptions); None without a database. Domains
    # call bus.subscribe(...) in build(); the runtime starts it after build.
    bus: EventBus | None = None
    # host:port of this server once it listens, and the services it serves
    # (e.g. for health checks of co-located domains).
    local_address: str = ""
    local_services: list[str] = field(default_factory=list)
    # Channels and stubs to other services (caller's token, request id, trace
    # and remaining deadline propagated); closed by the runtime on shutdown.
    clients: ServiceClients = field(default_factory=ServiceClients)


@dataclass(frozen=True)
class Domain:
    name: str
    build: Callable[[Resources], Awaitable[Mount]]
    migrations: Path | None = None
    needs_database: bool = True


class RemoteJwks:
    """Fetches the JWK Set from the auth service over native gRPC (a JwksFetcher),
    through the process's shared channel to it."""

    def __init__(self, clients: ServiceClients):
        self._clients = clients

    async def __call__(self) -> list[dict[str, Any]]:
        stub = self._clients.stub("aether.auth.v1.AuthService", auth_service_pb2_grpc.AuthServiceStub)
        reply = await stub.GetJwks(auth_service_pb2.GetJwksRequest(), timeout=5)
        return [MessageToDict(key, preserving_proto_field_name=True) for key in reply.keys]


class Server:
    """A running grpc.aio server for one or more domains."""

    def __init__(self, domains: Sequence[Domain], settings: PlatformSettings):
        self.domains = domains
        self.settings = settings
        self.port = 0
        self.service_names: list[str] = []  # the proto services mounted, once started
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self._resources: Resources | None = None
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        self._watch: DependencyWatch | None = None

    async def _open_resources(self) -> Resources:
        s = self.settings
        pool = None
        if any(d.needs_database for d in self.domains):
            if not s.database_url:
                raise SystemExit("DATABASE_URL is not set (or run `aether dev` for the embedded stack)")
            pool = await create_pool(s.database_url, s.database_pool_min, s.database_pool_max)
            if s.migrate_on_start:
                await migrate(pool, "platform", events.MIGRATIONS)
                for d in self.domains:
                    if d.migrations:
                        await migrate(pool, d.name, d.migrations)
        redis = Redis.from_url(s.redis_url) if s.redis_url else None
        # A domain's events carry its name as their source (its PostgresUnitOfWork); rarer
        # ones (dead-letter reports) are published by the next wake-up or poll of any relay.
        sources = [d.name for d in self.domains]
        bus = EventBus.from_settings(s, pool, sources) if pool is not None else None
        return Resources(settings=s, pool=pool, redis=redis, bus=bus, clients=ServiceClients(s))

    async def start(self) -> int:
        """Build everything and start listening; returns the bound port."""
        s = self.settings
        self._resources = res = await self._open_resources()
        services: list[Service] = []
        jwks: JwksFetcher | None = None
        for domain in self.domains:
            mount = await domain.build(res)
            services += mount.services
            jwks = jwks or mount.jwks
            self._on_stop += mount.on_stop
        for service in services:
            check_service_rules(service.name)
        self.service_names = [service.name for service in services]

        if jwks is None:  # not the auth service itself: ask it over gRPC
            jwks = RemoteJwks(res.clients)
        verifier = TokenVerifier(
            KeyCache(jwks, ttl=s.jwks_cache_seconds),
            s.jwt_issuer,
            s.jwt_audience,
            internal_audience=s.jwt_internal_audience,  # service tokens (servers/platform/identity.py)
        )
        # The largest request one of these services declares (uploads, webhooks), else the default.
        receive_limit = max_request_bytes(self.service_names, s.max_message_bytes)
        # OpenTelemetry's interceptor (a span per RPC) only when spans are exported.
        tracing = tracing_enabled()
        if res.redis is None:
            log.warning("REDIS_URL is not set: tokens are not checked for revocation, RPCs not rate limited")
        admission = Admission(res.redis) if res.redis is not None else None
        if admission is not None:
            await admission.start()
            self._on_stop.append(admission.stop)
        platform = PlatformInterceptor(
            verifier,
            admission,
            RateLimits.from_settings(s),
            attach_trace=not tracing,
            message_limits=(s.max_message_bytes, receive_limit),
        )
        server = grpc.aio.server(
            interceptors=[aio_server_interceptor(), platform] if tracing else [platform],
            options=[
                ("grpc.max_receive_message_length", receive_limit),
                ("grpc.max_send_message_length", s.max_message_bytes),
                ("grpc.so_reuseport", 1),  # GRPC_WORKERS processes share the port
            ],
        )
        for service in services:
            service.add_to_server(service.servicer, server)
            await self._health.set(service.name, health_pb2.HealthCheckResponse.SERVING)
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        await self._health.set(LIVENESS_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        names = [svc.name for svc in services] + [health.SERVICE_NAME, reflection.SERVICE_NAME]
        reflection.enable_server_reflection(names, server)

        self.port = server.add_insecure_port(f"{s.grpc_host}:{s.grpc_port}")
        await server.start()
        self._server = server
        wildcard = s.grpc_host in ("0.0.0.0", "::")  # noqa: S104 (comparing, not binding)
        res.local_address = f"{'127.0.0.1' if wildcard else s.grpc_host}:{self.port}"
        res.local_services = list(self.service_names)
        res.clients.serve_locally(res.local_address, self.service_names)
        if res.bus is not None:
            await res.bus.start(relay=s.bus_relay)
        self._watch = DependencyWatch(
            self._health,
            self.service_names,
            res.pool,
            res.redis,
            interval=s.dependency_check_seconds,
            timeout=s.dependency_check_timeout_seconds,
            failures=s.dependency_check_failures,
        )
        self._watch.start()
        log.info("serving", extra={"address": f"{s.grpc_host}:{self.port}", "services": names})
        return self.port

    async def stop(self) -> None:
        """Report NOT_SERVING (so load balancers drain), let in-flight RPCs finish
        within the grace period, then release resources."""
        if self._server is None:
            return
        if self._watch is not None:
            await self._watch.stop()
        await self._health.enter_graceful_shutdown()
        await self._server.stop(self.settings.shutdown_grace_seconds)
        self._server = None
        for callback in reversed(self._on_stop):
            await callback()
        if self._resources and self._resources.bus is not None:
            await self._resources.bus.stop()
        if self._resources:
            await self._resources.clients.close()
        if self._resources:
            if self._resources.redis is not None:
                await self._resources.redis.aclose()
            if self._resources.pool is not None:
                await self._resources.pool.close()
        log.info("stopped")


async def serve(domains: Sequence[Domain], settings: PlatformSettings) -> None:
    """Run until SIGTERM/SIGINT, then shut down gracefully."""
    name = settings.service_name or "aether-" + "+".join(d.name for d in domains)
    configure_logging(name, settings.log_level, settings.log_json)
    configure_tracing(name, settings.otel_exporter_otlp_endpoint)
    start_metrics_server(settings.metrics_port, settings.metrics_host)
    server = Server(domains, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    await stop.wait()
    await server.stop()
