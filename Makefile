# Two commands on a fresh machine with Python 3.11 and make: `make demo`, `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTENSOR_FLAGS ?= compiledir=$(CURDIR)/build/pytensor

.PHONY: install demo test test-fast lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@echo "make: installing Recovery and its pinned dependencies into $(VENV) (once; about 4 min)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The main job: the service, a refit worker and the dashboard on the bundled default model,
# demo logins printed, the model compiled before anyone waits (scripts/demo.sh says each step
# with its time). Ctrl-C stops it.
demo: $(STAMP)
	@echo "make demo: the service, a refit worker and the dashboard with demo patients; about 1 min (4 more the first time, installing)"
	@BIN=$(BIN) scripts/demo.sh

# Tests run against SQLite and a throwaway PostgreSQL (Debian's package, started here; the
# PostgreSQL runs are skipped where it cannot be installed, and required in CI). One run on
# the two cores (xdist), fast and MCMC tests together; the tests on the one shared fit stay on
# one worker (--dist loadgroup), so it is sampled once (decision 0010).
test: $(STAMP)
	@url=$$(scripts/test-postgres.sh start | sed -n 's/^export RECOVERY_TEST_PG_URL=//p'); \
	export RECOVERY_TEST_PG_URL=$${RECOVERY_TEST_PG_URL:-$$url}; \
	$(BIN)/pytest -q -n 2 --dist loadgroup --durations=15; rc=$$?; \
	scripts/test-postgres.sh stop; exit $$rc

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check model engine service dashboard charts cli tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/forecast.py
	$(BIN)/python bench/update.py
	$(BIN)/python bench/param_recovery.py
	$(BIN)/python bench/fit.py
	$(BIN)/python bench/quick_look.py
	$(BIN)/python bench/forecast_batch.py
	$(BIN)/python bench/report.py

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
