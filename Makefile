# Two commands: `make run` and `make test`. Everything else is installed by this file.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install run test test-fast chaos lint bench asyncapi clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

run: install
	$(BIN)/ledger-dev run

test: install
	$(BIN)/python -m pytest -ra

test-fast: install
	$(BIN)/python -m pytest -ra -m "not e2e"

# faults, fuzzing and the soak at full length (CHAOS_SEED replays a run; CHAOS_KILLS, SOAK_MINUTES shorten it)
chaos: install
	LEDGER_CHAOS=1 $(BIN)/python -m pytest -ra tests/faults

bench: install
	$(BIN)/python -m bench

asyncapi: install
	$(BIN)/python -m shared.asyncapi_docs write

clean:
	rm -rf .data .pytest_cache .hypothesis

lint: install
	$(BIN)/ruff check shared services tests bench
