"""Package metadata written next to the generated code, so each client ships on its own:
the grpcio stubs and the betterproto2 SDK as pip packages, gen/go as a Go module and
gen/ts as an npm package. The Python minimums are read from the version checks that the
generated code itself performs at import, so they can never disagree with it."""

from __future__ import annotations

import json
import re
from pathlib import Path

VERSION = "0.1.0"
GO_MODULE = "github.com/aether-dev/aether/gen/go"
TS_PACKAGE = "@aether-dev/api"

# Debian's packages (bookworm), the versions the module is built and tested with offline;
# protoc-gen-go-grpc 1.0 emits SupportPackageIsVersion7, which grpc-go 1.32 introduced.
GO_REQUIRES = {
    "google.golang.org/genproto": "v0.0.0-20200413115906-b5235f65be36",
    "google.golang.org/grpc": "v1.33.3",
    "google.golang.org/protobuf": "v1.28.1",
}
# googleapis-common-protos supplies google.api / google.rpc to the stubs (not generated here).
COMMON_PROTOS_MIN = "1.70.0"
TS_DEPENDENCIES = {"@bufbuild/protobuf": "^2.17.0", "@connectrpc/connect": "^2.3.0"}
TS_PEER = {"@connectrpc/connect-node": "^2.3.0"}


def _first(pattern: str, files: list[Path], what: str) -> re.Match[str]:
    for file in files:
        found = re.search(pattern, file.read_text(), re.S)
        if found:
            return found
    raise RuntimeError(f"no {what} check found in the generated code")


def _pyproject(name: str, description: str, dependencies: list[str], packages: list[str]) -> str:
    deps = "".join(f'  "{d}",\n' for d in dependencies)
    include = ", ".join(f'"{p}*"' for p in packages)
    return (
        "# Written by `aether gen` (servers/devtools/packaging.py); do not edit.\n"
        '[build-system]\nrequires = ["setuptools>=70"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "{VERSION}"\ndescription = "{description}"\n'
        f'requires-python = ">=3.11"\ndependencies = [\n{deps}]\n\n'
        f"[tool.setuptools.packages.find]\ninclude = [{include}]\n\n"
        '[tool.setuptools.package-data]\n"*" = ["*.pyi", "py.typed"]\n'
    )


def write_stubs_pyproject(out: Path) -> None:
    """gen/python: `pip install ./gen/python` gives `aether.<domain>.v1` and `buf.validate`."""
    files = sorted(out.rglob("*_pb2.py"))
    pb = _first(r"ValidateProtobufRuntimeVersion\(\s*\S+,\s*(\d+),\s*(\d+),\s*(\d+),", files, "protobuf")
    grpc_files = sorted(out.rglob("*_pb2_grpc.py"))
    grpcio = _first(r"GRPC_GENERATED_VERSION = '([\d.]+)'", grpc_files, "grpcio").group(1)
    deps = [
        f"grpcio>={grpcio}",
        f"protobuf>={'.'.join(pb.groups())}",
        f"googleapis-common-protos>={COMMON_PROTOS_MIN}",
    ]
    text = _pyproject(
        "aether-grpc-stubs", "Aether grpcio stubs (messages, stubs, .pyi)", deps, ["aether", "buf"]
    )
    (out / "pyproject.toml").write_text(text)


def write_sdk_pyproject(out: Path, betterproto2_version: str) -> None:
    """gen/sdk/python: `pip install ./gen/sdk/python` gives the `aether_sdk` dataclass client.
    The runtime must be the compiler's minor version (betterproto2 checks it at import)."""
    major, minor, *_ = betterproto2_version.split(".")
    deps = [f"betterproto2>={betterproto2_version},<{major}.{int(minor) + 1}", "grpcio>=1.60"]
    text = _pyproject(
        "aether-sdk", "Aether betterproto2 client SDK (dataclasses, sync grpcio client)", deps, ["aether_sdk"]
    )
    (out / "pyproject.toml").write_text(text)


def write_go_mod(out: Path) -> None:
    requires = "".join(f"\t{module} {version}\n" for module, version in GO_REQUIRES.items())
    (out / "go.mod").write_text(
        "// Written by `aether gen` (servers/devtools/packaging.py); do not edit.\n"
        f"module {GO_MODULE}\n\ngo 1.19\n\nrequire (\n{requires})\n"
    )


def write_ts_package(out: Path) -> None:
    package = {
        "name": TS_PACKAGE,
        "version": VERSION,
        "description": "Aether API messages and services (protoc-gen-es: ES modules + .d.ts)",
        "type": "module",
        "sideEffects": False,
        "exports": {"./*": {"types": "./*.d.ts", "default": "./*.js"}},
        "dependencies": TS_DEPENDENCIES,
        "peerDependencies": TS_PEER,
        "comment": "Written by `aether gen` (servers/devtools/packaging.py); do not edit.",
    }
    (out / "package.json").write_text(json.dumps(package, indent=2) + "\n")
