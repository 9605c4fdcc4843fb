"""Older `duckdb` releases in side environments, as BI tools bundle them, to open what we publish.

Each release is installed once from PyPI into `.venv-bi/duckdb-<version>/` of the checkout (kept
out of git, reused by later runs). Without PyPI the tests that need one are skipped with the
reason, except in CI, where they fail.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SIDE_ENVIRONMENTS = REPO_ROOT / ".venv-bi"
# What the MotherDuck Metabase driver bundles: DuckDB 1.5.5 in its latest release (1.5.5.0),
# 1.4.3 in the Dockerfile of its repository (driver 1.4.3.1).
METABASE_DRIVER_DUCKDB = ("1.4.3", "1.5.5")

_READER = """
import json, sys
import duckdb
with duckdb.connect(sys.argv[1], read_only=True) as connection:
    rows = connection.execute(sys.argv[2]).fetchall()
print(json.dumps({"version": duckdb.__version__, "rows": rows}, default=str))
"""


def _uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]


def older_duckdb_python(version: str) -> Path:
    """The interpreter of a side environment holding `duckdb==version`, installed if missing."""
    environment = SIDE_ENVIRONMENTS / f"duckdb-{version}"
    python = environment / "bin" / "python"
    installed = environment / ".installed"
    SIDE_ENVIRONMENTS.mkdir(exist_ok=True)
    # Test runs of other checkouts never share this directory, but two runs of this one may.
    with (SIDE_ENVIRONMENTS / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed.exists():
            for command in (
                [*_uv(), "venv", "--quiet", "--allow-existing", "--python", "3.11", environment],
                [*_uv(), "pip", "install", "--quiet", "--python", python, f"duckdb=={version}"],
            ):
                completed = subprocess.run(
                    [str(part) for part in command],
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
                if completed.returncode != 0:
                    reason = (
                        f"cannot install duckdb=={version} from PyPI: "
                        + (completed.stderr.strip().splitlines() or ["(no output)"])[-1]
                    )
                    if os.environ.get("CI"):
                        pytest.fail(reason)
                    pytest.skip(reason)
            installed.touch()
    return python


def read_with_older_duckdb(python: Path, database: Path, sql: str) -> tuple[str, list[list[Any]]]:
    """The DuckDB version of `python` and the rows of `sql` on `database`, opened read-only."""
    completed = subprocess.run(
        [str(python), "-c", _READER, str(database), sql],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout)
    return result["version"], result["rows"]
