"""Dagster's processes as pbx55 runs them: the instance configuration and the command lines.

`pbx55 dagster daemon` and `pbx55 dagster webserver` (the services, `make dev`) write
`dagster.yaml` into the data directory's `dagster_home` from `Settings`, then become
`dagster-daemon run` or `dagster-webserver` on this checkout's workspace with DAGSTER_HOME set
to it, so no process can start on another instance configuration by mistake; `pbx55 dagster
cli ...` runs the `dagster` command the same way (`cli instance migrate` after an upgrade).
The demo prepares its instance the same way. The configuration:

- storage: Postgres when PBX55_DAGSTER_POSTGRES_URL is set, read by Dagster from the environment
  at start (`env:`), so its password never lands in the file; SQLite under DAGSTER_HOME otherwise;
- a run queue that admits one warehouse-writing run at a time, and one op at a time per pool
  (DuckDB has a single writer);
- run retries for a run whose worker died (a restart of the daemon or the host, a killed
  process: its writer lock went with it); every job is safe to run again (the load skips
  pushes already loaded);
- sensor and schedule ticks kept only as long as they help (skipped ticks are most of them);
  runs are purged by a job (pipelines/orchestration/run_history.py), Dagster has no setting;
- freshness policies evaluated; no telemetry.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from foundation.settings import Settings
from pipelines.orchestration.resources import WAREHOUSE_POOL, WAREHOUSE_WRITER_TAG

DAGSTER_POSTGRES_URL_VARIABLE = "PBX55_DAGSTER_POSTGRES_URL"
REPO_ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = REPO_ROOT / "workspace.yaml"
BIN_DIR = Path(sys.executable).parent
# `pbx55 dagster <process> [options]`: the Dagster command each process name runs, and whether
# it loads the code location; `cli` is the `dagster` command itself (`cli instance migrate`).
PROCESSES = {
    "daemon": (["dagster-daemon", "run"], True),
    "webserver": (["dagster-webserver"], True),
    "cli": (["dagster"], False),
}


def dagster_yaml(settings: Settings) -> str:
    return f"""\
# Written by `pbx55 dagster-config` (and `make dev`) from the PBX55_* settings; edit those, or
# pbx55/dagster_instance.py, not this file.
{_storage(settings)}\
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    # A queued run waits for the next look at the queue (5 s by default): part of freshness.
    dequeue_interval_seconds: 1
concurrency:
  runs:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      - key: "{WAREHOUSE_WRITER_TAG}"
        limit: 1
  pools:
    # Ops in pool `{WAREHOUSE_POOL}` (and any other pool) run one at a time, across runs.
    default_limit: 1
    granularity: run
run_monitoring:
  # A run whose worker never reports that it started, or that is still "started" after two hours
  # (its worker killed outright, say: a load of a day's backlog takes minutes), is failed, then
  # retried, instead of holding the one warehouse writer slot of the queue for ever. The default
  # launcher cannot resume a run.
  enabled: true
  start_timeout_seconds: 180
  max_runtime_seconds: 7200
  max_resume_run_attempts: 0
run_retries:
  # Only runs whose worker died; a run that failed in an op (a dbt test, a missing setting)
  # would fail again. An op that found the warehouse busy retries by itself.
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
retention:
  sensor:
    purge_after_days:
      skipped: 1
      success: 7
      failure: 30
  schedule:
    purge_after_days:
      skipped: 7
      success: 30
      failure: 30
# The daemon judges the assets' freshness policies (alerts.py), so the UI shows what is late.
freshness:
  enabled: true
telemetry:
  enabled: false
"""


def _storage(settings: Settings) -> str:
    if settings.dagster_postgres_url is None:
        return ""  # SQLite files under DAGSTER_HOME, Dagster's default
    return f"""\
storage:
  postgres:
    postgres_url:
      env: {DAGSTER_POSTGRES_URL_VARIABLE}
"""


class DagsterStorageUnreachableError(Exception):
    """Dagster's Postgres storage did not answer; the message names the setting to fix."""

    def __init__(self, settings: Settings, error: Exception) -> None:
        driver_error: BaseException = error  # the driver's own words, past Dagster's wrappers
        while driver_error.__cause__ is not None:
            driver_error = driver_error.__cause__
        message = " ".join(str(driver_error).split())
        password = urlsplit(settings.dagster_postgres_url or "").password
        if password:
            message = message.replace(password, "***")
        super().__init__(
            f"cannot reach Dagster's Postgres storage: {message} — fix "
            f"{DAGSTER_POSTGRES_URL_VARIABLE}, or start the server"
        )


def prepare_instance(settings: Settings) -> Path:
    """Write `dagster.yaml` into `settings.dagster_home` and create the instance's storage;
    return the file's path.

    The daemon and the webserver start together, and Dagster creating the same SQLite storage in
    two processes at once stamps its schema version twice, which then fails every later open
    ("more than one head present"). So one process at a time, under a lock, writes the file
    aside, creates the storage from it, and only then renames it into place: whoever sees
    `dagster.yaml` finds the storage ready.
    """
    import sqlalchemy.exc
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef
    from dagster_postgres.utils import DagsterPostgresException

    logging.getLogger("alembic").setLevel(logging.WARNING)  # its "context impl" lines
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    path = settings.dagster_home / "dagster.yaml"
    written = path.with_name(f".dagster.yaml.{os.getpid()}")
    with (settings.dagster_home / ".prepare.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        written.write_text(dagster_yaml(settings))
        try:
            ref = InstanceRef.from_dir(str(settings.dagster_home), config_filename=written.name)
            with _storage_environment(settings), DagsterInstance.from_ref(ref):
                pass
            written.replace(path)
        except (DagsterPostgresException, sqlalchemy.exc.OperationalError) as error:
            raise DagsterStorageUnreachableError(settings, error) from error
        finally:
            written.unlink(missing_ok=True)
    return path


@contextmanager
def _storage_environment(settings: Settings) -> Iterator[None]:
    """The Postgres URL where the configuration reads it (`env:`), while the storage is created."""
    if settings.dagster_postgres_url is None:
        yield
        return
    saved = os.environ.get(DAGSTER_POSTGRES_URL_VARIABLE)
    os.environ[DAGSTER_POSTGRES_URL_VARIABLE] = settings.dagster_storage_url
    try:
        yield
    finally:
        if saved is None:
            del os.environ[DAGSTER_POSTGRES_URL_VARIABLE]
        else:
            os.environ[DAGSTER_POSTGRES_URL_VARIABLE] = saved


def dagster_process(
    settings: Settings, process: str, options: Sequence[str] = ()
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of Dagster's `process` (a key of PROCESSES)."""
    (program, *arguments), loads_code = PROCESSES[process]
    command = [str(BIN_DIR / program), *arguments]
    if loads_code:
        command += ["-w", str(WORKSPACE)]
    environ = dict(os.environ) | {"DAGSTER_HOME": str(settings.dagster_home)}
    if settings.dagster_postgres_url is not None:
        # SQLAlchemy 2.1 reads a bare `postgresql://` as psycopg 3, which is not installed.
        environ[DAGSTER_POSTGRES_URL_VARIABLE] = settings.dagster_storage_url
    return [*command, *options], environ


def exec_dagster_process(settings: Settings, process: str, options: Sequence[str] = ()) -> None:
    """Prepare the instance, then become Dagster's `process` (never returns)."""
    prepare_instance(settings)
    command, environ = dagster_process(settings, process, options)
    os.chdir(REPO_ROOT)  # workspace.yaml loads the definitions from the checkout
    os.execve(command[0], command, environ)  # noqa: S606 (our own venv binary, no shell)
