# zitadel-bff: every target installs what it needs first (Python venv in .venv, the test
# provider's Node modules), so each works on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OP_STAMP := devtools/op/node_modules/.package-lock.json

.PHONY: install demo run test lint bench screenshots clean

install: $(STAMP) $(OP_STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

$(OP_STAMP): devtools/op/package.json devtools/op/package-lock.json
	cd devtools/op && npm ci --no-audit --no-fund --loglevel=error

demo: install  ## the app with a local ZITADEL-shaped provider (no account needed)
	$(PY) -m devtools.demo

run: install  ## the app against the ZITADEL instance configured in .env
	@test -f .env || { echo "make run: no .env found here: copy .env.example to .env and fill it in (zitadel-bff secret prints a SESSION_SECRET)"; exit 2; }
	$(VENV)/bin/zitadel-bff serve

test: install  ## every test: unit, integration (real provider, SQLite, Redis), browser
	$(PY) -m pytest --cov=zitadel_bff --cov-branch --cov-report=term:skip-covered --cov-fail-under=95

lint: install  ## ruff and mypy strict on src, tests, bench and devtools; node --check on the provider
	$(VENV)/bin/ruff check src tests bench devtools
	$(VENV)/bin/mypy  # the packages listed under [tool.mypy] in pyproject.toml
	for f in devtools/op/*.mjs devtools/op/keys/*.mjs; do node --check $$f || exit 1; done

bench: install  ## performance benchmarks (wrk), see docs/PERFORMANCE.md
	$(PY) -m bench

screenshots: install  ## regenerate docs/screenshots/ in Chromium
	$(PY) -m tests.e2e.screenshots

clean:
	rm -rf $(VENV) devtools/op/node_modules .pytest_cache .mypy_cache .ruff_cache
