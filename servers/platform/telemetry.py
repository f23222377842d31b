"""Tracing (OpenTelemetry) and metrics (Prometheus) setup, once per process."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import start_http_server

_configured = False
_exporting = False


def configure_tracing(
    service: str, otlp_endpoint: str | None = None, extra_processor: SpanProcessor | None = None
) -> None:
    """Install a tracer provider exporting to OTLP/HTTP when an endpoint is set
    (or to `extra_processor`). Without either, servers make no spans (nothing
    would read them; see tracing_enabled) but still pass an incoming trace on."""
    global _configured, _exporting
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint}/v1/traces"))
        )
    if extra_processor is not None:
        provider.add_span_processor(extra_processor)
    trace.set_tracer_provider(provider)
    _configured = True
    _exporting = bool(otlp_endpoint) or extra_processor is not None


def tracing_enabled() -> bool:
    """Whether spans go anywhere: only then do servers pay for OpenTelemetry's
    server interceptor (a span, its attributes and its end per RPC)."""
    return _exporting


def start_metrics_server(port: int | None, host: str = "127.0.0.1") -> None:
    """Serve Prometheus /metrics on `host:port` (loopback unless METRICS_HOST says otherwise)."""
    if port:
        start_http_server(port, addr=host)
