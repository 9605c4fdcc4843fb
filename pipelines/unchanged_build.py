"""A build that could change nothing is skipped: most of its time is dbt's fixed cost per node.

After each successful build of the whole project, a record goes beside dbt's target
(`last-build-<warehouse key>.json`): a key of what dbt renders (the project files, the
environment and vars, not the password), the raw tables as the models read them, and the time
at which the oldest call in progress runs out of its grace period. The next whole-project build
runs dbt only when

- the key changed (an upgrade, another setting or var),
- the raw tables changed: `pbx55_raw.pushes` (row count and newest `_dlt_load_id`, which catch
  the rows of a load killed before it completed) or `_dlt_loads` (count and newest load, which
  the report API's tables are read through),
- a relation of the project is missing from the warehouse (dropped by hand, a restored backup),
- a call in progress has run out of its grace period (`int_calls__reduced` turns it incomplete:
  the one result of the models that the clock changes, macros/kpi_helpers.sql),
- the last build is an hour old: two data-quality tests read the clock (the report API silent
  too long, the coverage of finished days), and they are evaluated at least hourly, or
- there is no record: a first build, a lost data directory, or a failed build, whose record is
  removed before dbt starts, so a broken invariant fails every run until it is fixed.

Otherwise dbt would find nothing new for any incremental model and re-create every view and
table from the same rows. `--full-refresh`, a selection and CI's unit-test builds always run.
A test (tests/models/test_unchanged_build.py) lists the dbt files that read the clock, so that a
new one is accounted for here first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from foundation.settings import Settings

log = logging.getLogger(__name__)

IN_PROGRESS_MODEL = "int_calls__reduced"
RECHECK_AFTER_S = 3600


@dataclass(frozen=True)
class BuildRecord:
    key: str  # what dbt renders (`run_key`)
    raw_state: list[Any]  # `raw_state`
    grace_runs_out_at: float | None  # epoch seconds; None: no call in progress
    built_at: float  # epoch seconds


@dataclass(frozen=True)
class SkippedBuild:
    """What `build_models` returns instead of dbt's result when it skipped the build."""

    built_at: float  # epoch seconds, of the build whose results stand

    @property
    def last_built_at(self) -> str:
        return dt.datetime.fromtimestamp(self.built_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    @property
    def message(self) -> str:
        return (
            f"dbt build skipped: nothing changed since the build of {self.last_built_at} (no new "
            "load, no call out of its grace period); `pbx55 build --full-refresh` rebuilds all"
        )


def record_path(settings: Settings, warehouse_key: str) -> Path:
    return settings.data_dir / "dbt" / f"last-build-{warehouse_key}.json"


def skipped_build(
    settings: Settings, path: Path, key: str, manifest: Any, as_of_utc: str | None
) -> SkippedBuild | None:
    """The build to skip to, or None when dbt must run."""
    record = _read(path)
    if record is None or record.key != key or time.time() >= record.built_at + RECHECK_AFTER_S:
        return None
    if missing_relations(settings, manifest):
        return None
    if raw_state(settings) != record.raw_state:
        return None
    now = _epoch(as_of_utc) if as_of_utc else time.time()
    if record.grace_runs_out_at is not None and now >= record.grace_runs_out_at:
        return None
    return SkippedBuild(record.built_at)


def write_record(
    settings: Settings, path: Path, key: str, manifest: Any, grace_hours: float
) -> None:
    """Record the warehouse as this successful build left it."""
    oldest = _oldest_call_in_progress(settings, manifest)
    record = BuildRecord(
        key=key,
        raw_state=raw_state(settings),
        grace_runs_out_at=None if oldest is None else oldest + grace_hours * 3600,
        built_at=time.time(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    written = path.with_suffix(".tmp")
    written.write_text(json.dumps(asdict(record)))
    written.replace(path)


def run_key(
    project_fingerprint: str,
    env: Mapping[str, str],
    dbt_vars: Mapping[str, Any] | None,
    command: Sequence[str],
) -> str:
    """What dbt renders for a run: the project files, the environment but its secret, the vars
    and the command. Not the reference time of the grace period: its only effect is the calls
    it turns incomplete, which `grace_runs_out_at` covers."""
    public_env = {
        name: value
        for name, value in env.items()
        if "SECRET" not in name and name != "PBX55_AS_OF_UTC"
    }
    run_vars = {name: value for name, value in (dbt_vars or {}).items() if name != "as_of_utc"}
    rendered = [project_fingerprint, public_env, run_vars, list(command)]
    return hashlib.sha256(json.dumps(rendered, sort_keys=True).encode()).hexdigest()


def raw_state(settings: Settings) -> list[Any]:
    """The raw tables as the models read them; a table not there yet reads as None."""
    raw = settings.raw_schema
    return [
        _one_row(settings, f"select count(*), max(_dlt_load_id) from {raw}.pushes"),  # noqa: S608
        _one_row(settings, f"select count(*), max(load_id) from {raw}._dlt_loads"),  # noqa: S608
    ]


def missing_relations(settings: Settings, manifest: Any) -> set[tuple[str, str]]:
    """The project's tables and views (models and seeds) the warehouse does not hold."""
    expected = {
        (node.schema, node.alias)
        for node in manifest.nodes.values()
        if node.resource_type in ("model", "seed") and node.config.materialized != "ephemeral"
    }
    schemas = sorted({schema for schema, _ in expected})
    present = warehouse_rows(
        settings,
        "select table_schema, table_name from information_schema.tables "  # noqa: S608 (a ? each)
        f"where table_schema in ({', '.join('?' for _ in schemas)})",
        schemas,
    )
    return expected - {tuple(row) for row in present}


def warehouse_rows(
    settings: Settings, sql: str, params: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """The rows of one query on the warehouse, on a connection of its own; `sql` takes its
    `params` as DuckDB's `?` (psycopg2's `%s` on Postgres: no query here has a `?` of its own)."""
    if settings.warehouse == "duckdb":
        if not settings.duckdb_path.exists():
            return []
        import duckdb

        with duckdb.connect(str(settings.duckdb_path)) as connection:
            return connection.execute(sql, list(params)).fetchall()
    import psycopg2

    connection = psycopg2.connect(settings.postgres_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), tuple(params))
            return cursor.fetchall()
    finally:
        connection.close()


def _oldest_call_in_progress(settings: Settings, manifest: Any) -> float | None:
    """Epoch seconds of the oldest last push of a call in progress, None when there is none."""
    node = next(
        node
        for node in manifest.nodes.values()
        if node.resource_type == "model" and node.name == IN_PROGRESS_MODEL
    )
    row = _one_row(
        settings,
        "select min(extract(epoch from last_received_at)) "  # noqa: S608 (the project's relation)
        f"from {node.schema}.{node.alias} where outcome = 'in_progress'",
    )
    return None if row is None or row[0] is None else float(row[0])


def _one_row(settings: Settings, sql: str) -> list[Any] | None:
    try:
        rows = warehouse_rows(settings, sql)
    except Exception:  # a table not there yet (a first load, no report API): a state of its own
        log.debug("unchanged-build probe failed: %s", sql, exc_info=True)
        return None
    return [str(value) if value is not None else None for value in rows[0]] if rows else None


def _read(path: Path) -> BuildRecord | None:
    try:
        return BuildRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _epoch(utc_timestamp: str) -> float:
    moment = dt.datetime.fromisoformat(utc_timestamp.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()
