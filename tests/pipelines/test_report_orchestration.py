"""The report API in Dagster: partitions by local day, the schedules, and the pull asset."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

from foundation.settings import Settings
from pipelines.orchestration.report_assets import (
    REPORT_KEYS,
    build_report_assets,
    report_days_partitions,
)
from pipelines.orchestration.resources import build_resources
from simulator.report_api import running_report_api
from tests.pipelines.test_report_api import API_KEYS, DAY, SIMULATED_DAY

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def _configured(settings: Settings, url: str = "http://127.0.0.1:9") -> Settings:
    return dataclasses.replace(
        settings,
        report_api_url=url,
        report_api_keys=tuple(API_KEYS.items()),
        report_api_lookback_days=3,
        report_api_backoff_s=0.05,
    )


@pytest.mark.usefixtures("dbt_manifest")
def test_the_schedules_pull_today_by_day_and_the_lookback_days_at_night(
    settings: Settings,
) -> None:
    from pipelines.orchestration.definitions import build_definitions

    unconfigured = {schedule.name for schedule in build_definitions(settings).schedules}
    assert unconfigured == {"hourly_refresh_schedule", "purge_run_history_schedule"}
    definitions = build_definitions(_configured(settings))
    today = definitions.resolve_schedule_def("report_api_today_schedule")
    nightly = definitions.resolve_schedule_def("report_api_nightly_schedule")
    assert today.execution_timezone == nightly.execution_timezone == "America/Sao_Paulo"

    # 22:30 in São Paulo is already the next day in UTC: the partition is the local day
    evening = dt.datetime(2026, 5, 12, 22, 30, tzinfo=SAO_PAULO)
    repository = definitions.get_repository_def()
    with dg.build_schedule_context(
        scheduled_execution_time=evening, repository_def=repository
    ) as context:
        [request] = today.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-05-12"
    night = dt.datetime(2026, 5, 13, 2, 40, tzinfo=SAO_PAULO)
    with dg.build_schedule_context(
        scheduled_execution_time=night, repository_def=repository
    ) as context:
        [request] = nightly.evaluate_tick(context).run_requests
    assert request.tags["dagster/asset_partition_range_start"] == "2026-05-10"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-05-12"


def test_partitions_are_local_days_up_to_today(settings: Settings) -> None:
    partitions = report_days_partitions(settings)
    keys = partitions.get_partition_keys(
        current_time=dt.datetime(2026, 5, 13, 1, 0, tzinfo=dt.UTC)  # 22:00 on the 12th locally
    )
    assert keys[0] == "2026-01-01" and keys[-1] == "2026-05-12"


def test_materializing_a_range_of_days_pulls_each_day_once(settings: Settings) -> None:
    with running_report_api([SIMULATED_DAY], API_KEYS) as api:
        settings = _configured(settings, api.base_url)
        report_days = build_report_assets(settings)
        result = dg.materialize(
            [report_days],
            resources=build_resources(settings),
            tags={
                "dagster/asset_partition_range_start": (DAY - dt.timedelta(days=1)).isoformat(),
                "dagster/asset_partition_range_end": DAY.isoformat(),
            },
        )
    assert result.success
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert materialized == set(REPORT_KEYS.values())
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        pulls = connection.execute(
            "select report_day, call_rows from pbx55_raw.report_pulls order by report_day"
        ).fetchall()
    assert [day for day, _ in pulls] == [DAY - dt.timedelta(days=1), DAY]
    assert pulls[0][1] == 0 and pulls[1][1] > 100  # the simulated day only


def test_a_failed_pull_fails_the_step_with_the_one_line_reason(settings: Settings) -> None:
    settings = dataclasses.replace(_configured(settings), report_api_retries=0)
    result = dg.materialize(
        [build_report_assets(settings)],
        resources=build_resources(settings),
        partition_key=DAY.isoformat(),
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert "cannot connect after every retry" in failure.step_failure_data.error.message
