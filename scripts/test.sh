#!/usr/bin/env bash
# Everything CI checks, in order: generated code is fresh, protos lint and stay
# compatible, Python lints and type-checks, then the whole test suite.
# Run via `make test` (which first creates .venv and installs the project).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

step "generated code is fresh (aether gen)"
aether gen >/dev/null 2>&1
if [ -n "$(git status --porcelain -- gen examples/go)" ]; then
  git status --short -- gen examples/go | head -20
  echo "gen/ or examples/go/go.mod is stale: run 'make gen' and commit the result" >&2
  exit 1
fi

step "buf lint, format, breaking"
buf lint
buf format -d --exit-code
if git rev-parse -q --verify HEAD~1 >/dev/null; then
  # Each commit must stay wire- and JSON-compatible with its parent (buf.yaml: WIRE_JSON).
  buf breaking --against ".git#ref=HEAD~1"
fi

step "ruff"
ruff check .
ruff format --check .

step "mypy"
mypy

step "pytest"
pytest -q "$@"
