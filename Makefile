# Two commands on a fresh machine with Python 3.11 and make: `make demo`, `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTENSOR_FLAGS ?= compiledir=$(CURDIR)/build/pytensor

.PHONY: install demo test test-fast lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The main job (until the service exists): simulate a small cohort, fit it with a progress
# bar and report diagnostics; then show the bundled default model's diagnostics.
demo: $(STAMP)
	$(BIN)/recovery simulate --patients 30 --weeks 12 --seed 11 --out build/demo/cohort
	$(BIN)/recovery fit build/demo/cohort --out build/demo/model --draws 1000 --tune 1000 \
		--allow-bad-diagnostics
	@echo "--- bundled default model (data/default_model):"
	$(BIN)/recovery diagnostics data/default_model
	@echo "plots: build/demo/model/ppc.png, build/demo/model/population.png"

test: $(STAMP)
	$(BIN)/pytest -q

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check recovery tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/fit.py

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
