# tally: two commands — `make demo` runs it, `make test` proves it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo serve test lint typecheck unit bench soak clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet -e ./clients/python  # the Python client, which tests/client exercises
	touch $(STAMP)

setup: $(STAMP)

## The demo: real prices, customers, a usage stream, on the store `tally serve` uses
## (TALLY_DATABASE_URL, by default SQLite at ./tally.db; docs/configuration.md).
demo: setup
	$(BIN)/tally demo

serve: setup
	$(BIN)/tally serve --dev

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check domain application infrastructure interfaces projections tests clients bench

typecheck: setup
	$(BIN)/mypy
	$(BIN)/mypy --strict clients/python/tally_client

## Everything CI runs: lint, types, and the whole suite on SQLite and PostgreSQL.
test: setup lint typecheck
	bash scripts/ensure-postgres
	bash scripts/ensure-chromium
	$(BIN)/pytest -q

bench: setup
	bash scripts/ensure-postgres
	$(BIN)/python -m bench
	$(BIN)/python -m bench.keys
	$(BIN)/python -m bench.auditors
	bash scripts/ensure-wrk
	$(BIN)/python -m bench.wrk

## A long model-based run of the whole ledger on both stores (docs/audit.md): a new
## seed each time unless TALLY_MODEL_SEED is set; TALLY_MODEL_STEPS steps per store.
soak: setup
	bash scripts/ensure-postgres
	TALLY_MODEL_STEPS=$${TALLY_MODEL_STEPS:-3000} TALLY_MODEL_SEED=$${TALLY_MODEL_SEED:-$$(date +%s)} \
		$(BIN)/pytest -q tests/model/test_model_based.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tally-demo.db*
