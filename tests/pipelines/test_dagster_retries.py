"""A load whose run worker dies (a restart, a kill: its writer lock goes with it) is run again."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from foundation.settings import Settings
from pipelines.orchestration.raw_assets import LOAD_JOB
from tests.pipelines.landing_writer import query
from tests.pipelines.test_dagster_postgres import RUN_TIMEOUT_S, _running, _tail

pytestmark = pytest.mark.slow

BIN_DIR = Path(sys.executable).parent


def test_a_load_whose_run_worker_is_terminated_is_retried_and_loads_once(
    env: dict[str, str], dbt_manifest: Path, land_file
) -> None:
    env = env | {"PBX55_SENSOR_INTERVAL_S": "5"}
    settings = Settings.from_env(env)
    process_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PBX55_", "DAGSTER_"))
    } | env
    land_file([{"central_id": "1000", "call_id": "retried-1", "status": "ANSWERED"}])

    with _running([str(BIN_DIR / "pbx55"), "dagster", "daemon"], process_env) as daemon:
        first = _wait_for_run(settings, {DagsterRunStatus.STARTED}, daemon.log)
        worker = _run_worker_pid(settings, first.run_id, daemon.pid, daemon.log)
        os.kill(worker, signal.SIGTERM)
        retry = _wait_for_run(settings, {DagsterRunStatus.SUCCESS}, daemon.log)

    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        assert instance.get_run_by_id(first.run_id).status == DagsterRunStatus.FAILURE
    assert retry.tags.get("dagster/parent_run_id") == first.run_id
    assert query(settings, "select call_id from pbx55_raw.pushes") == [("retried-1",)]
    calls = query(settings, "select call_id from marts.fct_calls where central_id = '1000'")
    assert calls == [("retried-1",)]


def _wait_for_run(settings: Settings, statuses: set[DagsterRunStatus], log):
    """The first run of the load job in one of `statuses` (polled in Dagster's storage)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        if (settings.dagster_home / "dagster.yaml").exists():
            with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
                runs = instance.get_runs(RunsFilter(job_name=LOAD_JOB, statuses=list(statuses)))
            if runs:
                return runs[-1]
        time.sleep(0.5)
    pytest.fail(f"no run of {LOAD_JOB} became {statuses}:\n{_tail(log)}")


def _run_worker_pid(settings: Settings, run_id: str, daemon_pid: int, log) -> int:
    """The process executing the run (its event log names it), a descendant of our daemon, once
    the run is in its dbt step: dlt holds a signal back until its load ends (a graceful stop), so
    a kill during the load step would only be seen after it."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
            messages = [entry.message for entry in instance.all_logs(run_id)]
        workers = [
            int(found[1])
            for message in messages
            if (found := re.search(r"Executing steps in process \(pid: (\d+)\)", message))
        ]
        if workers and any('step "dbt_models"' in message for message in messages):
            assert daemon_pid in _ancestors(workers[0]), "not a process of this test's daemon"
            return workers[0]
        time.sleep(0.2)
    pytest.fail(f"the run never reached its dbt step in a process it named:\n{_tail(log)}")


def _ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1:
        # /proc/<pid>/stat: "pid (comm) state ppid ...", comm may hold spaces and parentheses.
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        chain.append(pid)
    return chain
