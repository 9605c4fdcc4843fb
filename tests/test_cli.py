"""The README's "Using it" flow through the `pbx55` console script: serve, simulate, run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import duckdb

from pbx55.receiver_process import running_receiver
from pbx55.simulate import yesterday_in_sao_paulo
from tests.ingest.throwaway_ca import make_throwaway_ca

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
    assert "WARNING" not in first.stderr, first.stderr[-3000:]  # a clean load logs no warning

    again = pbx55("run", env=env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "no sealed landing files waiting" in again.stdout
    assert "dbt build skipped: nothing changed since the build of" in again.stderr

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
    # ... and the daily report of the simulated day, the last complete one.
    day = yesterday_in_sao_paulo()
    assert f"daily report: {settings.data_dir / 'reports' / f'daily-{day}.html'}" in again.stdout
    asked = pbx55("report", "--day", "2001-01-01", env=env)
    assert asked.returncode == 0, asked.stderr[-3000:]
    assert asked.stdout == f"{settings.data_dir / 'reports' / 'daily-2001-01-01.html'}\n"


def test_a_bad_setting_is_a_configuration_error(env):
    result = pbx55("load", env=env | {"PBX55_WAREHOUSE": "oracle"})
    assert result.returncode == 2
    assert "PBX55_WAREHOUSE" in result.stderr


def serve_refusal(*args: str, env: dict[str, str]) -> str:
    """`pbx55 serve` that must refuse to start: exit 2, one line on stderr, no traceback."""
    result = pbx55("serve", *args, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("pbx55: configuration error: ")
    return line


def test_serve_on_a_port_in_use_says_so_in_one_line(env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = serve_refusal("--port", str(port), env=env)
    assert f"127.0.0.1:{port}: address already in use" in line
    assert "--port" in line


def test_serve_where_nothing_can_land_says_so_in_one_line(env, tmp_path):
    # A regular file where a directory should be: not writable even for root.
    (tmp_path / "a-file").write_text("")
    line = serve_refusal(env=env | {"PBX55_LANDING_DIR": str(tmp_path / "a-file" / "landing")})
    assert "not writable" in line
    assert "PBX55_LANDING_DIR" in line


def test_serve_with_unusable_tls_files_names_the_setting(env, tmp_path):
    ca = make_throwaway_ca(tmp_path / "tls")
    missing = tmp_path / "missing.key"
    cases = {
        "PBX55_TLS_KEY_FILE: cannot read": {"PBX55_TLS_KEY_FILE": str(missing)},
        "PBX55_TLS_CERT_FILE is set but PBX55_TLS_KEY_FILE is not": {"PBX55_TLS_KEY_FILE": ""},
        "the key does not belong to the certificate": {"PBX55_TLS_KEY_FILE": str(ca.other_key)},
        "PBX55_TLS_CERT_FILE: ": {"PBX55_TLS_CERT_FILE": str(ca.server_key)},
    }
    for expected, change in cases.items():
        line = serve_refusal(env=env | ca.server_env() | change)
        assert expected in line, line


def test_serve_shows_the_traceback_of_a_refusal_only_under_verbose(env, tmp_path):
    unreadable = env | {
        "PBX55_TLS_CERT_FILE": str(tmp_path / "none.pem"),
        "PBX55_TLS_KEY_FILE": str(tmp_path / "none.key"),
    }
    result = pbx55("-v", "serve", env=unreadable)
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("pbx55: configuration error: PBX55_TLS_")
