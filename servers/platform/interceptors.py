"""The server interceptor chain. Each interceptor is a small async context manager
around the RPC (unary or server-streaming), applied outermost first:

    RequestId -> Telemetry (log + metrics) -> Errors -> Auth -> Validation -> servicer

(OpenTelemetry's own server interceptor runs before all of them, so every step
is inside the RPC's span.)
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import grpc
import protovalidate
from google.protobuf.message import Message
from grpc_status import rpc_status
from prometheus_client import Counter, Histogram

from servers.platform.access import access_rule
from servers.platform.context import (
    Principal,
    ResponseHeaders,
    access_token_var,
    deadline_var,
    principal_var,
    request_id,
    request_id_var,
    response_headers_var,
)
from servers.platform.errors import (
    OUTAGES,
    AetherError,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
    internal_status,
    outage_status,
    to_rpc_status,
)
from servers.platform.request_checks import decode_leniently, request_violations
from servers.platform.token_epochs import token_refused
from servers.platform.tokens import TokenVerifier

log = logging.getLogger("aether.rpc")

Scope = Callable[[str, Any, grpc.aio.ServicerContext], AbstractAsyncContextManager[None]]


class WrappingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Wraps each method's handler once and reuses the wrapper: grpc asks every
    interceptor for the handler on every call, and building closures and a
    method handler per call, per interceptor, is CPU on the request path."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
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


class ScopeInterceptor(WrappingInterceptor):
    """Runs `scope(method, request, context)` around every unary and
    server-streaming call (request is None for client-streaming calls)."""

    def scope(
        self, method: str, request: Any, context: grpc.aio.ServicerContext
    ) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        scope = self.scope

        if handler.unary_unary:
            inner_uu = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                async with scope(method, request, context):
                    return await inner_uu(request, context)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            inner_us = handler.unary_stream

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                async with scope(method, request, context):
                    async for item in inner_us(request, context):
                        yield item

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_unary:
            inner_su = handler.stream_unary

            async def stream_unary(requests: Any, context: grpc.aio.ServicerContext) -> Any:
                async with scope(method, None, context):
                    return await inner_su(requests, context)

            return grpc.stream_unary_rpc_method_handler(
                stream_unary, handler.request_deserializer, handler.response_serializer
            )
        inner_ss = handler.stream_stream

        async def stream_stream(requests: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async with scope(method, None, context):
                async for item in inner_ss(requests, context):
                    yield item

        return grpc.stream_stream_rpc_method_handler(
            stream_stream, handler.request_deserializer, handler.response_serializer
        )


def _metadata(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v if isinstance(v, str) else v.decode()
    return None


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdInterceptor(WrappingInterceptor):
    """Keeps the caller's (or Envoy's) `x-request-id` if well-formed, else makes
    one, records the RPC's deadline (servers.platform.context.time_remaining),
    and sends the response headers: x-request-id plus any a handler added
    (context.add_response_header), with the first response message, or with
    the trailers of an error that comes first."""

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        def begin(context: grpc.aio.ServicerContext) -> ResponseHeaders:
            incoming = _metadata(context, "x-request-id")
            rid = incoming if incoming and _REQUEST_ID.match(incoming) else str(uuid.uuid4())
            request_id_var.set(rid)  # each RPC runs in its own task, so its own context
            # The caller's deadline, so calls to other services get what is left of it.
            remaining = context.time_remaining()
            deadline_var.set(None if remaining is None else time.monotonic() + remaining)
            headers = ResponseHeaders(("x-request-id", rid))
            response_headers_var.set(headers)
            return headers

        async def send(context: grpc.aio.ServicerContext, headers: ResponseHeaders) -> None:
            pending = headers.take()
            if pending:
                await context.send_initial_metadata(tuple(pending))

        if handler.unary_unary:
            inner_uu = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                headers = begin(context)
                response = await inner_uu(request, context)
                await send(context, headers)
                return response

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            inner_us = handler.unary_stream

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                headers = begin(context)
                async for item in inner_us(request, context):
                    await send(context, headers)
                    yield item
                await send(context, headers)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_unary:
            inner_su = handler.stream_unary

            async def stream_unary(requests: Any, context: grpc.aio.ServicerContext) -> Any:
                await send(context, begin(context))
                return await inner_su(requests, context)

            return grpc.stream_unary_rpc_method_handler(
                stream_unary, handler.request_deserializer, handler.response_serializer
            )
        inner_ss = handler.stream_stream

        async def stream_stream(requests: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await send(context, begin(context))
            async for item in inner_ss(requests, context):
                yield item

        return grpc.stream_stream_rpc_method_handler(
            stream_stream, handler.request_deserializer, handler.response_serializer
        )


RPC_TOTAL = Counter("aether_grpc_server_handled_total", "RPCs completed", ["method", "code"])
RPC_SECONDS = Histogram("aether_grpc_server_handling_seconds", "RPC duration", ["method"])


class TelemetryInterceptor(ScopeInterceptor):
    """One access-log line and Prometheus metrics per RPC."""

    @asynccontextmanager
    async def scope(
        self, method: str, request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            code = context.code() or grpc.StatusCode.OK
            name = code.name if isinstance(code, grpc.StatusCode) else str(code)
            RPC_TOTAL.labels(method, name).inc()
            RPC_SECONDS.labels(method).observe(elapsed)
            log.info("rpc", extra={"method": method, "code": name, "duration_ms": round(elapsed * 1000, 2)})


class ErrorInterceptor(ScopeInterceptor):
    """Turns domain errors into google.rpc.Status (via the table in errors.py), a
    backing service's outage into UNAVAILABLE with RetryInfo, and any other
    unexpected exception into a bare INTERNAL that leaks nothing."""

    @asynccontextmanager
    async def scope(
        self, method: str, request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        try:
            yield
        except AetherError as error:
            log.info("rpc error", extra={"method": method, "reason": error.reason, "error": error.message})
            await _abort(context, to_rpc_status(error, request_id()))
        except (grpc.aio.AbortError, GeneratorExit):
            raise
        except OUTAGES:
            log.exception("backing service unavailable", extra={"method": method})
            await _abort(context, outage_status(request_id()))
        except Exception:
            log.exception("unhandled error", extra={"method": method})
            await _abort(context, internal_status(request_id()))


async def _abort(context: grpc.aio.ServicerContext, status: Any) -> None:
    """End the RPC with a google.rpc.Status; response headers not sent yet
    (x-request-id, X-RateLimit-*) travel with it."""
    grpc_status = rpc_status.to_status(status)
    headers = response_headers_var.get()
    pending = tuple(headers.take()) if headers is not None else ()
    await context.abort(grpc_status.code, grpc_status.details, pending + tuple(grpc_status.trailing_metadata))


class RevocationList:
    """Access tokens revoked before expiry (logout), shared through Redis."""

    def __init__(self, redis: Any | None):
        self._redis = redis

    async def is_revoked(self, principal: Principal) -> bool:
        """Revoked by logout, or issued before the user's token epoch (servers.platform.token_epochs)."""
        return self._redis is not None and await token_refused(self._redis, principal)


