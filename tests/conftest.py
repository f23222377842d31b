"""Shared test infrastructure: real PostgreSQL and Redis (the machine's, as in CI,
or embedded ones), a fresh database per run, and in-process servers shared by all tests."""

from __future__ import annotations

import os

# Before grpc is imported: gRPC's fork handlers make a fork() from a process with
# busy gRPC threads (the in-process servers) crash the child before it can exec,
# e.g. initdb or Envoy started by the embedded tests. We never fork without exec.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import asyncio
import atexit
import contextlib
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
import redis.asyncio as aioredis
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from servers.platform.secrets import new_secret_key
from servers.platform.telemetry import configure_tracing
from tests.dockerd import TEST_ROOT as DOCKER_ROOT
from tests.fakes.ai_providers import FakeProviders
from tests.fakes.chat_providers import FakeChatProviders


def _reachable(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def _test_servers() -> tuple[Callable[[str], str], str]:
    """(dsn_for(database), redis URL): AETHER_TEST_POSTGRES / AETHER_TEST_REDIS, else
    the machine's servers (CI's), else embedded ones from the wheels, so `make test`
    also runs on a machine with only Python."""
    postgres = os.environ.get("AETHER_TEST_POSTGRES")
    embedded = os.environ.get("AETHER_TEST_EMBEDDED") == "1"  # force the wheels' servers
    if embedded or (postgres is None and not _reachable(5432)):
        from servers.embedded.postgres import EmbeddedPostgres

        embedded_pg = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="aether-test-pg-")))
        embedded_pg.start()
        atexit.register(embedded_pg.stop)
        dsn_for: Callable[[str], str] = embedded_pg.dsn_for
    else:
        base = (postgres or "postgresql://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0]

        def dsn_for(database: str) -> str:
            return f"{base}/{database}"

    redis_url = os.environ.get("AETHER_TEST_REDIS")
    if embedded or (redis_url is None and not _reachable(6379)):
        from servers.embedded.redis import EmbeddedRedis

        embedded_redis = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="aether-test-redis-")))
        redis_url = embedded_redis.start()
        atexit.register(embedded_redis.stop)
    return dsn_for, redis_url or "redis://127.0.0.1:6379/15"


dsn_for, TEST_REDIS = _test_servers()
ADMIN_DSN = dsn_for("postgres")
TEST_DB = f"aether_test_{uuid.uuid4().hex[:8]}"

# Servers read settings from the environment (12-factor); set it before any is built.
os.environ.update(
    DATABASE_URL=dsn_for(TEST_DB),
    REDIS_URL=TEST_REDIS,
    AETHER_SECRET_KEY=new_secret_key(),
    GRPC_HOST="127.0.0.1",
    GRPC_PORT="0",
    LOG_JSON="false",
    LOG_LEVEL="WARNING",
    # Every test calls from 127.0.0.1, so the per-address limits of the public auth RPCs would
    # be one budget for the whole suite; Validate is tiny so its 429 can be exercised.
    RATE_LIMIT_OVERRIDES=",".join(
        f"/aether.auth.v1.AuthService/{rpc}=100000/60" for rpc in ("Register", "Login", "Refresh")
    )
    + ",/aether.auth.v1.AuthService/Validate=3/60",
    RAG_CHROMA_PATH=tempfile.mkdtemp(prefix="aether-test-chroma-"),
    DOCKER_HOST=f"unix://{DOCKER_ROOT}/docker.sock",  # the `docker_engine` fixture's dockerd
)

# Every span of the test process lands here (tests/api/test_tracing.py reads it).
SPANS = InMemorySpanExporter()
configure_tracing("aether-tests", extra_processor=SimpleSpanProcessor(SPANS))


@pytest.fixture
def spans() -> InMemorySpanExporter:
    SPANS.clear()
    return SPANS


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{TEST_DB}"')
    try:
        yield os.environ["DATABASE_URL"]
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(TEST_REDIS)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture(scope="session")
async def fake_ai() -> AsyncIterator[FakeProviders]:
    """Local fakes of every AI provider's real wire protocol (tests/fakes/ai_providers.py)."""
    async with FakeProviders() as fake:
        yield fake


def ai_provider_env(fake: FakeProviders) -> dict[str, str]:
    """Settings that point every AI provider at the fakes, with fast retries."""
    return {
        "GEMINI_API_KEY": fake.api_key,
        "GEMINI_BASE_URL": fake.gemini_base,
        "GROQ_API_KEY": fake.api_key,
        "GROQ_BASE_URL": fake.groq_base,
        "HUGGINGFACE_API_KEY": fake.api_key,
        "HUGGINGFACE_BASE_URL": fake.huggingface_base,
        "OPENAI_API_KEY": fake.api_key,
        "OPENAI_BASE_URL": fake.openai_base,
        "OLLAMA_BASE_URL": fake.ollama_base,
        "AI_DEFAULT_MODEL": "groq",
        "AI_BACKOFF_SECONDS": "0.01",
        "AI_REQUEST_TIMEOUT_SECONDS": "3",
    }


@pytest.fixture(scope="session")
async def fake_chat() -> AsyncIterator[FakeChatProviders]:
    """Local fakes of GitHub, Slack and Discord (tests/fakes/chat_providers.py)."""
    async with FakeChatProviders() as fake:
        yield fake


def chat_provider_env(fake: FakeChatProviders) -> dict[str, str]:
    """Settings that point the Integration Hub at the fakes, with short rate-limit waits."""
    return {
        "GITHUB_API_BASE": fake.github_base,
        "SLACK_API_BASE": fake.slack_base,
        "DISCORD_API_BASE": fake.discord_base,
        "INTEGRATIONS_MAX_RETRY_WAIT_SECONDS": "2",
    }


