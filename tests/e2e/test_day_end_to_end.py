"""A simulated day through the real receiver, loader and models, checked against the ground truth.

One receiver process (`pbx55 serve` on a free loopback port), a few hundred calls with the
vendor's quirks, SIGTERM (which seals the landing files), `load_landed_pushes`, `build_models`
into a temporary DuckDB, then: every acknowledged push is in the raw table exactly once, and
`marts.fct_calls` agrees with the simulator's own model of every call. The BI copy, the daily
report and the notebook run on the result, so none of them can rot.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from foundation.settings import Settings
from pbx55.simulate import yesterday_in_sao_paulo
from pipelines.bi_copy import PUBLICATION_SCHEMA, SERVED_SCHEMA, publish_bi_copy
from pipelines.daily_report import write_daily_report
from pipelines.daily_report.figures import headline_figures, money
from pipelines.loader.load import load_landed_pushes
from simulator import SimulationConfig
from simulator.compare import (
    compare_calls,
    compare_journeys,
    fct_calls_rows,
    fct_journeys_rows,
)
from tests.e2e.report_page import parse_report
from tests.e2e.simulated_day import build_models_after_the_day, send_day
from tests.pipelines.older_duckdb import (
    METABASE_DRIVER_DUCKDB,
    older_duckdb_python,
    read_with_older_duckdb,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-token-0123456789abcdef"
CALLS = 400
SEED = 20261126

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def day_through_the_pipeline(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    settings = Settings.from_env(
        {
            "PBX55_DATA_DIR": str(data_dir),
            "PBX55_TOKENS": TOKEN,
            "PBX55_PII_KEY": "e2e-pii-key",
            "PBX55_TIMEZONE": "America/Sao_Paulo",
        }
    )
    config = SimulationConfig(
        day=yesterday_in_sao_paulo() - timedelta(days=6), calls=CALLS, seed=SEED, agents=6
    )
    report = send_day(settings, config, data_dir / "truth.jsonl")
    load_landed_pushes(settings)
    build_models_after_the_day(settings)
    return settings, report


def test_every_push_is_acknowledged(day_through_the_pipeline):
    _, report = day_through_the_pipeline
    assert report.rejected == 0, report.summary()
    assert all(result.push_id for result in report.delivery.results)


def test_every_acknowledged_push_is_in_the_raw_table_exactly_once(day_through_the_pipeline):
    settings, report = day_through_the_pipeline
    acknowledged = [result.push_id for result in report.delivery.results if result.acknowledged]
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as warehouse:
        rows = warehouse.execute("select push_id, body_sha256 from pbx55_raw.pushes").fetchall()
    counts = Counter(push_id for push_id, _ in rows)
    assert len(acknowledged) == len(set(acknowledged))
    assert [p for p in acknowledged if counts[p] != 1] == []
    # Anything else landed can only be a retry whose 200 got lost: the body of a sent push.
    sent_bodies = {hashlib.sha256(push.body).hexdigest() for push in report.rendered.pushes}
    acknowledged_set = set(acknowledged)
    assert [
        sha for push_id, sha in rows if push_id not in acknowledged_set and sha not in sent_bodies
    ] == []


def test_fct_calls_agrees_with_the_ground_truth_for_every_call(day_through_the_pipeline):
    settings, report = day_through_the_pipeline
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as warehouse:
        rows = fct_calls_rows(warehouse)
    comparison = compare_calls(report.truth, rows)
    assert comparison.agrees, comparison.report(examples=10)
    # the day really exercised what the comparison covers
    outcomes = {record["outcome"] for record in report.truth}
    assert {
        "answered",
        "abandoned_queue",
        "abandoned_ivr",
        "retained_ivr",
        "not_answered",
        "incomplete",
    } <= outcomes
    assert any(record["transferred_from_call_id"] for record in report.truth)


def test_fct_journeys_agrees_with_the_ground_truth(day_through_the_pipeline):
    settings, report = day_through_the_pipeline
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as warehouse:
        rows = fct_journeys_rows(warehouse)
    differences = compare_journeys(report.truth, rows)
    assert differences == [], "\n".join(differences[:20])
    legs_per_journey = {row["legs"] for row in rows}
    assert {1, 2} <= legs_per_journey


def test_bi_copy_and_notebook_run_on_the_result(day_through_the_pipeline):
    settings, _ = day_through_the_pipeline
    publication = publish_bi_copy(settings)
    assert publication.path == settings.bi_duckdb_path
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as warehouse:
        calls = warehouse.execute("select count(*) from marts.fct_calls").fetchone()[0]
    assert publication.tables["fct_calls"] == calls
    # A reader of the previous copy is undisturbed by the next publication.
    with duckdb.connect(str(settings.bi_duckdb_path), read_only=True) as reader:
        publish_bi_copy(settings)
        assert reader.execute("select count(*) from marts.fct_calls").fetchone()[0] == calls
    leftovers = [p for p in settings.bi_duckdb_path.parent.iterdir() if p.name.endswith(".partial")]
    assert leftovers == []
    day = _last_day(settings)
    summary = _notebook_summary(settings)
    [(central, offered)] = _bi_rows(
        settings,
        "select central_id, offered from marts.kpi_daily "
        "where reported_date = ? and call_kind = 'inbound' order by central_id limit 1",
        [day],
    )
    assert summary.startswith(f"Call centre on {day}: New inbound calls "), summary
    assert f"Offered legs {offered:,}," in summary
    assert summary.endswith(f"(central {central})"), summary


def _notebook_summary(settings: Settings) -> str:
    """Run the notebook headless on the BI copy `settings` name; the line it prints."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PBX55_")}
    environment |= settings.as_environment() | {"MPLBACKEND": "Agg"}
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "notebooks" / "call_centre.py")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout.strip().splitlines()[-1]


