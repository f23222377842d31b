"""`aether new-domain NAME`: a complete, working domain from servers/_template.

servers/_template/ mirrors the repository. Every `*.tmpl` file in it becomes the
file at the same path without `.tmpl`, with these placeholders replaced in the
path and the text (for `aether new-domain notes`):

    __domain__     the domain, one lowercase word: proto package,       notes
                   Python package, schema, REST path, permission prefix
    __Domain__     the same for prose                                   Notes
    __resource__   the resource it serves, singular (--resource)       note
    __Resource__   its message, class and service name                 Note
    __gopackage__  the Go package of the protos                        notesv1

The result is then formatted with the project's own tools (ruff's import sort
and formatter, buf format), so import order follows the chosen name; the
domain is added to servers/registry.py and docker-compose.yml, and the next
steps are printed. tests/template/ proves that a generated domain passes its
own tests with no edits.
"""

from __future__ import annotations

import keyword
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from servers.devtools.codegen import _bin  # the venv's ruff and buf, as `make gen` finds buf

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "servers" / "_template"
SUFFIX = ".tmpl"
PLACEHOLDER = re.compile(r"__(?:domain|Domain|resource|Resource|gopackage)__")
# A domain is one lowercase word: it is also a service identity (no "_"), an
# env var prefix (NOTES_ADDR) and a REST path segment. A resource may be snake_case.
DOMAIN_NAME = re.compile(r"[a-z][a-z0-9]*")
RESOURCE_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
# Names that are platform packages or shared proto packages, not domains.
RESERVED = frozenset({"platform", "devtools", "edge", "embedded", "common", "events", "template", "registry"})


class GenerationError(Exception):
    """Why the domain cannot be generated (a bad or taken name)."""


@dataclass(frozen=True)
class Names:
    """The spellings of one domain's name that the templates use."""

    domain: str
    resource: str

    @classmethod
    def of(cls, domain: str, resource: str | None = None) -> Names:
        """Checked names; the resource defaults to the domain in the singular."""
        if not DOMAIN_NAME.fullmatch(domain) or keyword.iskeyword(domain):
            raise GenerationError(
                f"domain name {domain!r} must be one lowercase word (a letter, then letters and "
                "digits; not a Python keyword), e.g. notes"
            )
        resource = resource or singular(domain)
        if not RESOURCE_NAME.fullmatch(resource) or keyword.iskeyword(resource):
            raise GenerationError(
                f"resource name {resource!r} must be lower_snake_case (letters, digits, single "
                "underscores; not a Python keyword), e.g. note or release_note"
            )
        if domain in RESERVED:
            raise GenerationError(f"{domain!r} is reserved; choose another domain name")
        if resource == "events" or resource.endswith("_service"):
            raise GenerationError(f"resource name {resource!r} collides with a generated proto file")
        return cls(domain, resource)

    @property
    def Resource(self) -> str:
        """The resource in CamelCase (the __Resource__ placeholder)."""
        return "".join(part.capitalize() for part in self.resource.split("_"))

    @property
    def service(self) -> str:
        return f"aether.{self.domain}.v1.{self.Resource}Service"

    def substitutions(self) -> dict[str, str]:
        return {
            "__domain__": self.domain,
            "__Domain__": self.domain.capitalize(),
            "__resource__": self.resource,
            "__Resource__": self.Resource,
            "__gopackage__": self.domain + "v1",
        }


def singular(name: str) -> str:
    """notes -> note, categories -> category, billing -> billing."""
    if name.endswith("ies") and len(name) > 3:
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss") and len(name) > 1:
        return name[:-1]
    return name


def render(text: str, names: Names) -> str:
    """`text` with every placeholder replaced."""
    values = names.substitutions()
    return PLACEHOLDER.sub(lambda m: values[m.group(0)], text)


def plan(names: Names, template: Path = TEMPLATE) -> dict[Path, str]:
    """Relative path -> content of every file the domain gets."""
    files: dict[Path, str] = {}
    for source in sorted(template.rglob(f"*{SUFFIX}")):
        relative = source.relative_to(template).as_posix().removesuffix(SUFFIX)
        files[Path(render(relative, names))] = render(source.read_text(), names)
    return files


def _format(root: Path, written: list[Path]) -> list[str]:
    """Sort imports and format what was written; returns the commands that failed."""
    python = [str(p) for p in written if p.suffix == ".py"]
    protos = [str(p) for p in written if p.suffix == ".proto"]
    commands = [
        [_bin("ruff"), "check", "--fix", "--select", "I", "--quiet", *python],
        [_bin("ruff"), "format", "--quiet", *python],
        [_bin("buf"), "format", "-w", *(arg for proto in protos for arg in ("--path", proto))],
    ]
    failed = []
    for command in commands:
        try:
            result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            failed.append(" ".join(command[:2]))
            continue
        if result.returncode != 0:
            failed.append(f"{' '.join(command[:2])}: {(result.stderr or result.stdout).strip()}")
    return failed


def register(registry: Path, names: Names) -> None:
    """Add `"NAME": "servers.NAME.main"` as the last entry of registry.DOMAINS."""
    text = registry.read_text()
    start = text.index("DOMAINS: dict[str, str] = {")
    end = text.index("\n}", start) + 1
    entry = f'    "{names.domain}": "servers.{names.domain}.main",\n'
    registry.write_text(text[:end] + entry + text[end:])


COMPOSE_SERVICE = """\
  {domain}:
    <<: *server
    command: ["aether", "serve", "{domain}"]
    environment:
      <<: *server-env
      OTEL_SERVICE_NAME: aether-{domain}

"""


