# Every target sets itself up: on a fresh machine `make demo` and `make test` are all you need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HARNESS := $(VENV)/bin/ab-harness
STAMP  := $(VENV)/.installed

.PHONY: setup demo serve test fuzz bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(HARNESS) demo

serve: setup
	$(HARNESS) serve

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

fuzz: setup
	$(HARNESS) fuzz --start-mock

# PostgreSQL is measured too when it answers on 127.0.0.1:5432 (or AB_BENCH_POSTGRES_URL is set).
bench: setup
	AB_BENCH_POSTGRES_URL="$${AB_BENCH_POSTGRES_URL:-$$(pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgresql://postgres@127.0.0.1:5432/test)}" \
	  $(HARNESS) bench --output bench/results.json

lint: setup
	$(HARNESS) lint

clean:
	rm -rf $(VENV) .harness .pytest_cache .hypothesis
