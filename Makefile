# riskgraph: two commands on a fresh machine with only Python.
#   make run   set up .venv, materialise the whole graph on the bundled data, serve the Dagster UI and the API
#   make test  set up .venv and run the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)

.PHONY: setup run materialize serve test lint bench clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/riskgraph materialize
	$(BIN)/riskgraph serve

materialize: setup
	$(BIN)/riskgraph materialize

serve: setup
	$(BIN)/riskgraph serve

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf .riskgraph .pytest_cache .ruff_cache
