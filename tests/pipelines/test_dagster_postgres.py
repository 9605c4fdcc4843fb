"""Dagster as production runs it: webserver and daemon on Postgres storage, the sensor's run.

Dagster's processes start as the services start them (`pbx55 dagster daemon|webserver`), on a
database of the test's own; a landed push must reach `pbx55_raw.pushes` and `marts.fct_calls`
through a run the sensor started, and the webserver must show that run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from foundation.settings import Settings
from pbx55.receiver_process import free_loopback_port
from pipelines.orchestration.raw_assets import LOAD_JOB
from tests.pipelines.landing_writer import query

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BIN_DIR = Path(sys.executable).parent
RUN_TIMEOUT_S = 150
# Trust authentication ignores it; it stands for the password a real deployment has.
PASSWORD = "never-in-dagster-yaml"

RUNS_QUERY = """
query LoadRuns($job: String!) {
  runsOrError(filter: {pipelineName: $job}) {
    ... on Runs { results { runId status } }
  }
}
"""


@pytest.fixture
def dagster_database(postgres_url: str) -> Iterator[str]:
    """A database of this test's own for Dagster's storage (URL with a password), dropped after."""
    name = f"pbx55_dagster_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(postgres_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'create database "{name}"')
        parts = urlsplit(postgres_url)
        netloc = f"{parts.username}:{PASSWORD}@{parts.hostname}:{parts.port or 5432}"
        yield urlunsplit((parts.scheme, netloc, f"/{name}", "", ""))
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


def test_the_sensor_on_postgres_storage_starts_a_run_that_loads_and_builds(
    env: dict[str, str], dagster_database: str, dbt_manifest: Path, land_file
) -> None:
    env = env | {"PBX55_DAGSTER_POSTGRES_URL": dagster_database, "PBX55_SENSOR_INTERVAL_S": "5"}
    settings = Settings.from_env(env)
    # No DAGSTER_HOME of the caller's: `pbx55 dagster` sets it from the data directory.
    process_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PBX55_", "DAGSTER_"))
    } | env
    land_file([{"central_id": "1000", "call_id": "pg-storage-1", "status": "ANSWERED"}])

    port = free_loopback_port()
    pbx55_dagster = [str(BIN_DIR / "pbx55"), "dagster"]
    with ExitStack() as stack:
        daemon_log = stack.enter_context(_running([*pbx55_dagster, "daemon"], process_env)).log
        webserver_log = stack.enter_context(
            _running([*pbx55_dagster, "webserver", "--port", str(port)], process_env)
        ).log
        base_url = f"http://127.0.0.1:{port}"
        server_info = _wait_for_json(f"{base_url}/server_info", webserver_log)
        assert "dagster_webserver_version" in server_info
        instance_config = (settings.dagster_home / "dagster.yaml").read_text()
        assert "env: PBX55_DAGSTER_POSTGRES_URL" in instance_config
        assert PASSWORD not in instance_config

        status = _wait_for_a_finished_load(base_url, daemon_log)
        assert status == "SUCCESS", _tail(daemon_log)

    with psycopg2.connect(dagster_database) as connection, connection.cursor() as cursor:
        cursor.execute("select count(*) from runs where pipeline_name = %s", (LOAD_JOB,))
        assert cursor.fetchone()[0] >= 1, "the run is recorded in Postgres, not in SQLite"
    assert not (settings.dagster_home / "history").exists()
    assert query(settings, "select call_id from pbx55_raw.pushes") == [("pg-storage-1",)]
    calls = query(settings, "select call_id from marts.fct_calls where central_id = '1000'")
    assert calls == [("pg-storage-1",)]


@dataclass(frozen=True)
class Running:
    pid: int
    log: IO[bytes]  # its stdout and stderr


@contextmanager
def _running(command: list[str], environ: dict[str, str]) -> Iterator[Running]:
    """Run `command` with its output in a temporary file; stop it after."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=environ, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield Running(process.pid, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_json(url: str, log: IO[bytes], body: dict | None = None) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        try:
            return _fetch_json(url, body)
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                pytest.fail(f"{url} did not answer:\n{_tail(log)}")
            time.sleep(0.5)


def _fetch_json(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (a loopback URL of the test's own)
        url, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.load(response)


def _wait_for_a_finished_load(base_url: str, daemon_log: IO[bytes]) -> str:
    """The status of the first run of the load job to finish, as the webserver reports it."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    body = {"query": RUNS_QUERY, "variables": {"job": LOAD_JOB}}
    while time.monotonic() < deadline:
        answer = _wait_for_json(f"{base_url}/graphql", daemon_log, body)
        runs = answer["data"]["runsOrError"].get("results", [])
        finished = [run["status"] for run in runs if run["status"] in ("SUCCESS", "FAILURE")]
        if finished:
            return finished[0]
        time.sleep(2)
    pytest.fail(f"no run of {LOAD_JOB} finished within {RUN_TIMEOUT_S} s:\n{_tail(daemon_log)}")


def _tail(log: IO[bytes], limit: int = 6000) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-limit:]
