"""Per-caller rate limits, enforced by the servers in Redis so that they hold across every Envoy
replica and every server process, and REST and native gRPC spend one budget (both arrive here as
the same RPC).

* The limit of an RPC: `(aether.common.v1.rate_limit)` in its proto, else RATE_LIMIT_DEFAULT;
  RATE_LIMIT_OVERRIDES changes it per deployment.
* The caller: the JWT subject on authenticated RPCs (the check runs after authentication, so a
  request with a bad token never spends a user's budget), the client address on public ones.
  The address is servers.platform.client_address's: the edge's when the peer is a trusted
  proxy (TRUSTED_PROXIES), else the peer's own.
* The algorithm: GCRA (a token bucket as one timestamp) on Redis's own clock, so servers with
  skewed clocks agree, charged by lease: a process takes a few requests at once and spends
  them locally (servers.platform.budget_leases), never more than the limit.
* Every limited reply carries X-RateLimit-Limit/Remaining/Reset; a refusal is RESOURCE_EXHAUSTED
  with RetryInfo (REST: 429 with Retry-After). RPCs whose servers send their own X-RateLimit-*
  (`server_headers`) are limited without the headers.
* Redis unreachable: public calls fail open (logged, counted in
  aether_rate_limit_store_errors_total); see docs/security.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import grpc
from aether.common.v1 import access_pb2
from google.protobuf import descriptor_pool

from servers.platform.client_address import Network, client_address, parse_networks
from servers.platform.context import Principal, add_response_header
from servers.platform.errors import RateLimited


@dataclass(frozen=True)
class Charge:
    """One request charged to a bucket."""

    allowed: bool
    remaining: int
    retry_after_seconds: float
    reset_seconds: float


@dataclass(frozen=True)
class Bucket:
    """A caller's bucket of one RPC's limit: `requests` per `period_ms`."""

    key: str
    requests: int
    period_ms: int


@dataclass(frozen=True)
class Limit:
    requests: int
    per_seconds: int
    server_headers: bool = False


def parse_limit(text: str, *, what: str) -> Limit:
    """ "600/60" -> Limit(600, 60)."""
    requests, sep, seconds = text.strip().partition("/")
    if not sep or not requests.isdigit() or not seconds.isdigit() or not int(requests) or not int(seconds):
        raise SystemExit(f"{what}: expected REQUESTS/SECONDS (both > 0), got {text!r}")
    return Limit(int(requests), int(seconds))


def parse_overrides(text: str) -> dict[str, Limit]:
    """ "/pkg.Service/Method=10/60,..." -> {grpc path: Limit}."""
    out: dict[str, Limit] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        method, sep, limit = item.partition("=")
        if not sep or not method.startswith("/"):
            raise SystemExit(f"RATE_LIMIT_OVERRIDES: expected /pkg.Service/Method=N/S, got {item!r}")
        out[method] = parse_limit(limit, what=f"RATE_LIMIT_OVERRIDES {method}")
    return out


@cache
def declared_limit(full_method: str) -> Limit | None:
    """The `(aether.common.v1.rate_limit)` of "/pkg.Service/Method", if it declares one."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    try:
        options = descriptor_pool.Default().FindMethodByName(f"{service}.{method}").GetOptions()
    except KeyError:
        return None
    extension = cast(Any, access_pb2.rate_limit)  # the .pyi types extensions loosely
    if not options.HasExtension(extension):
        return None
    rule = options.Extensions[extension]
    return Limit(int(rule.requests), int(rule.per_seconds), bool(rule.server_headers))


class RateLimits:
    """Each RPC's limit and each caller's bucket; servers.platform.admission charges it."""

    def __init__(
        self,
        default: Limit,
        overrides: Mapping[str, Limit],
        trusted_proxies: tuple[Network, ...],
    ):
        self._default = default
        self._overrides = dict(overrides)
        self._trusted = trusted_proxies

    @classmethod
    def from_settings(cls, settings: Any) -> RateLimits:
        return cls(
            parse_limit(settings.rate_limit_default, what="RATE_LIMIT_DEFAULT"),
            parse_overrides(settings.rate_limit_overrides),
            parse_networks(settings.trusted_proxies),
        )

    def limit_of(self, method: str) -> Limit | None:
        if method.startswith(("/grpc.health.v1.", "/grpc.reflection.")):
            return None
        declared = declared_limit(method)
        override = self._overrides.get(method)
        if override is not None:
            return Limit(override.requests, override.per_seconds, bool(declared and declared.server_headers))
        return declared or self._default

    def bucket(
        self, method: str, context: grpc.aio.ServicerContext, principal: Principal | None
    ) -> tuple[Bucket, Limit] | None:
        """The caller's bucket of the RPC's limit; None for an unlimited RPC or internal work."""
        limit = self.limit_of(method)
        if limit is None or (principal is not None and principal.is_service):
            return None
        caller = f"user:{principal.user_id}" if principal else f"ip:{client_address(context, self._trusted)}"
        # Per limit too: a changed limit starts afresh instead of reading another's state.
        key = f"aether:rl:{method}:{limit.requests}/{limit.per_seconds}:{caller}"
        return Bucket(key, limit.requests, limit.per_seconds * 1000), limit


def report(limit: Limit, charge: Charge) -> None:
    """The charge's X-RateLimit-* headers; RateLimited when the budget is spent."""
    if not limit.server_headers:
        add_response_header("x-ratelimit-limit", str(limit.requests))
        add_response_header("x-ratelimit-remaining", str(charge.remaining))
        add_response_header("x-ratelimit-reset", str(max(1, math.ceil(charge.reset_seconds))))
    if not charge.allowed:
        retry_in = max(1, math.ceil(charge.retry_after_seconds))
        add_response_header("retry-after", str(retry_in))
        raise RateLimited(
            f"rate limit exceeded: {limit.requests} requests per {limit.per_seconds} s; "
            f"retry in {retry_in} s",
            charge.retry_after_seconds,
        )
