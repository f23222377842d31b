"""One scenario (register, login, me, create/list/get/update/complete a task, a NOT_FOUND and an
INVALID_ARGUMENT with BadRequest details), run by every shipped client against one stack:
REST through Envoy (the reference), and grpcurl (-protoset), the Python grpcio stubs, the betterproto2 SDK, Go
(grpc-go, gen/go) and Node/TypeScript (connect-node, gen/ts) both directly and through
Envoy's native gRPC routes. Results are normalized (ids, times, tokens masked) and must be
identical: a difference is a broken contract in one language."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from servers import cli
from tests.contract.clients import (
    EXAMPLES,
    ROOT,
    Client,
    go_gopath_env,
    go_missing,
    go_module_env,
    grpcurl_client,
    grpcurl_missing,
    node_missing,
    python_clients,
    rest_client,
    run,
    scenario_result,
)
from tests.helpers import unique_email

TARGETS = ("direct", "envoy")
STEPS = [
    "complete",
    "create",
    "get",
    "invalid_argument",
    "list",
    "login",
    "me",
    "not_found",
    "register",
    "update",
]


def _grpc_address(target: str, app_server: tuple[str, list[str]], edge: str) -> str:
    return app_server[0] if target == "direct" else edge.removeprefix("http://")


async def _scenario(client: Client, env: dict[str, str]) -> dict[str, Any]:
    email = unique_email("contract")
    return scenario_result(
        await run(client.command, {**dict(client.env), **env, "AETHER_EMAIL": email}), email
    )


@pytest.fixture(scope="module")
async def reference(edge: str) -> dict[str, Any]:
    return await _scenario(rest_client(), {"AETHER_URL": edge})


@pytest.fixture(scope="session")
def go_vendored() -> None:
    """`aether go-vendor`, as a user runs it once: gen/go/vendor and examples/go/vendor are
    local build products (Debian's sources, not in git), so CI needs no other step."""
    reason = go_missing()
    if reason:
        pytest.skip(reason)
    cli.main(["go-vendor"])


@pytest.fixture(scope="module")
def go_home(go_vendored: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Go build cache for the module's builds (each mode compiles its own copies)."""
    return tmp_path_factory.mktemp("go")


@pytest.fixture(scope="module")
async def go_client(go_home: Path) -> Client:
    binary = go_home / "aether-example-go"
    # Built from the shipped module as a user would, offline in module mode with no flags:
    # examples/go's go.mod (aether gen) and vendor/ (aether go-vendor) point at gen/go and
    # Debian's packages.
    await run(("go", "build", "-o", str(binary), "."), go_module_env(go_home), cwd=EXAMPLES / "go")
    return Client("go", (str(binary),))


async def test_the_go_module_builds_offline_on_its_own(go_home: Path) -> None:
    """gen/go as the main module: every package, from its own vendor/, nothing fetched."""
    env = go_module_env(go_home)
    await run(("go", "build", "./..."), env, cwd=ROOT / "gen" / "go")
    listed = await run(("go", "list", "-m"), env, cwd=ROOT / "gen" / "go")
    assert listed.strip() == "github.com/aether-dev/aether/gen/go"


async def test_the_go_example_builds_in_gopath_mode(go_home: Path) -> None:
    """GOPATH mode (Debian's packages in /usr/share/gocode) keeps working for the module."""
    binary = go_home / "aether-example-go-gopath"
    await run(("go", "build", "-o", str(binary), "./examples/go"), go_gopath_env(go_home))
    assert binary.stat().st_size > 0


@pytest.fixture(scope="module")
async def ts_client(tmp_path_factory: pytest.TempPathFactory) -> Client:
    reason = node_missing()
    if reason:
        pytest.skip(reason)
    # Compiled next to the example so that Node resolves @aether-dev/api from node_modules.
    out = EXAMPLES / "ts" / "dist"
    shutil.rmtree(out, ignore_errors=True)
    await run((str(ROOT / "node_modules" / ".bin" / "tsc"), "-p", str(EXAMPLES / "ts")), {})
    return Client("node-ts", ("node", str(Path(out) / "scenario.js")))


def test_reference_is_the_scenario(reference: dict[str, Any]) -> None:
    assert sorted(reference) == STEPS
    assert reference["me"]["ok"]["email"] == "<email>"
    assert reference["list"]["ok"]["tasks"][0]["title"] == "Write the contract suite"
    assert reference["update"]["ok"]["status"] == "in_progress"
    assert reference["complete"]["ok"]["completedBy"] == "<uuid>"
    assert reference["not_found"]["error"]["code"] == 5  # google.rpc.Code.NOT_FOUND
    invalid = reference["invalid_argument"]["error"]
    assert invalid["code"] == 3  # INVALID_ARGUMENT
    bad = [d for d in invalid["details"] if d["@type"] == "type.googleapis.com/google.rpc.BadRequest"]
    assert bad and bad[0]["fieldViolations"][0]["field"] == "title"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("client", python_clients(), ids=lambda c: c.name)
async def test_python_client_matches_rest(
    client: Client, target: str, reference: dict[str, Any], app_server: tuple[str, list[str]], edge: str
) -> None:
    result = await _scenario(client, {"AETHER_ADDR": _grpc_address(target, app_server, edge)})
    assert result == reference


@pytest.mark.parametrize("target", TARGETS)
async def test_go_client_matches_rest(
    go_client: Client, target: str, reference: dict[str, Any], app_server: tuple[str, list[str]], edge: str
) -> None:
    result = await _scenario(go_client, {"AETHER_ADDR": _grpc_address(target, app_server, edge)})
    assert result == reference


@pytest.mark.parametrize("target", TARGETS)
async def test_node_ts_client_matches_rest(
    ts_client: Client, target: str, reference: dict[str, Any], app_server: tuple[str, list[str]], edge: str
) -> None:
    result = await _scenario(ts_client, {"AETHER_ADDR": _grpc_address(target, app_server, edge)})
    assert result == reference


@pytest.mark.parametrize("target", TARGETS)
async def test_grpcurl_matches_rest(
    target: str, reference: dict[str, Any], app_server: tuple[str, list[str]], edge: str
) -> None:
    reason = grpcurl_missing()
    if reason:
        pytest.skip(reason)
    result = await _scenario(grpcurl_client(), {"AETHER_ADDR": _grpc_address(target, app_server, edge)})
    assert result == reference
