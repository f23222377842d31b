"""Calls from one Aether service to another over gRPC (e.g. Code Assistant ->
AI Gateway), through one shared channel per target per process.

Every call carries, without the caller doing anything:
- the trace context (OpenTelemetry's gRPC client interceptor: `traceparent`),
- the request id of the RPC being served (`x-request-id`),
- an identity: the caller's access token, forwarded, so limits, budgets and
  ownership apply to the real user; or, inside `acting_as(...)`, a short-lived
  service token that names the service and the user it acts for (see
  servers/platform/identity.py),
- a deadline: `min(timeout given, what is left of the incoming RPC's)`, so a
  chain of calls shrinks the deadline and never resets it.

Retries happen only for RPCs whose proto marks them safe to repeat
(`option idempotency_level = NO_SIDE_EFFECTS` or `IDEMPOTENT`): gRPC's own
retry policy (the `grpc.service_config` channel option) retries those on
UNAVAILABLE, with backoff. Everything else is tried once.

    ai = res.clients.stub("ai", ai_service_pb2_grpc.AiServiceStub)
    reply = await ai.Chat(ai_service_pb2.ChatRequest(message=...), timeout=20)

    with acting_as("integrations", on_behalf_of=event.user_id):  # background work
        await tasks.CreateTask(...)

docs/service-clients.md has the whole story.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

import grpc
from aether.auth.v1 import service_tokens_service_pb2, service_tokens_service_pb2_grpc
from google.protobuf import descriptor_pb2
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from servers.platform.context import access_token, request_id, time_remaining
from servers.platform.identity import (
    ISSUE_METHOD,
    SERVICE_CREDENTIAL_METADATA,
    SERVICE_NAME,
    service_credential,
)
from servers.platform.settings import PlatformSettings

StubT = TypeVar("StubT")

# The deadline of a service-token request (capped by the caller's, like any call).
ISSUE_TIMEOUT = 5.0


@dataclass(frozen=True)
class ServiceIdentity:
    """A service acting on behalf of a user, with that user's permissions or
    the subset named (empty = all of the user's)."""

    service: str
    on_behalf_of: str
    permissions: tuple[str, ...] = ()


_acting_var: ContextVar[ServiceIdentity | None] = ContextVar("acting_as", default=None)


@contextmanager
def acting_as(service: str, *, on_behalf_of: str, permissions: Sequence[str] = ()) -> Iterator[None]:
    """Calls made inside act as `service` on behalf of user `on_behalf_of`
    (instead of forwarding the incoming caller's token): for event consumers,
    schedulers and webhook processing, where there is no caller."""
    if not SERVICE_NAME.match(service):
        raise ValueError(f"invalid service name {service!r}")
    if not on_behalf_of:
        raise ValueError("a service identity acts on behalf of a user: on_behalf_of is empty")
    reset = _acting_var.set(ServiceIdentity(service, on_behalf_of, tuple(sorted(set(permissions)))))
    try:
        yield
    finally:
        _acting_var.reset(reset)


_RETRYABLE_LEVELS = (descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS, descriptor_pb2.MethodOptions.IDEMPOTENT)


@cache
def idempotent_methods() -> frozenset[str]:
    """ "package.Service/Method" of every Aether RPC whose proto declares it
    safe to repeat (`idempotency_level` NO_SIDE_EFFECTS or IDEMPOTENT)."""
    import aether

    found: set[str] = set()
    for module in pkgutil.walk_packages(aether.__path__, "aether."):
        if not module.name.endswith("_pb2"):
            continue
        file = importlib.import_module(module.name).DESCRIPTOR
        for service in file.services_by_name.values():
            for method in service.methods:
                if method.GetOptions().idempotency_level in _RETRYABLE_LEVELS:
                    found.add(f"{service.full_name}/{method.name}")
    return frozenset(found)


def service_config(retryable: Iterable[str], max_attempts: int = 3) -> str:
    """A gRPC service config (JSON) that retries exactly `retryable`
    ("package.Service/Method") on UNAVAILABLE, and throttles retries when most
    calls on the channel fail (so an outage is not multiplied)."""
    names = []
    for full in sorted({m.lstrip("/") for m in retryable}):
        service, _, method = full.partition("/")
        names.append({"service": service, "method": method})
    config: dict[str, Any] = {"retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}}
    if names and max_attempts > 1:
        config["methodConfig"] = [
            {
                "name": names,
                "retryPolicy": {
                    "maxAttempts": max_attempts,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    return json.dumps(config)


def _domain(target: str) -> str:
    """ "aether.ai.v1.AiService" -> "ai"; a bare domain name stays as it is."""
    parts = target.split(".")
    return parts[1] if len(parts) >= 3 and parts[0] == "aether" else target


class ServiceTokens:
    """Service tokens by identity, reused until shortly before they expire
    (`refresh_margin` seconds, or half the lifetime for short-lived ones)."""

    def __init__(
        self,
        issue: Callable[[ServiceIdentity], Awaitable[tuple[str, float]]],
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.time,
        max_size: int = 10_000,
    ):
        self._issue = issue
        self._margin = refresh_margin
        self._clock = clock
        self._max_size = max_size
        self._tokens: dict[ServiceIdentity, tuple[str, float]] = {}  # identity -> (token, refresh at)
        self._locks: dict[ServiceIdentity, asyncio.Lock] = {}

    def _cached(self, identity: ServiceIdentity) -> str | None:
        found = self._tokens.get(identity)
        return found[0] if found is not None and self._clock() < found[1] else None

    async def token(self, identity: ServiceIdentity) -> str:
        cached = self._cached(identity)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(identity, asyncio.Lock())
        try:
            async with lock:  # one request per identity, however many calls wait
                cached = self._cached(identity)
                if cached is not None:
                    return cached
                token, expires_at = await self._issue(identity)
                now = self._clock()
                refresh_at = expires_at - min(self._margin, max(expires_at - now, 0) / 2)
                if len(self._tokens) >= self._max_size:
                    self._tokens.pop(next(iter(self._tokens)))  # the oldest
                self._tokens[identity] = (token, refresh_at)
                return token
        finally:
            if not lock.locked():
                self._locks.pop(identity, None)


class _Propagation:
    """Adds request id, identity and the shrunk deadline to a call."""

    def __init__(self, clients: ServiceClients):
        self._clients = clients

    async def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        metadata = grpc.aio.Metadata(*tuple(details.metadata or ()))
        rid = request_id()
        if rid and "x-request-id" not in metadata:
            metadata.add("x-request-id", rid)
        if "authorization" not in metadata and method != ISSUE_METHOD:
            token = await self._clients.token_for_call()
            if token:
                metadata.add("authorization", f"Bearer {token}")
        return grpc.aio.ClientCallDetails(
            details.method,
            self._clients.timeout(details.timeout),
            metadata,
            details.credentials,
            details.wait_for_ready,
        )


class _UnaryUnary(_Propagation, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(await self._details(details), request)


class _UnaryStream(_Propagation, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(await self._details(details), request)


class _StreamUnary(_Propagation, grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(await self._details(details), requests)


class _StreamStream(_Propagation, grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(await self._details(details), requests)


class ServiceClients:
    """Channels and stubs to other services, one channel per address, closed
    by `close()` (the runtime does it on shutdown; domains get the runtime's
    instance as `Resources.clients`).

    A target is a service's full name ("aether.ai.v1.AiService"), a domain
    ("ai") or an address ("host:port"). Addresses come from `addresses`, then
    the services this process serves (`serve_locally`), then the settings
    (`AI_ADDR`, `TASKS_ADDR`, ..., `AUTH_ADDR`). `idempotent` adds RPCs
    ("package.Service/Method") to the ones the protos mark retryable, for
    services whose protos are not ours (e.g. grpc.health.v1)."""

    def __init__(
        self,
        settings: PlatformSettings | None = None,
        *,
        addresses: Mapping[str, str] | None = None,
        idempotent: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ):
        self._settings = settings if settings is not None else PlatformSettings.model_construct()
        self._addresses = dict(addresses or {})
        self._local: dict[str, str] = {}  # service full name -> address, served in this process
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[tuple[str, Any], Any] = {}
        retryable = idempotent_methods() | {m.lstrip("/") for m in idempotent}
        self._service_config = service_config(retryable, self._settings.service_call_max_attempts)
        self._tokens = ServiceTokens(self._issue, clock=clock)
        self._interceptors = [
            _UnaryUnary(self),
            _UnaryStream(self),
            _StreamUnary(self),
            _StreamStream(self),
            *aio_client_interceptors(),
        ]

    def serve_locally(self, address: str, services: Iterable[str]) -> None:
        """Services this process serves at `address` (the runtime calls it once listening)."""
        self._local.update(dict.fromkeys(services, address))

    def address_of(self, target: str) -> str:
        """host:port for a service full name, a domain, or an address."""
        if ":" in target:
            return target
        domain = _domain(target)
        for key in (target, domain):
            if key in self._addresses:
                return self._addresses[key]
        local = self._local.get(target) or next(
            (address for service, address in self._local.items() if _domain(service) == domain), None
        )
        if local:
            return local
        configured = getattr(self._settings, f"{domain}_addr", None)
        if isinstance(configured, str) and configured:
            return configured
        raise LookupError(f"no address for {target}: set {domain.upper()}_ADDR")

    def channel(self, target: str) -> grpc.aio.Channel:
        """The shared channel to a target (created on first use)."""
        address = self.address_of(target)
        channel = self._channels.get(address)
        if channel is None:
            size = self._settings.max_message_bytes
            channel = self._channels[address] = grpc.aio.insecure_channel(
                address,
                options=[
                    ("grpc.service_config", self._service_config),
                    ("grpc.enable_retries", 1),
                    ("grpc.max_receive_message_length", size),
                    ("grpc.max_send_message_length", size),
                ],
                interceptors=self._interceptors,
            )
        return channel

    def stub(self, target: str, stub_class: Callable[[grpc.aio.Channel], StubT]) -> StubT:
        """A generated stub (e.g. ai_service_pb2_grpc.AiServiceStub) on the target's channel."""
        key = (self.address_of(target), stub_class)
        stub = self._stubs.get(key)
        if stub is None:
            stub = self._stubs[key] = stub_class(self.channel(target))
        return stub

    def timeout(self, explicit: float | None) -> float:
        """A call's deadline: the smaller of the one given and what is left of
        the incoming RPC's; the settings' default when there is neither."""
        remaining = time_remaining()
        bounds = [t for t in (explicit, remaining) if t is not None]
        if not bounds:
            return self._settings.service_call_timeout_seconds
        return max(min(bounds), 0.0)

    async def token_for_call(self) -> str | None:
        """The bearer token a call carries: the service token of `acting_as`,
        else the incoming caller's, else none."""
        identity = _acting_var.get()
        if identity is not None:
            return await self._tokens.token(identity)
        return access_token()

    async def _issue(self, identity: ServiceIdentity) -> tuple[str, float]:
        secret = self._settings.aether_secret_key
        if secret is None:
            raise RuntimeError("AETHER_SECRET_KEY is not set: service identities are derived from it")
        credential = service_credential(secret.get_secret_value(), identity.service)
        stub = self.stub(
            "aether.auth.v1.ServiceTokenService", service_tokens_service_pb2_grpc.ServiceTokenServiceStub
        )
        reply = await stub.IssueServiceToken(
            service_tokens_service_pb2.IssueServiceTokenRequest(
                service=identity.service,
                on_behalf_of=identity.on_behalf_of,
                permissions=identity.permissions,
            ),
            metadata=((SERVICE_CREDENTIAL_METADATA, credential),),
            timeout=ISSUE_TIMEOUT,
        )
        return reply.access_token, float(reply.expires_at.ToSeconds())

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        self._stubs.clear()
        for channel in channels:
            await channel.close()
