"""The dbt project end to end: raw rows written by hand, `build_models`, marts a user reads.

DuckDB runs everywhere; Postgres runs where the local server answers (always in CI), and its marts
must equal DuckDB's.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from foundation.settings import Settings
from pipelines.dbt_runner import build_models
from tests.models.raw_pushes import PushFactory
from tests.models.scenario import AS_OF_UTC, QUEUE, first_batch, second_batch
from tests.models.warehouse import append_raw, connect, snapshot

VARS = {"as_of_utc": AS_OF_UTC}
RAW_PERSONAL_VALUES = [
    "11987654321",
    "12345678901",
    "agent5000@example.com",
    "https://recordings.example.com",
]


def mart_rows(settings: Settings, table: str, prefix: str = "") -> list[dict]:
    with connect(settings) as connection:
        cursor = connection.cursor()
        cursor.execute(f"select * from {prefix}marts.{table}")  # noqa: S608
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def rows_by_key(settings: Settings, table: str, key: str, prefix: str = "") -> dict[str, dict]:
    return {row[key]: row for row in mart_rows(settings, table, prefix)}


@pytest.fixture
def duckdb_settings(settings: Settings) -> Settings:
    return settings


def test_duckdb_build_reduces_calls_links_journeys_and_updates_incrementally(
    duckdb_settings: Settings, mart_tables: list[str]
) -> None:
    settings = duckdb_settings
    factory = PushFactory()
    # A first run before any push arrived must not stop later runs from picking pushes up.
    append_raw(settings, [])
    build_models(settings, dbt_vars=VARS)
    append_raw(settings, first_batch(factory))
    build_models(settings, unit_tests=True, dbt_vars=VARS)

    calls = rows_by_key(settings, "fct_calls", "call_id")
    assert set(calls) == {
        "c1",
        "c2",
        "c3",
        "c4",
        "c5",
        "c6",
        "c7",
        "t1",
        "t2",
        "u1",
        "u2",
        "u3",
        "s1",
        "m1",
    }
    c1 = calls["c1"]
    # Out of order, retried and with an empty final status: still answered, the retry not counted.
    assert (c1["outcome"], c1["push_count"], c1["late_push_count"]) == ("answered", 5, 1)
    assert (c1["queue"], c1["branch_mask"], c1["wait_seconds"], c1["talk_seconds"]) == (
        QUEUE,
        "5000",
        12,
        120,
    )
    assert c1["has_recording"] and c1["tariff_class"] == "VC2" and c1["billed_minutes"] == 2.0
    assert (c1["caller_ddd"], c1["caller_uf"], c1["disconnection"]) == ("11", "SP", "external")
    assert {call: calls[call]["outcome"] for call in ("c2", "c3", "c4", "c5", "c6", "c7")} == {
        "c2": "abandoned_queue",
        "c3": "abandoned_queue",
        "c4": "retained_ivr",
        "c5": "answered",
        "c6": "in_progress",
        "c7": "incomplete",
    }
    assert calls["c3"]["is_short_abandon"] and not calls["c2"]["is_short_abandon"]
    assert calls["c5"]["call_kind"] == "outbound" and calls["c5"]["billed_minutes"] == 0.8
    assert calls["s1"]["call_kind"] == "sms" and calls["s1"]["tariff_class"] == "SMS"
    journeys_of = {call: row["journey_id"] for call, row in calls.items()}
    assert journeys_of["t2"] == "t1" and calls["t2"]["is_transfer_in"]
    assert journeys_of["u2"] == journeys_of["u3"] == "u1" and calls["u3"]["journey_depth"] == 2

    journeys = rows_by_key(settings, "fct_journeys", "journey_id")
    assert (journeys["t1"]["legs"], journeys["t1"]["total_wait_seconds"]) == (2, 40)
    assert journeys["u1"]["legs"] == 3 and journeys["u1"]["is_answered"]
    assert journeys["c1"]["is_repeated_by_caller_24h"]  # c2 came from the same caller
    assert journeys["c4"]["is_repeated_by_caller_24h"] is None  # anonymous: never clustered

    assert calls["m1"]["reported_date"] == date(2026, 11, 21)  # no call_date yet: its receipt
    daily = {
        row["call_kind"]: row
        for row in mart_rows(settings, "kpi_daily")
        if row["reported_date"] == date(2026, 11, 20)
    }
    inbound = daily["inbound"]
    assert (inbound["legs"], inbound["inbound_calls"], inbound["transfer_in_legs"]) == (11, 8, 3)
    assert (inbound["offered"], inbound["answered"], inbound["abandoned"]) == (10, 6, 2)
    assert (inbound["in_progress"], inbound["incomplete"], inbound["unmeasured_legs"]) == (1, 1, 2)
    assert (inbound["abandoned_ivr"], inbound["retained_ivr"], inbound["ivr_retained_rate"]) == (
        0,
        1,
        0.125,
    )
    # c7's final push never came: its talk and cost are unknown, its wait only the wait so far.
    c7 = calls["c7"]
    assert (c7["talk_seconds"], c7["cost"], c7["billed_minutes"], c7["is_wait_partial"]) == (
        None,
        None,
        None,
        True,
    )
    assert daily["sms"]["sms_cost"] == 0.1 and daily["sms"]["voice_cost"] == 0

    _assert_no_personal_data(settings, mart_tables)

    append_raw(settings, second_batch(factory))
    build_models(settings, dbt_vars=VARS)
    calls = rows_by_key(settings, "fct_calls", "call_id")
    assert calls["c6"]["outcome"] == "answered"  # its final push arrived
    assert calls["c7"]["outcome"] == "answered"  # a late final push revives an incomplete call
    assert calls["c1"]["outcome"] == "answered" and calls["c1"]["late_push_count"] == 2
    assert calls["u4"]["journey_id"] == "u1" and calls["u3"]["has_transfer_out"]
    assert rows_by_key(settings, "fct_journeys", "journey_id")["u1"]["legs"] == 4
    moved = calls["m1"]
    assert (moved["reported_date"], moved["moved_from_reported_date"]) == (
        date(2026, 11, 20),
        date(2026, 11, 21),
    )

    incremental = snapshot(settings, mart_tables)
    build_models(settings, full_refresh=True, dbt_vars=VARS)
    assert snapshot(settings, mart_tables) == incremental


def test_postgres_marts_equal_duckdb_marts(
    duckdb_settings: Settings, postgres_settings: Settings, mart_tables: list[str]
) -> None:
    pg_settings = postgres_settings
    batches = [first_batch(PushFactory()), second_batch(PushFactory())]
    # The factories number pushes alike, so both warehouses receive identical rows.
    for number, batch in enumerate(batches):
        append_raw(duckdb_settings, batch)
        append_raw(pg_settings, batch)
        build_models(duckdb_settings, dbt_vars=VARS)
        build_models(pg_settings, unit_tests=number == 0, dbt_vars=VARS)

    duckdb_marts = snapshot(duckdb_settings, mart_tables)
    postgres_marts = snapshot(pg_settings, mart_tables)
    for table in mart_tables:
        assert postgres_marts[table] == duckdb_marts[table], table
    assert len(duckdb_marts["fct_calls"]) == 16


def _assert_no_personal_data(settings: Settings, mart_tables: list[str]) -> None:
    with connect(settings) as connection:
        for table in mart_tables:
            rows: list[Any] = connection.execute(f"select * from marts.{table}").fetchall()  # noqa: S608
            text = repr(rows)
            for value in RAW_PERSONAL_VALUES:
                assert value not in text, (table, value)
