"""The auth service's unit of work against the real PostgreSQL: register
commits exactly its user.registered event, a rolled-back register writes none,
and refresh-token reuse commits the family revocation without an event."""

from __future__ import annotations

import os
from datetime import timedelta

import asyncpg
import pytest
import redis.asyncio as aioredis
from aether.auth.v1 import events_pb2
from aether.events.v1 import event_pb2

from servers.auth import mapping
from servers.auth.keys import KeyRing, RotationPolicy
from servers.auth.queries import AuthQueries
from servers.auth.revocations import TokenRevocations
from servers.auth.store import AuthRepository, AuthStore
from servers.auth.throttle import LoginThrottle
from servers.auth.usecases import AuthUseCases, TokenPolicy
from servers.platform.errors import AlreadyExists, ErrorReason, Unauthenticated
from servers.platform.secrets import SecretBox
from servers.platform.tokens import KeyCache, TokenVerifier
from servers.platform.uow import PostgresUnitOfWork
from tests.helpers import STRONG_PASSWORD, outbox_events, unique_email


@pytest.fixture
def auth(pool: asyncpg.Pool, redis_client: aioredis.Redis) -> AuthUseCases:
    """Wired like servers.auth.main, on the test's database and Redis."""
    policy = RotationPolicy(timedelta(days=30), timedelta(minutes=10), timedelta(minutes=16))
    keys = KeyRing(AuthStore(pool), SecretBox.from_setting(os.environ["AETHER_SECRET_KEY"]), policy)
    return AuthUseCases(
        PostgresUnitOfWork(pool, source="auth", repository=AuthRepository, to_event=mapping.to_event),
        AuthQueries(pool),
        keys,
        LoginThrottle(redis_client),
        TokenRevocations(redis_client, epoch_ttl_seconds=960),
        TokenVerifier(KeyCache(keys.jwks), "aether-auth", "aether"),
        TokenPolicy("aether-auth", "aether", timedelta(minutes=15), timedelta(days=30)),
    )


async def registered_payloads(pool: asyncpg.Pool, email: str) -> list[events_pb2.UserRegistered]:
    """The user.registered payloads in the outbox for `email`."""
    rows = await pool.fetch("SELECT payload FROM platform.outbox WHERE event_type = 'user.registered'")
    found = []
    for row in rows:
        event = event_pb2.Event.FromString(row["payload"])
        payload = events_pb2.UserRegistered()
        event.payload.Unpack(payload)
        if payload.email == email:
            found.append(payload)
    return found


async def test_register_commits_exactly_its_event(auth: AuthUseCases, pool: asyncpg.Pool) -> None:
    email = unique_email("uow")
    user = await auth.register(email, STRONG_PASSWORD, "Ada")
    assert await outbox_events(pool, user.id) == ["user.registered"]
    [payload] = await registered_payloads(pool, email)
    assert (payload.user_id, list(payload.roles)) == (user.id, ["user"])
    source = await pool.fetchval("SELECT source FROM platform.outbox WHERE subject = $1", user.id)
    assert source == "auth"


async def test_a_rolled_back_register_writes_no_event(auth: AuthUseCases, pool: asyncpg.Pool) -> None:
    email = unique_email("uow-dup")
    user = await auth.register(email, STRONG_PASSWORD, "Ada")
    with pytest.raises(AlreadyExists):
        await auth.register(email.upper(), STRONG_PASSWORD, "Impostor")
    assert [p.user_id for p in await registered_payloads(pool, email)] == [user.id]
    assert await pool.fetchval("SELECT count(*) FROM auth.users WHERE email = $1", email) == 1


async def test_refresh_reuse_commits_the_revocation_and_writes_no_event(
    auth: AuthUseCases, pool: asyncpg.Pool
) -> None:
    email = unique_email("uow-reuse")
    user = await auth.register(email, STRONG_PASSWORD, "Ada")
    login = await auth.login(email, STRONG_PASSWORD, "203.0.113.9")
    rotated = await auth.refresh(login.refresh_token)
    with pytest.raises(Unauthenticated) as reused:
        await auth.refresh(login.refresh_token)
    assert reused.value.reason == ErrorReason.TOKEN_REUSED
    live = await pool.fetchval(
        "SELECT count(*) FROM auth.refresh_tokens WHERE user_id = $1::uuid AND revoked_at IS NULL", user.id
    )
    assert live == 0  # committed, although the call failed
    with pytest.raises(Unauthenticated):
        await auth.refresh(rotated.refresh_token)
    assert await outbox_events(pool, user.id) == ["user.registered"]
