"""`pbx55 demo` on a small day: receiver with an outage, simulation, the Dagster jobs, KPIs
before and after reconciliation with the report API, agreement with the ground truth."""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from foundation.settings import Settings
from pbx55.demo import demo_settings, next_demo_day, run_demo
from pbx55.simulate import yesterday_in_sao_paulo

pytestmark = pytest.mark.slow


def test_demo_runs_end_to_end_in_its_own_directory_and_the_next_run_takes_the_day_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    # The demo sets DAGSTER_HOME and PATH for its in-process run; restore both afterwards.
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unused"))
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))
    data_dir = tmp_path / "data"
    # A production data directory: the demo must leave its landing files and warehouse alone.
    production = Settings.from_env(
        {"PBX55_DATA_DIR": str(data_dir), "PBX55_PII_KEY": "production-key"}
    )
    production.pushes_dir.mkdir(parents=True)
    production.duckdb_path.write_bytes(b"")

    # Yesterday in São Paulo when the demo started or, if midnight passed while it ran, after.
    yesterday_before = yesterday_in_sao_paulo()
    assert run_demo(production, calls=150) == 0
    yesterday_after = yesterday_in_sao_paulo()

    settings = demo_settings(production)
    written = sorted(path.name for path in data_dir.iterdir())
    assert written == ["demo", "landing", "warehouse.duckdb"]
    assert list(production.pushes_dir.iterdir()) == []
    assert production.duckdb_path.read_bytes() == b""
    output = capsys.readouterr().out
    shown = re.findall(r"^Call centre on (\d{4}-\d\d-\d\d), by central$", output, re.MULTILINE)
    assert len(shown) == 2 and shown[0] == shown[1], output[-3000:]  # before and after the report
    assert "Coverage: the report's calls that the pushes had" in output
    first_day = date.fromisoformat(shown[0])
    assert first_day in (yesterday_before, yesterday_after)
    # Before the reconciliation the legs block alone; after it every lens, a column per central.
    lines = output.splitlines()
    headers = [line.split("  ")[0] for line, under in pairwise(lines) if under[:3] == "---"]
    blocks = ["Queue work (legs)", "Customers (journeys)", "Queue work (legs)", "Cost"]
    assert [header for header in headers if not header.startswith("central")] == blocks
    assert re.search(r"^Service level +\d+\.\d%  ", output, re.MULTILINE), output[-3000:]
    report_line = next(line for line in output.splitlines() if line.startswith("Daily report"))
    assert Path(report_line.split(": ", 1)[1].strip()) == (
        settings.data_dir / "reports" / f"daily-{first_day}.html"
    )
    assert (settings.data_dir / "reports" / f"daily-{first_day}.html").exists()
    agreement = next(line for line in output.splitlines() if "agree with the ground truth" in line)
    agreeing, total = agreement.split(" ")[0].split("/")
    assert agreeing == total, output[-3000:]
    rows = int(re.search(r"\((\d+) rows in marts.fct_calls\)", agreement)[1])
    with duckdb.connect(str(settings.bi_duckdb_path), read_only=True) as bi:
        assert bi.execute("select count(*) from marts.fct_calls").fetchone()[0] == rows
        from_report = bi.execute("select sum(calls_from_report) from marts.kpi_daily").fetchone()
        assert from_report[0] > 0, "the outage's calls are completed from the report"
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        assert instance.get_runs_count() == 2, "the runs are recorded for `make dev` to show"
        [reconcile_run] = instance.get_runs(dg.RunsFilter(job_name="reconcile_report_days"))
        checks = [
            entry.dagster_event.asset_check_evaluation_data
            for entry in instance.all_logs(
                reconcile_run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            )
        ]
    # the outage is a data-quality warning (the alert sensors post it), not a failed run
    [coverage] = [check for check in checks if check.check_name == "dq_report_coverage"]
    assert not coverage.passed and coverage.severity == dg.AssetCheckSeverity.WARN
    assert next_demo_day(settings) == first_day - timedelta(days=1)
