"""How the engine client turns Docker's failures into the service's statuses
(the real engine produces each of these in tests/api/test_containers_grpc.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiodocker.exceptions import DockerError, DockerStreamError

from servers.containers.engine import DockerEngine
from servers.platform.errors import AetherError, InvalidArgument, NotFound, StateConflict, Unavailable

HOST = "unix:///run/none/docker.sock"


@pytest.fixture
async def engine() -> AsyncIterator[DockerEngine]:
    engine = DockerEngine(HOST)
    yield engine
    await engine.close()


@pytest.mark.parametrize(
    ("raised", "refused", "expected"),
    [
        (
            DockerError(900, "Cannot connect to Docker Engine via x [No such file]"),
            StateConflict,
            Unavailable,
        ),
        (DockerError(404, "No such container: abc"), Unavailable, NotFound),
        (DockerError(409, "You cannot remove a running container"), Unavailable, StateConflict),
        (DockerError(400, "invalid reference format"), Unavailable, InvalidArgument),
        (DockerError(500, "manifest for x not found: manifest unknown"), Unavailable, NotFound),
        (
            DockerError(500, "driver failed programming external connectivity"),
            StateConflict,
            StateConflict,
        ),
        (DockerError(500, "something broke"), Unavailable, Unavailable),
        (DockerStreamError("pull access denied for x"), Unavailable, NotFound),
        (DockerStreamError("download failed after attempts=1: unknown blob"), Unavailable, Unavailable),
        (ConnectionResetError("reset"), Unavailable, Unavailable),
    ],
)
async def test_engine_failures_map_to_statuses(
    engine: DockerEngine, raised: Exception, refused: type[AetherError], expected: type[AetherError]
) -> None:
    with pytest.raises(AetherError) as caught, engine._errors("start abc", refused=refused):
        raise raised
    assert type(caught.value) is expected


async def test_an_unreachable_engine_is_named(engine: DockerEngine) -> None:
    with pytest.raises(Unavailable) as caught:
        await engine.ping()
    assert f"DOCKER_HOST={HOST}" in caught.value.message and caught.value.retry_after_seconds
