"""The writer lock: a second writer of the same warehouse waits, then gives up in one line."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.settings import Settings
from pipelines.warehouse_lock import WarehouseBusy, warehouse_writer

# A child process that takes the writer lock, says so on stdout, and holds it until stdin closes.
HOLDER = """
import sys
from foundation.settings import Settings
from pipelines.warehouse_lock import warehouse_writer
with warehouse_writer(Settings.from_env(), "test holder"):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, env: dict[str, str]) -> dict[str, str]:
    if request.param == "postgres":
        postgres_url = request.getfixturevalue("postgres_url")
        return env | {"PBX55_WAREHOUSE": "postgres", "PBX55_POSTGRES_URL": postgres_url}
    return env


def child_env(settings_env: dict[str, str]) -> dict[str, str]:
    """This process's environment with only `settings_env`'s PBX55_* settings, so that a
    developer's own PBX55_DUCKDB_PATH never makes the child lock another warehouse."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PBX55_")}
    return inherited | settings_env


def start_holder(warehouse: dict[str, str]) -> subprocess.Popen[str]:
    """A child process holding the writer lock (it has said so when this returns)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        env=child_env(warehouse),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


@contextlib.contextmanager
def held_by_another_process(warehouse: dict[str, str]) -> Iterator[None]:
    holder = start_holder(warehouse)
    try:
        yield
    finally:
        holder.communicate("")


def test_a_second_writer_gives_up_naming_the_holder(
    warehouse: dict[str, str], postgres_schema_suffix: str
) -> None:
    warehouse = warehouse | {"PBX55_SCHEMA_PREFIX": f"lock_{postgres_schema_suffix}_"}
    impatient = dataclasses.replace(Settings.from_env(warehouse), writer_lock_timeout_s=0.5)

    started = time.monotonic()
    with (
        held_by_another_process(warehouse),
        pytest.raises(WarehouseBusy) as refused,
        warehouse_writer(impatient, "pbx55 load"),
    ):
        pytest.fail("two writers held the warehouse at once")

    assert time.monotonic() - started >= 0.5
    message = str(refused.value)
    assert "\n" not in message
    assert "test holder" in message and "PBX55_WRITER_LOCK_TIMEOUT_S" in message


def test_a_waiting_writer_goes_on_once_the_holder_is_gone(
    warehouse: dict[str, str], postgres_schema_suffix: str
) -> None:
    warehouse = warehouse | {"PBX55_SCHEMA_PREFIX": f"lock_{postgres_schema_suffix}_"}
    holder = start_holder(warehouse)
    holder.kill()  # a writer that dies never leaves the lock behind
    holder.wait()

    with warehouse_writer(Settings.from_env(warehouse), "pbx55 load"):
        pass


def test_the_lock_is_reentrant_within_a_process(settings: Settings) -> None:
    with warehouse_writer(settings, "pbx55 run"):
        with warehouse_writer(settings, "pbx55 load"):
            pass
        with warehouse_writer(settings, "pbx55 build"):
            pass


def test_pbx55_load_exits_with_one_line_while_another_writer_holds_the_warehouse(
    env: dict[str, str], tmp_path: Path
) -> None:
    with held_by_another_process(env):
        result = subprocess.run(
            [str(Path(sys.executable).with_name("pbx55")), "load"],
            env=child_env(env | {"PBX55_WRITER_LOCK_TIMEOUT_S": "0.3"}),
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )

    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(
        "pbx55: pbx55 load: the warehouse is held by another writer (test holder"
    )


# A notebook or SQL client with the warehouse file itself open, not the BI copy.
DUCKDB_HOLDER = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1])
print("open", flush=True)
sys.stdin.read()
"""


def test_a_writer_waits_for_a_process_with_the_duckdb_file_open_and_names_it(
    env: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    pbx55 = str(Path(sys.executable).with_name("pbx55"))
    assert subprocess.run([pbx55, "load"], env=child_env(env), cwd=tmp_path).returncode == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", DUCKDB_HOLDER, str(settings.duckdb_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        refused = subprocess.run(
            [pbx55, "load"],
            env=child_env(env | {"PBX55_WRITER_LOCK_TIMEOUT_S": "0.3"}),
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
    finally:
        holder.communicate("")

    assert refused.returncode == 3
    assert "Traceback" not in refused.stderr
    last_line = refused.stderr.strip().splitlines()[-1]
    assert last_line.startswith(
        f"pbx55: pbx55 load: the warehouse is held by a process with the DuckDB file open "
        f"(pid {holder.pid}: "
    )
    # Once it is closed, the next writer goes on.
    assert subprocess.run([pbx55, "load"], env=child_env(env), cwd=tmp_path).returncode == 0
