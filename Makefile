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

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	cd dbt_models && ../$(BIN)/sqlfluff lint models tests

# The dbt manifest the Dagster definitions are built from (never parsed at import).
prepare: install
	$(BIN)/pbx55 prepare

# Two pytest processes, one per core: most tests spend their time in single-threaded Python
# (dbt, dlt), so the suite takes about half as long. The first shard's output follows the
# second's; the target fails if either does. The shards are balanced by the measured times
# (the first 738 s and the second 1148 s before tests/e2e moved to the first).
FIRST_SHARD := tests/models tests/e2e tests/ingest tests/simulator
test: lint prepare
	@mkdir -p $(PBX55_DATA_DIR); \
	$(BIN)/pytest -p no:cacheprovider $(FIRST_SHARD) > $(PBX55_DATA_DIR)/pytest-first-shard.log 2>&1 & first=$$!; \
	$(BIN)/pytest -p no:cacheprovider $(addprefix --ignore=,$(FIRST_SHARD)); second=$$?; \
	wait $$first; first_status=$$?; \
	cat $(PBX55_DATA_DIR)/pytest-first-shard.log; \
	echo "pytest: $(FIRST_SHARD) exited $$first_status, the other tests $$second"; \
	test $$first_status -eq 0 -a $$second -eq 0

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
