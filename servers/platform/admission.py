"""A call's admission, the interceptor's first step (`Admitter`): the bearer token
is verified, then the token's revocation check (servers.platform.token_epochs) and
the caller's rate-limit charge (servers.platform.rate_limits) run in Redis as one
Lua script (`Admission`), then the RPC's permissions are checked. Two round trips
were ~12% of a small RPC's server CPU, plus Redis's own per-command cost.

* A refused token (logged out, or issued before its user's epoch) is UNAUTHENTICATED
  and charges nothing: a bad token never spends a user's budget.
* Redis unreachable: a call whose token is checked is refused (UNAVAILABLE: the
  revocation check fails closed); a public call is let through (rate limits fail open,
  logged and counted; docs/security.md).
* One Redis, not a cluster: the script's keys (the token's, its user's, the bucket)
  are in different hash slots.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from prometheus_client import Counter

from servers.platform.access import AccessRule, MissingAccessRule
from servers.platform.context import Principal, access_token_var, principal_var
from servers.platform.errors import OUTAGES, PermissionDenied, Unauthenticated
from servers.platform.rate_limits import Bucket, Charge, RateLimits, report
from servers.platform.token_epochs import token_epoch_key
from servers.platform.tokens import TokenVerifier, revoked_token_key

log = logging.getLogger("aether.admission")

STORE_ERRORS = Counter(
    "aether_rate_limit_store_errors_total", "Rate-limit checks let through because Redis failed"
)

# KEYS: [revoked, epoch, bucket], [revoked, epoch] (token only) or [bucket] (public call).
# ARGV: the token's iat (or ""), the bucket's requests and period (ms).
# Returns {-1} for a refused token, {1} for a token-only check, else the GCRA charge
# {allowed (0/1), remaining, retry_after_ms, reset_ms}.
_ADMIT = """
local bucket = KEYS[1]
if #KEYS > 1 then
  if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
  local epoch = redis.call('GET', KEYS[2])
  if epoch and tonumber(ARGV[1]) < tonumber(epoch) then return {-1} end
  if #KEYS == 2 then return {1} end
  bucket = KEYS[3]
end
-- GCRA (a token bucket as one timestamp), on Redis's clock so skewed servers agree.
local limit, period = tonumber(ARGV[2]), tonumber(ARGV[3])
local interval = period / limit
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local tat = tonumber(redis.call('GET', bucket) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if now < allow_at then
  return {0, 0, math.ceil(allow_at - now), math.ceil(tat - now)}
end
-- At least 1 ms: an interval below a double's resolution at epoch milliseconds (limits of
-- millions a second) leaves new_tat == now, and PX 0 is an error.
local ttl = math.max(1, math.ceil(new_tat - now))
redis.call('SET', bucket, new_tat, 'PX', ttl)
return {1, math.floor((period - (new_tat - now)) / interval), 0, ttl}
"""


class Admission:
    """The Redis side of admission: the script, one round trip per call."""

    def __init__(self, redis: Any):
        self._script = redis.register_script(_ADMIT)

    async def admit(self, token: Principal | None, bucket: Bucket | None) -> Charge | None:
        """Check the token (if any) and charge the bucket (if any). The charge, or None when
        no bucket was given or Redis failed on a public call; Unauthenticated for a refused token."""
        keys: list[str] = []
        if token is not None:
            keys += [revoked_token_key(token.token_id), token_epoch_key(token.user_id)]
        if bucket is not None:
            keys.append(bucket.key)
        if not keys:
            return None
        args = [
            token.issued_at if token is not None else "",
            bucket.requests if bucket is not None else 0,
            bucket.period_ms if bucket is not None else 0,
        ]
        try:
            result = await self._script(keys=keys, args=args)
        except OUTAGES:
            if token is not None:
                raise
            STORE_ERRORS.inc()
            log.warning("rate limit not checked: Redis unavailable", extra={"bucket": bucket and bucket.key})
            return None
        if result[0] == -1:
            raise Unauthenticated("access token revoked")
        if bucket is None:
            return None
        allowed, remaining, retry_ms, reset_ms = result
        return Charge(bool(allowed), int(remaining), int(retry_ms) / 1000, int(reset_ms) / 1000)

    async def token_refused(self, principal: Principal) -> bool:
        """Whether the token was revoked (logout) or issued before its user's epoch."""
        try:
            await self.admit(principal, None)
        except Unauthenticated:
            return True
        return False


def _metadata(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v if isinstance(v, str) else v.decode()
    return None


class Admitter:
    """The admission step: the bearer token; the revocation check and the caller's rate limit,
    in one Redis round trip (`Admission`); the RPC's permissions. Without Redis
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
