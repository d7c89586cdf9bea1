# riskgraph: two commands on a fresh machine with only Python.
#   make run   set up .venv, serve the Dagster UI and the API, materialise the whole graph on the bundled data
#   make test  set up .venv and run the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)

.PHONY: setup run materialize serve test lint format bench clean schema

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	@# MariaDB Connector/Python builds against libmariadb (Debian: libmariadb-dev); without it, PyMySQL serves
	@if command -v mariadb_config >/dev/null 2>&1; then \
	  $(BIN)/python -m pip install --quiet -c requirements.lock -e ".[mariadb]"; \
	else \
	  echo "note: mariadb_config not found, so no MariaDB Connector/Python (mariadb+mariadbconnector:// URLs);" \
	       "for it, install libmariadb-dev, then: $(BIN)/pip install -c requirements.lock -e '.[mariadb]'"; \
	fi
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

setup: $(STAMP)

# serve first, then materialise through Dagster's webserver: its runs then show on Dagster's Overview
run: setup
	$(BIN)/riskgraph serve --demo-key --materialize

materialize: setup
	$(BIN)/riskgraph materialize

serve: setup
	$(BIN)/riskgraph serve

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff's rules and formatting, and the layers of docs/architecture.md (import-linter contracts in pyproject.toml)
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

# rewrite the tree in ruff's format (make lint fails on anything this would change)
format: setup
	$(BIN)/ruff format .

# Regenerate the initial warehouse migration from risk_assets/storage/schema.py (while it is the only one) and
# db/init/01_schema.sql (the MySQL DDL the migrations emit); tests/storage keeps both in step.
schema: setup
	$(BIN)/python -m risk_assets.storage.migrations

clean:
	rm -rf .riskgraph .pytest_cache .ruff_cache
