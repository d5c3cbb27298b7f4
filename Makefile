# Every target sets itself up: on a fresh machine `make demo` and `make test` are all you need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HARNESS := $(VENV)/bin/ab-harness
STAMP  := $(VENV)/.installed

.PHONY: setup node-tools demo serve test fuzz bench lint docs clean

setup: $(STAMP)

# Spectral, Redocly and Mermaid, pinned by package-lock.json, into the ignored node_modules/ (never globally).
NODE_STAMP := node_modules/.installed
node-tools: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(HARNESS) demo

serve: setup
	$(HARNESS) serve $(SERVE_ARGS)

# On every core (pytest-xdist); a module's tests stay on one worker (--dist loadfile), so module-scoped
# fixtures such as the defect matrix's runs and the browser start once per module. Measured on the
# 2-core machine: serial 7:47, loadfile 5:43, load/loadgroup 6:55 (fixtures started on every worker:
# 700 s of CPU instead of 500). PYTEST_ARGS="-n 0" runs in one process.
test: setup
	$(PY) -m pytest -n auto --dist loadfile $(PYTEST_ARGS)

fuzz: setup
	$(HARNESS) fuzz --start-mock

# PostgreSQL is measured too when it answers on 127.0.0.1:5432 (or AB_BENCH_POSTGRES_URL is set).
bench: setup
	AB_BENCH_POSTGRES_URL="$${AB_BENCH_POSTGRES_URL:-$$(pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgresql://postgres@127.0.0.1:5432/test)}" \
	  $(HARNESS) bench --output bench/results.json

# openapi-spec-validator and our rules, Spectral, Redocly; then no break against the last recorded release.
lint: setup node-tools
	$(HARNESS) lint --external
	$(HARNESS) contract diff $$(ls openapi/releases/*.yaml | sort -V | tail -n 1) openapi/agentbuddy.yaml

# Self-contained HTML of the contract (open build/docs/index.html; no network needed).
docs: setup node-tools
	$(HARNESS) docs --output build/docs

clean:
	rm -rf $(VENV) .harness .pytest_cache .hypothesis node_modules build
