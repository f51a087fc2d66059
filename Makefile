# fieldbot: `make run` runs the bot, `make test` runs the tests. Both build .venv from the lock file first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast test-postgresql lint bench bench-quick lock clean

# Every dependency comes pinned and hash-checked from requirements.lock (made from pyproject.toml by `make lock`);
# the project itself is installed editable on top, with no download of its own.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/fieldbot start

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The whole suite again with the bot on PostgreSQL (a throwaway server the tests start and stop themselves), where
# the server binaries are installed; `make test` already runs the storage and many-council tests on it.
test-postgresql: $(STAMP)
	@if $(BIN)/python -c 'import sys; from tests.pg import server_binaries; sys.exit(server_binaries() is None)'; then \
		FIELDBOT_TEST_DATABASE=postgresql $(BIN)/python -m pytest -q; \
	else echo "PostgreSQL suite skipped: no initdb/pg_ctl found (apt install postgresql)"; fi

# The tests that start no subprocess (no `fieldbot` process, no crash or load test): a quick loop while editing.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# Benchmarks (not part of `make test`): the bot against the floor of PTB and of SQLite; see bench/README.md.
bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --quick

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# After a change to the dependencies in pyproject.toml: pin them again (newest versions the index offers).
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --strip-extras --generate-hashes --allow-unsafe --extra dev --extra simulator \
		--output-file requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
