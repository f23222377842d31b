"""Fixtures for the edge tests: a fake AuthService and one real Envoy per module (`edge`), and
real Envoys in front of the real in-process servers (`start_edge`, `default_edge`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from servers.edge import EdgeSettings, write_bootstrap
from tests.edge.envoy_runner import IN_PROCESS_HEALTH_CHECK_TIMEOUT, free_port, running_envoy, wait_until
from tests.edge.fake_auth import SERVICE, FakeAuthService, SigningKey, running_fake_upstream
from tests.edge.synthetic import ROUTED, write_augmented_descriptor

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTOR = ROOT / "gen" / "descriptors" / "aether.binpb"
ALLOWED_ORIGIN = "http://app.test"
MAX_REQUEST_BYTES = 4096


@pytest.fixture(scope="session")
def augmented_descriptor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real descriptor set plus tests/edge/synthetic.py's services."""
    return write_augmented_descriptor(DESCRIPTOR, tmp_path_factory.mktemp("descriptors") / "augmented.binpb")


@dataclass
class Edge:
    base_url: str
    port: int
    admin_url: str
    settings: EdgeSettings
    key: SigningKey
    servicer: FakeAuthService
    access_log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10)


@pytest.fixture(scope="module")
def edge(augmented_descriptor: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    """A real Envoy in front of the fakes (AuthService and EdgeTestService routed, UnroutedService not)."""
    workdir = tmp_path_factory.mktemp("edge")
    key = SigningKey.generate()
    with running_fake_upstream(key, augmented_descriptor) as (upstream, servicer):
        port, admin_port = free_port(), free_port()
        settings = EdgeSettings(
            listen_port=port,
            admin_port=admin_port,
            upstreams={SERVICE: upstream, ROUTED: upstream},
            cors_allowed_origins=[ALLOWED_ORIGIN],
            max_request_bytes=MAX_REQUEST_BYTES,
            access_log_path=str(workdir / "access.log"),
        )
        config = write_bootstrap(augmented_descriptor, settings, workdir / "envoy.json")
        with running_envoy(config, workdir) as proc:
            base = f"http://127.0.0.1:{port}"
            wait_until(lambda: httpx.get(f"{base}/readyz").status_code == 200, 30, "/readyz", proc)
            # The JWKS is fetched through this listener; failed fetches retry every second.
            token = key.token()
            wait_until(
                lambda: httpx.get(
                    f"{base}/api/v1/auth/me", headers={"authorization": f"Bearer {token}"}
                ).status_code
                == 200,
                30,
                "the JWKS to be fetched",
                proc,
            )
            yield Edge(
                base_url=base,
                port=port,
                admin_url=f"http://127.0.0.1:{admin_port}",
                settings=settings,
                key=key,
                servicer=servicer,
                access_log=workdir / "access.log",
            )


# --------------------------------------------------------------------------- real servers behind Envoy


@dataclass
class RealEdge:
    """A real Envoy (default settings unless told otherwise) in front of real in-process servers."""

    base_url: str
    port: int
    access_log: Path
    log_dir: Path

    def client(self, local_address: str = "127.0.0.1") -> httpx.AsyncClient:
        """A REST client whose connections come from `local_address` (any 127.x on Linux)."""
        transport = httpx.AsyncHTTPTransport(local_address=local_address)
        return httpx.AsyncClient(base_url=self.base_url, timeout=30, transport=transport)


@pytest.fixture(scope="session")
async def start_edge(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Callable[..., Any]]:
    """Starts Envoys with the generated config: `await start_edge(upstreams, **EdgeSettings fields)`;
    all stopped at the end of the session."""
    stack = contextlib.ExitStack()

    async def start(upstreams: dict[str, str], **fields: Any) -> RealEdge:
        workdir = tmp_path_factory.mktemp("real-edge")
        port = free_port()
        fields.setdefault("health_check_timeout_seconds", IN_PROCESS_HEALTH_CHECK_TIMEOUT)
        settings = EdgeSettings(
            listen_port=port, upstreams=upstreams, access_log_path=str(workdir / "access.log"), **fields
        )
        config = write_bootstrap(DESCRIPTOR, settings, workdir / "envoy.json")
        proc = stack.enter_context(running_envoy(config, workdir))
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            for _ in range(300):  # poll without blocking the loop the in-process servers run on
                assert proc.poll() is None, (workdir / "envoy.log").read_text()[-2000:]
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{base}/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise TimeoutError("envoy did not become ready")
        return RealEdge(base, port, workdir / "access.log", workdir)

    with stack:
        yield start


@pytest.fixture(scope="session")
async def default_edge(app_server: tuple[str, list[str]], start_edge: Callable[..., Any]) -> RealEdge:
    """Envoy with every default (1 MiB bodies ...) in front of the shared server of every domain."""
    address, services = app_server
    edge: RealEdge = await start_edge(dict.fromkeys(services, address))
    return edge
