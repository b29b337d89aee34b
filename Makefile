# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap .venv from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Quiet bootstrap: errors only (-qq), no "new pip available" notice. A failed install still fails the target;
# our own packaging is checked for warnings by tests/test_packaging.py, which builds verbosely.
PIP := $(BIN)/python -m pip --disable-pip-version-check -qq

.PHONY: demo demo-close demo-warehouse test lint bench clean demo-data dist-check schema screenshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	@test -f out/demo.xlsx || $(MAKE) --no-print-directory demo-close
	$(BIN)/syncer run --config config/demo.yaml

# `make demo` plus the DuckDB file out/demo.duckdb (the README's SQL queries run against it).
demo-warehouse: $(STAMP)
	@test -f out/demo.xlsx || $(MAKE) --no-print-directory demo-close
	$(BIN)/python scripts/demo_warehouse.py

# Once, for a fresh demo workbook: finance closes October 2026 on the data as it stood before two late edits
# (config/demo-before-close.yaml); `make demo` then shows those edits as adjustment rows in November.
demo-close: $(STAMP)
	rm -f out/demo-state.db
	$(BIN)/syncer run --quiet --config config/demo-before-close.yaml > /dev/null
	$(BIN)/syncer close 2026-10 --config config/demo-before-close.yaml --by "Finance (demo)"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

# Regenerate the committed JSON Schema of the config after changing the config models (a test fails while it is stale).
schema: $(STAMP)
	$(BIN)/syncer schema > config/syncer.schema.json

# Regenerate the bundled demo data (deterministic: same seed, same bytes).
demo-data: $(STAMP)
	$(BIN)/python scripts/gen_demo.py --out config/demo

# End to end at 100k tasks (the replay is built once under .bench/): full, unchanged and 100-changed runs.
# docs/dashboard.png and docs/campaigns.png from the demo workbook (needs LibreOffice and poppler; not in `test`)
screenshots: demo
	$(BIN)/python scripts/screenshots.py --workbook out/demo.xlsx --out docs --dpi 130

bench: $(STAMP)
	$(BIN)/python bench/sync.py

# Release check: an isolated sdist + wheel build, then the wheel and `pip install .` each in a clean venv.
dist-check: $(STAMP)
	rm -rf dist .dist-check
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m build --outdir dist .
	$(PYTHON) -m venv .dist-check/wheel
	.dist-check/wheel/bin/python -m pip --disable-pip-version-check -qq install dist/*.whl
	.dist-check/wheel/bin/syncer --version
	$(PYTHON) -m venv .dist-check/source
	.dist-check/source/bin/python -m pip --disable-pip-version-check -qq install .
	.dist-check/source/bin/syncer --version
	rm -rf build

clean:
	rm -rf $(VENV) out .syncer .pytest_cache dist .dist-check build
