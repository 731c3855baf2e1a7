# Two entry points: `make demo` and `make test`. Each installs whatever is missing first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CITY ?= demo/city.duckdb

.PHONY: install system demo test lint bench clean

$(STAMP): pyproject.toml scripts/install-system.sh tests/threed/validator/package-lock.json
	bash scripts/install-system.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,dev]'
	npm ci --prefix tests/threed/validator --no-audit --no-fund --silent
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(VENV)/bin/ruff check .

test: install lint
	$(VENV)/bin/pytest -q

demo: install
	test -f $(CITY) || $(VENV)/bin/cim demo $(CITY)
	$(VENV)/bin/cim info $(CITY)

bench: install
	$(PY) -m bench.ingest_bench --scale 100000

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache
