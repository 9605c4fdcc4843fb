"""What every fault test does after its fault: load normally, check the contract, maybe build."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from tests.faults.fault_matrix import MatrixRow
from tests.faults.fault_warehouse import Observation, Warehouse, observe


def load(warehouse: Warehouse, row: MatrixRow, *, what: str = "load") -> None:
    """A normal load in this process, through the one entry point."""
    from pipelines.loader.load import load_landed_pushes

    try:
        load_landed_pushes(warehouse.settings)
    except Exception as error:
        row.symptom = f"{what} raised {type(error).__name__}: {root_cause(error)}"
        row.record(observe(warehouse))
        raise


def verify(warehouse: Warehouse, row: MatrixRow, *, build: bool = False) -> Observation:
    """Every landed push id in `pushes` exactly once, one ledger row per sealed file; with
    `build`, `pbx55 build` (the dbt models and tests) must succeed on what was loaded."""
    seen = observe(warehouse)
    row.record(seen)
    problems = seen.violations()
    build_error = _build(warehouse, row) if build else None
    if build_error:
        problems.append(build_error)
    if problems:
        row.symptom = "; ".join(problems)
        pytest.fail(f"{seen.summary()}: " + "; ".join(problems), pytrace=False)
    return seen


def _build(warehouse: Warehouse, row: MatrixRow) -> str | None:
    from pipelines.dbt_runner import build_models

    # The pushes landed an hour ago: build as if calls without a final push were past the
    # 2 h grace period, so the build covers every outcome, whatever the time of day.
    as_of = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
    settings = dataclasses.replace(
        warehouse.settings, as_of_utc=as_of.strftime("%Y-%m-%d %H:%M:%S")
    )
    try:
        build_models(settings)
    except Exception as error:
        row.build = "failed"
        failures = _dbt_failures(settings.data_dir / "dbt" / "target")
        return f"pbx55 build failed ({root_cause(error)}): {failures}"
    row.build = "ok"
    return None


def _dbt_failures(target: Path) -> str:
    """The nodes that errored or failed in dbt's last run, with dbt's message."""
    try:
        results = json.loads((target / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return "no run_results.json"
    failed = [
        f"{result['unique_id']}: {_first_line(result.get('message') or '')}"
        for result in results
        if result.get("status") in ("error", "fail", "runtime error")
    ]
    return "; ".join(failed[:5]) or "no failed node in run_results.json"


def root_cause(error: BaseException) -> str:
    """The innermost exception's type and first line (dlt wraps what the destination said)."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return f"{type(error).__name__}: {_first_line(error)}"


def _first_line(value: object) -> str:
    lines = str(value).strip().splitlines()
    return lines[0][:300] if lines else ""
