"""Regenerate everything under gen/ from protos/ (`aether gen`, `make gen`).

Outputs (each a package of its own, see servers/devtools/packaging.py):
- gen/python/          grpcio stubs + .pyi, importable as `aether.<domain>.v1`
                       (and `buf.validate` for the validation annotations);
                       google/api and google/rpc come from googleapis-common-protos.
- gen/sdk/python/      the betterproto2 dataclass client SDK `aether_sdk` (`buf generate`,
                       buf.gen.yaml), including google.rpc for decoding error details.
- gen/go/              the Go module github.com/aether-dev/aether/gen/go (protoc-gen-go +
                       protoc-gen-go-grpc, buf.gen.go.yaml), buf/validate included, and its
                       go.mod; examples/go's go.mod too. Their vendor/ trees are local
                       build products of `aether go-vendor` (go_vendor.py), kept across runs.
- gen/ts/              the npm package @aether-dev/api (protoc-gen-es: ES modules + .d.ts).
- gen/descriptors/aether.binpb  the buf image (a FileDescriptorSet incl. imports
                       such as google/rpc/error_details) that Envoy transcodes with.
- gen/openapi/openapi.json  OpenAPI 3 of the REST surface (servers/devtools/openapi.py).

Everything is generated into a staging directory first and swapped in only when every
generator succeeded, so a failed run leaves gen/ as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import version
from pathlib import Path

from servers.devtools import packaging
from servers.devtools.sdk_calls import add_call_options

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "protos"
THIRD_PARTY = PROTOS / "third_party"
GEN = ROOT / "gen"
PY_OUT = GEN / "python"
SDK_OUT = GEN / "sdk" / "python" / "aether_sdk"
DESCRIPTOR = GEN / "descriptors" / "aether.binpb"
OPENAPI = GEN / "openapi" / "openapi.json"
STAGING = ROOT / ".gen-staging"
# What one run replaces, relative to the repository root.
OUTPUTS = ("gen/python", "gen/sdk/python", "gen/go", "gen/ts", "gen/descriptors", "gen/openapi")
GO_VENDOR = "gen/go/vendor"


def _bin(name: str) -> str:
    """A tool installed next to this interpreter (the venv), else on PATH."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _own_protos() -> list[str]:
    return sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / "aether").rglob("*.proto"))


def _protoc(*args: str) -> None:
    import grpc_tools

    wkt = Path(grpc_tools.__file__).parent / "_proto"
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS}", f"-I{THIRD_PARTY}", f"-I{wkt}", *args]
    subprocess.run(cmd, check=True, cwd=ROOT)


def _tool_env() -> dict[str, str]:
    """PATH with the venv's scripts first, so buf finds the local protoc plugins."""
    scripts = f"{Path(sys.executable).parent}:{sysconfig.get_path('scripts')}"
    return {**os.environ, "PATH": f"{scripts}:{os.environ.get('PATH', '/usr/bin:/bin')}"}


def _run(*cmd: str) -> None:
    """Run a generator quietly (betterproto2 narrates every file); show its output on failure."""
    result = subprocess.run(cmd, cwd=ROOT, env=_tool_env(), capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout}{result.stderr}")


def _mark_packages(root: Path) -> None:
    """Give every generated directory an __init__.py so it is a regular package."""
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        if directory.name != "__pycache__":
            (directory / "__init__.py").touch()


def _require_tools() -> None:
    """The local plugins: Debian's Go plugins, protoc-gen-es from the committed npm lockfile."""
    missing = [name for name in ("protoc-gen-go", "protoc-gen-go-grpc") if shutil.which(name) is None]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} not found: apt-get install protoc-gen-go protoc-gen-go-grpc"
        )
    if not (ROOT / "node_modules" / ".bin" / "protoc-gen-es").exists():
        if shutil.which("npm") is None:
            raise RuntimeError("npm not found (Node.js is needed for gen/ts): apt-get install nodejs npm")
        _run("npm", "ci", "--no-audit", "--no-fund")


def _generate_into(stage: Path) -> None:
    own = _own_protos()
    gen = stage / "gen"
    py_out = gen / "python"
    py_out.mkdir(parents=True)
    _protoc(
        f"--python_out={py_out}",
        f"--pyi_out={py_out}",
        f"--grpc_python_out={py_out}",
        *own,
        "buf/validate/validate.proto",
    )
    for package in ("aether", "buf"):
        _mark_packages(py_out / package)
    packaging.write_stubs_pyproject(py_out)

    _run(_bin("buf"), "generate", "-o", str(stage))  # buf.gen.yaml: SDK and TypeScript
    sdk_out = gen / "sdk" / "python"
    add_call_options(sdk_out / "aether_sdk")
    packaging.write_sdk_pyproject(sdk_out, version("betterproto2-compiler"))
    packaging.write_ts_package(gen / "ts")

    go_paths = ["--path", "protos/aether", "--path", "protos/third_party/buf"]
    _run(_bin("buf"), "generate", "--template", "buf.gen.go.yaml", *go_paths, "-o", str(stage))
    (gen / "go" / "go.mod").write_text(packaging.go_mod())

    descriptor = gen / "descriptors" / DESCRIPTOR.name
    descriptor.parent.mkdir(parents=True)
    _run(_bin("buf"), "build", "--exclude-source-info", "-o", str(descriptor))

    # The OpenAPI document wants the comments: a second image with source info, not kept.
    from servers.devtools.openapi import build_openapi

    with_docs = stage / "with-source-info.binpb"
    _run(_bin("buf"), "build", "-o", str(with_docs))
    openapi = gen / "openapi" / OPENAPI.name
    openapi.parent.mkdir(parents=True)
    document = build_openapi(with_docs.read_bytes())
    openapi.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")


def _swap_in(stage: Path) -> None:
    """Replace each output with its staged version; put the old ones back if a rename fails."""
    backup = stage / "previous"
    moved: list[str] = []
    # gen/go/vendor is `aether go-vendor`'s (ignored by git, not generated here): keep it.
    if (ROOT / GO_VENDOR).is_dir():
        (ROOT / GO_VENDOR).rename(stage / GO_VENDOR)
    try:
        for output in OUTPUTS:
            current, staged, kept = ROOT / output, stage / output, backup / output
            kept.parent.mkdir(parents=True, exist_ok=True)
            if current.exists():
                current.rename(kept)
            moved.append(output)
            current.parent.mkdir(parents=True, exist_ok=True)
            staged.rename(current)
    except OSError:
        for output in moved:
            shutil.rmtree(ROOT / output, ignore_errors=True)
            if (backup / output).exists():
                (backup / output).rename(ROOT / output)
        raise


def _write_example_go_mod() -> None:
    """examples/go's go.mod (a copy of the repository without examples/ has none to write)."""
    example = ROOT / "examples" / "go"
    if (example / "main.go").is_file():
        (example / "go.mod").write_text(packaging.example_go_mod(example, ROOT / "gen" / "go"))


def generate() -> None:
    """Regenerate gen/ from scratch, atomically per output directory."""
    _require_tools()
    shutil.rmtree(STAGING, ignore_errors=True)
    STAGING.mkdir()
    try:
        _generate_into(STAGING)
        _swap_in(STAGING)
        _write_example_go_mod()
    finally:
        shutil.rmtree(STAGING, ignore_errors=True)
    from servers.devtools import manifests  # the Kubernetes manifests follow servers/registry.py

    manifests.write(DESCRIPTOR)
    print("generated " + ", ".join(OUTPUTS) + ", examples/go/go.mod, deploy/k8s/aether.yaml")


if __name__ == "__main__":
    generate()
