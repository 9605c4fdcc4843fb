"""The rows of each typed batch that are pushes the warehouse does not hold yet.

`pushes` is an append table: a row is written once, straight into the table, and never replaced,
so a push must never be handed to dlt twice. Of a typed batch, `NewPushes.of` keeps only the rows
whose `push_id`
1. is the first of its id in the batch (by source file, then line: a line written twice, or a
   file and its copy in one batch),
2. is not in an earlier batch of this load (a copy in another batch), and
3. is not in the warehouse's pushes (a file loaded again after a load that committed its pushes
   but not its ledger, a copy of a file loaded before).
That holds only while nothing else writes `pushes` between the look-up and dlt's commit: the
load holds the warehouse's writer lock throughout (warehouse_lock.py). The look-up in the
warehouse is bounded by the batch's own ids (their range, then the ids themselves), never the
whole history. The ids of this load are kept in a DuckDB file of their own, so a load as large
as a rebuild does not hold them in memory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.destinations.sql_client import SqlClientBase


class NewPushes:
    """Filters the batches of one load; `directory` holds its ids (emptied first: a killed load
    may have left its own there)."""

    def __init__(self, directory: Path, pushes_table: str) -> None:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        self._directory = directory
        self._pushes_table = pushes_table
        self._connection = duckdb.connect(str(directory / "pushes_of_this_load.duckdb"))
        self._connection.execute("SET enable_progress_bar = false")
        self._connection.execute("CREATE TABLE pushes_of_this_load (push_id VARCHAR)")

    def close(self) -> None:
        self._connection.close()
        shutil.rmtree(self._directory, ignore_errors=True)

    def of(self, typed: pa.Table, warehouse: SqlClientBase) -> pa.Table:
        """The rows of `typed` (rows of `PUSHES_SCHEMA`) that are new pushes.

        `warehouse` is a client of the warehouse `pushes` is in, or will be once created.
        """
        if not typed.num_rows:
            return typed
        ids = pc.unique(typed["push_id"])
        bounds = pc.min_max(ids)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        connection = self._connection
        batch = typed.select(["push_id", "source_file", "line_number"])
        connection.register(
            "batch", batch.append_column("position", pa.array(range(typed.num_rows), pa.int64()))
        )
        connection.register(
            "in_warehouse", _ids_in_warehouse(warehouse, self._pushes_table, ids, low, high)
        )
        try:
            kept = connection.execute(
                """SELECT position FROM (
                       SELECT push_id, position,
                           row_number() OVER (PARTITION BY push_id
                                              ORDER BY source_file, line_number) AS nth
                       FROM batch)
                   WHERE nth = 1
                     AND push_id NOT IN (SELECT push_id FROM in_warehouse)
                     AND push_id NOT IN (SELECT push_id FROM pushes_of_this_load
                                         WHERE push_id BETWEEN $low AND $high)
                   ORDER BY position""",
                {"low": low, "high": high},
            ).fetchnumpy()["position"]
            new = typed if len(kept) == typed.num_rows else typed.take(kept)
            connection.register("new", new.select(["push_id"]))
            connection.execute("INSERT INTO pushes_of_this_load SELECT push_id FROM new")
        finally:
            for view in ("batch", "in_warehouse", "new"):
                connection.unregister(view)
        return new


def _ids_in_warehouse(
    warehouse: SqlClientBase, pushes_table: str, ids: pa.Array, low: str, high: str
) -> pa.Table:
    """Those of `ids` already in the warehouse's pushes, looked up within [low, high] first
    (Postgres' unique index on push_id, DuckDB's min/max per row group)."""
    table = warehouse.make_qualified_table_name(pushes_table)
    try:
        rows = warehouse.execute_sql(
            f"""SELECT push_id FROM {table}
                WHERE push_id BETWEEN %s AND %s AND push_id IN (SELECT unnest(%s))""",  # noqa: S608
            low,
            high,
            ids.to_pylist(),
        )
    except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
        rows = None  # the first load: no pushes table yet
    return pa.table({"push_id": pa.array([row[0] for row in rows or ()], pa.string())})
