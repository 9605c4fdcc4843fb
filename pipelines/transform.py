"""Run the dbt project in `dbt_models/` against the warehouse chosen by `Settings`.

dbt reads its connection from environment variables (see `dbt_models/profiles.yml`); `dbt_env`
derives them from `Settings`, so the loader and dbt always point at the same store. The Postgres
password travels as `DBT_ENV_SECRET_PBX55_PG_PASSWORD`, which dbt scrubs from its logs; it is never
printed here either.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pbx55.settings import Settings
from pipelines.warehouse_lock import warehouse_writer

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_models"
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")
RAW_SCHEMA = "pbx55_raw"  # the dbt source; with the schema prefix, the writer lock's scope

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
    """Run one dbt command on the project in this process; raise `DbtRunError` when it fails.

    In-process rather than a `dbt` subprocess: a subprocess pays for importing dbt and loading the
    project on every run, seconds that dominate an incremental build. The parsed manifest is kept
    for later runs with the same project files, environment and vars (see `_parsed_manifest`).
    """
    from dbt.cli.main import dbtRunner

    target_path = target_path or settings.data_dir / "dbt" / "target"
    common = [
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
        common += ["--vars", json.dumps(dict(dbt_vars), sort_keys=True)]
    if settings.warehouse == "duckdb":
        settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    log.info("dbt %s on %s", " ".join(args), settings.warehouse)
    env = dbt_env(settings, schema_prefix=schema_prefix)
    with _environment(env):
        if args[0] == "parse":
            result = dbtRunner().invoke([*args, *common])
            if result.success:
                _manifest_cache.update(key=_manifest_key(env, common), manifest=result.result)
        else:
            manifest = _parsed_manifest(env, common)
            try:
                result = dbtRunner(manifest=manifest).invoke([*args, *common])
            finally:
                if settings.warehouse == "duckdb":
                    _close_duckdb()
    if not result.success:
        raise DbtRunError(f"dbt {args[0]} failed") from result.exception


def _close_duckdb() -> None:
    """Close the database dbt-duckdb keeps open in the process after an in-process run.

    Left open, it would lock the file against other processes (the loader) and refuse read-only
    connections in this one until the process exits.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV  # private: dbt-duckdb offers no public close
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()


# The manifest of the last parse, with the key it was parsed under: the project files' contents
# and the environment and vars, all of which dbt renders into it at parse time.
_manifest_cache: dict[str, Any] = {}


def _manifest_key(env: Mapping[str, str], common: Sequence[str]) -> str:
    return hashlib.sha256(
        json.dumps([_project_fingerprint(), dict(env), list(common)]).encode()
    ).hexdigest()


def _parsed_manifest(env: Mapping[str, str], common: Sequence[str]) -> Any:
    from dbt.cli.main import dbtRunner

    key = _manifest_key(env, common)
    if _manifest_cache.get("key") != key:
        result = dbtRunner().invoke(["parse", "--quiet", *common])
        if not result.success:
            raise DbtRunError("dbt parse failed") from result.exception
        _manifest_cache.update(key=key, manifest=result.result)
    return _manifest_cache["manifest"]


def _project_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted(_project_files()):
        digest.update(str(path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _project_files() -> list[Path]:
    sources = (
        path
        for folder in ("models", "macros", "seeds", "tests")
        for path in (DBT_PROJECT_DIR / folder).rglob("*")
        if path.is_file()
    )
    return [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml", *sources]


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """`env` set in `os.environ` for the duration of a dbt invocation, which reads it from there."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


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
    `unit_tests=True`, and then the data tests check every row, not only the rows this build wrote
    (var `data_tests_on_all_rows`, macros/data_test_scope.sql).

    Seeds are loaded when their tables are missing, when the CSVs or the project file changed
    since they were last loaded into this warehouse, and on a full refresh; otherwise reloading
    them would only cost time and rebuild nothing.
    """
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    prefix = os.environ.get("PBX55_SCHEMA_PREFIX", "") if schema_prefix is None else schema_prefix
    seeds_loaded = _seeds_marker(settings, prefix)
    seeds_current = (
        not full_refresh
        and seeds_loaded.exists()
        and seeds_loaded.read_text() == _seeds_fingerprint()
        and _seed_tables_exist(settings, prefix)
    )
    if seeds_current:
        args += ["--exclude-resource-type", "seed"]
    if unit_tests:
        dbt_vars = {"data_tests_on_all_rows": True, **(dbt_vars or {})}
    with warehouse_writer(settings, "pbx55 build", scope=f"{prefix}{RAW_SCHEMA}"):
        run_dbt(settings, args, schema_prefix=schema_prefix, dbt_vars=dbt_vars)
    if not seeds_current:
        seeds_loaded.parent.mkdir(parents=True, exist_ok=True)
        seeds_loaded.write_text(_seeds_fingerprint())


SEED_SCHEMA = "reference"


def _seeds_fingerprint() -> str:
    """The seed CSVs and the project file (which declares their column types)."""
    digest = hashlib.sha256()
    for path in [DBT_PROJECT_DIR / "dbt_project.yml", *sorted(_seed_files())]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _seed_files() -> list[Path]:
    return list((DBT_PROJECT_DIR / "seeds").glob("*.csv"))


def _seeds_marker(settings: Settings, schema_prefix: str) -> Path:
    """Where the fingerprint of the seeds last loaded into this warehouse and prefix is kept."""
    env = dbt_env(settings, schema_prefix=schema_prefix)
    env.pop("DBT_ENV_SECRET_PBX55_PG_PASSWORD", None)
    warehouse = hashlib.sha256(json.dumps(env, sort_keys=True).encode()).hexdigest()[:16]
    return settings.data_dir / "dbt" / f"seeds-loaded-{warehouse}.sha256"


def _seed_tables_exist(settings: Settings, schema_prefix: str) -> bool:
    schema = schema_prefix + SEED_SCHEMA
    query = "select table_name from information_schema.tables where table_schema = "
    if settings.warehouse == "duckdb":
        if not settings.duckdb_path.exists():
            return False
        import duckdb

        with duckdb.connect(str(settings.duckdb_path)) as connection:
            rows = connection.execute(query + "?", [schema]).fetchall()
    else:
        import psycopg2

        connection = psycopg2.connect(settings.postgres_url)
        try:
            with connection.cursor() as cursor:
                cursor.execute(query + "%s", (schema,))
                rows = cursor.fetchall()
        finally:
            connection.close()
    return {path.stem for path in _seed_files()} <= {row[0] for row in rows}


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
    return any(path.stat().st_mtime > built for path in _project_files())
