"""A call's admission, the interceptor's first step (`Admitter`): the bearer token
is verified, then checked against this process's copy of the revocations
(servers.platform.revocations) and the caller's rate limit charged from this
process's lease of its budget (servers.platform.budget_leases), then the RPC's
permissions are checked. Most calls make no Redis round trip at all; one was about
a quarter of a small RPC's server CPU (benchmarks/README.md).

* A refused token (logged out, or issued before its user's epoch) is UNAUTHENTICATED
  and charges nothing: a bad token never spends a user's budget.
* Redis unreachable: a call whose token is checked is refused (UNAVAILABLE: the
  revocation feed is not synced, or the budget cannot be leased); a public call is let
  through (rate limits fail open, logged and counted; docs/security.md).
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from prometheus_client import Counter

from servers.platform.access import AccessRule, MissingAccessRule
from servers.platform.budget_leases import BudgetLeases
from servers.platform.context import Principal, access_token_var, principal_var
from servers.platform.errors import OUTAGES, PermissionDenied, Unauthenticated
from servers.platform.rate_limits import Bucket, Charge, RateLimits, report
from servers.platform.revocations import RevocationFeed
from servers.platform.tokens import TokenVerifier

log = logging.getLogger("aether.admission")

STORE_ERRORS = Counter(
    "aether_rate_limit_store_errors_total", "Rate-limit checks let through because Redis failed"
)


class Admission:
    """The Redis side of admission, kept in this process: the revocation feed and the
    budget leases. `start` subscribes to the feed (waiting a bounded time for its first
    sync); `stop` ends it."""

    def __init__(self, redis: Any):
        self._revocations = RevocationFeed(redis)
        self._budgets = BudgetLeases(redis)

    async def start(self) -> None:
        await self._revocations.start()

    async def stop(self) -> None:
        await self._revocations.stop()

    async def admit(self, token: Principal | None, bucket: Bucket | None) -> Charge | None:
        """Check the token (if any) and charge the bucket (if any). The charge, or None when
        no bucket was given or Redis failed on a public call; Unauthenticated for a refused token."""
        if token is not None and self._revocations.refused(token):
            raise Unauthenticated("access token revoked")
        if bucket is None:
            return None
        try:
            return await self._budgets.charge(bucket)
        except OUTAGES:
            if token is not None:
                raise
            STORE_ERRORS.inc()
            log.warning("rate limit not checked: Redis unavailable", extra={"bucket": bucket.key})
            return None


def _metadata(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v if isinstance(v, str) else v.decode()
    return None


class Admitter:
    """The admission step: the bearer token; the revocation check and the caller's rate limit,
    mostly without a round trip (`Admission`); the RPC's permissions. Without Redis
    (`admission` None) tokens are only verified and calls are not limited."""

    def __init__(self, verifier: TokenVerifier, admission: Admission | None, limits: RateLimits):
        self._verifier = verifier
        self._admission = admission
        self._limits = limits

    async def admit(
        self, method: str, rule: AccessRule | MissingAccessRule, context: grpc.aio.ServicerContext
    ) -> None:
        """Sets the caller (principal_var, access_token_var) for the RPC, or raises."""
        if isinstance(rule, MissingAccessRule):
            raise MissingAccessRule(str(rule))
        principal = token = None
        if not rule.public:
            header = _metadata(context, "authorization") or ""
            scheme, _, token = header.partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise Unauthenticated("missing bearer access token")
            principal = await self._verifier.verify(token)
        if self._admission is not None:
            target = self._limits.bucket(method, context, principal)
            charge = await self._admission.admit(principal, target[0] if target else None)
            if charge is not None and target is not None:
                report(target[1], charge)
        if principal is not None:
            missing = rule.permissions - principal.permissions
            if missing:
                names = ",".join(sorted(missing))
                raise PermissionDenied(f"missing permission: {names.replace(',', ', ')}", {"missing": names})
            principal_var.set(principal)
            access_token_var.set(token)  # forwarded by servers.platform.clients
