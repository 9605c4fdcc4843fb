"""A day with the receiver down for an hour, then reconciled with the report API.

The real receiver is stopped and started again by the simulator while it sends the day, so the
pushes of the window are lost for real. The loader and the models run on what landed; then the
day's report API (the simulator's emulator over HTTP) is pulled and the models built again. After
reconciliation every finished call is in `fct_calls` with its true outcome, wait and talk, and
the reconciliation mart counts the calls the pushes lost exactly as the ground truth does.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import duckdb
import pytest

from foundation.settings import Settings
from pbx55.receiver_process import running_receiver
from pbx55.simulate import yesterday_in_sao_paulo
from pipelines.loader.load import load_landed_pushes
from pipelines.report_api.pull import pull_report_days
from simulator import Outage, SimulationConfig, run_simulation
from simulator.compare import compare_calls, fct_calls_rows
from simulator.report_api import running_report_api, simulated_api_keys
from tests.e2e.simulated_day import build_models_after_the_day

TOKEN = "e2e-token-0123456789abcdef"
OUTAGE = "10:00-11:00"

pytestmark = pytest.mark.slow


def _marts(connection: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return connection.execute(sql).fetchall()


@pytest.fixture(scope="module")
def day_with_an_outage(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("outage") / "data"
    settings = Settings.from_env(
        {"PBX55_DATA_DIR": str(data_dir), "PBX55_TOKENS": TOKEN, "PBX55_PII_KEY": "e2e-pii-key"}
    )
    config = SimulationConfig(
        day=yesterday_in_sao_paulo() - timedelta(days=8), calls=500, seed=1207, agents=7
    )
    with running_receiver(settings.as_environment()) as receiver:
        report = run_simulation(
            config,
            url=receiver.push_url,
            token=settings.tokens[0],
            truth_path=data_dir / "truth.jsonl",
            concurrency=8,
            progress=False,
            outage=Outage.parse(OUTAGE),
            take_down=receiver.stop,
            bring_up=receiver.start,
        )
    load_landed_pushes(settings)
    build_models_after_the_day(settings)
    return settings, report


def test_the_outage_loses_calls_that_the_pushes_alone_cannot_see(day_with_an_outage):
    settings, report = day_with_an_outage
    assert report.lost_in_outage > 50 and report.rejected == 0, report.summary()
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        comparison = compare_calls(report.truth, fct_calls_rows(connection))
    # the pushes' warehouse is right about what it could know: absent or unfinished calls
    assert comparison.agrees, comparison.report(examples=10)
    assert comparison.calls_expected_absent > 10


@pytest.fixture(scope="module")
def reconciled(day_with_an_outage):
    settings, report = day_with_an_outage
    keys = simulated_api_keys([report.day])
    with running_report_api([report.day], keys) as api:
        settings = dataclasses.replace(
            settings, report_api_url=api.base_url, report_api_keys=tuple(keys.items())
        )
        pull_report_days(settings, [report.day.config.day])
        build_models_after_the_day(settings)
        with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
            first = _snapshot(connection)
        # the nightly pull of a day already pulled: nothing in the marts moves
        pull_report_days(settings, [report.day.config.day])
        build_models_after_the_day(settings)
    return settings, report, first


def _snapshot(connection: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {
        "fct_calls": _marts(
            connection,
            "select central_id, call_id, outcome, wait_seconds, talk_seconds, cost, "
            "final_state_source, journey_id from marts.fct_calls order by all",
        ),
        "reconciliation": _marts(
            connection,
            "select * exclude (kpi_key, built_at, day_pulled_at) "
            "from marts.kpi_reconciliation_daily order by all",
        ),
        "kpi_daily": _marts(
            connection,
            "select * exclude (kpi_key, built_at) from marts.kpi_daily order by all",
        ),
    }


def test_after_reconciliation_every_finished_call_agrees_with_the_ground_truth(reconciled):
    settings, report, _first = reconciled
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        rows = fct_calls_rows(connection, reconciled=True)
    comparison = compare_calls(report.truth, rows, reconciled=True)
    assert comparison.agrees, comparison.report(examples=10)
    from_report = [row for row in rows if row["final_state_source"] == "report"]
    lost = [r for r in report.truth if r["in_report"] and not r["final_push_acknowledged"]]
    assert len(from_report) == len(lost) > 10


def test_the_reconciliation_mart_counts_the_lost_calls_exactly(reconciled):
    settings, report, _first = reconciled
    voice = [r for r in report.truth if r["in_report"]]
    no_push = [r for r in voice if not r["pushes_acknowledged"]]
    no_final = [r for r in voice if r["pushes_acknowledged"] and not r["final_push_acknowledged"]]
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        [(in_report, in_both, missing, unfinished, coverage, from_report)] = _marts(
            connection,
            "select sum(calls_in_report), sum(calls_in_both), sum(missing_from_pushes_calls), "
            "sum(final_push_missing_calls), sum(calls_in_both) / sum(calls_in_report), "
            "sum(calls_from_report) from marts.kpi_reconciliation_daily",
        )
        [(counted_from_report,)] = _marts(
            connection, "select sum(calls_from_report) from marts.kpi_daily"
        )
    assert (in_report, missing, unfinished) == (len(voice), len(no_push), len(no_final))
    assert in_both == len(voice) - len(no_push)
    assert coverage < 0.99
    assert from_report == counted_from_report == len(no_push) + len(no_final)


def test_pulling_the_same_day_again_changes_no_mart(reconciled):
    settings, _report, first = reconciled
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        assert _snapshot(connection) == first
