"""Expected failures of `pbx55` are one line naming what to fix, with an exit status of their own.

Through the real console script, as cron or systemd runs it: stdout and stderr are pipes, not a
terminal, so nothing it prints carries colour codes either.
"""

from __future__ import annotations

import os
import pty
import socket
import subprocess

from foundation.settings import Settings
from tests.test_cli import PBX55, pbx55

ESCAPE = "\x1b"


def _failure_line(result: subprocess.CompletedProcess[str]) -> str:
    """The line `pbx55` ends with; log lines of the run may come before it, a traceback not."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.splitlines()
    assert lines, result.stdout[-3000:]
    assert lines[-1].startswith("pbx55: "), result.stderr[-3000:]
    return lines[-1]


def test_a_missing_pii_key_is_one_line_and_the_traceback_only_with_v(env):
    without_key = {name: value for name, value in env.items() if name != "PBX55_PII_KEY"}

    result = pbx55("load", env=without_key)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [_failure_line(result)]
    assert "set PBX55_PII_KEY" in result.stderr
    verbose = pbx55("-v", "load", env=without_key)
    assert verbose.returncode == 2
    assert "Traceback" in verbose.stderr


def test_an_unreachable_postgres_is_one_line_naming_the_url_setting(env):
    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://pbx55:s3cret-password@127.0.0.1:{port}/pbx55"

    result = pbx55("run", env=env | {"PBX55_WAREHOUSE": "postgres", "PBX55_POSTGRES_URL": url})

    assert result.returncode == 4
    line = _failure_line(result)
    assert "PBX55_POSTGRES_URL" in line
    assert str(port) in line
    assert "s3cret-password" not in result.stderr + result.stdout


def test_an_unreachable_dagster_storage_is_one_line_naming_its_setting(env):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://dagster:s3cret-password@127.0.0.1:{port}/dagster"

    result = pbx55(
        "dagster", "cli", "instance", "info", env=env | {"PBX55_DAGSTER_POSTGRES_URL": url}
    )

    assert result.returncode == 4
    line = _failure_line(result)
    assert "PBX55_DAGSTER_POSTGRES_URL" in line
    assert str(port) in line
    assert "s3cret-password" not in result.stderr + result.stdout


def test_another_pii_key_is_refused_in_one_line_until_rotated(env):
    assert pbx55("load", env=env).returncode == 0
    other = env | {"PBX55_PII_KEY": "a-different-pii-key"}

    refused = pbx55("load", env=other)

    assert refused.returncode == 2
    assert "--rotate-pii-key" in _failure_line(refused)
    assert "a-different-pii-key" not in refused.stderr
    assert pbx55("load", "--rotate-pii-key", env=other).returncode == 0
    assert pbx55("load", env=other).returncode == 0
    assert pbx55("load", env=env).returncode == 2


def test_a_failed_build_says_which_model_failed_and_where_the_log_is(env, settings: Settings):
    # Built before anything was loaded: the raw table dbt reads does not exist.
    result = pbx55("build", env=env)

    assert result.returncode == 5
    line = _failure_line(result)
    log = settings.data_dir / "dbt" / "logs" / "dbt.log"
    assert "model stg_pbx55__pushes (error)" in line
    assert f"log: {log}" in line
    assert ESCAPE not in result.stdout + result.stderr
    assert ESCAPE not in log.read_text()


def test_dbt_colours_its_output_on_a_terminal(env):
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PBX55_")}
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [PBX55, "build"], env=inherited | env, stdout=terminal, stderr=subprocess.DEVNULL
        )
        os.close(terminal)
        output = _read_all(controller)
        assert process.wait(timeout=300) == 5
    finally:
        os.close(controller)
    assert ESCAPE in output


def _read_all(descriptor: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(descriptor, 65536)
        except OSError:  # the terminal's other end closed: the process exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_reconcile_without_the_report_api_configured_names_the_settings(env):
    result = pbx55("reconcile", env=env)

    assert result.returncode == 2
    assert "set PBX55_REPORT_API_URL and PBX55_REPORT_API_KEYS" in _failure_line(result)


def test_a_report_api_that_cannot_be_reached_is_one_line_per_day_and_exit_6(env):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = "9f1c2d3e-0000-4000-8000-000000000000-1234567890123"
    api = {
        "PBX55_REPORT_API_URL": f"http://127.0.0.1:{port}",
        "PBX55_REPORT_API_KEYS": f"1000={key}",
        "PBX55_REPORT_API_RETRIES": "0",
    }

    result = pbx55("reconcile", "--from", "2026-05-11", "--to", "2026-05-12", env=env | api)

    assert result.returncode == 6
    line = _failure_line(result)
    assert "2 report days could not be pulled" in line
    assert "report API report_02 of 2026-05-11 for central 1000" in line
    assert "cannot connect after every retry; check PBX55_REPORT_API_URL" in line
    assert key not in result.stdout + result.stderr
