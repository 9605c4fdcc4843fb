"""Dagster's processes starting together on a fresh data directory share one ready instance.

The services (daemon and webserver) start at the same moment on a first boot; Dagster creating
the same SQLite storage twice at once leaves it unreadable for every later process.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from dagster import DagsterInstance

from foundation.settings import Settings

BIN_DIR = Path(sys.executable).parent
PROCESSES_AT_ONCE = 4


def test_processes_started_together_on_a_fresh_home_leave_one_readable_instance(
    env: dict[str, str],
) -> None:
    settings = Settings.from_env(env)
    process_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PBX55_", "DAGSTER_"))
    } | env
    command = [str(BIN_DIR / "pbx55"), "dagster", "cli", "instance", "info"]
    processes = [
        subprocess.Popen(command, env=process_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(PROCESSES_AT_ONCE)
    ]
    outputs = [process.communicate(timeout=120)[0].decode() for process in processes]

    assert [process.returncode for process in processes] == [0] * PROCESSES_AT_ONCE, outputs
    for database in ("history/runs.db", "schedules/schedules.db"):
        with sqlite3.connect(settings.dagster_home / database) as connection:
            versions = connection.execute("select version_num from alembic_version").fetchall()
        assert len(versions) == 1, f"{database}: {versions}"
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        assert instance.get_runs() == []
    assert sorted(path.name for path in settings.dagster_home.glob("*dagster.yaml*")) == [
        "dagster.yaml"
    ]
