# minyi (民意): developer entry points. `make help` lists them.
#
# Every target is idempotent and incremental: stamp files under .venv/ and node_modules/ remember what
# was installed, so a second `make run` reinstalls nothing unless pyproject.toml or package-lock.json changed.
# Works with GNU make 3.81+ (macOS) and 4.x. Needs: Python 3.11+ (python3), Node.js 20+ with npm.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
MINYI := $(BIN)/minyi

# Stamps: a file's time says when that step last succeeded.
VENV_STAMP := $(VENV)/.stamp-venv
INSTALL_STAMP := $(VENV)/.stamp-install
TEST_STAMP := $(VENV)/.stamp-install-test
NPM_STAMP := node_modules/.stamp-npm-ci

# Local development runs with DEBUG on unless the caller says otherwise (DJANGO_DEBUG=0 make run).
DEV_ENV := DJANGO_DEBUG=$${DJANGO_DEBUG:-1}
PYTEST_ARGS ?=
# make test runs pytest in parallel (pytest-xdist; one test database per worker). PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= auto
XDIST := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)

.PHONY: help run install install-test assets messages i18n migrate demo serve test lint fmt \
        check-migrations pytest e2e bench clean distclean

help: ## list the targets
	@echo "minyi: make <target>"
	@grep -E '^[a-z][a-zA-Z_-]*:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  %-18s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- installation

$(VENV_STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
		{ echo "minyi needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1). Try: make PYTHON=python3.12 run"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	@touch $@

$(INSTALL_STAMP): pyproject.toml $(VENV_STAMP)
	$(PIP) install -q -e .
	@touch $@

$(TEST_STAMP): pyproject.toml $(VENV_STAMP)
	$(PIP) install -q -e '.[test]'
	@touch $@ $(INSTALL_STAMP)

$(NPM_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ (it brings npm)"; exit 1; }
	npm ci --no-audit --no-fund
	@touch $@

install: $(INSTALL_STAMP) ## create .venv and install minyi (pip install -e .)

install-test: $(TEST_STAMP) ## install minyi with the test extras

assets: $(NPM_STAMP) ## front-end packages from npm (npm ci): htmx, echarts, pico.css, fonts

messages: $(INSTALL_STAMP) ## compile the translation catalogues (.po -> .mo, with polib)
	@$(DEV_ENV) $(MINYI) i18n_build --compile-only

i18n: $(INSTALL_STAMP) ## rebuild the catalogues: extract msgids, zh_Hant via OpenCC, merge en, compile
	$(DEV_ENV) $(MINYI) i18n_build

# ---------------------------------------------------------------- running

migrate: $(INSTALL_STAMP) ## apply database migrations (SQLite db.sqlite3 unless DATABASE_URL is set)
	$(DEV_ENV) $(MINYI) migrate --noinput

demo: migrate ## load the demo data once (no-op when cases exist) and print the demo logins
	$(DEV_ENV) $(MINYI) demo --if-empty

run: $(INSTALL_STAMP) assets messages demo ## install, migrate, load the demo once, serve on 127.0.0.1:8000 (PORT=... to change)
	@echo "minyi: http://127.0.0.1:$(PORT)/  (Ctrl-C stops)"
	$(DEV_ENV) $(MINYI) runserver 127.0.0.1:$(PORT)

serve: $(INSTALL_STAMP) ## serve only (no install, no migrate)
	$(DEV_ENV) $(MINYI) runserver 127.0.0.1:$(PORT)

# ---------------------------------------------------------------- checks

lint: $(TEST_STAMP) ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(TEST_STAMP) ## ruff format and ruff check --fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check-migrations: $(TEST_STAMP) ## fail when a model change has no migration
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=config.settings.test

pytest: $(TEST_STAMP) assets messages ## pytest without browser tests (PYTEST_ARGS=... passes options)
	$(BIN)/pytest -m "not e2e" $(XDIST) $(PYTEST_ARGS)

test: $(TEST_STAMP) assets messages ## ruff, migrations check, pytest (not e2e): what CI runs per database
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=config.settings.test
	$(BIN)/pytest -m "not e2e" $(XDIST) $(PYTEST_ARGS)

e2e: $(TEST_STAMP) assets messages ## browser tests (Playwright driving Debian's /usr/bin/chromium)
	$(BIN)/pytest -m e2e tests/e2e $(PYTEST_ARGS)

bench: $(INSTALL_STAMP) ## list the benchmarks; `make bench B=name` runs benchmarks/name.py
ifdef B
	$(BIN)/python benchmarks/$(B).py
else
	@echo "Benchmarks (run one with: make bench B=<name>, or $(BIN)/python benchmarks/<name>.py):"
	@$(BIN)/python -c 'import ast, pathlib; \
	files = sorted(pathlib.Path("benchmarks").glob("*.py")); \
	[print(f"  {p.stem:28} " + ((ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) or "").strip().splitlines() or [""])[0]) for p in files if not p.name.startswith("_")]; \
	files or print("  (none yet)")'
endif

# ---------------------------------------------------------------- cleaning

clean: ## remove build output and caches (keeps .venv, node_modules, the database and media)
	rm -rf staticfiles var/test-media test-artifacts bench-out build dist .pytest_cache .ruff_cache .hypothesis
	find locale -name '*.mo' -delete
	find . -path ./.venv -prune -o -path ./node_modules -prune -o -name __pycache__ -type d -print0 | xargs -0 rm -rf

distclean: clean ## also remove .venv and node_modules (the database and media stay)
	rm -rf $(VENV) node_modules *.egg-info
