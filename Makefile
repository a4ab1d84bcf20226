# The two commands: `make run` serves the dashboard, `make test` runs every test.
# Both set up what they need on a fresh machine (virtualenv, pinned packages;
# for tests also Debian's Chromium, CJK fonts, PostgreSQL and PostGIS when running as root).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint test-sqlite test-postgres serve-multi setup setup-test system-test-deps pg-test-deps validate-grids bench clean plotly-bundle

# The demo feed posts illustrative events through the API; DEMO_FEED=0 make run turns it off.
# app.py serves through waitress (a production WSGI server), the feed and the escalation sweep beside it.
DEMO_FEED ?= 1

run: setup
	DEMO_FEED=$(DEMO_FEED) $(PY) app.py

# Two passes: every test on the embedded SQLite store, then the tests marked `store`
# (store, services, ingest, imports, workflow, API, migrations, several servers) again
# on a throwaway PostgreSQL + PostGIS server made for the run (scripts/pg-test-server.sh;
# each pytest run makes its own databases on it). The browser tests run on SQLite only.
# Before them, `make lint`: ruff over the project and mypy over the core (settings in pyproject.toml).
# Lint and both passes always run; `make test` fails if any of them failed.
test: setup-test pg-test-deps
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(MAKE) --no-print-directory test-sqlite || status=1; \
	$(MAKE) --no-print-directory test-postgres || status=1; \
	if [ $$status != 0 ]; then echo "make test: lint or a pass failed (see above)" >&2; fi; \
	exit $$status

lint: setup-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test-sqlite: setup-test
	$(PY) -m pytest -q -p no:cacheprovider tests

test-postgres: setup-test pg-test-deps
	bash scripts/pg-test-server.sh run $(PY) -m pytest -q -p no:cacheprovider -m store tests

# PostgreSQL 15 and PostGIS 3 from Debian, when missing (needs root, as CI has).
pg-test-deps:
	@bash scripts/pg-test-server.sh install

# Several app processes on one store, as a deployment runs them (README: "Deploying on
# PostgreSQL with several app servers"). DATABASE_URL=postgresql+psycopg://... for PostgreSQL;
# on one machine the SQLite file works too.
WORKERS ?= 2
serve-multi: setup
	$(VENV)/bin/gunicorn -w $(WORKERS) -b $${HOST:-127.0.0.1}:$${PORT:-8050} --timeout 120 'app:server'

setup: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

setup-test: setup system-test-deps $(TEST_STAMP)

$(TEST_STAMP): requirements-test.txt $(STAMP)
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

# Chromium renders the map in the browser tests; Noto CJK draws the Chinese.
system-test-deps:
	@if command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null; \
	else echo "Browser tests need Debian packages chromium and fonts-noto-cjk: run 'sudo apt-get install chromium fonts-noto-cjk' or 'make test' as root." >&2; exit 1; fi

validate-grids: setup
	$(PY) -m township validate-grids $(FILE)

clean:
	rm -rf $(VENV) var

# The benchmark of docs/design.md §4 at every size (bench/run.py: filter change, assignment, cold load against
# folium and pyecharts, ingest, freshness, memory); writes bench/results.md. SIZES=township for a quick one.
SIZES ?= township county city
bench: setup-test
	$(PY) -m bench.run --size $(SIZES)

# The app on generated scale data (bench/scale.py; built under var/scale/ on first use): SIZE=township|county|city.
SIZE ?= county
.PHONY: run-scale
run-scale: setup
	$(PY) -m bench.scale run $(SIZE)

# plotly.js with only the trace types the pages draw: assets/vendor/plotly/plotly-township.min.js, committed,
# so `make run` and `make test` need no Node. Rebuild it (Node + npm, from the npm registry only) after a plotly
# upgrade or when a page draws a new trace type: scripts/plotly-bundle/README.md.
plotly-bundle:
	cd scripts/plotly-bundle && npm ci --no-audit --no-fund && node build.mjs