@pytest.fixture(scope="session")
async def app_server(
    database_url: str, redis_client: aioredis.Redis, fake_ai: FakeProviders, fake_chat: FakeChatProviders
) -> AsyncIterator[tuple[str, list[str]]]:
    """Every implemented domain (servers/registry.py) in one real in-process server,
    the way `aether serve` builds them (all interceptors, migrations). Yields its
    address and the proto services it serves. A domain added to the registry is
    served here, and routed by the `edge` fixture, with no test wiring."""
    from servers import registry
    from servers.platform.runtime import Server
    from servers.platform.settings import PlatformSettings

    os.environ.update(ai_provider_env(fake_ai), **chat_provider_env(fake_chat))
    server = Server([registry.load(name) for name in registry.DOMAINS], PlatformSettings())
    port = await server.start()
    yield f"127.0.0.1:{port}", server.service_names
    await server.stop()


async def start_ai_gateway(auth_addr: str, env: dict[str, str | None]) -> tuple[Any, int]:
    """An extra in-process AI gateway built with `env` over the test environment
    (None unsets a setting), trusting the auth service at `auth_addr`; returns
    the started Server and its port. The caller stops it."""
    from servers import registry
    from servers.platform.runtime import Server
    from servers.platform.settings import PlatformSettings

    saved = dict(os.environ)
    os.environ["AUTH_ADDR"] = auth_addr
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:  # settings are read from the environment while the server builds
        server = Server([registry.load("ai")], PlatformSettings())
        return server, await server.start()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
async def start_ai_server(app_server: tuple[str, list[str]]) -> AsyncIterator[Callable[..., Any]]:
    """Starts extra AI gateways with their own settings, for tests that need a
    catalogue, limits or budgets of their own: `await start_ai_server(AI_BUDGET_TOKENS="100")`
    returns its address (a value of None unsets that setting). Tokens from
    `forge_token` work on it (it trusts the shared auth service)."""
    started: list[Any] = []

    async def start(**env: str | None) -> str:
        server, port = await start_ai_gateway(app_server[0], env)
        started.append(server)
        return f"127.0.0.1:{port}"

    yield start
    for server in started:
        await server.stop()


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Any]:
    """A real dockerd (and image registry) of the tests' own, at the test servers'
    DOCKER_HOST (tests/dockerd.py); skips where Docker is not installed."""
    from tests.dockerd import local_docker, missing

    if reason := missing():
        pytest.skip(reason)
    with local_docker(DOCKER_ROOT) as engine:
        yield engine


@pytest.fixture(scope="session")
async def auth_server(app_server: tuple[str, list[str]]) -> str:
    """Address serving AuthService (the shared in-process server)."""
    return app_server[0]


@pytest.fixture(scope="session")
async def auth_channel(auth_server: str) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(auth_server) as channel:
        yield channel


@pytest.fixture
async def forge_token(auth_server: str, database_url: str):
    """Sign arbitrary claims with the auth service's real active key (read from
    the database with the test's secret key), to craft expired / wrong-audience tokens.
    The token carries the real permissions of `roles` (servers.auth.domain); only
    tests about permissions themselves pass `permissions` explicitly."""
    from datetime import timedelta

    from servers.auth.domain import permissions_for
    from servers.auth.keys import ALGORITHM, KeyRing, RotationPolicy
    from servers.auth.store import AuthStore
    from servers.platform.secrets import SecretBox

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    policy = RotationPolicy(timedelta(days=30), timedelta(minutes=10), timedelta(minutes=16))
    ring = KeyRing(AuthStore(pool), SecretBox.from_setting(os.environ["AETHER_SECRET_KEY"]), policy)

    async def forge(
        sub: str,
        *,
        exp_offset: int = 600,
        aud: str = "aether",
        iss: str = "aether-auth",
        roles: tuple[str, ...] = ("user",),
        permissions: tuple[str, ...] | None = None,
    ) -> str:
        import time

        import jwt

        key = await ring.active()
        now = int(time.time())
        claims = {
            "sub": sub,
            "iss": iss,
            "aud": aud,
            "iat": now,
            "exp": now + exp_offset,
            "jti": uuid.uuid4().hex,
            "roles": list(roles),
            "permissions": permissions_for(roles) if permissions is None else list(permissions),
        }
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})

    yield forge
    await pool.close()


@pytest.fixture(scope="session")
async def edge(
    app_server: tuple[str, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A real Envoy (generated config) in front of the shared server; yields its base URL.
    Validate has a tiny rate limit (RATE_LIMIT_OVERRIDES above) so the 429 path can be exercised."""
    import httpx

    from servers.devtools.codegen import DESCRIPTOR
    from servers.edge import EdgeSettings, write_bootstrap
    from tests.edge.envoy_runner import IN_PROCESS_HEALTH_CHECK_TIMEOUT, free_port, running_envoy

    workdir = tmp_path_factory.mktemp("edge")
    port = free_port()
    address, services = app_server
    settings = EdgeSettings(
        listen_port=port,
        upstreams=dict.fromkeys(services, address),
        access_log_path=str(workdir / "access.log"),
        max_request_bytes=64 * 1024,
        health_check_timeout_seconds=IN_PROCESS_HEALTH_CHECK_TIMEOUT,
    )
    config = write_bootstrap(DESCRIPTOR, settings, workdir / "envoy.json")
    base = f"http://127.0.0.1:{port}"
    with running_envoy(config, workdir) as proc:
        # Poll without blocking the loop: the in-process auth server answers Envoy's health checks.
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                assert proc.poll() is None, (workdir / "envoy.log").read_text()[-2000:]
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{base}/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise TimeoutError("envoy did not become ready")
        yield base
