"""The report API's days reconciled with the pushes (issue 12): real loaders, real dbt builds.

The pushes of `tests.models.scenario` and the report of `tests.models.report_scenario` go
through the loaders' own code (`append_raw`, `load_report_days`) into DuckDB and Postgres; the
marts are read as a user reads them. The day is first built before the report API exists, then
pulled, pulled again unchanged, pulled without a call, and completed by late pushes: after each
step the incremental marts must equal a full refresh.
"""

# The SQL here names only the test's own schemas.
# ruff: noqa: S608

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

from foundation.settings import Settings
from pipelines.dbt_runner import build_models
from pipelines.report_api.pull import load_report_days
from tests.models.raw_pushes import PushFactory
from tests.models.report_scenario import (
    DAY,
    EXPECTED_REASONS,
    FIRST_PULL_AT,
    REPORT_PERSONAL_VALUES,
    VOICE_BOT_QUEUE,
    report_day,
)
from tests.models.scenario import AS_OF_UTC, OTHER_QUEUE, QUEUE, first_batch, second_batch
from tests.models.warehouse import append_raw, connect, snapshot

VARS = {"as_of_utc": AS_OF_UTC}
SECOND_PULL_AT = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
THIRD_PULL_AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
NEXT_DAY = date(2026, 11, 21)


def _rows(settings: Settings, sql: str) -> list[dict[str, Any]]:
    with connect(settings) as connection:
        cursor = connection.cursor()
        cursor.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _mart(settings: Settings, table: str, where: str = "true") -> list[dict[str, Any]]:
    return _rows(settings, f"select * from {settings.schema_prefix}marts.{table} where {where}")


def _calls(settings: Settings) -> dict[str, dict[str, Any]]:
    return {row["call_id"]: row for row in _mart(settings, "fct_calls")}


def _reasons(settings: Settings) -> dict[tuple[str, bool], str]:
    return {
        (row["call_id"], row["is_voice_bot_entry"]): row["reason"]
        for row in _mart(settings, "fct_call_reconciliation")
    }


def _inbound_day(settings: Settings) -> dict[str, Any]:
    [row] = _mart(settings, "kpi_daily", f"reported_date = '{DAY}' and call_kind = 'inbound'")
    return row


def _by_queue(settings: Settings) -> dict[str, dict[str, Any]]:
    rows = _mart(settings, "kpi_reconciliation_daily", f"reported_date = '{DAY}'")
    return {row["queue"]: row for row in rows}


def _agents(settings: Settings) -> dict[str, dict[str, Any]]:
    rows = _mart(settings, "kpi_agent_time_daily", f"reported_date = '{DAY}'")
    return {row["branch_mask"]: row for row in rows}


def _build_equals_full_refresh(settings: Settings, marts: list[str]) -> dict[str, list[dict]]:
    """Build incrementally, then from scratch: the marts must not differ."""
    build_models(settings, dbt_vars=VARS)
    incremental = snapshot(settings, marts)
    build_models(settings, full_refresh=True, dbt_vars=VARS)
    assert snapshot(settings, marts) == incremental
    return incremental


def _without(tables: dict[str, list[dict]], column: str) -> dict[str, list[str]]:
    return {
        table: sorted(repr(sorted((n, v) for n, v in row.items() if n != column)) for row in rows)
        for table, rows in tables.items()
    }


