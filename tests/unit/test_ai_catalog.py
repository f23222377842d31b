"""The model catalogue refuses, at start, what the API could not report."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.ai.catalog import BUILTIN, Catalog, load_file


def _catalogue(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(f'[[models]]\nid = "m"\nname = "M"\nprovider = "openai"\n{line}\n')
    return path


def test_the_builtin_catalogue_loads() -> None:
    assert Catalog(BUILTIN).get("gemini").id == "gemini-2.0-flash"


@pytest.mark.parametrize(
    "line",
    [
        "tokens_per_minute = 100000000000",  # beyond ModelRateLimit's int32
        "requests_per_minute = -1",
        'context_window = "big"',
    ],
)
def test_a_limit_the_api_cannot_report_is_refused(tmp_path: Path, line: str) -> None:
    field = line.split(" = ")[0]
    with pytest.raises(SystemExit, match=f"model 'm': {field} must be a whole number from 0 to 2147483647"):
        Catalog(load_file(_catalogue(tmp_path, line)))


def test_the_largest_int32_is_accepted(tmp_path: Path) -> None:
    spec = Catalog(load_file(_catalogue(tmp_path, "tokens_per_minute = 2147483647"))).get("m")
    assert spec.tokens_per_minute == 2**31 - 1
