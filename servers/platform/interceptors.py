"""The server interceptor: one per server, wrapping each method's handler once.
Each call goes through these steps, outermost first:

    request id + deadline -> telemetry (metrics, log) -> errors -> admission step
    (token; revocation check + rate limit, one Redis round trip; permissions)
    -> size, path-binding and validation steps -> servicer

One interceptor instead of a chain of six: grpc asks every interceptor for the
handler on every call, and each layer's generator-based context manager and
closure was CPU on every request; the steps stay separate, named functions.
OpenTelemetry's server interceptor runs before it only when tracing is
configured (servers.platform.telemetry.tracing_enabled); otherwise an incoming
W3C `traceparent` is still attached, so events and calls to other services
carry the caller's trace.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf.message import Message
from grpc_status import rpc_status
from opentelemetry import context as otel_context
from opentelemetry import propagate
from prometheus_client import Counter, Histogram

from servers.platform.access import AccessRule, MissingAccessRule, access_rule, method_max_request_bytes
from servers.platform.admission import Admission, Admitter
from servers.platform.context import (
    ResponseHeaders,
    deadline_var,
    request_id,
    request_id_var,
    response_headers_var,
)
from servers.platform.errors import (
    AetherError,
    TooLarge,
    http_status_metadata,
    is_outage,
    status_of,
)
from servers.platform.path_bindings import check_path_bindings, path_bindings
from servers.platform.rate_limits import RateLimits
from servers.platform.request_checks import RequestValidator, decode_leniently
from servers.platform.tokens import TokenVerifier

log = logging.getLogger("aether.rpc")

RPC_TOTAL = Counter("aether_grpc_server_handled_total", "RPCs completed", ["method", "code"])
RPC_SECONDS = Histogram("aether_grpc_server_handling_seconds", "RPC duration", ["method"])

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def begin_request(context: grpc.aio.ServicerContext, attach_trace: bool) -> ResponseHeaders:
    """Request id (the caller's or Envoy's `x-request-id` if well-formed, else a
    new one), the RPC's deadline (servers.platform.context.time_remaining) and
    the response headers, in this RPC's context (each RPC runs in its own task).
    With `attach_trace`, an incoming `traceparent` becomes the current context."""
    metadata = context.invocation_metadata() or ()
    incoming = traceparent = None
    for k, v in metadata:
        if k == "x-request-id":
            incoming = v if isinstance(v, str) else v.decode()
        elif k == "traceparent":
            traceparent = v
    if traceparent is not None and attach_trace:
        # Propagation without spans: the caller's trace goes on into events and calls.
        otel_context.attach(propagate.extract({"traceparent": traceparent}))
    rid = incoming if incoming and _REQUEST_ID.match(incoming) else str(uuid.uuid4())
    request_id_var.set(rid)
    remaining = context.time_remaining()
    deadline_var.set(None if remaining is None else time.monotonic() + remaining)
    headers = ResponseHeaders(("x-request-id", rid))
    response_headers_var.set(headers)
    return headers


async def send_headers(context: grpc.aio.ServicerContext, headers: ResponseHeaders) -> None:
    """Send the response headers not sent yet (x-request-id, any a handler added)."""
    pending = headers.take()
    if pending:
        await context.send_initial_metadata(tuple(pending))


async def finish_unary(context: grpc.aio.ServicerContext, headers: ResponseHeaders) -> None:
    """A unary response's headers ride in its trailers: sending headers ahead of the
    response is a batch of its own in grpc, about a tenth of a small RPC's CPU. At the
    edge, Envoy sets x-request-id on every response itself (always_set_request_id_in_response)
    and makes REST headers of the X-RateLimit-* trailers (servers.edge.lua_filter)."""
    pending = headers.take()
    if pending:
        context.set_trailing_metadata(tuple(pending))


async def abort_with(context: grpc.aio.ServicerContext, error: BaseException, method: str) -> None:
    """The errors step: a domain error becomes its google.rpc.Status (errors.py's
    table), a backing service's outage UNAVAILABLE with RetryInfo, anything else a
    bare INTERNAL that leaks nothing. Headers not sent yet travel with it."""
    extra: tuple[tuple[str, str], ...] = ()
    if isinstance(error, AetherError):
        log.info("rpc error", extra={"method": method, "reason": error.reason, "error": error.message})
        extra = http_status_metadata(error)
    elif is_outage(error):
        log.error("backing service unavailable", exc_info=error, extra={"method": method})
    else:
        log.error("unhandled error", exc_info=error, extra={"method": method})
    grpc_status = rpc_status.to_status(status_of(error, request_id()))
    headers = response_headers_var.get()
    pending = tuple(headers.take()) if headers is not None else ()
    await context.abort(
        grpc_status.code, grpc_status.details, pending + extra + tuple(grpc_status.trailing_metadata)
    )


def observe(method: str, context: grpc.aio.ServicerContext, started: float) -> None:
    """The telemetry step: Prometheus metrics for every RPC, a log line for each failed one."""
    elapsed = time.perf_counter() - started
    code = context.code() or grpc.StatusCode.OK
    name = code.name if isinstance(code, grpc.StatusCode) else str(code)
    RPC_TOTAL.labels(method, name).inc()
    RPC_SECONDS.labels(method).observe(elapsed)
    # A line per failed RPC; successful ones only at DEBUG: formatting and writing a JSON
    # line was ~4% of a small RPC's CPU, and Envoy's access log already has every edge request.
    level = logging.DEBUG if code is grpc.StatusCode.OK else logging.INFO
    if log.isEnabledFor(level):
        log.log(level, "rpc", extra={"method": method, "code": name, "duration_ms": round(elapsed * 1000, 2)})


class PlatformInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Every step above around each unary and streaming call; each method's
    handler is wrapped once (on its first call) and reused."""

    def __init__(
        self,
        verifier: TokenVerifier,
        admission: Admission | None,
        rate_limits: RateLimits,
        *,
        attach_trace: bool = True,
        message_limits: tuple[int, int] | None = None,
    ):
        # attach_trace: False when OpenTelemetry's own server interceptor runs first.
        self._attach_trace = attach_trace
        # (default per-method limit, the server's receive limit): gRPC holds every method to the
        # server's, the largest one of its methods declares; the size step holds each to its own.
        self._message_limits = message_limits
        self._admitter = Admitter(verifier, admission, rate_limits)
        self._validator = RequestValidator()
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        known = self._wrapped.get(details.method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = self.wrap(details.method, handler)
        self._wrapped[details.method] = (handler, wrapped)
        return wrapped

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        handler = decode_leniently(handler)  # an undecodable request is a BadRequest (request_checks)
        admit_caller, validate, attach = self._admitter.admit, self._validator.validate, self._attach_trace
        try:
            rule: AccessRule | MissingAccessRule = access_rule(method)  # once per method: a descriptor lookup
        except MissingAccessRule as missing:  # fail closed, on every call
            rule = missing
        bound = bool(path_bindings(method))
        size_limit = 0
        if self._message_limits is not None:
            default, receive_limit = self._message_limits
            own = method_max_request_bytes(method, default)
            size_limit = own if own < receive_limit else 0  # 0: gRPC's own check is the method's

        async def admit(request: Any, context: grpc.aio.ServicerContext) -> None:
            """The steps before the handler: admission, size, path bindings, validation."""
            await admit_caller(method, rule, context)
            if request is not None:
                if size_limit and isinstance(request, Message) and request.ByteSize() > size_limit:
                    raise TooLarge(f"request too large: above this method's limit of {size_limit} bytes")
                if bound:
                    check_path_bindings(method, request, context)
                validate(request)

        if handler.unary_unary:
            inner_uu = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                started = time.perf_counter()
                headers = begin_request(context, attach)
                try:
                    try:
                        await admit(request, context)
                        response = await inner_uu(request, context)
                    except (grpc.aio.AbortError, GeneratorExit):
                        raise
                    except Exception as error:
                        await abort_with(context, error, method)
                    await finish_unary(context, headers)
                    return response
                finally:
                    observe(method, context, started)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            inner_us = handler.unary_stream

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                started = time.perf_counter()
                headers = begin_request(context, attach)
                try:
                    try:
                        await admit(request, context)
                        async for item in inner_us(request, context):
                            await send_headers(context, headers)
                            yield item
                    except (grpc.aio.AbortError, GeneratorExit):
                        raise
                    except Exception as error:
                        await abort_with(context, error, method)
                    await send_headers(context, headers)
                finally:
                    observe(method, context, started)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_unary:
            inner_su = handler.stream_unary

            async def stream_unary(requests: Any, context: grpc.aio.ServicerContext) -> Any:
                started = time.perf_counter()
                await send_headers(context, begin_request(context, attach))
                try:
                    try:
                        await admit(None, context)
                        return await inner_su(requests, context)
                    except (grpc.aio.AbortError, GeneratorExit):
                        raise
                    except Exception as error:
                        await abort_with(context, error, method)
                finally:
                    observe(method, context, started)

            return grpc.stream_unary_rpc_method_handler(
                stream_unary, handler.request_deserializer, handler.response_serializer
            )
        inner_ss = handler.stream_stream

        async def stream_stream(requests: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started = time.perf_counter()
            await send_headers(context, begin_request(context, attach))
            try:
                try:
                    await admit(None, context)
                    async for item in inner_ss(requests, context):
                        yield item
                except (grpc.aio.AbortError, GeneratorExit):
                    raise
                except Exception as error:
                    await abort_with(context, error, method)
            finally:
                observe(method, context, started)

        return grpc.stream_stream_rpc_method_handler(
            stream_stream, handler.request_deserializer, handler.response_serializer
        )