def test_duckdb_reconciles_the_report_completes_fct_calls_and_follows_each_pull(
    settings: Settings, mart_tables: list[str]
) -> None:
    factory = PushFactory()
    append_raw(settings, first_batch(factory))
    build_models(settings, dbt_vars=VARS)
    # Without the report API: every call is the pushes', on a day no pull covers.
    calls = _calls(settings)
    assert {row["final_state_source"] for row in calls.values()} == {"pushes"}
    assert set(_reasons(settings).values()) == {"not_pulled", "sms_not_reported"}
    assert _inbound_day(settings)["calls_from_report"] == 0
    assert _mart(settings, "kpi_agent_time_daily") == []

    # The report tables appear with the first pull; the next build reads them.
    load_report_days(settings, [report_day()])
    build_models(settings, unit_tests=True, dbt_vars=VARS)

    assert _reasons(settings) == {
        **{(call_id, False): reason for call_id, reason in EXPECTED_REASONS.items()},
        ("c4", True): "voice_bot_duplicate",
    }
    calls = _calls(settings)
    sources = {call_id: row["final_state_source"] for call_id, row in calls.items()}
    assert {call_id for call_id, source in sources.items() if source == "report"} == {
        "c7",
        "r1",
        "r2",
    }
    assert sources["c1"] == sources["c4"] == "both" and sources["t2"] == "pushes"
    # c7's final push never came: the report's outcome, wait, talk, agent; no cost.
    c7 = calls["c7"]
    assert (c7["outcome"], c7["wait_seconds"], c7["talk_seconds"], c7["branch_mask"]) == (
        "answered",
        25,
        30,
        "5000",
    )
    assert (c7["cost"], c7["push_count"], c7["has_final_push"]) == (None, 2, False)
    # r1 no push reported: added, cost and tariff unknown, in the journey the report names.
    r1 = calls["r1"]
    assert (r1["outcome"], r1["queue"], r1["talk_seconds"], r1["journey_id"]) == (
        "answered",
        QUEUE,
        100,
        "t1",
    )
    assert (r1["cost"], r1["balance_after"], r1["tariff_class"], r1["push_count"]) == (
        None,
        None,
        "unknown",
        0,
    )
    assert (r1["reported_date"], r1["caller_uf"], r1["has_recording"]) == (DAY, "RJ", True)
    journeys = {row["journey_id"]: row for row in _mart(settings, "fct_journeys")}
    assert (journeys["t1"]["legs"], journeys["r2"]["legs"], r1["is_transfer_in"]) == (3, 1, True)
    # c3: the pushes' final state stands; the reconciliation shows both sides.
    assert calls["c3"]["outcome"] == "abandoned_queue"
    [c3] = _mart(settings, "fct_call_reconciliation", "call_id = 'c3'")
    assert (c3["push_outcome"], c3["report_outcome"], c3["report_talk_seconds"]) == (
        "abandoned_queue",
        "answered",
        30,
    )
    [t1] = _mart(settings, "fct_call_reconciliation", "call_id = 't1'")
    assert (t1["push_wait_seconds"], t1["report_wait_seconds"], t1["wait_difference_seconds"]) == (
        10,
        15,
        5,
    )

    # r2's wait is no duration: null and flagged, the rest of the row used.
    assert (calls["r2"]["outcome"], calls["r2"]["wait_seconds"]) == ("abandoned_queue", None)
    assert calls["r2"]["dq_report_parse_errors"] and not calls["r1"]["dq_report_parse_errors"]
    [staged] = _rows(
        settings, "select parse_errors from staging.stg_pbx55__report_calls where call_id = 'r2'"
    )
    assert staged == {"parse_errors": "call_time_waiting"}

    inbound = _inbound_day(settings)
    assert (inbound["legs"], inbound["calls_from_report"]) == (13, 3)
    assert (inbound["offered"], inbound["answered"], inbound["abandoned"]) == (12, 8, 3)
    assert (inbound["incomplete"], inbound["in_progress"]) == (0, 1)
    queues = {
        row["queue"]: row["calls_from_report"]
        for row in _mart(settings, "kpi_by_queue", f"reported_date = '{DAY}'")
    }
    assert queues == {QUEUE: 3, OTHER_QUEUE: 0}

    by_queue = _by_queue(settings)
    assert set(by_queue) == {QUEUE, OTHER_QUEUE, "none", VOICE_BOT_QUEUE}
    queue = by_queue[QUEUE]
    assert (queue["calls_in_report"], queue["calls_in_pushes"], queue["calls_in_both"]) == (
        10,
        9,
        8,
    )
    assert (queue["coverage"], queue["final_push_coverage"]) == (0.8, 0.7)
    assert (queue["matched_calls"], queue["missing_from_pushes_calls"]) == (5, 2)
    assert (queue["still_running_calls"], queue["report_parse_error_calls"]) == (1, 1)
    assert (by_queue["none"]["coverage"], by_queue["none"]["sms_not_reported_calls"]) == (1.0, 1)
    assert by_queue[VOICE_BOT_QUEUE]["voice_bot_duplicate_calls"] == 1
    assert by_queue[VOICE_BOT_QUEUE]["calls_in_report"] == 0
    # The day's report_01 totals beside ours, the same on every queue's row.
    day_columns = [name for name in queue if name.startswith("day_")]
    assert all(row[name] == queue[name] for row in by_queue.values() for name in day_columns)
    assert (queue["day_report_queue_legs"], queue["day_offered"]) == (11, 12)
    assert queue["day_report_mean_wait_seconds"] == 11
    # Each IVR end beside its own: c4, retained, is no abandon on either side.
    assert (queue["day_report_retained_ivr"], queue["day_retained_ivr"]) == (1, 1)
    assert (queue["day_report_rows_without_call_id"], queue["day_pulled_at"]) == (1, FIRST_PULL_AT)

    agents = _agents(settings)
    assert set(agents) == {"5000", "5001"}
    ana = agents["5000"]
    assert (ana["report_talk_seconds"], ana["report_idle_seconds"], ana["occupancy"]) == (
        3600,
        1800,
        0.6667,
    )
    # Its answered legs: c1 from the pushes, c7 and r1 from the report.
    assert (ana["report_productivity"], ana["answered_legs"], ana["calls_from_report"]) == (
        0.855,
        3,
        2,
    )
    assert agents["5001"]["occupancy"] == 0.75

    _assert_no_personal_data_in_models(settings)
    first = snapshot(settings, mart_tables)

    # The same answers pulled again: only the pull's time moves. (Incremental builds are
    # compared with a full refresh after the pulls that change something, below.)
    load_report_days(settings, [report_day(SECOND_PULL_AT)])
    build_models(settings, dbt_vars=VARS)
    again = snapshot(settings, mart_tables)
    assert _without(again, "day_pulled_at") == _without(first, "day_pulled_at")
    assert {row["day_pulled_at"] for row in _by_queue(settings).values()} == {SECOND_PULL_AT}

    # A newer pull no longer lists r1: gone from every mart, its day recounted.
    load_report_days(settings, [report_day(THIRD_PULL_AT, without={"r1"})])
    _build_equals_full_refresh(settings, mart_tables)
    assert "r1" not in _calls(settings)
    journeys = {row["journey_id"]: row for row in _mart(settings, "fct_journeys")}
    assert (journeys["t1"]["legs"], journeys["t1"]["total_talk_seconds"]) == (2, 120)
    assert ("r1", False) not in _reasons(settings)
    inbound = _inbound_day(settings)
    assert (inbound["legs"], inbound["calls_from_report"]) == (12, 2)
    assert _by_queue(settings)[QUEUE]["calls_in_report"] == 9
    assert _agents(settings)["5000"]["calls_from_report"] == 1

    # Late pushes: c7's final push arrives, so both sources know its end; c9 is new.
    append_raw(settings, second_batch(factory))
    _build_equals_full_refresh(settings, mart_tables)
    calls = _calls(settings)
    assert (calls["c7"]["final_state_source"], calls["c7"]["cost"]) == ("both", None)
    reasons = _reasons(settings)
    assert (reasons[("c7", False)], reasons[("c9", False)]) == ("matched", "missing_from_report")
    assert _inbound_day(settings)["calls_from_report"] == 1


