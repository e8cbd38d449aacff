# The two commands a newcomer needs: `make demo` and `make test`.
# Both create or update .venv: `make demo` installs only what Seva runs (requirements.lock);
# `make test` adds the test, lint and type-check tools on top (requirements-dev.lock).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest install install-dev lock bench catalog cluster clean

install: $(RUNTIME_STAMP)

install-dev: $(DEV_STAMP)

# requirements.lock pins setuptools too: the editable install below is built with the venv's
# own setuptools (no build isolation), which must read pyproject.toml's licence expression.
$(RUNTIME_STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Seva needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "Could not create a virtualenv. On Debian/Ubuntu: sudo apt install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.lock
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	@touch $@

# make demo PORT=8080 HOST=0.0.0.0 (defaults: 8000 on 127.0.0.1, this machine only)
demo: $(RUNTIME_STAMP)
	$(BIN)/seva demo $(if $(PORT),--port '$(PORT)') $(if $(HOST),--host '$(HOST)')

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/lint-imports

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

# The suite runs in PYTEST_WORKERS processes (pytest-xdist), each with its own databases,
# browser and Janus; PYTEST_WORKERS=0 runs it in this one process. Tests marked with an
# xdist_group run in one process together (the cluster tests share one cluster).
PYTEST_WORKERS ?= 2
pytest: $(DEV_STAMP)
	$(BIN)/python -m pytest $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadgroup) $(PYTEST_ARGS)

test: lint typecheck pytest

# After adding or changing an English message (src/seva/i18n/locale/en/LC_MESSAGES/seva.po):
# bring every translation in step with it and list what is left to translate per language.
catalog: $(RUNTIME_STAMP)
	$(BIN)/python -m seva.i18n.tool

bench: $(DEV_STAMP)
	$(BIN)/python bench/ussd_hops.py
	$(BIN)/python bench/smsc_sim.py
	$(BIN)/python bench/sms_throughput.py
	$(BIN)/python bench/rtc_calls.py
	$(BIN)/python bench/voice_calls.py
	$(BIN)/python bench/fuzz_parsers.py

# Seva scaled out on this machine until Ctrl-C: its own PostgreSQL and Redis, an SMSC
# simulator, two nodes (seva serve --workers 2), two dispatchers and nginx in front, all on
# free loopback ports in a temporary folder (needs postgresql, redis-server, nginx-light).
cluster: $(RUNTIME_STAMP)
	$(BIN)/python scripts/cluster.py $(CLUSTER_ARGS)

# Re-pin every dependency (run after editing pyproject.toml's dependency lists): the runtime
# set first, then the dev extra resolved against those pins, so the two files never disagree.
LOCK_VENV := .venv-lock
lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip setuptools
	$(LOCK_VENV)/bin/python -m pip install --quiet -e .
	{ echo '# What Seva needs to run (`make demo`), every version pinned; setuptools builds the editable'; \
	  echo "# install. Written by \`make lock\` from pyproject.toml's dependencies."; \
	  $(LOCK_VENV)/bin/python -m pip freeze --all --exclude-editable | grep -v -E '^(pip|seva)=='; \
	} > requirements.lock.new
	$(LOCK_VENV)/bin/python -m pip install --quiet -c requirements.lock.new -e '.[dev]'
	{ echo '# The test, lint and type-check tools (`make test`), pinned on top of the runtime lock and'; \
	  echo "# resolved against it, so the two agree. Written by \`make lock\` from pyproject.toml's dev extra."; \
	  echo '-r requirements.lock'; \
	  $(LOCK_VENV)/bin/python -m pip freeze --all --exclude-editable | grep -v -E '^(pip|seva)==' \
	    | grep -v -x -F -f requirements.lock.new; \
	} > requirements-dev.lock
	mv requirements.lock.new requirements.lock
	rm -rf $(LOCK_VENV) src/seva.egg-info

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
