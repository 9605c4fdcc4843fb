"""A simulated day through the real receiver, loader and models, checked against the ground truth.

One receiver process (`pbx55 serve` on a free loopback port), a few hundred calls with the
vendor's quirks, SIGTERM (which seals the landing files), `load_landed_pushes`, `build_models`
into a temporary DuckDB, then: every acknowledged push is in the raw table exactly once, and
`marts.fct_calls` agrees with the simulator's own model of every call. The BI copy and the
notebook run on the result, so neither can rot.
"""

from __future__ import annotations

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
from pipelines.bi_copy import publish_bi_copy
from pipelines.loader.load import load_landed_pushes
from simulator import SimulationConfig
from simulator.compare import (
    compare_calls,
    compare_journeys,
    fct_calls_rows,
    fct_journeys_rows,
)
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
