"""`aether new-domain`: names, rendering, and its edits of servers/registry.py and
docker-compose.yml, in a small temporary repository (tests/template/ runs a
generated domain's own tests)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from servers.devtools import new_domain
from servers.devtools.new_domain import PLACEHOLDER, TEMPLATE, GenerationError, Names

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The parts of the repository the generator reads or edits."""
    for name in ("pyproject.toml", "buf.yaml", "docker-compose.yml", "servers/registry.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    return tmp_path


def test_names_and_their_spellings() -> None:
    names = Names.of("changelogs", "release_note")
    assert names.Resource == "ReleaseNote"
    assert names.service == "aether.changelogs.v1.ReleaseNoteService"
    assert names.substitutions()["__gopackage__"] == "changelogsv1"
    assert names.substitutions()["__Domain__"] == "Changelogs"
    assert [Names.of(d).resource for d in ("notes", "categories", "billing", "address")] == [
        "note",
        "category",
        "billing",
        "address",
    ]


@pytest.mark.parametrize(
    ("domain", "resource"),
    [("Notes", None), ("1notes", None), ("my_notes", None), ("import", None), ("platform", None),
     ("common", None), ("notes", "events"), ("notes", "notes_service"), ("notes", "Bad"),
     ("notes", "a__b"), ("notes", "class")],
)  # fmt: skip
def test_bad_or_reserved_names_are_refused(domain: str, resource: str | None) -> None:
    with pytest.raises(GenerationError):
        Names.of(domain, resource)


def test_the_template_is_only_tmpl_files_and_renders_every_placeholder() -> None:
    sources = [p for p in TEMPLATE.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert {p.suffix for p in sources} <= {".tmpl", ".md"}  # nothing importable, linted or collected
    files = new_domain.plan(Names.of("changelogs", "release_note"))
    assert {str(p) for p in files} >= {
        "protos/aether/changelogs/v1/changelogs_service.proto",
        "protos/aether/changelogs/v1/release_note.proto",
        "protos/aether/changelogs/v1/events.proto",
        "servers/changelogs/domain.py",
        "servers/changelogs/usecases.py",
        "servers/changelogs/store.py",
        "servers/changelogs/mapping.py",
        "servers/changelogs/service.py",
        "servers/changelogs/main.py",
        "servers/changelogs/migrations/0001_init.sql",
        "tests/unit/test_changelogs_usecases.py",
        "tests/integration/test_changelogs_unit_of_work.py",
        "tests/api/test_changelogs_grpc.py",
    }
    for path, text in files.items():
        assert not PLACEHOLDER.search(str(path)) and not PLACEHOLDER.search(text), path


def test_generate_registers_the_domain_in_the_registry_and_compose(repo: Path) -> None:
    result = new_domain.generate("changelogs", "release_note", root=repo)
    assert result.compose and not result.unformatted
    registry = (repo / "servers" / "registry.py").read_text()
    assert '    "changelogs": "servers.changelogs.main",\n}' in registry
    services = yaml.safe_load((repo / "docker-compose.yml").read_text())["services"]
    assert services["changelogs"]["command"] == ["aether", "serve", "changelogs"]
    envoy = services["envoy"]
    assert "--upstream=aether.changelogs.v1.ReleaseNoteService=changelogs:50051" in envoy["command"]
    assert envoy["command"][-1] == "--run"  # the rest of the command is kept
    assert "changelogs" in envoy["depends_on"]
    targets = services["analytics"]["environment"]["HEALTH_TARGETS"]
    assert targets.endswith(",changelogs=changelogs:50051")
    steps = new_domain.next_steps(result)
    assert "make gen" in steps and "tests/api/test_changelogs_grpc.py" in steps

    with pytest.raises(GenerationError, match="already"):
        new_domain.generate("changelogs", root=repo)


def test_generated_code_is_lint_clean_for_any_name(repo: Path) -> None:
    """Import order depends on the name (servers.billing sorts before
    servers.platform, servers.reviews after): the generator sorts and formats."""
    domains = {"billing": None, "reviews": "verdict", "inventory": "stock_item"}
    for domain, resource in domains.items():
        new_domain.generate(domain, resource, root=repo)
    tools = Path(sys.executable).parent
    paths = ["servers", "tests"]
    protos = [arg for domain in domains for arg in ("--path", f"protos/aether/{domain}")]
    for command in (
        [tools / "ruff", "check", *paths],
        [tools / "ruff", "format", "--check", *paths],
        [tools / "buf", "lint", *protos],
        [tools / "buf", "format", "--diff", "--exit-code", *protos],
    ):
        result = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
        assert result.returncode == 0, (command, result.stdout, result.stderr)


def test_an_unexpected_compose_file_is_left_alone(repo: Path) -> None:
    compose = repo / "docker-compose.yml"
    compose.write_text("services:\n  auth:\n    command: [aether, serve, auth]\n")
    result = new_domain.generate("widgets", root=repo)
    assert not result.compose
    assert compose.read_text() == "services:\n  auth:\n    command: [aether, serve, auth]\n"
    assert "add by hand" in new_domain.next_steps(result)
