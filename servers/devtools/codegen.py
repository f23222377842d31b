"""Regenerate everything under gen/ from protos/ (`aether gen`, `make gen`).

Outputs:
- gen/python/          grpcio stubs + .pyi, importable as `aether.<domain>.v1`
                       (and `buf.validate` for the validation annotations);
                       google/api and google/rpc come from googleapis-common-protos.
- gen/sdk/python/aether_sdk/  the betterproto2 dataclass client SDK (`buf generate`,
                       buf.gen.yaml), including google.rpc for decoding error details.
- gen/descriptors/aether.binpb  the buf image (a FileDescriptorSet incl. imports
                       such as google/rpc/error_details) that Envoy transcodes with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "protos"
THIRD_PARTY = PROTOS / "third_party"
GEN = ROOT / "gen"
PY_OUT = GEN / "python"
SDK_OUT = GEN / "sdk" / "python" / "aether_sdk"
DESCRIPTOR = GEN / "descriptors" / "aether.binpb"


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


def _mark_packages(root: Path) -> None:
    """Give every generated directory an __init__.py so it is a regular package."""
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        if directory.name != "__pycache__":
            (directory / "__init__.py").touch()


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def generate() -> None:
    """Regenerate gen/ from scratch."""
    own = _own_protos()
    validate = "buf/validate/validate.proto"

    _fresh(PY_OUT)
    _protoc(f"--python_out={PY_OUT}", f"--pyi_out={PY_OUT}", f"--grpc_python_out={PY_OUT}", *own, validate)
    for package in ("aether", "buf"):
        _mark_packages(PY_OUT / package)

    _fresh(SDK_OUT)
    # buf.gen.yaml: the betterproto2 plugin from the venv; it narrates every file, so keep quiet.
    subprocess.run([_bin("buf"), "generate"], check=True, cwd=ROOT, env=_tool_env(), capture_output=True)

    DESCRIPTOR.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [_bin("buf"), "build", "--exclude-source-info", "-o", str(DESCRIPTOR)], check=True, cwd=ROOT
    )
    print(
        f"generated {PY_OUT.relative_to(ROOT)}, {SDK_OUT.relative_to(ROOT)}, {DESCRIPTOR.relative_to(ROOT)}"
    )


if __name__ == "__main__":
    generate()
