"""Tracing (OpenTelemetry) and metrics (Prometheus) setup, once per process."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import start_http_server

_configured = False


def configure_tracing(
    service: str, otlp_endpoint: str | None = None, extra_processor: SpanProcessor | None = None
) -> None:
    """Install a tracer provider exporting to OTLP/HTTP when an endpoint is set.
    Without one, spans are still created (trace ids appear in logs) but not exported."""
    global _configured
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


def start_metrics_server(port: int | None, host: str = "127.0.0.1") -> None:
    """Serve Prometheus /metrics on `host:port` (loopback unless METRICS_HOST says otherwise)."""
    if port:
        start_http_server(port, addr=host)
