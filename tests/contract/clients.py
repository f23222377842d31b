"""The scenario's clients (examples/), each run as a program: how to build and start it,
and the results it prints, normalized so that every language's output can be compared."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers.devtools.go_vendor import require_gocode
from servers.devtools.packaging import GO_MODULE

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_SECRETS = {"accessToken", "refreshToken"}


@dataclass(frozen=True)
class Client:
    name: str
    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


def python_clients() -> list[Client]:
    return [
        Client("python-stubs", (sys.executable, str(EXAMPLES / "python" / "stubs_scenario.py"))),
        Client("python-sdk", (sys.executable, str(EXAMPLES / "python" / "sdk_scenario.py"))),
    ]


def grpcurl_client() -> Client:
    return Client("grpcurl", (sys.executable, str(EXAMPLES / "grpcurl" / "scenario.py")))


def grpcurl_missing() -> str | None:
    on_path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    return None if shutil.which("grpcurl", path=on_path) else "grpcurl not installed (make install)"


def rest_client() -> Client:
    return Client("rest-httpx", (sys.executable, str(EXAMPLES / "rest" / "scenario.py")))


def go_missing() -> str | None:
    """Why `aether go-vendor` cannot run here (Go or one of Debian's Go packages missing)."""
    try:
        require_gocode()
    except RuntimeError as error:
        return str(error)
    return None


def go_module_env(home: Path) -> dict[str, str]:
    """Module mode as a user has it, offline: no Go setting but a fresh cache (the go.mod files
    are `aether gen`'s, vendor/ is `aether go-vendor`'s); GOPROXY=off proves that nothing is fetched."""
    return {
        "GO111MODULE": "",
        "GOPROXY": "off",
        "GOFLAGS": "",
        "GOPATH": str(home / "gopath"),
        "GOCACHE": str(home / "cache"),
    }


def go_gopath_env(home: Path) -> dict[str, str]:
    """GOPATH mode with Debian's Go packages: the module's packages linked at their import
    path, its vendor/ left out (GOPATH mode would make vendored copies distinct packages)."""
    link = home / "gopath" / "src" / GO_MODULE
    link.mkdir(parents=True, exist_ok=True)
    for top in ("aether", "buf"):
        if not (link / top).exists():
            (link / top).symlink_to(ROOT / "gen" / "go" / top)
    return {
        **go_module_env(home),
        "GO111MODULE": "off",
        "GOPATH": f"{home / 'gopath'}:/usr/share/gocode",
    }


def node_missing() -> str | None:
    if shutil.which("node") is None:
        return "no Node.js (apt-get install nodejs npm)"
    if not (ROOT / "node_modules" / ".bin" / "tsc").exists():
        return "node_modules not installed (run `npm ci` at the repository root)"
    return None


async def run(command: tuple[str, ...], env: dict[str, str], *, cwd: Path = ROOT) -> str:
    """Run a program without blocking the event loop (the servers under test live on it)."""
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode == 0, (
        f"{' '.join(command)} exited {process.returncode}:\n{err.decode()[-3000:]}"
    )
    return out.decode()


def normalize(value: Any, email: str) -> Any:
    """Ids, times, tokens and the run's email masked; absent and null fields alike."""
    if isinstance(value, dict):
        return {
            key: "<token>" if key in _SECRETS else normalize(item, email)
            for key, item in sorted(value.items())
            if item is not None
        }
    if isinstance(value, list):
        return [normalize(item, email) for item in value]
    if isinstance(value, str):
        return _TIME.sub("<time>", _UUID.sub("<uuid>", value.replace(email, "<email>")))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _without_defaults(value: Any) -> Any:
    """Error details as each client prints them by default: zero values left out (Envoy's
    REST bodies print them, being configured with always_print_primitive_fields)."""
    if isinstance(value, dict):
        kept = {key: _without_defaults(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in ("", 0, False, [], {})}
    if isinstance(value, list):
        return [_without_defaults(item) for item in value]
    return value


def scenario_result(output: str, email: str) -> dict[str, Any]:
    result: dict[str, Any] = normalize(json.loads(output.strip().splitlines()[-1]), email)
    for outcome in result.values():
        if "error" in outcome:
            outcome["error"] = _without_defaults(outcome["error"])
    return result
