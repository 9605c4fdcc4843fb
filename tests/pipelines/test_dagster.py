"""The Dagster definitions: they load, the dlt asset materialises, the sensor, retention."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading

import dagster as dg
import pytest

from foundation.settings import Settings
from pipelines.loader.load import load_landed_pushes
from pipelines.loader.retention import purge_expired
from pipelines.orchestration.definitions import defs
from pipelines.orchestration.raw_assets import (
    LOAD_JOB,
    RAW_PUSHES_KEY,
    RETENTION_KEY,
    build_landing_sensor,
    raw_pushes,
    raw_retention,
)
from pipelines.orchestration.resources import WAREHOUSE_WRITER_TAG, build_resources
from pipelines.orchestration.run_history import purge_runs_created_before
from tests.pipelines.landing_writer import query
from tests.pipelines.test_warehouse_lock import start_holder


@pytest.fixture
def environment(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's PBX55_* settings as the process environment, as Dagster's processes see it."""
    for name in [name for name in os.environ if name.startswith("PBX55_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_importing_the_definitions_does_no_work() -> None:
    """No settings read, no dbt parse, no Dagster objects built until Dagster loads `defs`."""
    code = (
        "import sys, pipelines.orchestration.definitions as d; "
        "assert 'dbt.cli.main' not in sys.modules; "
        "assert not isinstance(d.defs, __import__('dagster').Definitions)"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PBX55_")}
    completed = subprocess.run(
        [sys.executable, "-c", code],
        env=environment | {"PBX55_WAREHOUSE": "not-a-warehouse"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr


@pytest.mark.usefixtures("environment", "dbt_manifest")
def test_definitions_load_with_jobs_sensor_and_schedule() -> None:
    definitions = defs()
    repository = definitions.get_repository_def()

    asset_keys = repository.asset_graph.get_all_asset_keys()
    assert {RAW_PUSHES_KEY, RETENTION_KEY, dg.AssetKey("bi_serving_copy")} <= asset_keys
    load_job = definitions.resolve_job_def("load_landed_pushes")
    # The dbt source `pbx55_raw.pushes` is the dlt asset itself: the models run after the load.
    assert dg.AssetKey(["staging", "stg_pbx55__pushes"]) in load_job.asset_layer.selected_asset_keys
    assert RAW_PUSHES_KEY in load_job.asset_layer.selected_asset_keys
    for job_name in ("load_landed_pushes", "hourly_refresh"):
        job = definitions.resolve_job_def(job_name)
        assert job.tags.get(WAREHOUSE_WRITER_TAG) == "true"
    # Every job that publishes the BI copy writes the daily report from it.
    for job_name in ("load_landed_pushes", "reconcile_report_days", "hourly_refresh"):
        selected = definitions.resolve_job_def(job_name).asset_layer.selected_asset_keys
        assert {dg.AssetKey("bi_serving_copy"), dg.AssetKey("daily_report")} <= selected, job_name
    assert definitions.resolve_sensor_def("sealed_landing_files_sensor")
    schedule = definitions.resolve_schedule_def("hourly_refresh_schedule")
    assert schedule.cron_schedule == "5 * * * *"
    assert definitions.resolve_schedule_def("purge_run_history_schedule").job_name == (
        "purge_run_history"
    )


@pytest.mark.usefixtures("environment", "dbt_manifest")
def test_run_history_keeps_recent_and_unfinished_runs_and_deletes_the_rest(
    settings: Settings,
) -> None:
    definitions = defs()
    purge = definitions.resolve_job_def("purge_run_history")
    with dg.instance_for_test() as instance:
        finished = [purge.execute_in_process(instance=instance).run_id for _ in range(3)]
        unfinished = instance.create_run_for_job(purge).run_id  # not started yet
        # Within the retention period (30 days by default) the daily run deletes nothing.
        assert purge.execute_in_process(instance=instance).success
        assert len(instance.get_runs()) == 5

        deleted = purge_runs_created_before(instance, dt.datetime.now(dt.UTC))

        assert deleted == 4
        assert [run.run_id for run in instance.get_runs()] == [unfinished]
        assert not any(instance.all_logs(run_id) for run_id in finished)


def test_materializing_the_dlt_asset_loads_the_landed_files(settings: Settings, land_file) -> None:
    land_file([{"call_id": "1"}, {"call_id": "2"}])
    resources = build_resources(settings)

    result = dg.materialize([raw_pushes], resources=resources)

    assert result.success
    materialization = result.asset_materializations_for_node("dlt_landed_pushes")[0]
    assert materialization.asset_key == RAW_PUSHES_KEY
    assert materialization.metadata["rows_loaded"].value == 2
    assert query(settings, "SELECT count(*) FROM pbx55_raw.pushes") == [(2,)]

    again = dg.materialize([raw_pushes], resources=resources)
    assert again.success
    assert query(settings, "SELECT count(*) FROM pbx55_raw.pushes") == [(2,)]


def test_a_load_that_finds_the_warehouse_busy_tries_again_and_loads(
    env: dict[str, str], land_file
) -> None:
    """A writer outside Dagster (cron, a full refresh by hand) held it past the lock timeout."""
    impatient = Settings.from_env(env | {"PBX55_WRITER_LOCK_TIMEOUT_S": "1"})
    land_file([{"call_id": "1"}])
    holder = start_holder(env)
    release = threading.Timer(3, holder.communicate, args=("",))
    release.start()
    try:
        result = dg.materialize([raw_pushes], resources=build_resources(impatient))
    finally:
        release.cancel()
        if holder.poll() is None:
            holder.communicate("")

    assert result.success
    retries = [event for event in result.all_events if event.is_step_up_for_retry]
    assert retries, "the first attempt should have found the warehouse busy"
    assert query(impatient, "SELECT count(*) FROM pbx55_raw.pushes") == [(1,)]


def test_the_sensor_fires_on_new_sealed_files_and_not_when_nothing_changed(
    settings: Settings, land_file
) -> None:
    tick = _sensor_ticks(settings, dg.DagsterInstance.ephemeral())

    requests, cursor = tick(None)
    assert requests == []  # nothing landed yet

    land_file()
    requests, cursor = tick(cursor)
    assert len(requests) == 1

    requests, same_cursor = tick(cursor)
    assert requests == [] and same_cursor == cursor

    land_file(sealed=False)  # still being written: not a reason to run
    assert tick(cursor)[0] == []

    land_file(received_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))  # sealed late
    requests, new_cursor = tick(cursor)
    assert len(requests) == 1 and new_cursor != cursor


@pytest.mark.usefixtures("environment", "dbt_manifest")
def test_files_sealed_while_a_load_waits_in_the_queue_are_left_to_it(
    settings: Settings, land_file
) -> None:
    """One load queued at most: more would pile up whenever files seal faster than a run runs."""
    instance = dg.DagsterInstance.ephemeral()
    tick = _sensor_ticks(settings, instance)
    land_file()
    requests, cursor = tick(None)
    assert len(requests) == 1
    # Created, not started: as a queued run (which only a code location can create) is.
    waiting = instance.create_run_for_job(defs().resolve_job_def(LOAD_JOB))

    land_file()
    requests, same_cursor = tick(cursor)
    assert requests == [] and same_cursor == cursor

    _run_event(instance, waiting.run_id, dg.DagsterEventType.RUN_START)  # it lists the files now
    requests, new_cursor = tick(cursor)
    assert len(requests) == 1 and new_cursor != cursor


def _run_event(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> None:
    instance.handle_run_event(
        run_id, dg.DagsterEvent(event_type_value=kind.value, job_name=LOAD_JOB)
    )


def _sensor_ticks(settings: Settings, instance: dg.DagsterInstance):
    """A function that evaluates one tick of the landing sensor from a cursor."""
    sensor = build_landing_sensor(settings)

    def tick(cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
        context = dg.build_sensor_context(
            cursor=cursor, resources=build_resources(settings), instance=instance
        )
        result = sensor.evaluate_tick(context)
        return result.run_requests or [], result.cursor

    return tick


def test_retention_purges_expired_partitions_and_rows(settings: Settings, land_file) -> None:
    now = dt.datetime.now(dt.UTC)
    expired_at = now - dt.timedelta(days=settings.retention_days + 1)
    expired = land_file([{"call_id": "old"}], received_at=expired_at)
    kept = land_file([{"call_id": "recent"}], received_at=now - dt.timedelta(days=1))

    load_landed_pushes(settings)

    summary = purge_expired(settings, now=now)

    assert (summary.partitions_deleted, summary.rows_deleted) == (1, 1)
    assert not expired.exists() and kept.exists()
    assert query(settings, "SELECT call_id FROM pbx55_raw.pushes") == [("recent",)]
    assert purge_expired(settings, now=now).rows_deleted == 0


def test_retention_never_touches_a_partition_with_an_open_file(
    settings: Settings, land_file
) -> None:
    expired_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=settings.retention_days + 1)
    still_open = land_file(received_at=expired_at, sealed=False)

    assert purge_expired(settings).partitions_deleted == 0
    assert still_open.exists()


def test_the_retention_asset_materialises(settings: Settings) -> None:
    result = dg.materialize([raw_retention], resources=build_resources(settings))

    assert result.success
    [materialization] = result.asset_materializations_for_node("pbx55_raw__retention")
    assert materialization.asset_key == RETENTION_KEY