def _bi_rows(settings: Settings, sql: str, parameters: list[object] | None = None) -> list[tuple]:
    with duckdb.connect(str(settings.bi_duckdb_path), read_only=True) as served:
        return served.execute(sql, parameters or []).fetchall()


def _last_day(settings: Settings):
    return _bi_rows(settings, "select max(reported_date) from marts.kpi_daily")[0][0]


def test_the_daily_report_prints_the_marts_of_the_day_and_needs_nothing_outside(
    day_through_the_pipeline,
):
    settings, report = day_through_the_pipeline
    publish_bi_copy(settings)
    day = report.day.config.day
    assert _last_day(settings) == day  # the simulated day is the last complete one

    path = write_daily_report(settings)

    assert path == settings.data_dir / "reports" / f"daily-{day}.html"
    assert path.with_name("daily-latest.html").read_bytes() == path.read_bytes()
    page = parse_report(path.read_text(encoding="utf-8"))
    assert page.external_references == []
    assert page.notice is None
    centrals = report.day.centrals
    assert len(centrals) > 1
    # intervals, waits, abandons, cost, trend: each central's day has them all
    assert page.svgs == 5 * len(centrals)
    assert page.centrals == _expected_figures(settings, day)


def _expected_figures(settings: Settings, day) -> dict[str, dict[str, str]]:
    """Each central's headline figures as the marts hold them: its own row of the figure's mart
    (the kpi_daily row of its kind), or its rows summed where the figure is a count or amount."""
    expected: dict[str, dict[str, str]] = {}
    for figure in headline_figures():
        if figure.call_kind is None:
            sql = (
                f"select central_id, sum({figure.column}) from marts.{figure.mart} "  # noqa: S608
                "where reported_date = ? group by central_id"
            )
            parameters = [day]
        else:
            sql = (
                f"select central_id, {figure.column} from marts.{figure.mart} "  # noqa: S608
                "where reported_date = ? and call_kind = ?"
            )
            parameters = [day, figure.call_kind]
        values = dict(_bi_rows(settings, sql, parameters))
        centrals = _bi_rows(
            settings,
            "select distinct central_id from marts.kpi_daily where reported_date = ?",
            [day],
        )
        for (central,) in centrals:
            value = values.get(central)
            expected.setdefault(central, {})[figure.column] = figure.format(
                None if value is None else float(value)
            )
    return expected


