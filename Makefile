# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates or updates .venv from requirements.lock and installs Seva into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest install lock bench clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Seva needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "Could not create a virtualenv. On Debian/Ubuntu: sudo apt install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# make demo PORT=8080 HOST=0.0.0.0 (defaults: 8000 on 127.0.0.1, this machine only)
demo: $(STAMP)
	$(BIN)/seva demo $(if $(PORT),--port '$(PORT)') $(if $(HOST),--host '$(HOST)')

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/ussd_hops.py
	$(BIN)/python bench/smsc_sim.py
	$(BIN)/python bench/sms_throughput.py
	$(BIN)/python bench/rtc_calls.py
	$(BIN)/python bench/voice_calls.py
	$(BIN)/python bench/fuzz_parsers.py

# Re-pin every dependency (run after editing pyproject.toml's dependency lists).
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -e '.[dev]'
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^seva' > requirements.lock
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
