"""Odd pushes the receiver accepts never stop a refresh (issue 9, "the data never stops").

Each odd push goes through what a real push goes through: the receiver's own parser and envelope
(foundation.landing.parsing, foundation.landing.envelope), a sealed landing file, the loader
(`load_landed_pushes`) and a real `dbt build` (`build_models`), on DuckDB and on Postgres. The
odd pushes are mixed into a small day of normal calls, and the same day is also loaded without
them: the normal calls in fct_calls must be the same either way, and the odd pushes must be kept
in pbx55_raw.pushes and staging, flagged, and counted in marts.dq_pushes_daily.
"""

# The SQL here names only the test's own schemas.
# ruff: noqa: S608

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from foundation.landing.envelope import PushIds, parsed_envelope
from foundation.landing.layout import hour_bucket_at
from foundation.settings import Settings
from pipelines.dbt_runner import build_models
from pipelines.loader.load import load_landed_pushes
from tests.landing_files import epoch_us, landed_line, write_landing_file
from tests.models.raw_pushes import COLUMN_NAMES, PushFactory, insert_sql
from tests.models.scenario import AS_OF_UTC, first_batch
from tests.models.warehouse import connect, create_raw_tables, snapshot

RECEIVER_ID = "oddpush1"
DAY_START = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)  # 10:00 in America/Sao_Paulo
VARS = {"as_of_utc": AS_OF_UTC}
FORM = "application/x-www-form-urlencoded"
QUEUE = "4961-CREDITO_P1"


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _normal_day() -> list[tuple[str, bytes, str | None]]:
    """Four ordinary calls, every push a JSON body: (name, body, content type)."""
    date_text = "2026-11-20 10:00:00"
    inbound = {"central_id": "1000", "call_type": "receptivo", "call_date": date_text}
    start = {"call_time": 0, "call_duration": 0}
    pushes = [
        ("n1-ivr", {**inbound, **start, "call_id": "n1", "call_status": "new_call"}),
        ("n1-queue", {**inbound, **start, "call_id": "n1", "call_status": "call_waiting",
                      "call_queue": QUEUE}),
        ("n1-agent", {**inbound, **start, "call_id": "n1", "call_status": "new_call",
                      "call_queue": QUEUE, "branch_mask": "5000"}),
        ("n1-final", {**inbound, "call_id": "n1", "call_status": "", "call_queue": QUEUE,
                      "branch_mask": "5000", "call_time": 120, "call_duration": 150,
                      "call_time_waiting": 12, "call_disconnection": "externo",
                      "call_url_audio": "https://recordings.example.com/n1.mp3",
                      "call_tax": 0.58, "call_tax_type": "VC2", "call_cost": 1.16}),
        ("n2-ivr", {**inbound, **start, "call_id": "n2", "call_status": "new_call"}),
        ("n2-queue", {**inbound, **start, "call_id": "n2", "call_status": "call_waiting",
                      "call_queue": QUEUE}),
        ("n2-final", {**inbound, "call_id": "n2", "call_status": "call_abandoned",
                      "call_queue": QUEUE, "call_time": 0, "call_duration": 45,
                      "call_time_waiting": 40}),
        ("n3-start", {"central_id": "1000", "call_id": "n3", "call_type": "ATIVO",
                      "call_date": date_text, "branch_mask": "5001", "call_status": "new_call",
                      "call_time": 0}),
        ("n3-final", {"central_id": "1000", "call_id": "n3", "call_type": "ATIVO",
                      "call_date": date_text, "branch_mask": "5001", "call_time": 45,
                      "call_duration": 50, "call_tax": 0.3, "call_tax_type": "vc1",
                      "call_cost": 0.24}),
        ("n4-sms", {"central_id": "1000", "call_id": "n4", "call_type": "sms",
                    "call_date": date_text, "call_status": "", "call_cost": 0.1,
                    "call_tax_type": "SMS"}),
    ]  # fmt: skip
    return [(name, _json(body), None) for name, body in pushes]


