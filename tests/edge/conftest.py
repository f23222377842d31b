"""Fixtures for the edge tests: a fake AuthService and one real Envoy per module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from servers.edge import EdgeSettings, write_bootstrap
from tests.edge.envoy_runner import free_port, running_envoy, wait_until
from tests.edge.fake_auth import SERVICE, FakeAuthService, SigningKey, running_fake_upstream
from tests.edge.synthetic import ROUTED, write_augmented_descriptor

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTOR = ROOT / "gen" / "descriptors" / "aether.binpb"
ALLOWED_ORIGIN = "http://app.test"
MAX_REQUEST_BYTES = 4096


LOGIN_LIMIT = 10


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
            # A deployment override (checked in test_live): keeps the 429 tests short.
            rate_limit_overrides={"/aether.auth.v1.AuthService/Login": (LOGIN_LIMIT, 60)},
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
