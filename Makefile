# Two entry points: `make demo` and `make test`. Each installs whatever is missing first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CITY ?= demo/city.duckdb

.PHONY: install system demo test lint bench clean viewer

$(STAMP): pyproject.toml scripts/install-system.sh tests/threed/validator/package-lock.json \
		tests/clients/web/package-lock.json
	bash scripts/install-system.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,dev]'
	# compiled loops (the MVT encoder's, the point-in-polygon join's, the validity pre-check's): built once here (numba keeps
	# them beside the module), not in a request
	$(PY) -c "from serving.vector.encode import warm; warm()"
	$(PY) -c "from gis.inside import warm; warm()"
	$(PY) -c "from gis.valid import warm; warm()"
	npm ci --prefix tests/threed/validator --no-audit --no-fund --silent
	npm ci --prefix tests/clients/web --no-audit --no-fund --silent
	touch $(STAMP)

install: $(STAMP)

# the deck.gl viewer served by `cim serve`: rebuilt when dist is missing or older than its sources
VIEWER_SRC := $(wildcard viewer/src/*.js viewer/src/*/*.js viewer/src/*.css) viewer/index.html \
	viewer/package.json viewer/package-lock.json viewer/vite.config.js
viewer/dist/index.html: $(VIEWER_SRC) | $(STAMP)
	cd viewer && npm ci --no-audit --no-fund && npm run build
	touch $@

viewer: viewer/dist/index.html

lint: install
	$(VENV)/bin/ruff check .

test: install lint viewer
	$(VENV)/bin/pytest -q

demo: install viewer
	test -f $(CITY) || $(VENV)/bin/cim demo $(CITY)
	$(VENV)/bin/cim info $(CITY)
	$(VENV)/bin/cim serve $(CITY) --host 127.0.0.1 --port 8000

# every benchmark, one table of ratios, bench/RESULTS.md rewritten (SCALE=1000000 for the issue's city)
SCALE ?= 100000
# the peers (TiPg, TiTiler, py3dtiles) are the `bench` extra, installed here and not for `make test`
bench: install
	$(PY) -m pip install --quiet -e '.[all,dev,bench]'
	$(PY) -m bench --scale $(SCALE)

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache
