# Two commands: `make run` and `make test`. Everything else is installed by this file.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The one lock: every runtime, development and test package at the version that was tested, with the
# sha256 of each file. `make install` resolves nothing; `make lock` refreshes the lock (docs/dependencies.md).
LOCK := requirements.lock
STAMP := $(VENV)/.installed-$(shell cat $(LOCK) pyproject.toml | sha1sum | cut -c1-12)
UV_COMPILE = $(BIN)/uv pip compile --universal --python-version 3.11 --generate-hashes --no-annotate --custom-compile-command 'make lock'

.PHONY: install lock lock-upgrade run browser test test-fast chaos lint bench asyncapi clean

$(STAMP): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# After a change of pyproject.toml's pins, or to take new releases (lock-upgrade): the lock, then the image's
# two locks derived from it (same versions, runtime and build backend only).
lock: install
	$(UV_COMPILE) pyproject.toml deploy/k8s/image/build-requirements.in --extra dev --extra test -o $(LOCK) $(UPGRADE)
	$(UV_COMPILE) pyproject.toml -c $(LOCK) -o deploy/k8s/image/requirements.lock
	$(UV_COMPILE) deploy/k8s/image/build-requirements.in -c $(LOCK) -o deploy/k8s/image/build-requirements.lock

lock-upgrade:
	$(MAKE) lock UPGRADE=--upgrade

run: install
	$(BIN)/python -m devtools.infra.runner run

# Debian's Chromium for the back office's browser tests (installed with apt-get when missing; fails when it cannot)
browser: install
	$(BIN)/python -m devtools.browser

test: install browser
	$(BIN)/python -m pytest -ra

test-fast: install
	$(BIN)/python -m pytest -ra -m "not e2e"

# faults, fuzzing and the soak at full length (CHAOS_SEED replays a run; CHAOS_KILLS, SOAK_MINUTES shorten it)
chaos: install
	LEDGER_CHAOS=1 $(BIN)/python -m pytest -ra tests/faults

bench: install
	$(BIN)/python -m bench

asyncapi: install
	$(BIN)/python -m devtools.asyncapi_docs write

clean:
	rm -rf .data .pytest_cache .hypothesis

lint: install
	$(BIN)/ruff check shared services ledger_cli devtools tests bench
