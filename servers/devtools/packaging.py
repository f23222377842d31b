"""Package metadata written next to the generated code, so each client ships on its own:
the grpcio stubs and the betterproto2 SDK as pip packages, gen/go as a Go module (go.mod;
its vendor/ is a local build product, go_vendor.py) and gen/ts as an npm package. The
Python minimums are read from the version checks that the generated code itself performs
at import, so they can never disagree with it."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

VERSION = "0.1.0"
GO_MODULE = "github.com/aether-dev/aether/gen/go"
TS_PACKAGE = "@aether-dev/api"

# The Go modules gen/go and examples/go build with, at Debian bookworm's versions (their
# sources in /usr/share/gocode are what go_vendor.py vendors). protoc-gen-go-grpc 1.0 emits
# SupportPackageIsVersion7, which grpc-go 1.32 introduced: the oldest grpc-go the code needs.
GO_MODULES = {
    "github.com/golang/protobuf": "v1.5.2",
    "golang.org/x/net": "v0.7.0",
    "golang.org/x/sys": "v0.3.0",
    "golang.org/x/text": "v0.7.0",
    "google.golang.org/genproto": "v0.0.0-20200413115906-b5235f65be36",
    "google.golang.org/grpc": "v1.33.3",
    "google.golang.org/protobuf": "v1.28.1",
}
# Which of them the code imports itself (go.mod's direct requirements, the others are
# `// indirect`): the generated code, and examples/go/main.go on top of it. `aether go-vendor`
# checks these against the real import graph, so a drift fails loudly.
GO_DIRECT = ("google.golang.org/genproto", "google.golang.org/grpc", "google.golang.org/protobuf")
EXAMPLE_GO_DIRECT = (*GO_DIRECT, "github.com/golang/protobuf")
EXAMPLE_GO_MODULE = "github.com/aether-dev/aether/examples/go"
GO_DIRECTIVE = "1.19"  # Debian bookworm's Go; vendor mode is the default from 1.14
GO_MOD_HEADER = (
    "// Written by `aether gen` (servers/devtools/packaging.py); do not edit.\n"
    "// Offline: `aether go-vendor` writes vendor/ from Debian's packages (not in git), then\n"
    "// `go build` uses it; online: `go mod tidy` fetches the modules from proxy.golang.org.\n"
)
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


def _go_mod(module: str, requires: dict[str, str], direct: Iterable[str], replace: str = "") -> str:
    def block(names: Iterable[str], comment: str = "") -> str:
        lines = "".join(f"\t{name} {requires[name]}{comment}\n" for name in names)
        return f"\nrequire (\n{lines})\n" if lines else ""

    return (
        f"{GO_MOD_HEADER}module {module}\n\ngo {GO_DIRECTIVE}\n"
        + block(sorted(n for n in requires if n in direct))
        + block(sorted(n for n in requires if n not in direct), " // indirect")
        + replace
    )


def go_mod() -> str:
    return _go_mod(GO_MODULE, GO_MODULES, GO_DIRECT)


def example_go_mod(example: Path, gen_go: Path) -> str:
    """examples/go's go.mod: gen/go replaced by its path in this checkout."""
    replacement = os.path.relpath(gen_go, example)
    requires = {GO_MODULE: f"v{VERSION}", **GO_MODULES}
    replace = f"\nreplace {GO_MODULE} => {replacement}\n"
    return _go_mod(EXAMPLE_GO_MODULE, requires, {GO_MODULE, *EXAMPLE_GO_DIRECT}, replace)


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
