# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap .venv from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean demo-data

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/syncer run --config config/demo.yaml

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

# Regenerate the bundled demo data (deterministic: same seed, same bytes).
demo-data: $(STAMP)
	$(BIN)/python scripts/gen_demo.py --out config/demo

bench: $(STAMP)
	$(BIN)/python bench/rollups.py --tasks 10000

clean:
	rm -rf $(VENV) out .syncer .pytest_cache
