"""The whole local system as one supervised stack: PostgreSQL, Redis, every gRPC server, Envoy.

``aether dev`` builds an :class:`EmbeddedStack` and hands it to
:func:`servers.embedded.serve.run_forever`. Start order: PostgreSQL and Redis (unless URLs are
given), then every service (``python -m servers.cli serve <name>``) on a free port, then Envoy in
front of them. Stop runs in reverse. A start that fails or is
interrupted stops what it had started before re-raising.

Layout of ``data_dir`` (default ``./.aether``)::

    postgres/        PGDATA (persistent)          .postgres.lock   owner lock
    redis/           appendonly.aof (persistent)  .redis.lock      owner lock
    logs/<name>.log  one log per child            secret.key       AETHER_SECRET_KEY (0600)
    envoy.json       edge config (written by ``aether dev``'s factory)

Blocking steps run in worker threads, but every child is forked from the event-loop thread, so the
parent-death signal (PR_SET_PDEATHSIG, tied to the forking thread) fires only if the supervisor dies.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from servers.edge.runner import EnvoyOptions
from servers.embedded.blocking import run_blocking
from servers.embedded.child_process import ChildProcess, SupervisorError
from servers.embedded.envoy import EnvoyProcess
from servers.embedded.ports import free_port, port_is_free
from servers.embedded.postgres import EmbeddedPostgres
from servers.embedded.redis import EmbeddedRedis
from servers.embedded.secret_key import load_or_create_secret_key
from servers.embedded.waiting import async_wait_for_port

logger = logging.getLogger(__name__)

ServiceArgv = Callable[[str], Sequence[str]]
"""Maps a service name to the command that serves it."""

EnvoyConfigFactory = Callable[[dict[str, str]], Path]
"""Maps ``{service name: "host:port"}`` to the path of an Envoy config listening on the stack's port."""


def default_service_argv(name: str) -> list[str]:
    """``python -m servers.cli serve <name>`` with this interpreter."""
    return [sys.executable, "-m", "servers.cli", "serve", name]


class EmbeddedStartError(RuntimeError):
    """The stack could not start (port in use, a child exited, ...); nothing was left running."""


@dataclass(frozen=True)
class StackInfo:
    """Where everything is, once the stack runs."""

    data_dir: Path
    log_dir: Path
    database_url: str
    redis_url: str
    services: dict[str, str] = field(default_factory=dict)
    rest_url: str | None = None
    grpc_address: str | None = None

    def describe(self) -> str:
        """A multi-line human summary."""
        lines = [
            f"REST:     {self.rest_url or '-'}",
            f"gRPC:     {self.grpc_address or '-'}",
            f"data:     {self.data_dir}",
            f"logs:     {self.log_dir}",
            f"postgres: {self.database_url}",
            f"redis:    {self.redis_url}",
        ]
        lines += [f"service {name}: {addr}" for name, addr in self.services.items()]
        return "\n".join(lines)