# Every push here is accepted by the receiver (HTTP 200) and used to stop the refresh or the load.
ODD_PUSHES: list[tuple[str, bytes, str | None]] = [
    ("empty_object", b"{}", None),
    ("call_key_only", b'{"central_id": "1000", "call_id": "x1"}', None),
    (
        "start_without_call_type",
        _json({"central_id": "1000", "call_id": "x2", "call_status": "new_call",
               "call_queue": "", "call_date": "2026-11-20 10:05:00", "call_time": 0}),
        None,
    ),
    (
        "nul_in_a_value",
        b'{"central_id": "1000", "call_id": "x3", "call_type": "receptivo",'
        b' "call_status": "call_waiting", "call_queue": "4961-CRED\\u0000ITO"}',
        None,
    ),
    (
        "nul_in_a_key",
        b'{"central_id": "1000", "call_id": "x4", "call_type": "receptivo",'
        b' "call_status": "new_call", "vendor\\u0000note": "v"}',
        None,
    ),
    (
        "form_with_percent_00",
        b"central_id=1000&call_id=x5&call_type=receptivo&call_status=call_waiting"
        b"&call_queue=4961-CREDITO%00P1",
        FORM,
    ),
    (
        "numbers_out_of_range",
        b'{"central_id": "1000", "call_id": "x6", "call_type": "receptivo",'
        b' "call_date": "2026-11-20 10:06:00", "call_time": 1000000000000000,'
        b' "call_duration": 1e300, "call_cost": 1e300, "call_tax": 0.58,'
        b' "call_disconnection": "externo"}',
        None,
    ),
]  # fmt: skip
NORMAL_CALLS = {"n1", "n2", "n3", "n4"}
ODD_CALLS = {"x1", "x2", "x3", "x4", "x5", "x6"}


def _land_day(settings: Settings, *, with_odd_pushes: bool) -> dict[str, str]:
    """Land the day as the receiver would (two sealed files, odd pushes interleaved with the
    normal ones); return the push_id of each push by name."""
    normal = _normal_day()
    pushes: list[tuple[str, bytes, str | None]] = []
    for index, push in enumerate(normal):
        pushes.append(push)
        if with_odd_pushes and index < len(ODD_PUSHES):
            pushes.append(ODD_PUSHES[index])
    ids = PushIds(RECEIVER_ID)
    push_ids: dict[str, str] = {}
    lines: list[bytes] = []
    for name, raw, content_type in pushes:
        # The same receive time for a push with or without the odd ones around it.
        offset = [push[0] for push in (*normal, *ODD_PUSHES)].index(name)
        received_us = epoch_us(DAY_START + timedelta(seconds=offset))
        line = landed_line(ids, raw, received_us=received_us, content_type=content_type)
        push_ids[name] = parsed_envelope(line.decode())["push_id"]
        lines.append(line)
    half = len(lines) // 2
    for number, chunk in enumerate((lines[:half], lines[half:]), start=1):
        write_landing_file(
            settings.pushes_dir, hour_bucket_at(DAY_START), RECEIVER_ID, number, b"".join(chunk)
        )
    return push_ids


def _rows(settings: Settings, sql: str) -> list[dict[str, Any]]:
    with connect(settings) as connection:
        cursor = connection.cursor()
        cursor.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _test_statuses(settings: Settings) -> dict[str, str]:
    """The status of every data test of the latest build (run_results.json)."""
    results = json.loads((settings.data_dir / "dbt" / "target" / "run_results.json").read_text())
    return {
        result["unique_id"].split(".")[2]: result["status"]
        for result in results["results"]
        if result["unique_id"].startswith("test.")
    }


def _load_and_build(settings: Settings) -> None:
    load_landed_pushes(settings)
    build_models(settings, dbt_vars=VARS)


