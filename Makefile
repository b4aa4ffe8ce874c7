# Two commands: `make run` (everything embedded) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint fmt bench clean

# Reinstall only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/followup run

# The suite runs on every core (pytest-xdist): each worker has its own PostgreSQL database, free
# ports and Redis namespace. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check sequences tracker tests bench
	$(BIN)/ruff format --check sequences tracker tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format sequences tracker tests bench
	$(BIN)/ruff check --fix sequences tracker tests bench

bench: $(STAMP)
	$(BIN)/python bench/tracking.py

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