def test_postgres_reconciles_as_duckdb_does(
    settings: Settings, postgres_settings: Settings, mart_tables: list[str]
) -> None:
    # The factories number pushes alike, so both warehouses receive identical rows.
    # One step: the DuckDB test above follows the later pulls; here the SQL is what differs.
    steps = [(first_batch(PushFactory()), report_day())]
    for number, (pushes, pulled) in enumerate(steps):
        for warehouse in (settings, postgres_settings):
            append_raw(warehouse, pushes)
            load_report_days(warehouse, [pulled])
            build_models(
                warehouse, unit_tests=number == 0 and warehouse is postgres_settings, dbt_vars=VARS
            )
        on_duckdb = snapshot(settings, mart_tables)
        on_postgres = snapshot(postgres_settings, mart_tables)
        for table in mart_tables:
            assert on_postgres[table] == on_duckdb[table], table
    # every call of the first pull and its voice-bot entry
    assert len(on_duckdb["fct_call_reconciliation"]) == len(EXPECTED_REASONS) + 1
    _assert_no_personal_data_in_models(postgres_settings)


def _assert_no_personal_data_in_models(settings: Settings) -> None:
    """No layer after the raw one holds the report's numbers, documents, names, e-mails, URLs."""
    prefix = settings.schema_prefix
    tables = _rows(
        settings,
        "select table_schema, table_name from information_schema.tables where table_schema in"
        f" ('{prefix}staging', '{prefix}intermediate', '{prefix}marts')",
    )
    assert len(tables) > 20
    for table in tables:
        text = repr(_rows(settings, f"select * from {table['table_schema']}.{table['table_name']}"))
        for value in REPORT_PERSONAL_VALUES:
            assert value not in text, (table, value)


def test_a_report_of_few_fields_builds_and_an_unfinished_load_is_never_read(
    settings: Settings,
) -> None:
    append_raw(settings, first_batch(PushFactory()))
    # Only three fields: the report tables lack every other column the models read.
    sparse = [
        {"call_id": "c7", "type_call": "call_attended", "call_date": "2026-11-20T14:00:00.000Z"},
        {"call_id": "r9", "type_call": "Abandonada", "call_date": "2026-11-20T16:00:00.000Z"},
    ]
    load_report_days(settings, [dataclasses.replace(report_day(), calls=sparse, agent_times=[])])
    # A newer pull whose dlt load never completed: its rows are in the tables, never current.
    with connect(settings) as connection:
        connection.execute(
            "insert into pbx55_raw.report_pulls (central_id, report_day, pulled_at, call_rows,"
            " agent_rows, api_host, _dlt_load_id, _dlt_id)"
            f" values ('1000', '{DAY}', '{SECOND_PULL_AT}', 1, 0, 'test', 'unfinished', 'p9')"
        )
        connection.execute(
            "insert into pbx55_raw.report_calls (central_id, report_day, row_number, pulled_at,"
            " call_id, type_call, _dlt_load_id, _dlt_id)"
            f" values ('1000', '{DAY}', 1, '{SECOND_PULL_AT}', 'x9', 'call_attended',"
            " 'unfinished', 'c9')"
        )
    build_models(settings, dbt_vars=VARS)

    calls = _calls(settings)
    assert "x9" not in calls
    assert (calls["c7"]["final_state_source"], calls["c7"]["outcome"]) == ("report", "answered")
    r9 = calls["r9"]
    # Abandoned, with no queue the report names: an IVR abandon of a call without durations.
    assert (r9["outcome"], r9["call_kind"], r9["wait_seconds"]) == (
        "abandoned_ivr",
        "inbound",
        None,
    )
    assert {row["day_pulled_at"] for row in _by_queue(settings).values()} == {FIRST_PULL_AT}