class EmbeddedStack:
    """Orchestrates the embedded default. Use ``await start()`` / ``await stop()`` or ``async with``.

    ``services``: names passed to ``service_argv`` (default :func:`default_service_argv`), each run
    with GRPC_HOST, GRPC_PORT, DATABASE_URL, REDIS_URL, AETHER_SECRET_KEY, AUTH_ADDR and LOG_LEVEL set.
    ``envoy_config_factory``: None runs no Envoy; ``envoy_options``: its flags (default: one worker).
    ``env``: the children's base environment (default ``os.environ``); an AETHER_SECRET_KEY there
    wins over ``data_dir/secret.key``.
    """

    def __init__(
        self,
        services: Sequence[str] = (),
        *,
        envoy_config_factory: EnvoyConfigFactory | None = None,
        data_dir: Path | None = None,
        listen_host: str = "127.0.0.1",
        listen_port: int = 8080,
        database_url: str | None = None,
        redis_url: str | None = None,
        service_argv: ServiceArgv | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        grpc_host: str = "127.0.0.1",
        grpc_base_port: int = 0,
        log_level: str = "INFO",
        auth_service: str = "auth",
        envoy_options: EnvoyOptions | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        if len(set(services)) != len(services):
            raise ValueError(f"duplicate service names in {list(services)}")
        self.services = list(services)
        self.envoy_config_factory = envoy_config_factory
        self.data_dir = (data_dir or Path.cwd() / ".aether").expanduser().resolve()
        self.log_dir = self.data_dir / "logs"
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.database_url = database_url
        self.redis_url = redis_url
        self.service_argv = service_argv or default_service_argv
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd or Path.cwd()
        self.grpc_host = grpc_host
        # Services get grpc_base_port, +1, +2... in order (stable addresses for grpcurl); 0 = any free port.
        self.grpc_base_port = grpc_base_port
        self.log_level = log_level
        self.auth_service = auth_service
        # One worker thread by default: the embedded stack shares the machine with everything else.
        self.envoy_options = envoy_options or EnvoyOptions(concurrency=1)
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout

        self.postgres: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None
        self.service_processes: dict[str, ChildProcess] = {}
        self.envoy: EnvoyProcess | None = None
        self.info: StackInfo | None = None
        self._stop_lock = asyncio.Lock()

    async def __aenter__(self) -> StackInfo:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- start ------------------------------------------------------------------------------------

    async def start(self) -> StackInfo:
        """Start everything; on any failure (or cancellation) stop what was started and re-raise."""
        if self.info is not None:
            return self.info
        try:
            self.info = await self._start()
        except BaseException:
            await self.stop()
            raise
        logger.info("aether is up")
        return self.info

    async def _start(self) -> StackInfo:
        if self.envoy_config_factory is not None:
            self._check_listen_port()  # fail fast, before starting anything
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        secret = self.env.get("AETHER_SECRET_KEY") or ""
        if not secret:
            key_file = self.data_dir / "secret.key"
            secret = await run_blocking(lambda: load_or_create_secret_key(key_file))

        database_url = self.database_url
        if database_url is None:
            self.postgres = EmbeddedPostgres(
                self.data_dir / "postgres",
                log_file=self.log_dir / "postgres.log",
                start_timeout=self.startup_timeout,
            )
            database_url = await self.postgres.start_async()
        redis_url = self.redis_url
        if redis_url is None:
            self.redis = EmbeddedRedis(
                self.data_dir / "redis",
                log_file=self.log_dir / "redis.log",
                start_timeout=self.startup_timeout,
            )
            redis_url = await self.redis.start_async()

        upstreams = {
            name: f"{self.grpc_host}:{self._service_port(i)}" for i, name in enumerate(self.services)
        }
        base_env: dict[str, str] = {
            **self.env,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "AETHER_SECRET_KEY": secret,
            "LOG_LEVEL": self.log_level,
            "PYTHONUNBUFFERED": "1",
        }
        # Where each sibling listens, for the service clients (AI_ADDR, TASKS_ADDR, ...).
        base_env.update({f"{name.upper()}_ADDR": address for name, address in upstreams.items()})
        # The RAG server's embedded Chroma lives with the rest of the dev data.
        base_env.setdefault("RAG_CHROMA_PATH", str(self.data_dir / "chroma"))
        if self.auth_service in upstreams:
            base_env["AUTH_ADDR"] = upstreams[self.auth_service]
        # Where every sibling listens, for the analytics service's live health checks.
        base_env["HEALTH_TARGETS"] = ",".join(f"{name}={address}" for name, address in upstreams.items())
        for name, address in upstreams.items():
            port = address.rsplit(":", 1)[1]
            child = ChildProcess(
                name,
                self.service_argv(name),
                env={**base_env, "GRPC_HOST": self.grpc_host, "GRPC_PORT": port},
                cwd=self.cwd,
                log_file=self.log_dir / f"{name}.log",
                stop_timeout=self.stop_timeout,
            )
            self.service_processes[name] = child
            child.start()
        try:
            async with asyncio.TaskGroup() as group:
                for name, child in self.service_processes.items():
                    host, port = upstreams[name].rsplit(":", 1)
                    group.create_task(
                        async_wait_for_port(host, int(port), self.startup_timeout, process=child)
                    )
        except* SupervisorError as errors:
            raise EmbeddedStartError("; ".join(str(error) for error in errors.exceptions)) from None

        rest_url = grpc_address = None
        if self.envoy_config_factory is not None:
            await self._start_envoy(upstreams)
            rest_url = f"http://{self.listen_host}:{self.listen_port}"
            grpc_address = f"{self.listen_host}:{self.listen_port}"
        return StackInfo(
            self.data_dir, self.log_dir, database_url, redis_url, dict(upstreams), rest_url, grpc_address
        )

    async def _start_envoy(self, upstreams: dict[str, str]) -> None:
        assert self.envoy_config_factory is not None
        self._check_listen_port()
        factory = self.envoy_config_factory
        config = await run_blocking(lambda: factory(dict(upstreams)))
        self.envoy = self.envoy_process(config)
        self.envoy.start()
        await self.envoy.wait_ready_async(self.startup_timeout)

    def envoy_process(self, config: Path) -> EnvoyProcess:
        """The (not yet started) Envoy of this stack on ``config``."""
        return EnvoyProcess(
            config,
            listen_host=self.listen_host,
            listen_port=self.listen_port,
            options=self.envoy_options,
            log_file=self.log_dir / "envoy.log",
            env=self.env,
            stop_timeout=self.stop_timeout,
        )

    def _service_port(self, index: int) -> int:
        return self.grpc_base_port + index if self.grpc_base_port else free_port(self.grpc_host)

    def _check_listen_port(self) -> None:
        # Envoy listeners use SO_REUSEPORT: a busy port would be shared silently, not refused.
        if not port_is_free(self.listen_host, self.listen_port):
            raise EmbeddedStartError(
                f"{self.listen_host}:{self.listen_port} is already in use (another aether dev?)"
            )

    # -- state ------------------------------------------------------------------------------------

    def children(self) -> list[ChildProcess]:
        """Every started child process, in start order."""
        found: list[ChildProcess | None] = [
            self.postgres.process if self.postgres else None,
            self.redis.process if self.redis else None,
            *self.service_processes.values(),
            self.envoy,
        ]
        return [child for child in found if child is not None and child.started]

    def failed_children(self) -> list[str]:
        """Names (with exit status) of children that exited on their own."""
        return [
            f"{child.name} ({child.returncode_or_signal()})"
            for child in self.children()
            if child.has_exited()
        ]

    # -- stop -------------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop everything in reverse start order. Safe to call twice or after a failed start."""
        async with self._stop_lock:
            if self.envoy is not None:
                await self._quietly("envoy", self.envoy.stop_async())
            if self.service_processes:
                await asyncio.gather(
                    *(
                        self._quietly(name, child.stop_async())
                        for name, child in reversed(self.service_processes.items())
                    )
                )
            if self.redis is not None:
                await self._quietly("redis", self.redis.stop_async())
            if self.postgres is not None:
                await self._quietly("postgres", self.postgres.stop_async())
            self.info = None
            self.envoy = self.redis = self.postgres = None
            self.service_processes = {}

    @staticmethod
    async def _quietly(name: str, stopping: Awaitable[object]) -> None:
        try:
            await stopping
        except Exception:
            logger.exception("error while stopping %s", name)
