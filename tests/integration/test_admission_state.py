"""What each server keeps in memory to admit a call without a Redis round trip, against the
real Redis: the revocation feed (servers.platform.revocations), the budget leases
(servers.platform.budget_leases) and the AI gateway's leased per-model windows
(servers.ai.limits). The RPC-level behaviour (a logged-out token refused over
REST and gRPC, limits and their headers) is in tests/api and tests/edge."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from servers.ai.domain import RateLimitExceeded
from servers.ai.limits import RateLimiter
from servers.auth.revocations import TokenRevocations
from servers.platform.budget_leases import LEASE_SECONDS, PRUNE_EVERY, BudgetLeases
from servers.platform.context import Principal
from servers.platform.rate_limits import Bucket
from servers.platform.revocations import FeedNotSynced, RevocationFeed
from tests.conftest import TEST_REDIS
from tests.fault_proxy import FaultProxy, target, through
from tests.helpers import eventually


def token(user_id: str | None = None, issued_at: int = 0) -> Principal:
    return Principal(
        user_id=user_id or str(uuid.uuid4()),
        email="a@example.com",
        roles=frozenset({"user"}),
        permissions=frozenset(),
        token_id=str(uuid.uuid4()),
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
        issued_at=issued_at,
    )


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(TEST_REDIS)
    yield client
    await client.aclose()


@pytest.fixture
async def feed(redis: Redis) -> AsyncIterator[RevocationFeed]:
    feed = RevocationFeed(redis)
    await feed.start()
    assert feed.synced
    yield feed
    await feed.stop()


async def test_a_published_revocation_reaches_a_running_feed(redis: Redis, feed: RevocationFeed) -> None:
    writer = TokenRevocations(redis, epoch_ttl_seconds=900)
    logged_out, other = token(), token()
    assert not feed.refused(logged_out)
    await writer.revoke(logged_out.token_id, 60)
    assert await eventually(lambda: feed.refused(logged_out))
    assert not feed.refused(other)

    user = str(uuid.uuid4())
    before = token(user, issued_at=1)
    epoch = await writer.start_epoch(user)
    after = token(user, issued_at=epoch)
    assert await eventually(lambda: feed.refused(before))
    assert not feed.refused(after)  # issued at the epoch: the new session's token


async def test_a_feed_started_later_loads_what_redis_holds(redis: Redis) -> None:
    writer = TokenRevocations(redis, epoch_ttl_seconds=900)
    logged_out, user = token(), str(uuid.uuid4())
    await writer.revoke(logged_out.token_id, 60)
    await writer.start_epoch(user)
    late = RevocationFeed(redis)
    await late.start()
    try:
        assert late.refused(logged_out) and late.refused(token(user, issued_at=1))
        assert not late.refused(token())
    finally:
        await late.stop()


async def test_an_expired_mark_is_forgotten(redis: Redis) -> None:
    now = [0.0]
    feed = RevocationFeed(redis, clock=lambda: now[0])
    await feed.start()
    try:
        logged_out = token()
        await TokenRevocations(redis, epoch_ttl_seconds=900).revoke(logged_out.token_id, 30)
        assert await eventually(lambda: feed.refused(logged_out))
        now[0] += 31  # the token itself has expired by now
        assert not feed.refused(logged_out)
    finally:
        await feed.stop()


async def test_no_redis_fails_closed(unused_tcp_port: int) -> None:
    unreachable = Redis(port=unused_tcp_port, socket_connect_timeout=0.5)
    feed = RevocationFeed(unreachable, retry_seconds=0.05)
    await feed.start(wait_seconds=0.5)
    try:
        with pytest.raises(FeedNotSynced):
            feed.refused(token())
    finally:
        await feed.stop()
        await unreachable.aclose()


async def test_a_cut_feed_refuses_until_it_resyncs_and_misses_nothing_meanwhile(redis: Redis) -> None:
    proxy = FaultProxy(*target(TEST_REDIS, 6379))
    await proxy.start()
    through_proxy = Redis.from_url(through(TEST_REDIS, proxy), socket_connect_timeout=0.5)
    feed = RevocationFeed(through_proxy, retry_seconds=0.05)
    await feed.start()
    try:
        assert feed.synced
        await proxy.cut()

        async def unsynced() -> bool:
            try:
                feed.refused(token())
            except FeedNotSynced:
                return True
            return False

        assert await eventually(unsynced)
        revoked_meanwhile = token()  # published while the feed could not hear it
        await TokenRevocations(redis, epoch_ttl_seconds=900).revoke(revoked_meanwhile.token_id, 60)
        await proxy.restore()
        assert await eventually(lambda: feed.synced)
        assert feed.refused(revoked_meanwhile)  # read back at the resync
    finally:
        await feed.stop()
        await through_proxy.aclose()
        await proxy.close()


def bucket(requests: int) -> Bucket:
    return Bucket(f"aether:rl:/test.Leases/Call:{requests}/60:user:{uuid.uuid4()}", requests, 60_000)


async def _admitted(leases: BudgetLeases, target: Bucket, calls: int) -> list[bool]:
    return [(await leases.charge(target)).allowed for _ in range(calls)]


async def test_one_process_admits_exactly_the_limit_and_counts_down(redis: Redis) -> None:
    target = bucket(50)
    leases = BudgetLeases(redis)
    charges = [await leases.charge(target) for _ in range(51)]
    assert [c.allowed for c in charges] == [True] * 50 + [False]
    assert [c.remaining for c in charges[:50]] == list(range(49, -1, -1))
    assert charges[-1].retry_after_seconds > 0


async def test_processes_sharing_a_bucket_never_admit_more_than_the_limit(redis: Redis) -> None:
    """Four processes' leases, called concurrently: at most the limit in all, and no more
    refused early than the other processes' unspent leases can hold."""
    target = bucket(400)
    processes = [BudgetLeases(redis) for _ in range(4)]
    admitted = await asyncio.gather(*(_admitted(p, target, 150) for p in processes))
    total = sum(sum(a) for a in admitted)
    assert 400 - 4 * (400 // 16) <= total <= 400, total


@pytest.fixture
async def counting() -> AsyncIterator[CountingRedis]:
    client = CountingRedis.from_url(TEST_REDIS)
    yield client
    await client.aclose()


async def test_concurrent_calls_of_one_bucket_share_one_grant(counting: CountingRedis) -> None:
    target = bucket(1000)
    leases = BudgetLeases(counting)
    await leases.charge(target)  # the first grant is of one request; the next is a lease
    before = counting.commands
    charges = await asyncio.gather(*(leases.charge(target) for _ in range(32)))
    assert all(c.allowed for c in charges)
    assert counting.commands - before == 1  # one grant for all 32, not a round trip each


async def test_a_refusal_is_remembered_and_an_unspent_lease_goes_back(counting: CountingRedis) -> None:
    now = [0.0]
    target = bucket(3200)
    leases = BudgetLeases(counting, clock=lambda: now[0])
    first, second = await leases.charge(target), await leases.charge(target)  # one, then a lease
    assert first.remaining == 3199 and second.remaining == 3198
    now[0] += LEASE_SECONDS + 0.1  # the lease (3199 // 16 = 100 requests at most) lapses unspent
    back = await leases.charge(target)
    assert back.remaining > second.remaining - 2  # its unspent requests were returned

    spent = bucket(2)
    assert await _admitted(leases, spent, 3) == [True, True, False]
    before = counting.commands
    assert not any(await _admitted(leases, spent, 20))  # refused locally until the retry time
    assert counting.commands == before


class CountingRedis(Redis):
    """The real client, counting the commands it sends (the round trips a lease saves)."""

    commands = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.commands += 1
        return await super().execute_command(*args, **options)


# The AI gateway's per-model windows (servers.ai.limits.RateLimiter), leased the same way. A fixed
# clock keeps every call in one window.
def window_limiter(redis: Redis) -> RateLimiter:
    return RateLimiter(redis, clock=lambda: 1_000_000.0)


async def _windows_admitted(limiter: RateLimiter, user: str, calls: int, rpm: int, tpm: int) -> int:
    admitted = 0
    for _ in range(calls):
        try:
            await limiter.admit(user, "m", rpm=rpm, tpm=tpm, tokens=10)
        except RateLimitExceeded:
            continue
        admitted += 1
    return admitted


async def test_a_window_admits_exactly_its_requests_and_counts_down(redis: Redis) -> None:
    limiter, user = window_limiter(redis), str(uuid.uuid4())
    windows = [await limiter.admit(user, "m", rpm=40, tpm=0, tokens=10) for _ in range(40)]
    assert [w.remaining for w in windows if w is not None] == list(range(39, -1, -1))
    with pytest.raises(RateLimitExceeded) as refused:
        await limiter.admit(user, "m", rpm=40, tpm=0, tokens=10)
    assert refused.value.rate_limit is not None and refused.value.rate_limit.remaining == 0


async def test_processes_sharing_a_window_stay_within_its_requests_and_tokens(redis: Redis) -> None:
    by_requests, by_tokens = str(uuid.uuid4()), str(uuid.uuid4())
    processes = [window_limiter(redis) for _ in range(4)]
    admitted = await asyncio.gather(*(_windows_admitted(p, by_requests, 150, 400, 0) for p in processes))
    assert 400 - 4 * (400 // 16) <= sum(admitted) <= 400
    admitted = await asyncio.gather(*(_windows_admitted(p, by_tokens, 50, 0, 1000) for p in processes))
    assert 100 - 4 * (100 // 16) <= sum(admitted) <= 100  # 10 tokens each, 1,000 a minute


async def test_concurrent_requests_of_one_window_share_one_grant(counting: CountingRedis) -> None:
    limiter, user = window_limiter(counting), str(uuid.uuid4())
    await limiter.admit(user, "m", rpm=1000, tpm=0, tokens=10)  # the window's first: one request
    before = counting.commands
    await asyncio.gather(*(limiter.admit(user, "m", rpm=1000, tpm=0, tokens=10) for _ in range(32)))
    assert counting.commands - before == 1


async def test_the_periodic_sweep_keeps_every_live_window_lease(counting: CountingRedis) -> None:
    """The sweep (every PRUNE_EVERY grants) drops lapsed leases only, not other callers' live ones."""
    limiter, kept = window_limiter(counting), str(uuid.uuid4())
    for _ in range(2):  # the window's first grant is of one request; the second is a lease
        await limiter.admit(kept, "m", rpm=1000, tpm=0, tokens=10)
    for _ in range(PRUNE_EVERY):  # one grant each for as many other callers
        await limiter.admit(str(uuid.uuid4()), "m", rpm=1000, tpm=0, tokens=10)
    before = counting.commands
    await limiter.admit(kept, "m", rpm=1000, tpm=0, tokens=10)
    assert counting.commands == before  # still served from its lease
