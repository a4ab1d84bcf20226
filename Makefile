# The two commands: `make run` serves the dashboard, `make test` runs every test.
# Both set up what they need on a fresh machine (virtualenv, pinned packages;
# for tests also Debian's Chromium and CJK fonts when running as root).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test setup setup-test system-test-deps validate-grids bench clean

# The demo feed posts illustrative events through the API; DEMO_FEED=0 make run turns it off.
DEMO_FEED ?= 1

run: setup
	DEMO_FEED=$(DEMO_FEED) $(PY) app.py

test: setup-test
	$(PY) -m pytest -q -p no:cacheprovider tests

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