def add_to_compose(compose: Path, names: Names) -> bool:
    """Add the domain's service to docker-compose.yml, its upstream to Envoy's
    command and depends_on, its address to analytics' HEALTH_TARGETS, and its
    metrics to Prometheus' targets (deploy/prometheus.yml, beside the compose file).
    Returns False, changing nothing, if the file is not laid out as expected."""
    if not compose.exists():
        return False
    text = compose.read_text()
    d = names.domain
    envoy = text.find("\n  envoy:\n")
    upstreams = list(re.finditer(r"^      - --upstream=.*\n", text, re.MULTILINE))
    depends = re.compile(r"^    depends_on:\n((?:      \w+: \{condition: \w+\}\n)+)", re.MULTILINE).search(
        text, max(envoy, 0)
    )
    targets = re.compile(r"^(\s+HEALTH_TARGETS: )(\S+)$", re.MULTILINE).search(text)
    if envoy < 0 or not upstreams or upstreams[-1].start() < envoy or depends is None or targets is None:
        return False
    edits = [  # applied from the end of the file backwards, so offsets stay valid
        (depends.end(1), depends.end(1), f"      {d}: {{condition: service_healthy}}\n"),
        (upstreams[-1].end(), upstreams[-1].end(), f"      - --upstream={names.service}={d}:50051\n"),
        (envoy + 1, envoy + 1, COMPOSE_SERVICE.format(domain=d)),
        (targets.end(2), targets.end(2), f",{d}={d}:50051"),
    ]
    for start, end, insert in sorted(edits, reverse=True):
        text = text[:start] + insert + text[end:]
    compose.write_text(text)
    prometheus = compose.parent / "deploy" / "prometheus.yml"
    if prometheus.exists():
        scrape = prometheus.read_text()
        prometheus.write_text(re.sub(r'(- targets: \[[^\]]*:9464")\]', rf'\1, "{d}:9464"]', scrape, count=1))
    return True


def _check_free(root: Path, names: Names, files: dict[Path, str]) -> None:
    registry = (root / "servers" / "registry.py").read_text()
    if f'"{names.domain}":' in registry:
        raise GenerationError(f"{names.domain!r} is already in servers/registry.py")
    for taken in (root / "servers" / names.domain, root / "protos" / "aether" / names.domain):
        if taken.exists():
            raise GenerationError(f"{taken.relative_to(root)} already exists")
    clash = [str(path) for path in files if (root / path).exists()]
    if clash:
        raise GenerationError(f"would overwrite {', '.join(clash)}")


@dataclass(frozen=True)
class Generated:
    names: Names
    files: list[Path]  # relative to the root
    compose: bool  # docker-compose.yml was updated
    unformatted: list[str]  # formatter commands that failed


def generate(domain: str, resource: str | None = None, root: Path = ROOT) -> Generated:
    """Write the domain into the repository at `root` and register it."""
    names = Names.of(domain, resource)
    files = plan(names)
    if not files:
        raise GenerationError(f"no templates in {TEMPLATE}: run it from a checkout of the repository")
    _check_free(root, names, files)
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    register(root / "servers" / "registry.py", names)
    compose = add_to_compose(root / "docker-compose.yml", names)
    unformatted = _format(root, list(files))
    return Generated(names, list(files), compose, unformatted)


def next_steps(result: Generated) -> str:
    """What to run and edit next, as printed by the command."""
    n = result.names
    d = n.domain
    tests = " ".join(str(p) for p in result.files if p.parts[0] == "tests")
    lines = [f"Created the {d} domain ({n.service}):"]
    lines += [f"  {path}" for path in result.files]
    lines.append("  servers/registry.py (registered)")
    if result.compose:
        lines.append("  docker-compose.yml (service, Envoy upstream, health target)")
    else:
        lines += [
            "",
            "docker-compose.yml was not in the expected shape; add by hand a service",
            f'  {d}: {{<<: *server, command: ["aether", "serve", "{d}"]}}',
            f"and `- --upstream={n.service}={d}:50051` to the envoy service's command.",
        ]
    if result.unformatted:
        lines += ["", "Could not format; run `ruff check --fix`, `ruff format` and `buf format -w`:"]
        lines += [f"  {failure}" for failure in result.unformatted]
    lines += [
        "",
        "Next steps (docs/adding-a-domain.md explains every file):",
        "  1. make gen          # stubs, SDK and Envoy descriptor set for the new protos",
        f"  2. .venv/bin/pytest {tests}",
        f"  3. grant {d}:read / {d}:write to roles in servers/auth/domain.py (ROLE_PERMISSIONS)",
        "     and list them in docs/protos.md; until then only tokens that carry them",
        "     explicitly (the tests' forge_token) may call the service",
        f'  4. add "{d}" to the domains tests/unit/test_protos.py expects',
        f"  5. make the {n.resource} yours: protos/aether/{d}/v1/{n.resource}.proto,",
        f"     servers/{d}/domain.py, migrations/0001_init.sql, then the other layers",
        "  6. make dev          # REST on http://127.0.0.1:8080/api/v1/" + d,
    ]
    return "\n".join(lines)


def run(domain: str, resource: str | None = None, root: Path = ROOT) -> None:
    """The command: generate and print the next steps (errors exit with a message)."""
    try:
        result = generate(domain, resource, root)
    except GenerationError as error:
        raise SystemExit(f"aether new-domain: {error}") from None
    print(next_steps(result))