class AuthInterceptor(ScopeInterceptor):
    """Authenticates the bearer token and authorizes by the RPC's permissions."""

    def __init__(self, verifier: TokenVerifier, revocations: RevocationList):
        super().__init__()
        self._verifier = verifier
        self._revocations = revocations

    @asynccontextmanager
    async def scope(
        self, method: str, request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        rule = access_rule(method)
        if rule.public:
            yield
            return
        header = _metadata(context, "authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("missing bearer access token")
        principal = await self._verifier.verify(token.strip())
        if await self._revocations.is_revoked(principal):
            raise Unauthenticated("access token revoked")
        missing = rule.permissions - principal.permissions
        if missing:
            raise PermissionDenied(
                f"missing permission: {', '.join(sorted(missing))}", {"missing": ",".join(sorted(missing))}
            )
        reset = principal_var.set(principal)
        reset_token = access_token_var.set(token.strip())  # forwarded by servers.platform.clients
        try:
            yield
        finally:
            access_token_var.reset(reset_token)
            principal_var.reset(reset)


def _field_path(violation: Any) -> str:
    """JSON-style path of a violation ("context[0].role"), lowerCamelCase like the REST contract."""
    parts: list[str] = []
    if violation.proto.field is None:  # a message-level (CEL) rule names no field
        return ""
    for element in violation.proto.field.elements:
        name = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), element.field_name)
        parts.append(name)
        if element.subscript is not None:  # a repeated index or map key
            parts[-1] += f"[{element.subscript.value}]"
    return ".".join(parts)


class ValidationInterceptor(ScopeInterceptor):
    """Enforces the `buf.validate` rules declared in the protos."""

    def __init__(self) -> None:
        super().__init__()
        self._validator = protovalidate.Validator()

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        return super().wrap(method, decode_leniently(handler))  # see request_checks

    @asynccontextmanager
    async def scope(
        self, method: str, request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        unsafe = request_violations(request)  # NUL characters, JSON depth: every message alike
        if unsafe:
            raise InvalidArgument(
                f"invalid request: {unsafe[0].field or 'body'}: {unsafe[0].description}", unsafe
            )
        if isinstance(request, Message):
            violations = self._validator.collect_violations(request)
            if violations:
                details = [FieldViolation(_field_path(v), v.proto.message) for v in violations]
                summary = "; ".join(f"{d.field}: {d.description}" for d in details)
                raise InvalidArgument(f"invalid request: {summary}", details)
        yield
