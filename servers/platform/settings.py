"""Typed settings from environment variables — the only place that reads the
environment. Names match docker-compose.yml (DATABASE_URL, REDIS_URL, ...)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from servers.platform.client_address import DEFAULT_TRUSTED_PROXIES

# Access tokens' issuer and audience: the auth server writes them into the tokens it signs; every
# server (PlatformSettings) and the Envoy edge (EdgeSettings) checks them.
JWT_ISSUER = "aether-auth"
JWT_AUDIENCE = "aether"


class PlatformSettings(BaseSettings):
    """Settings every server shares."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    # Processes serving the port (SO_REUSEPORT), for `aether serve`: one per core
    # the server should use (servers/platform/workers.py).
    grpc_workers: int = Field(default=1, ge=1)
    # Seconds in-flight RPCs get to finish on SIGTERM before being cancelled.
    shutdown_grace_seconds: float = 10.0
    # Largest request message a server accepts (native gRPC; Envoy caps REST bodies).
    max_message_bytes: int = 4 * 1024 * 1024

    database_url: str | None = None
    database_pool_min: int = 1
    database_pool_max: int = 10
    redis_url: str | None = None
    migrate_on_start: bool = True
    # Readiness follows PostgreSQL and Redis (servers/platform/readiness.py): a probe every this
    # many seconds (0: never), NOT_SERVING after this many failed probes in a row.
    dependency_check_seconds: float = 5.0
    dependency_check_timeout_seconds: float = 5.0
    dependency_check_failures: int = Field(default=2, ge=1)

    # Where servers fetch the JWT verification keys (AuthService.GetJwks over gRPC).
    auth_addr: str = "127.0.0.1:50051"
    jwt_issuer: str = JWT_ISSUER
    jwt_audience: str = JWT_AUDIENCE
    # How long fetched verification keys are trusted before a refetch.
    jwks_cache_seconds: float = 300.0
    # The audience of service tokens (servers accept it, the edge does not).
    jwt_internal_audience: str = "aether-internal"

    # Where the other services are, for servers.platform.clients (host:port, as
    # in docker-compose.yml). Unset: a domain served in this process, else the
    # call fails naming the setting. AUTH_ADDR is above.
    tasks_addr: str | None = None
    analytics_addr: str | None = None
    ai_addr: str | None = None
    code_addr: str | None = None
    integrations_addr: str | None = None
    rag_addr: str | None = None
    containers_addr: str | None = None
    # Deadline of a call to another service when neither the caller nor the
    # incoming RPC set one.
    service_call_timeout_seconds: float = 30.0
    # Attempts (first + retries) of an idempotent call that fails UNAVAILABLE.
    service_call_max_attempts: int = Field(default=3, ge=1, le=5)

    # The event bus: RabbitMQ when AMQP_URL is set, else PostgreSQL itself (the embedded default).
    amqp_url: str | None = None
    amqp_exchange: str = "aether.events"
    # Consumer queues are "<prefix>.<consumer>" (+ ".retry.N", ".dlq").
    bus_queue_prefix: str = "aether"
    # Seconds before each retry of a failed handler; one more failure dead-letters the event.
    bus_retry_delays: str = "1,5,30,120"
    bus_relay_batch: int = 500
    # Relay loops per server, pipelining batches (SKIP LOCKED keeps them apart).
    bus_relay_concurrency: int = 2
    bus_prefetch: int = 100
    # Run the outbox relay in this server (any number may run at once).
    bus_relay: bool = True
    # Published outbox rows are deleted after this many hours.
    outbox_retention_hours: float = 24.0

    # Key for secrets encrypted at rest (urlsafe base64 of 32 bytes).
    aether_secret_key: SecretStr | None = None

    # Per-caller rate limits (servers/platform/rate_limits.py, docs/security.md): REQUESTS/SECONDS
    # of RPCs without a (aether.common.v1.rate_limit) option; per-deployment
    # "/pkg.Service/Method=N/S,..." over the protos'.
    rate_limit_default: str = "600/60"
    rate_limit_overrides: str = ""
    # Peers (the edge) whose x-aether-client-address is believed: the address per-client limits
    # count (rate limits of public RPCs, login throttling; servers/platform/client_address.py).
    trusted_proxies: str = DEFAULT_TRUSTED_PROXIES

    log_level: str = "INFO"
    log_json: bool = True
    # Prometheus /metrics port; unset = no metrics endpoint.
    metrics_port: int | None = None
    # Interface of the metrics endpoint: loopback unless a scraper elsewhere needs it
    # (docker-compose.yml sets 0.0.0.0 on its private network).
    metrics_host: str = "127.0.0.1"
    # OTLP/HTTP traces endpoint (e.g. http://otel-collector:4318); unset = no export.
    otel_exporter_otlp_endpoint: str | None = None
    # Service name in traces and logs; default "aether-<domains>".
    service_name: str | None = Field(default=None, validation_alias="OTEL_SERVICE_NAME")


EDGE_ENVIRONMENT = ("OTEL_EXPORTER_OTLP_ENDPOINT",)
"""What `aether edge` reads from the environment (everything else is a flag): the servers' own
collector setting, so one ConfigMap key or compose block traces Envoy and the servers alike."""


class EdgeEnv(BaseSettings):
    """Edge (Envoy) settings for `aether dev`; `aether edge` takes the same as flags."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    # Comma-separated exact origins allowed by CORS, e.g. "http://localhost:5173".
    cors_allowed_origins: str = ""
    # Largest REST request body (413 above it) and native gRPC message through the edge.
    max_request_bytes: int = 1_048_576
    # Proxies in front of Envoy whose X-Forwarded-For entries are believed (0: none).
    edge_xff_trusted_hops: int = 0
    # The servers' OTLP/HTTP collector: Envoy's spans go there too (servers/edge/tracing.py).
    otel_exporter_otlp_endpoint: str = ""

    @property
    def origins(self) -> tuple[str, ...]:
        return tuple(o.strip() for o in self.cors_allowed_origins.split(",") if o.strip())
