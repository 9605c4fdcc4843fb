"""The report API pull: the real dlt source against the simulator's emulator over HTTP.

Each test simulates a small day, serves its report API on 127.0.0.1 and pulls it into a real
DuckDB file (or the local Postgres), then reads the raw tables as a user of them would.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from foundation.settings import Settings
from pipelines.report_api.pull import (
    ReportPullFailedError,
    delete_report_days_before,
    pull_report_days,
)
from simulator import SimulationConfig, plan_day
from simulator.report_api import ReportApi, running_report_api, simulated_api_keys
from tests.ingest.throwaway_ca import make_throwaway_ca

DAY = dt.date(2026, 5, 12)
SIMULATED_DAY, _ = plan_day(SimulationConfig(day=DAY, calls=300, seed=12, centrals=1))
API_KEYS = simulated_api_keys([SIMULATED_DAY])


@pytest.fixture
def api() -> Iterator[ReportApi]:
    with running_report_api([SIMULATED_DAY], API_KEYS) as running:
        yield running


def _configured(settings: Settings, api: ReportApi, **changes) -> Settings:
    """The settings of a user who set the emulator's URL and its keys (quick retries)."""
    quick = {"report_api_retries": 2, "report_api_backoff_s": 0.05, "report_api_timeout_s": 5.0}
    return dataclasses.replace(
        settings,
        report_api_url=api.base_url,
        report_api_keys=tuple(API_KEYS.items()),
        **(quick | changes),
    )


def _current_rows(settings: Settings, table: str) -> list[dict]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        order = "pulled_at" if table == "report_pulls" else "row_number"
        cursor = connection.execute(f"select * from pbx55_raw.{table} order by {order}")  # noqa: S608
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _expected_call_ids(api: ReportApi, central_id: str) -> list[str]:
    start = dt.datetime.combine(DAY, dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=-3)))
    rows = api.answer("report_02", central_id, start, start + dt.timedelta(days=1))
    return [str(row["call_id"]) for row in rows["data_report02"]]


def test_a_pulled_day_keeps_every_row_and_field_as_the_api_sent_it(
    settings: Settings, api: ReportApi
) -> None:
    settings = _configured(settings, api)
    [(central_id, _key)] = settings.report_api_keys
    summary = pull_report_days(settings, [DAY])

    calls = _current_rows(settings, "report_calls")
    assert [row["call_id"] for row in calls] == _expected_call_ids(api, central_id)
    assert len(summary.loaded) == 1 and len(calls) == len(summary.loaded[0].calls) > 100
    assert {row["central_id"] for row in calls} == {central_id}
    assert {row["report_day"] for row in calls} == {DAY}
    # Brasília wall time labelled Z stays text for staging to read as local time
    assert all(row["call_date"].endswith(".000Z") for row in calls if row["call_date"])
    assert {row["type_call"] for row in calls} >= {"call_attended", "call_abandoned"}
    assert any(
        row["wy_branch_mask_agent"].startswith("[") for row in calls if row["wy_branch_mask_agent"]
    )
    [totals] = _current_rows(settings, "report_day_totals")
    assert int(totals["total_call_processed_ura"]) > 0
    assert len(_current_rows(settings, "report_agent_times")) > 0
    [pull] = _current_rows(settings, "report_pulls")
    assert (pull["call_rows"], pull["api_host"]) == (len(calls), "127.0.0.1")
    assert len(api.requests) == 3 and all(request.key_matched for request in api.requests)


def test_pulling_a_day_again_replaces_it_whole_and_drops_calls_it_no_longer_lists(
    settings: Settings, api: ReportApi
) -> None:
    settings = _configured(settings, api)
    pull_report_days(settings, [DAY])
    first = {row["call_id"] for row in _current_rows(settings, "report_calls")}
    pull_report_days(settings, [DAY])
    again = _current_rows(settings, "report_calls")
    assert {row["call_id"] for row in again} == first and len(again) == len(first) + _dupes(again)
    assert len({row["_dlt_load_id"] for row in again}) == 1

    # as if the vendor had dropped the afternoon's calls: the next pull lists fewer
    api.now = dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.timezone(dt.timedelta(hours=-3)))
    pull_report_days(settings, [DAY])
    morning = {row["call_id"] for row in _current_rows(settings, "report_calls")}
    assert morning < first
    assert len(_current_rows(settings, "report_pulls")) == 3


