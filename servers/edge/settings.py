"""What the generated edge depends on besides the descriptor set (:class:`EdgeSettings`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from servers.platform.settings import JWT_AUDIENCE, JWT_ISSUER

DEFAULT_MAX_REQUEST_BYTES = 1_048_576
"""Largest request of an RPC without a (aether.common.v1.max_request_bytes) option."""


def _default_upstreams() -> Mapping[str, str]:
    return {}


@dataclass(frozen=True)
class EdgeSettings:
    """Everything the generated edge depends on besides the descriptor set."""

    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    admin_port: int | None = None
    """Envoy admin on 127.0.0.1 only; None = no admin interface."""
    upstreams: Mapping[str, str] = field(default_factory=_default_upstreams)
    """Full proto service name ("aether.auth.v1.AuthService") -> "host:port" of its grpc.aio server."""
    jwks_upstream: str = ""
    """"host:port" serving GET /.well-known/jwks.json (normally Envoy's own listener: the
    JWKS route is transcoded to AuthService.GetJwks). Empty = this listener."""
    jwt_issuer: str = JWT_ISSUER
    jwt_audience: str = JWT_AUDIENCE
    cors_allowed_origins: Sequence[str] = ()
    """Exact origins ("https://app.example.com") allowed by CORS; empty = no CORS."""
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    """Largest REST body / native gRPC message of RPCs without a max_request_bytes option."""
    xff_num_trusted_hops: int = 0
    """Proxies in front of this Envoy whose X-Forwarded-For entries are believed (Envoy's
    xff_num_trusted_hops). 0 (the default): the client is the connection's peer, whatever
    X-Forwarded-For it sends. The address so found is what per-client limits key on
    (x-aether-client-address, servers/platform/client_address.py)."""
    access_log_path: str = "/dev/stdout"
    otlp_endpoint: str = ""
    """OTLP/HTTP collector base URL ("http://otel-collector:4318"), the servers'
    OTEL_EXPORTER_OTLP_ENDPOINT: Envoy then makes a span per request and sends the servers its
    trace context (servers.edge.tracing). Empty (the default): no spans; a client's traceparent
    still passes through."""
    trace_service_name: str = "aether-edge"
    trace_sampling_percent: float = 100.0
    """Share of requests without a sampled incoming trace that Envoy traces."""
    trace_flush_seconds: float = 5.0
    """How often Envoy sends its finished spans (Envoy's default: 5 s)."""
    unary_timeout_seconds: float = 60.0
    """Upstream timeout of unary RPCs; server-streaming RPCs have none (stream idle timeout applies)."""
    jwks_cache_seconds: int = 300
    """How long Envoy caches the JWK set. A new signing key must be published this long before use."""
    jwt_cache_size: int = 4096
    """Verified access tokens Envoy remembers per worker thread (skipping their signature
    check; expiry is still checked each time)."""
    health_check_interval_seconds: float = 2.0
    health_check_timeout_seconds: float = 1.0
    """Two checks in a row without an answer in this time take a server out of rotation."""
    max_downstream_connections: int = 50_000
    """Overload-manager cap on open client connections (Envoy warns when there is none)."""
    upstream_streams_per_connection: int = 4
    """Concurrent requests Envoy puts on one HTTP/2 connection to a server before it
    opens another. The kernel spreads a GRPC_WORKERS server's connections, not its
    requests, over the workers: without this cap, Envoy's one connection per thread
    can leave a worker idle while another queues."""

    def __post_init__(self) -> None:
        for name, port in (("listen_port", self.listen_port), ("admin_port", self.admin_port)):
            if port is not None and not 0 < port < 65536:
                raise ValueError(f"{name} out of range: {port}")
        for service, address in self.upstreams.items():
            split_host_port(address, what=f"upstream of {service}")
        if self.jwks_upstream:
            split_host_port(self.jwks_upstream, what="jwks_upstream")
        if self.xff_num_trusted_hops < 0:
            raise ValueError("xff_num_trusted_hops must be >= 0")
        if self.max_request_bytes <= 0:
            raise ValueError("max_request_bytes must be positive")
        if self.otlp_endpoint:
            otlp_host_port(self.otlp_endpoint)
        if not 0 <= self.trace_sampling_percent <= 100 or self.trace_flush_seconds <= 0:
            raise ValueError("trace_sampling_percent must be in [0, 100] and trace_flush_seconds positive")
        for origin in self.cors_allowed_origins:
            if not origin or origin == "*" or origin.endswith("/"):
                raise ValueError(f"CORS origins are exact, like https://app.example.com; got {origin!r}")

    @property
    def jwks_address(self) -> str:
        return self.jwks_upstream or f"{_connect_host(self.listen_host)}:{self.listen_port}"


def split_host_port(address: str, *, what: str = "address") -> tuple[str, int]:
    """ "host:port" or "[v6]:port" -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{what}: expected host:port, got {address!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def otlp_host_port(url: str) -> tuple[str, int]:
    """ "http://host[:port]" (an OTLP/HTTP base URL, port 4318 by default) -> (host, port)."""
    parsed = urlsplit(url)
    if parsed.scheme != "http" or not parsed.hostname or parsed.path.strip("/") or parsed.query:
        raise ValueError(f"otlp_endpoint: expected http://host[:port], got {url!r}")
    try:
        port = 4318 if parsed.port is None else parsed.port
    except ValueError as exc:  # not a number, or above 65535
        raise ValueError(f"otlp_endpoint: bad port in {url!r}") from exc
    if port == 0:
        raise ValueError(f"otlp_endpoint: bad port in {url!r}")
    return parsed.hostname, port


def _connect_host(listen_host: str) -> str:
    if listen_host in ("0.0.0.0", ""):  # noqa: S104 - mapping a wildcard bind to loopback
        return "127.0.0.1"
    if listen_host == "::":
        return "[::1]"
    return f"[{listen_host}]" if ":" in listen_host else listen_host
