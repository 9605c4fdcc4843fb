"""Raw tables and mart snapshots on DuckDB and Postgres, for comparing builds."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg2

from foundation.settings import Settings
from tests.models.raw_pushes import create_table_sql, insert_sql

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
    """Create the raw `pushes` table when missing and append `rows`, as the loader would."""
    schema = settings.raw_schema
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with connect(settings) as connection:
        cursor = connection.cursor()
        for statement in create_table_sql(schema, settings.warehouse):
            cursor.execute(statement)
        if rows:
            cursor.executemany(insert_sql(schema, settings.warehouse), list(rows))


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