def test_the_daily_report_of_one_hour_without_outbound_calls_or_of_no_marts(
    day_through_the_pipeline, tmp_path
):
    """The BI copy cut to one hour of inbound calls with nothing billed; then an empty one;
    then none at all. Each gives a report (the notebook too, on the hour), never a traceback."""
    settings, report = day_through_the_pipeline
    publish_bi_copy(settings)
    day = report.day.config.day
    [(busiest_hour,)] = _bi_rows(
        settings,
        "select hour_of_day from marts.kpi_by_hour where reported_date = ? "
        "order by offered desc limit 1",
        [day],
    )
    one_hour = _cut_copy(
        settings,
        tmp_path / "one_hour",
        f"reported_date = '{day}'",
        {
            "kpi_by_interval": f"hour(interval_start) = {busiest_hour}",
            "kpi_staffing_by_interval": f"hour(interval_start) = {busiest_hour}",
            "kpi_daily": "call_kind = 'inbound'",
            "kpi_by_tariff_class": "false",
            "kpi_by_caller_area": "false",
        },
    )
    page = parse_report(write_daily_report(one_hour).read_text(encoding="utf-8"))
    assert page.external_references == []
    assert page.notice is None
    assert page.centrals and all(
        figures["cost_total"] == money(None) for figures in page.centrals.values()
    )
    assert page.svgs == 4 * len(page.centrals)  # nothing billed: no cost plot
    assert _notebook_summary(one_hour).startswith(f"Call centre on {day}: ")

    empty = _cut_copy(settings, tmp_path / "empty", "false", {})
    page = parse_report((write_daily_report(empty)).read_text(encoding="utf-8"))
    assert page.notice == "The marts hold no complete day yet."
    assert page.centrals == {}

    nothing = dataclasses.replace(
        settings, data_dir=tmp_path / "none", duckdb_path=tmp_path / "none" / "warehouse.duckdb"
    )
    path = write_daily_report(nothing, day=day)
    assert path.name == f"daily-{day}.html"
    page = parse_report(path.read_text(encoding="utf-8"))
    assert page.notice.startswith("Nothing to report: no BI copy at ")


def _cut_copy(settings: Settings, data_dir: Path, keep: str, keep_in: dict[str, str]) -> Settings:
    """A BI copy of `settings`' under `data_dir` with the marts' rows where `keep` (and, in the
    tables named, `keep_in[table]`); the settings that read it."""
    cut = dataclasses.replace(
        settings, data_dir=data_dir, duckdb_path=data_dir / "warehouse.duckdb"
    )
    data_dir.mkdir(parents=True)
    source = str(settings.bi_duckdb_path).replace("'", "''")
    with duckdb.connect(str(cut.bi_duckdb_path)) as copy:
        copy.execute(f"attach '{source}' as source (read_only)")
        copy.execute(f"create schema {SERVED_SCHEMA}")
        copy.execute(f"create schema {PUBLICATION_SCHEMA}")
        copy.execute(
            f"create table {PUBLICATION_SCHEMA}.publication as "  # noqa: S608
            f"select * from source.{PUBLICATION_SCHEMA}.publication"
        )
        tables = copy.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = 'source' and table_schema = ?",
            [SERVED_SCHEMA],
        ).fetchall()
        for (table,) in tables:
            columns = {
                row[0]
                for row in copy.execute(f"describe source.{SERVED_SCHEMA}.{table}").fetchall()
            }
            condition = keep if "reported_date" in columns else "true"
            condition += f" and ({keep_in.get(table, 'true')})"
            copy.execute(
                f"create table {SERVED_SCHEMA}.{table} as "  # noqa: S608
                f"select * from source.{SERVED_SCHEMA}.{table} where {condition}"
            )
    return cut


@pytest.mark.parametrize("version", METABASE_DRIVER_DUCKDB)
def test_the_duckdb_of_the_metabase_driver_reads_every_mart_of_the_copy(
    day_through_the_pipeline, version
):
    settings, _ = day_through_the_pipeline
    python = older_duckdb_python(version)
    publication = publish_bi_copy(settings)
    for table, rows in publication.tables.items():
        # Every column as text: a type the older release could not read fails here.
        sql = f"select columns(*)::varchar from marts.{table}"  # noqa: S608
        with duckdb.connect(str(settings.bi_duckdb_path), read_only=True) as served:
            expected = sorted(map(list, served.execute(sql).fetchall()), key=repr)
        _, read = read_with_older_duckdb(python, settings.bi_duckdb_path, sql)
        assert len(read) == rows
        assert sorted(read, key=repr) == expected, table