def _check_odd_pushes_kept_flagged_and_counted(
    settings: Settings, push_ids: dict[str, str]
) -> None:
    prefix = settings.schema_prefix
    odd_ids = {push_ids[name]: name for name, _, _ in ODD_PUSHES}
    raw = {
        odd_ids[row["push_id"]]: row
        for row in _rows(settings, f"select * from {settings.raw_schema}.pushes")
        if row["push_id"] in odd_ids
    }
    assert set(raw) == set(odd_ids.values())
    assert raw["nul_in_a_value"]["call_queue"] == "4961-CRED\ufffdITO"
    assert raw["nul_in_a_value"]["nul_replaced_fields"] == "call_queue"
    # A key is kept in extra_fields_json, JSON text in which the NUL is the escape \u0000.
    assert raw["nul_in_a_key"]["extra_fields_json"] == '{"vendor\\u0000note":"v"}'
    assert raw["nul_in_a_key"]["nul_replaced_fields"] is None
    assert raw["form_with_percent_00"]["call_queue"] == "4961-CREDITO\ufffdP1"
    assert raw["form_with_percent_00"]["raw_body"].endswith("call_queue=4961-CREDITO%00P1")
    assert raw["form_with_percent_00"]["nul_replaced_fields"] == "call_queue"
    assert raw["empty_object"]["nul_replaced_fields"] is None
    # Numbers that would overflow the marts' sums and decimals: untyped, flagged, kept as sent.
    out_of_range = raw["numbers_out_of_range"]
    assert out_of_range["parse_errors"] == "call_time,call_duration,call_cost"
    assert (out_of_range["call_time"], out_of_range["call_cost"]) == (None, None)

    staged = {
        odd_ids[row["push_id"]]: row
        for row in _rows(settings, f"select * from {prefix}staging.stg_pbx55__pushes")
        if row["push_id"] in odd_ids
    }
    assert set(staged) == set(odd_ids.values())
    empty = staged["empty_object"]
    assert (empty["central_id"], empty["call_id"], empty["lifecycle_stage"]) == (
        None,
        None,
        "unknown",
    )
    assert (empty["is_final_push"], empty["dq_no_call_key"], empty["dq_unknown_stage"]) == (
        False,
        True,
        True,
    )
    key_only = staged["call_key_only"]
    assert (key_only["lifecycle_stage"], key_only["dq_no_call_key"]) == ("unknown", False)
    assert key_only["is_final_push"] is False
    untyped = staged["start_without_call_type"]
    assert (untyped["call_kind"], untyped["is_final_push"], untyped["lifecycle_stage"]) == (
        None,
        False,
        "ivr",
    )
    assert staged["nul_in_a_value"]["queue"] == "4961-CRED\ufffdITO"
    flagged = {name for name, row in staged.items() if row["dq_nul_replaced"]}
    assert flagged == {"nul_in_a_value", "form_with_percent_00"}
    assert all(row["is_final_push"] is not None for row in staged.values())

    counts = _rows(
        settings, f"select * from {prefix}marts.dq_pushes_daily where received_date = '2026-11-20'"
    )
    by_central = {row["central_id"]: row for row in counts}
    assert set(by_central) == {"1000", "unknown"}
    no_central = by_central["unknown"]
    assert (no_central["pushes"], no_central["no_call_key_pushes"]) == (1, 1)
    assert no_central["unknown_stage_pushes"] == 1
    known = by_central["1000"]
    assert known["pushes"] == len(_normal_day()) + len(ODD_PUSHES) - 1
    assert (known["no_call_key_pushes"], known["unknown_stage_pushes"]) == (0, 1)
    assert known["nul_replaced_pushes"] == 2
    assert no_central["received_date"] == date(2026, 11, 20)

    calls = _rows(settings, f"select * from {prefix}marts.fct_calls")
    assert {row["call_id"] for row in calls} == NORMAL_CALLS | ODD_CALLS
    assert all(row["central_id"] == "1000" for row in calls)
    assert {row["call_id"]: row["dq_nul_replaced"] for row in calls if row["dq_nul_replaced"]} == {
        "x3": True,
        "x5": True,
    }

    statuses = _test_statuses(settings)
    assert {status for status in statuses.values()} <= {"pass", "warn"}
    # A push without a call key is a finding about the sender's data: a warning, never a stop.
    assert statuses["not_null_stg_pbx55__pushes_call_id"] == "warn"


