"""`aether new-domain` in a temporary copy of the repository: the generated
domain passes buf lint and format, ruff, mypy, and its own unit, integration and
api tests (gRPC and REST through Envoy) with no edits beyond its name. The real
tree is never written to."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests import conftest

ROOT = Path(__file__).resolve().parents[2]
# A name no real domain uses (the docs' example is `notes`).
DOMAIN = "memos"
# What a generated domain needs of the repository: its sources and configs,
# and the shared test infrastructure (conftest, helpers, fakes) without the
# other domains' tests. gen/ is regenerated in the copy.
COPIED = [
    *("protos", "servers", "tests", "deploy", "pyproject.toml", "docker-compose.yml"),
    *("buf.yaml", "buf.gen.yaml", "buf.gen.go.yaml", "package.json", "package-lock.json"),
]
GENERATED_TESTS = [
    f"tests/unit/test_{DOMAIN}_usecases.py",
    f"tests/integration/test_{DOMAIN}_unit_of_work.py",
    f"tests/api/test_{DOMAIN}_grpc.py",
    f"tests/api/test_{DOMAIN}_rest.py",
]
KEPT_TESTS = ["tests/unit/test_deploy.py"]  # every registered domain is in docker-compose.yml


def _copy_repo(dest: Path) -> None:
    caches = ("__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache")
    dest.mkdir(parents=True)
    for name in COPIED:
        source, target = ROOT / name, dest / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(*caches, "test_*.py"))
        else:
            shutil.copy2(source, target)
    for name in KEPT_TESTS:
        shutil.copy2(ROOT / name, dest / name)
    if (ROOT / "node_modules").is_dir():  # gen/ts's plugins, installed once (`npm ci`)
        (dest / "node_modules").symlink_to(ROOT / "node_modules")


def _tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _env(repo: Path) -> dict[str, str]:
    """The copy's code first on the path; the test servers this session uses
    (PostgreSQL) or a Redis database of its own, since the inner session
    flushes its Redis database while this session's servers use theirs."""
    env = {key: value for key, value in os.environ.items() if key != "AETHER_TEST_EMBEDDED"}
    env["PYTHONPATH"] = f"{repo}{os.pathsep}{repo / 'gen' / 'python'}"
    if "?" in conftest.ADMIN_DSN:  # an embedded (socket) server: conftest cannot take it from a DSN
        env["AETHER_TEST_EMBEDDED"] = "1"
    else:
        env["AETHER_TEST_POSTGRES"] = conftest.ADMIN_DSN
        env["AETHER_TEST_REDIS"] = re.sub(r"/\d+$", "", conftest.TEST_REDIS) + "/13"
    return env


def _run(command: list[str], repo: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        command, cwd=repo, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{output[-12000:]}"
    return output


def test_a_generated_domain_passes_its_own_tests(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _copy_repo(repo)
    env = _env(repo)
    python = sys.executable

    printed = _run([python, "-m", "servers.cli", "new-domain", DOMAIN], repo, env)
    assert "make gen" in printed and GENERATED_TESTS[2] in printed
    assert f'"{DOMAIN}": "servers.{DOMAIN}.main"' in (repo / "servers" / "registry.py").read_text()

    _run([python, "-m", "servers.devtools.codegen"], repo, env)  # `make gen`, in the copy
    assert (repo / "gen" / "python" / "aether" / DOMAIN / "v1" / f"{DOMAIN}_service_pb2_grpc.py").exists()
    protos = f"protos/aether/{DOMAIN}"
    _run([_tool("buf"), "lint", "--path", protos], repo, env)
    _run([_tool("buf"), "format", "--diff", "--exit-code", "--path", protos], repo, env)
    generated_python = [f"servers/{DOMAIN}", *GENERATED_TESTS]
    _run([_tool("ruff"), "check", *generated_python], repo, env)
    _run([_tool("ruff"), "format", "--check", *generated_python], repo, env)

    mypy = subprocess.Popen(  # alongside pytest: the two take about as long
        [_tool("mypy"), "--cache-dir", str(tmp_path / "mypy"), f"servers/{DOMAIN}"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        pytest_cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts="]
        report = _run([*pytest_cmd, *GENERATED_TESTS, *KEPT_TESTS], repo, env)
    finally:
        mypy_output, _ = mypy.communicate(timeout=180)
    assert mypy.returncode == 0, mypy_output
    summary = report.strip().splitlines()[-1]
    passed = re.search(r"\b(\d+) passed\b", summary)
    # The generated files' 14 tests, and the deployment checks of every registered domain.
    assert passed and int(passed.group(1)) > 14, report
    assert "failed" not in summary and "skipped" not in summary, report

    # The real tree is untouched.
    assert not (ROOT / "servers" / DOMAIN).exists()
    assert not (ROOT / "protos" / "aether" / DOMAIN).exists()
