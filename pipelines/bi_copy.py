"""The BI serving copy: what Metabase and notebooks read, so they never hold the warehouse open.

DuckDB allows one writer per file, and a reader holding the warehouse open blocks the next load.
So after each refresh the `marts` schema is copied into a new DuckDB file next to the warehouse
and swapped in with `os.replace`: readers see the previous copy or the new one, never half of
one, and a reader that still has the old file open keeps reading it undisturbed. With the Postgres
warehouse there is nothing to copy: BI tools read the `marts` schema there directly.

The copy is written in the storage format of `PBX55_BI_STORAGE_VERSION` (DuckDB 1.4 by default),
not in that of the `duckdb` writing it: BI tools bundle older DuckDB releases (Metabase's driver
bundles 1.4 or 1.5), and DuckDB cannot open a file written in a newer format than its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from foundation.landing.durable import fsync_path
from foundation.settings import Settings
from pipelines.warehouse_lock import warehouse_writer

SERVED_SCHEMA = "marts"
PUBLICATION_SCHEMA = "pbx55_meta"


class UnknownStorageVersionError(ValueError):
    """`PBX55_BI_STORAGE_VERSION` names no DuckDB release this `duckdb` can write for."""


@dataclass(frozen=True)
class BiPublication:
    path: Path | None  # None when BI reads the warehouse directly (Postgres)
    published_at: datetime
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows
    note: str = ""


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def publish_bi_copy(settings: Settings) -> BiPublication:
    """Copy the warehouse's `marts` into `settings.bi_duckdb_path`, swapped in atomically.

    Under the writer lock: a writer mid-run holds the DuckDB file, and the copy must not mix
    the marts of two builds.
    """
    with warehouse_writer(settings, "BI copy"):
        return _publish_bi_copy(settings)


def _publish_bi_copy(settings: Settings) -> BiPublication:
    published_at = datetime.now(UTC)
    if settings.warehouse == "postgres":
        return BiPublication(
            path=None,
            published_at=published_at,
            note="Postgres warehouse: BI tools read its marts schema directly; nothing to copy.",
        )
    target = settings.bi_duckdb_path
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    # The warehouse is attached under its own catalog name (the file stem), so that any view
    # dbt may build in marts resolves its fully qualified references.
    source_catalog = settings.duckdb_path.stem
    # BI always reads `marts`, whatever schema prefix the warehouse's own marts have.
    source_schema = settings.schema_prefix + SERVED_SCHEMA
    tables: dict[str, int] = {}
    try:
        with _new_copy(partial, settings.bi_storage_version) as copy:
            path_literal = str(settings.duckdb_path).replace("'", "''")
            copy.execute(f"ATTACH '{path_literal}' AS {_quoted(source_catalog)} (READ_ONLY)")
            names = copy.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = ? and table_schema = ? order by table_name",
                [source_catalog, source_schema],
            ).fetchall()
            copy.execute(f"create schema {SERVED_SCHEMA}")
            # Table names come from the warehouse's own catalog and are quoted as identifiers.
            for (name,) in names:
                served = f"{SERVED_SCHEMA}.{_quoted(name)}"
                source = f"{_quoted(source_catalog)}.{_quoted(source_schema)}.{_quoted(name)}"
                copy.execute(f"create table {served} as select * from {source}")  # noqa: S608
                count_sql = f"select count(*) from {served}"  # noqa: S608
                tables[name] = copy.execute(count_sql).fetchone()[0]
            copy.execute(f"detach {_quoted(source_catalog)}")
            copy.execute(f"create schema {PUBLICATION_SCHEMA}")
            copy.execute(
                f"create table {PUBLICATION_SCHEMA}.publication as "
                "select ?::timestamptz as published_at, ? as source_warehouse, ? as tables",
                [published_at, str(settings.duckdb_path), len(tables)],
            )
            copy.execute("checkpoint")
        fsync_path(partial)
        os.replace(partial, target)
        fsync_path(target.parent)
    finally:
        partial.unlink(missing_ok=True)
    return BiPublication(path=target, published_at=published_at, tables=tables)


def _new_copy(path: Path, storage_version: str) -> duckdb.DuckDBPyConnection:
    """A new DuckDB file at `path` in the storage format of the DuckDB release `storage_version`."""
    try:
        return duckdb.connect(str(path), config={"storage_compatibility_version": storage_version})
    except duckdb.InvalidInputException as error:
        raise UnknownStorageVersionError(
            f"PBX55_BI_STORAGE_VERSION={storage_version} is no DuckDB release that duckdb "
            f"{duckdb.__version__} can write files for: name an earlier release (e.g. v1.4.0)"
        ) from error
