"""Raw tables and mart snapshots on DuckDB and Postgres, for comparing builds."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg2

from foundation.landing.envelope import PushIds
from foundation.landing.layout import hour_bucket_at
from foundation.settings import Settings
from pipelines.loader.load import LOADED_FILES_TABLE, PUSHES_TABLE, load_landed_pushes
from tests.landing_files import epoch_us, landed_line, write_landing_file
from tests.models.raw_pushes import insert_sql

# Stamped by the run, so they differ between any two builds (a full refresh never moves a call).
RUN_TIME_COLUMNS = {"reduced_at", "built_at", "moved_from_reported_date"}


def manifest_marts(manifest: Path) -> list[str]:
    """Every mart the dbt project builds, read from its manifest: what the comparisons cover.

    A mart is a model of the project's `marts` folder (`fqn[1]`, so subfolders count too) that
    dbt materialises; a new mart is compared without anyone adding it to a list.
    """
    nodes = json.loads(manifest.read_text())["nodes"].values()
    tables = sorted(
        node["alias"]
        for node in nodes
        if node["resource_type"] == "model"
        and node["fqn"][1] == "marts"
        and node["config"]["materialized"] != "ephemeral"
    )
    assert "fct_calls" in tables, f"no marts in {manifest}: {tables}"
    return tables


@contextmanager
def connect(settings: Settings) -> Iterator[Any]:
    if settings.warehouse == "duckdb":
        connection = duckdb.connect(str(settings.duckdb_path))
    else:
        connection = psycopg2.connect(settings.postgres_url)
        connection.autocommit = True
    try:
        yield connection
    finally:
        connection.close()


def append_raw(settings: Settings, rows: Sequence[tuple[Any, ...]]) -> None:
    """Append hand-written `rows` (`raw_pushes.PushFactory`) to the raw `pushes` table, created
    by the loader itself when missing (`create_raw_tables`)."""
    schema = settings.raw_schema
    if not raw_table_exists(settings):
        create_raw_tables(settings)
    if rows:
        with connect(settings) as connection:
            connection.cursor().executemany(insert_sql(schema, settings.warehouse), list(rows))


def raw_table_exists(settings: Settings) -> bool:
    if settings.warehouse == "duckdb" and not settings.duckdb_path.exists():
        return False
    with connect(settings) as connection:
        cursor = connection.cursor()
        cursor.execute(
            "select count(*) from information_schema.tables"  # noqa: S608
            f" where table_schema = '{settings.raw_schema}' and table_name = '{PUSHES_TABLE}'"
        )
        return cursor.fetchone()[0] == 1


def create_raw_tables(settings: Settings) -> None:
    """The raw tables exactly as the loader creates them (columns, types, order, dlt's own
    tables): the real loader run on one landed push, whose rows are then deleted."""
    seed = dataclasses.replace(settings, landing_dir=settings.data_dir / "raw-table-seed")
    received_at = datetime(2026, 1, 1, tzinfo=UTC)
    line = landed_line(PushIds("rawtable"), {"call_id": "seed"}, received_us=epoch_us(received_at))
    write_landing_file(seed.pushes_dir, hour_bucket_at(received_at), "rawtable", 1, line)
    load_landed_pushes(seed)
    shutil.rmtree(seed.landing_dir)
    with connect(settings) as connection:
        cursor = connection.cursor()
        for table in (PUSHES_TABLE, LOADED_FILES_TABLE):
            cursor.execute(f"delete from {settings.raw_schema}.{table}")  # noqa: S608


def _normalised(value: Any) -> Any:
    if isinstance(value, Decimal | float):
        number = float(value)
        return None if math.isnan(number) else round(number, 6)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value


def snapshot(settings: Settings, marts: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Every mart table (`manifest_marts`) as sorted rows of normalised values, run-time columns
    left out. A mart that is missing fails the query: it is never skipped."""
    tables = {}
    with connect(settings) as connection:
        cursor = connection.cursor()
        for table in marts:
            cursor.execute(f"select * from {settings.schema_prefix}marts.{table}")  # noqa: S608
            names = [column[0] for column in cursor.description]
            rows = [
                {
                    name: _normalised(value)
                    for name, value in zip(names, row, strict=True)
                    if name not in RUN_TIME_COLUMNS
                }
                for row in cursor.fetchall()
            ]
            tables[table] = sorted(rows, key=lambda row: repr(sorted(row.items())))
    return tables


def schemas_with_prefix(settings: Settings, prefix: str) -> list[str]:
    with connect(settings) as connection:
        cursor = connection.cursor()
        cursor.execute(
            "select schema_name from information_schema.schemata where schema_name like %s",
            (prefix.replace("_", r"\_") + "%",),
        )
        return [row[0] for row in cursor.fetchall()]


def drop_schemas(settings: Settings, prefix: str) -> None:
    for schema in schemas_with_prefix(settings, prefix):
        with connect(settings) as connection:
            connection.cursor().execute(f"drop schema {schema} cascade")
