# Every target bootstraps what it needs: uv (via pip), then .venv from the hashed lock.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV := .venv
BIN := $(VENV)/bin
export PBX55_DATA_DIR ?= $(CURDIR)/data

.PHONY: install prepare demo test lint dev docs bench clean uv

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

# Bytecode is compiled at install: many machines set PYTHONDONTWRITEBYTECODE, and every command
# would otherwise re-compile dagster, dbt and dlt on start (seconds each time).
$(VENV)/.installed: requirements.lock pyproject.toml | uv
	$(UV) venv --quiet --allow-existing --python 3.11 $(VENV)
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes --compile-bytecode requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

install: $(VENV)/.installed

# sqlfluff's dbt templater compiles into dbt_models/target-lint (dbt_models/.sqlfluff), so it
# may run beside the tests, which read dbt_models/target.
PYTHON_LINT := $(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports
SQL_LINT := cd dbt_models && ../$(BIN)/sqlfluff lint models tests

lint: install
	$(PYTHON_LINT)
	$(SQL_LINT)

# The dbt manifest the Dagster definitions are built from (never parsed at import).
prepare: install
	$(BIN)/pbx55 prepare

# Two pytest processes, one per core: most tests spend their time in single-threaded Python
# (dbt, dlt), so the suite takes about half as long; sqlfluff (2.6 min) runs beside them rather
# than before them. The first shard's and sqlfluff's output follow the second shard's; the
# target fails if any of the three does. The shards are balanced by the measured times
# (the first 738 s and the second 1148 s before tests/e2e moved to the first).
FIRST_SHARD := tests/models tests/e2e tests/ingest tests/simulator
test: install prepare
	$(PYTHON_LINT)
	@mkdir -p $(PBX55_DATA_DIR); \
	($(SQL_LINT)) > $(PBX55_DATA_DIR)/sqlfluff.log 2>&1 & sql=$$!; \
	$(BIN)/pytest -p no:cacheprovider $(FIRST_SHARD) > $(PBX55_DATA_DIR)/pytest-first-shard.log 2>&1 & first=$$!; \
	$(BIN)/pytest -p no:cacheprovider $(addprefix --ignore=,$(FIRST_SHARD)); second=$$?; \
	wait $$first; first_status=$$?; \
	wait $$sql; sql_status=$$?; \
	cat $(PBX55_DATA_DIR)/pytest-first-shard.log $(PBX55_DATA_DIR)/sqlfluff.log; \
	echo "pytest: $(FIRST_SHARD) exited $$first_status, the other tests $$second; sqlfluff $$sql_status"; \
	test $$first_status -eq 0 -a $$second -eq 0 -a $$sql_status -eq 0

demo: install
	$(BIN)/pbx55 demo

dev: prepare
	$(BIN)/python -m pbx55.dev

# The data dictionary: every model and column with its unit and formula (after `make demo`).
docs: install
	$(BIN)/pbx55 docs --port 8080

# Each benchmark prints its figures against its targets and fails only when its run went wrong
# (a push lost, rows missing); every one runs, and the target fails at the end naming those.
BENCHMARKS := receiver loader models
bench: install
	@failed=""; for name in $(BENCHMARKS); do \
		echo "== benchmarks/$$name.py"; \
		$(BIN)/python benchmarks/$$name.py || failed="$$failed $$name"; \
	done; \
	if [ -n "$$failed" ]; then echo "bench: failed:$$failed"; exit 1; fi

clean:
	rm -rf $(VENV) data dbt_models/target