def _dupes(rows: list[dict]) -> int:
    """Voice-bot entries repeat a call id."""
    return len(rows) - len({row["call_id"] for row in rows})


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            lambda api: api.fail_next(10, 500),
            "HTTP 500: the vendor's side failed after every retry",
        ),
        (lambda api: api.fail_next(10, 401), "HTTP 401: the API refused the key"),
        (lambda api: api.answer_not_json(10), "the answer is not JSON"),
        (lambda api: api.delay_answers(2.0), "no answer within 0.5 s after every retry"),
    ],
    ids=["5xx", "401", "not-json", "time-out"],
)
def test_a_failed_pull_says_why_in_one_line_and_keeps_the_day_as_it_was(
    settings: Settings, api: ReportApi, fault, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _configured(settings, api, report_api_timeout_s=0.5, report_api_retries=1)
    pull_report_days(settings, [DAY])
    before = _current_rows(settings, "report_calls")
    fault(api)
    with caplog.at_level(logging.DEBUG), pytest.raises(ReportPullFailedError) as failed:
        pull_report_days(settings, [DAY])
    text = str(failed.value)
    assert message in text and "\n" not in text and "report API report_0" in text
    assert _current_rows(settings, "report_calls") == before
    [(_central, key)] = settings.report_api_keys
    assert key not in text and key not in caplog.text


def test_the_vendors_passing_failures_are_retried_with_back_off(
    settings: Settings, api: ReportApi
) -> None:
    settings = _configured(settings, api, report_api_retries=3)
    api.fail_next(2, 503)
    assert len(pull_report_days(settings, [DAY]).loaded) == 1
    assert [request.status for request in api.requests[:3]] == [503, 503, 200]


def test_a_wrong_url_or_an_unreachable_api_is_one_line_naming_the_setting(
    settings: Settings, api: ReportApi
) -> None:
    configured = _configured(settings, api, report_api_retries=0)
    wrong_path = dataclasses.replace(configured, report_api_url=api.base_url + "/v2")
    with pytest.raises(
        ReportPullFailedError, match="HTTP 404: no such report path: check PBX55_REPORT_API_URL"
    ):
        pull_report_days(wrong_path, [DAY])
    closed = dataclasses.replace(configured, report_api_url="http://127.0.0.1:9")
    with pytest.raises(
        ReportPullFailedError, match="cannot connect after every retry; check PBX55_REPORT_API_URL"
    ):
        pull_report_days(closed, [DAY])


def test_fields_renamed_dropped_or_untypable_are_kept_as_sent(
    settings: Settings, api: ReportApi
) -> None:
    settings = _configured(settings, api)
    api.rename_field("call_time_spoken", "callTimeSpokenV2")
    api.drop_field("queue_name")
    api.set_field("call_time_waiting", "abc")
    pull_report_days(settings, [DAY])
    calls = _current_rows(settings, "report_calls")
    assert "queue_name" not in calls[0] and calls[0]["call_time_spoken_v2"]
    assert {row["call_time_waiting"] for row in calls} == {"abc"}


def test_the_key_never_reaches_a_file_of_the_data_directory(
    settings: Settings, api: ReportApi
) -> None:
    settings = _configured(settings, api)
    pull_report_days(settings, [DAY])
    api.fail_next(10, 500)
    with pytest.raises(ReportPullFailedError):
        pull_report_days(settings, [DAY])
    [(_central, key)] = settings.report_api_keys
    for path in Path(settings.data_dir).rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path


def test_tls_is_verified_unless_explicitly_turned_off(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import ssl

    ca = make_throwaway_ca(tmp_path / "ca")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(ca.server_cert, ca.server_key)
    with running_report_api([SIMULATED_DAY], API_KEYS, ssl_context=server) as api:
        settings = _configured(settings, api, report_api_retries=0)
        assert api.base_url.startswith("https://")
        with pytest.raises(ReportPullFailedError, match="TLS certificate does not verify"):
            pull_report_days(settings, [DAY])
        trusted = dataclasses.replace(settings, report_api_verify_tls=ca.ca_cert)
        assert len(pull_report_days(trusted, [DAY]).loaded) == 1
        unverified = dataclasses.replace(settings, report_api_verify_tls=False)
        with caplog.at_level(logging.WARNING):
            assert len(pull_report_days(unverified, [DAY]).loaded) == 1
        assert "PBX55_REPORT_API_VERIFY_TLS=false" in caplog.text


def test_retention_deletes_report_days_older_than_the_cutoff(
    settings: Settings, api: ReportApi
) -> None:
    settings = _configured(settings, api)
    pull_report_days(settings, [DAY])
    assert delete_report_days_before(settings, DAY) == 0
    deleted = delete_report_days_before(settings, DAY + dt.timedelta(days=1))
    assert deleted > 100
    assert _current_rows(settings, "report_calls") == []


def test_a_pull_on_postgres_keeps_the_same_rows(
    postgres_settings: Settings, api: ReportApi
) -> None:
    import psycopg2

    settings = _configured(postgres_settings, api)
    pull_report_days(settings, [DAY])
    pull_report_days(settings, [DAY])
    [(central_id, _key)] = settings.report_api_keys
    with psycopg2.connect(settings.postgres_url) as connection, connection.cursor() as cursor:
        cursor.execute(
            f'select call_id, _dlt_load_id from "{settings.raw_schema}".report_calls '  # noqa: S608
            "order by row_number"
        )
        rows = cursor.fetchall()
    assert [call_id for call_id, _ in rows] == _expected_call_ids(api, central_id)
    assert len({load_id for _, load_id in rows}) == 1
