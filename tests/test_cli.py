"""The README's "Using it" flow through the `pbx55` console script: serve, simulate, run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from pbx55.receiver_process import running_receiver

PBX55 = str(Path(sys.executable).with_name("pbx55"))


def pbx55(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PBX55_")}
    return subprocess.run(
        [PBX55, *args], env=inherited | env, capture_output=True, text=True, timeout=300
    )


def test_serve_simulate_then_run_twice_fills_the_marts_once(env, settings):
    with running_receiver(env) as receiver:
        sent = pbx55(
            "simulate",
            "--url",
            f"{receiver.base_url}/pushes",
            "--calls",
            "60",
            "--seed",
            "7",
            "--no-progress",
            env=env,
        )
        assert sent.returncode == 0, sent.stderr

    first = pbx55("run", env=env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "loaded" in first.stdout

    again = pbx55("run", env=env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "no sealed landing files waiting" in again.stdout

    with duckdb.connect(str(settings.duckdb_path), read_only=True) as warehouse:
        pushes, distinct = warehouse.execute(
            "select count(*), count(distinct push_id) from pbx55_raw.pushes"
        ).fetchone()
        calls, distinct_calls = warehouse.execute(
            "select count(*), count(distinct (central_id, call_id)) from marts.fct_calls"
        ).fetchone()
    assert pushes == distinct > 60
    assert calls == distinct_calls >= 60
    # Like the Dagster job, `run` ends with the BI copy, so Metabase is never stale under cron.
    assert f"to {settings.bi_duckdb_path}" in again.stdout
    with duckdb.connect(str(settings.bi_duckdb_path), read_only=True) as served:
        assert served.execute("select count(*) from marts.fct_calls").fetchone() == (calls,)


def test_a_bad_setting_is_a_configuration_error(env):
    result = pbx55("load", env=env | {"PBX55_WAREHOUSE": "oracle"})
    assert result.returncode == 2
    assert "PBX55_WAREHOUSE" in result.stderr