def _normal_calls(marts: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [row for row in marts["fct_calls"] if row["call_id"] in NORMAL_CALLS]


@pytest.fixture
def baseline(
    tmp_path: Path, env: dict[str, str], mart_tables: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """The marts of the same day without the odd pushes."""
    clean = Settings.from_env(env | {"PBX55_DATA_DIR": str(tmp_path / "clean")})
    _land_day(clean, with_odd_pushes=False)
    _load_and_build(clean)
    marts = snapshot(clean, mart_tables)
    assert {row["call_id"] for row in marts["fct_calls"]} == NORMAL_CALLS
    return marts


def test_duckdb_refresh_goes_on_with_odd_pushes_and_normal_calls_are_unaffected(
    settings: Settings, baseline: dict[str, list[dict[str, Any]]], mart_tables: list[str]
) -> None:
    push_ids = _land_day(settings, with_odd_pushes=True)
    _load_and_build(settings)

    _check_odd_pushes_kept_flagged_and_counted(settings, push_ids)
    marts = snapshot(settings, mart_tables)
    assert _normal_calls(marts) == _normal_calls(baseline)

    # A second build with nothing new, then a full refresh: the same counts and calls.
    build_models(settings, dbt_vars=VARS)
    build_models(settings, full_refresh=True, dbt_vars=VARS)
    assert snapshot(settings, mart_tables) == marts


def test_postgres_loads_and_refreshes_with_odd_pushes_as_duckdb_does(
    env: dict[str, str], postgres_settings: Settings, tmp_path: Path, mart_tables: list[str]
) -> None:
    pg_settings = postgres_settings
    push_ids = _land_day(pg_settings, with_odd_pushes=True)
    _load_and_build(pg_settings)
    _check_odd_pushes_kept_flagged_and_counted(pg_settings, push_ids)

    # The same landing files into DuckDB give the same marts.
    on_duckdb = Settings.from_env(env | {"PBX55_DATA_DIR": str(tmp_path / "on_duckdb")})
    _land_day(on_duckdb, with_odd_pushes=True)
    _load_and_build(on_duckdb)
    assert snapshot(pg_settings, mart_tables) == snapshot(on_duckdb, mart_tables)


def test_a_raw_table_older_than_nul_replaced_fields_still_builds(settings: Settings) -> None:
    # Right after an upgrade, before any new push is loaded, the raw table lacks the column the
    # loader now writes (dlt adds it with the first rows that carry it).
    create_raw_tables(settings)
    with connect(settings) as connection:
        connection.execute("alter table pbx55_raw.pushes drop column nul_replaced_fields")
    old_columns = [name for name in COLUMN_NAMES if name != "nul_replaced_fields"]
    kept = [COLUMN_NAMES.index(name) for name in old_columns]
    rows = [tuple(row[index] for index in kept) for row in first_batch(PushFactory())]
    with connect(settings) as connection:
        connection.executemany(insert_sql("pbx55_raw", "duckdb", old_columns), rows)

    build_models(settings, full_refresh=True, dbt_vars=VARS)

    staged = _rows(
        settings,
        "select count(*) as pushes, count(nul_replaced_fields) as with_names,"
        " sum(case when dq_nul_replaced then 1 else 0 end) as flagged"
        " from staging.stg_pbx55__pushes",
    )
    assert staged == [{"pushes": len(rows) - 1, "with_names": 0, "flagged": 0}]  # one retry
