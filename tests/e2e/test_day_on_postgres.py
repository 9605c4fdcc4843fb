"""A simulated day through the real receiver into Postgres: the loader and models the DuckDB
end-to-end test runs, on the other warehouse (`PBX55_WAREHOUSE=postgres`), checked against the
ground truth the same way."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import timedelta

import psycopg2
import pytest

from foundation.settings import Settings
from pbx55.simulate import yesterday_in_sao_paulo
from pipelines.daily_report import write_daily_report
from pipelines.daily_report.figures import count, percent
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

TOKEN = "e2e-token-0123456789abcdef"

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres_prefix(postgres_url: str, postgres_schema_suffix: str):
    prefix = f"pbx55_e2e_{postgres_schema_suffix}_"
    yield prefix
    with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select schema_name from information_schema.schemata where schema_name like %s",
            [prefix + "%"],
        )
        for (schema,) in cursor.fetchall():
            cursor.execute(f'drop schema "{schema}" cascade')
    connection.close()


def test_a_day_on_postgres_agrees_with_the_ground_truth(
    tmp_path, postgres_url: str, postgres_prefix: str
) -> None:
    settings = Settings.from_env(
        {
            "PBX55_DATA_DIR": str(tmp_path / "data"),
            "PBX55_TOKENS": TOKEN,
            "PBX55_PII_KEY": "e2e-pii-key",
        }
    )
    config = SimulationConfig(
        day=yesterday_in_sao_paulo() - timedelta(days=5), calls=150, seed=5505, agents=4
    )
    report = send_day(settings, config, tmp_path / "truth.jsonl")
    on_postgres = dataclasses.replace(
        settings, warehouse="postgres", postgres_url=postgres_url, schema_prefix=postgres_prefix
    )

    load_landed_pushes(on_postgres)
    build_models_after_the_day(on_postgres)

    with psycopg2.connect(postgres_url) as connection:
        cursor = connection.cursor()
        cursor.execute(f"select push_id from {on_postgres.raw_schema}.pushes")  # noqa: S608
        counts = Counter(push_id for (push_id,) in cursor.fetchall())
        calls = fct_calls_rows(connection, schema=f"{postgres_prefix}marts")
        journeys = fct_journeys_rows(connection, schema=f"{postgres_prefix}marts")
        cursor.execute(
            f"select central_id, offered, service_level from {postgres_prefix}marts.kpi_daily "  # noqa: S608
            "where reported_date = %s and call_kind = 'inbound' order by central_id",
            [config.day],
        )
        inbound = cursor.fetchall()
    connection.close()
    # The daily report reads the marts schema of the Postgres warehouse (its prefix included).
    page = parse_report(write_daily_report(on_postgres).read_text(encoding="utf-8"))
    assert page.notice is None
    assert {
        central: (figures["offered"], figures["service_level"])
        for central, figures in page.centrals.items()
    } == {central: (count(offered), percent(float(level))) for central, offered, level in inbound}
    acknowledged = [result.push_id for result in report.delivery.results if result.acknowledged]
    assert acknowledged and [p for p in acknowledged if counts[p] != 1] == []
    assert len(calls) >= config.calls  # transfers add legs
    comparison = compare_calls(report.truth, calls)
    assert comparison.agrees, comparison.report(examples=10)
    differences = compare_journeys(report.truth, journeys)
    assert differences == [], "\n".join(differences[:20])
