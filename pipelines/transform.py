"""Run the dbt project in `dbt_models/` against the warehouse chosen by `Settings`.

dbt reads its connection from environment variables (see `dbt_models/profiles.yml`); `dbt_env`
derives them from `Settings`, so the loader and dbt always point at the same store. The Postgres
password travels as `DBT_ENV_SECRET_PBX55_PG_PASSWORD`, which dbt scrubs from its logs; it is never
printed here either.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pbx55.settings import Settings

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_models"
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")

log = logging.getLogger(__name__)


class DbtRunError(RuntimeError):
    """A dbt command failed (a model did not build or an error-severity test failed)."""


def dbt_env(settings: Settings, *, schema_prefix: str | None = None) -> dict[str, str]:
    """The environment variables `profiles.yml` and `dbt_project.yml` read, from `settings`.

    `schema_prefix` (else `PBX55_SCHEMA_PREFIX` from the environment, else none) is prepended to
    every schema, the raw one included, so that parallel test runs sharing a database never meet.
    """
    env = {
        "PBX55_WAREHOUSE": settings.warehouse,
        "PBX55_DUCKDB_PATH": str(settings.duckdb_path),
        "PBX55_TIMEZONE": settings.timezone,
    }
    if settings.postgres_url:
        url = urlsplit(settings.postgres_url)
        env |= {
            "PBX55_PG_HOST": url.hostname or "127.0.0.1",
            "PBX55_PG_PORT": str(url.port or 5432),
            "PBX55_PG_USER": unquote(url.username or "postgres"),
            "DBT_ENV_SECRET_PBX55_PG_PASSWORD": unquote(url.password or ""),
            "PBX55_PG_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
        }
    if schema_prefix is not None:
        env["PBX55_SCHEMA_PREFIX"] = schema_prefix
    return env


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    *,
    schema_prefix: str | None = None,
    dbt_vars: Mapping[str, Any] | None = None,
    target_path: Path | None = None,
) -> None:
    """Run one dbt command on the project; raise `DbtRunError` when it fails."""
    target_path = target_path or settings.data_dir / "dbt" / "target"
    command = [
        str(DBT_EXECUTABLE),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target",
        settings.warehouse,
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path.parent / "logs"),
    ]
    if dbt_vars:
        command += ["--vars", json.dumps(dict(dbt_vars))]
    if settings.warehouse == "duckdb":
        settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    log.info("dbt %s on %s", " ".join(args), settings.warehouse)
    completed = subprocess.run(
        command,
        env={**os.environ, **dbt_env(settings, schema_prefix=schema_prefix)},
        cwd=DBT_PROJECT_DIR,
        check=False,
    )
    if completed.returncode != 0:
        raise DbtRunError(f"dbt {args[0]} failed with exit code {completed.returncode}")


def build_models(
    settings: Settings,
    *,
    full_refresh: bool = False,
    unit_tests: bool = False,
    schema_prefix: str | None = None,
    dbt_vars: Mapping[str, Any] | None = None,
) -> None:
    """`dbt build`: seeds, models (incrementally unless `full_refresh`) and data tests.

    dbt unit tests check the SQL, not the data, so routine runs leave them out; CI runs them with
    `unit_tests=True`.
    """
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    run_dbt(settings, args, schema_prefix=schema_prefix, dbt_vars=dbt_vars)


def prepare_manifest(settings: Settings | None = None, *, force: bool = False) -> Path:
    """Make sure `dbt_models/target/manifest.json` exists and is newer than the project files.

    Dagster loads the dbt assets from this manifest in every process (webserver, daemon, run
    workers), so it is prepared ahead of time rather than only under `dagster dev`.
    """
    if force or _manifest_is_stale():
        run_dbt(
            settings or Settings.from_env(),
            ["parse", "--quiet"],
            target_path=MANIFEST_PATH.parent,
        )
    return MANIFEST_PATH


def _manifest_is_stale() -> bool:
    if not MANIFEST_PATH.exists():
        return True
    built = MANIFEST_PATH.stat().st_mtime
    sources = (
        path
        for folder in ("models", "macros", "seeds", "tests")
        for path in (DBT_PROJECT_DIR / folder).rglob("*")
        if path.is_file()
    )
    project_files = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    return any(path.stat().st_mtime > built for path in [*project_files, *sources])
