"""`aether go-vendor`: the vendor/ trees that let gen/go and examples/go build in module mode
with no network, written from Debian's Go packages (/usr/share/gocode) on this machine.

They are local build products, never committed (.gitignore): the sources are third-party
code, which comes from the user's own packages (or from proxy.golang.org with `go mod
tidy`). `aether gen` writes and commits the go.mod files (packaging.go_mod); this command
checks them against the real import graph and writes, next to them:

- gen/go/vendor/: the packages that gen/go and examples/go import, for the platforms below
  only (the file lists `go list` gives for each; x/sys alone is 7 MB for every one), each
  module's LICENSE and a modules.txt consistent with go.mod.
- examples/go/vendor/: its own modules.txt plus relative symlinks into gen/go (the module
  itself, replaced by ../../gen/go) and gen/go/vendor: one copy of every file.

Debian's sources are not the upstream module zips (their hashes would not match
sum.golang.org), so no go.sum is written: with a vendor/ directory and `go 1.14` or later
in go.mod, `go build` defaults to -mod=vendor, which reads vendor/modules.txt and neither
the module cache nor go.sum. The import graph comes from `go list` in GOPATH mode over
/usr/share/gocode, which is where these packages live; the versions are Debian bookworm's
(packaging.GO_MODULES)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from servers.devtools import packaging
from servers.devtools.packaging import GO_DIRECTIVE, GO_MODULE, GO_MODULES, VERSION

ROOT = Path(__file__).resolve().parents[2]
GOCODE = Path("/usr/share/gocode/src")
PLATFORMS = (
    ("linux", "amd64"),
    ("linux", "arm64"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
    ("windows", "amd64"),
)
_FILE_LISTS = ("GoFiles", "CgoFiles", "SFiles", "HFiles", "CFiles", "SysoFiles", "EmbedFiles")
_LICENSES = ("LICENSE", "LICENSE.md", "PATENTS", "AUTHORS", "CONTRIBUTORS", "NOTICE", "COPYING")


@dataclass
class Package:
    path: str
    dir: Path
    files: set[str] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Module:
    path: str
    version: str
    go: str  # the module's own go directive, recorded in modules.txt

    def dir(self) -> Path:
        return GOCODE / self.path


def require_gocode() -> None:
    missing = [m for m in GO_MODULES if not (GOCODE / m / "go.mod").is_file()]
    if shutil.which("go") is None or missing:
        raise RuntimeError(
            f"Go or Debian's Go packages missing ({', '.join(missing) or 'go'}): apt-get install golang-go"
            " golang-google-grpc-dev golang-google-protobuf-dev golang-google-genproto-dev"
            " golang-github-golang-protobuf-1-5-dev"
        )


def _go_list(targets: list[str], cwd: Path, gopath: Path) -> dict[str, Package]:
    """Every package `targets` need, with the union of their files over PLATFORMS."""
    found: dict[str, Package] = {}
    for goos, goarch in PLATFORMS:
        env = {
            **os.environ,
            "GO111MODULE": "off",
            "GOPROXY": "off",
            "GOFLAGS": "",
            "GOPATH": f"{gopath}:{GOCODE.parent}",
            "GOCACHE": str(gopath / "cache"),
            "GOOS": goos,
            "GOARCH": goarch,
            "CGO_ENABLED": "0",  # none of these packages has cgo files; no C toolchain needed
        }
        cmd = ["go", "list", "-deps", "-json", *targets]
        result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"{' '.join(cmd)} ({goos}/{goarch}) failed:\n{result.stderr}")
        decoder, text, at = json.JSONDecoder(), result.stdout, 0
        while True:  # a stream of JSON objects
            while at < len(text) and text[at].isspace():
                at += 1
            if at == len(text):
                break
            item, at = decoder.raw_decode(text, at)
            if item.get("Standard"):
                continue
            package = found.setdefault(item["ImportPath"], Package(item["ImportPath"], Path(item["Dir"])))
            for key in _FILE_LISTS:
                package.files.update(item.get(key) or ())
            package.imports.update(item.get("Imports") or ())
    return found


def _module_of(import_path: str) -> Module:
    for candidate in GO_MODULES:
        if import_path == candidate or import_path.startswith(candidate + "/"):
            go = "1.11"  # the go command's assumption for a go.mod without a go directive
            for line in (GOCODE / candidate / "go.mod").read_text().splitlines():
                if line.startswith("go "):
                    go = line.split()[1]
            return Module(candidate, GO_MODULES[candidate], go)
    raise RuntimeError(
        f"{import_path} is not in any module of packaging.GO_MODULES: add its Debian package's version"
    )


@dataclass
class Graph:
    """What one main module needs: third-party packages by module, and which are direct."""

    packages: dict[Module, list[str]]
    direct: set[str]


def _graph(found: dict[str, Package], own: set[str]) -> Graph:
    packages: dict[Module, list[str]] = {}
    direct: set[str] = set()
    for path in sorted(found):
        if path in own or path.startswith(GO_MODULE + "/"):
            continue
        module = _module_of(path)
        packages.setdefault(module, []).append(path)
    for path in own:
        for imported in found[path].imports:
            if imported in found and not imported.startswith(GO_MODULE + "/"):
                direct.add(_module_of(imported).path)
    return Graph(packages, direct)


def _modules_txt(graph: Graph, extra: str = "") -> str:
    out = [extra] if extra else []
    for module in sorted(graph.packages, key=lambda m: m.path):
        out.append(f"# {module.path} {module.version}\n## explicit; go {module.go}\n")
        out.append("".join(f"{path}\n" for path in graph.packages[module]))
    return "".join(out)


def _copy_packages(found: dict[str, Package], graph: Graph, vendor: Path) -> None:
    for module, paths in graph.packages.items():
        for name in _LICENSES:
            if (module.dir() / name).is_file():
                (vendor / module.path).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(module.dir() / name, vendor / module.path / name)
        for path in paths:
            target = vendor / path
            target.mkdir(parents=True, exist_ok=True)
            for name in sorted(found[path].files):
                (target / name).parent.mkdir(parents=True, exist_ok=True)  # embedded files may nest
                shutil.copyfile(found[path].dir / name, target / name)


def _own_packages(gen_go: Path) -> list[str]:
    dirs = {p.parent for p in gen_go.rglob("*.go") if "vendor" not in p.relative_to(gen_go).parts}
    return sorted(f"{GO_MODULE}/{d.relative_to(gen_go).as_posix()}" for d in dirs)


def _check(graph: Graph, direct: tuple[str, ...], go_mod: Path, expected: str) -> None:
    """The committed go.mod (packaging's tables) must say what the import graph says."""
    modules = {m.path for m in graph.packages}
    if modules != set(GO_MODULES) or graph.direct != set(direct):
        raise RuntimeError(
            f"{go_mod}'s requirements no longer match the imports: modules {sorted(modules)},"
            f" imported directly {sorted(graph.direct)}; update GO_MODULES / GO_DIRECT /"
            " EXAMPLE_GO_DIRECT in servers/devtools/packaging.py and run `aether gen`"
        )
    if not go_mod.is_file() or go_mod.read_text() != expected:
        raise RuntimeError(f"{go_mod} is missing or stale: run `aether gen` first")


def vendor(root: Path = ROOT) -> list[Path]:
    """Write gen/go/vendor and, when the checkout has it, examples/go/vendor; return them."""
    require_gocode()
    gen_go, example = root / "gen" / "go", root / "examples" / "go"
    with tempfile.TemporaryDirectory(prefix="aether-go-") as tmp:
        gopath = Path(tmp)
        link = gopath / "src" / GO_MODULE
        link.mkdir(parents=True)
        for top in sorted(p for p in gen_go.iterdir() if p.is_dir() and p.name != "vendor"):
            (link / top.name).symlink_to(top.resolve())
        own = _own_packages(gen_go)
        module_found = _go_list(own, gen_go, gopath)
        # A copy of the repository without examples/ (tests/template) vendors gen/go's own needs.
        has_example = (example / "main.go").is_file()
        example_found = _go_list(["."], example, gopath) if has_example else {}

    example_own = {path for path, p in example_found.items() if p.dir.resolve() == example.resolve()}
    example_graph = _graph(example_found, example_own)
    both = {**module_found, **{k: v for k, v in example_found.items() if k not in example_own}}
    module_graph = _graph(both, set(own))
    _check(module_graph, packaging.GO_DIRECT, gen_go / "go.mod", packaging.go_mod())
    if has_example:
        expected = packaging.example_go_mod(example, gen_go)
        _check(example_graph, packaging.EXAMPLE_GO_DIRECT, example / "go.mod", expected)

    out = gen_go / "vendor"
    shutil.rmtree(out, ignore_errors=True)
    _copy_packages(both, module_graph, out)
    (out / "modules.txt").write_text(_modules_txt(module_graph))
    if not has_example:
        return [out]
    return [out, _write_example(example, gen_go, example_found, example_graph)]


def _write_example(example: Path, gen_go: Path, found: dict[str, Package], graph: Graph) -> Path:
    replacement = os.path.relpath(gen_go, example)
    vendor = example / "vendor"
    shutil.rmtree(vendor, ignore_errors=True)
    links = {GO_MODULE: gen_go, **{m.path: gen_go / "vendor" / m.path for m in graph.packages}}
    for module_path, target in links.items():
        at = vendor / module_path
        at.parent.mkdir(parents=True, exist_ok=True)
        at.symlink_to(os.path.relpath(target, at.parent))
    gen_packages = sorted(p for p in found if p.startswith(GO_MODULE + "/"))
    header = f"# {GO_MODULE} v{VERSION} => {replacement}\n## explicit; go {GO_DIRECTIVE}\n" + "".join(
        f"{p}\n" for p in gen_packages
    )
    text = _modules_txt(graph, header) + f"# {GO_MODULE} => {replacement}\n"
    (vendor / "modules.txt").write_text(text)
    return vendor
