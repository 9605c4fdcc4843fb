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
load holds the warehouse's writer lock throughout (warehouse_lock.py).

Every check is bounded by the batch's own ids, never the whole history: the warehouse is asked
how many ids it holds in the batch's range first, and for the ids themselves only when some are
there; each earlier batch's ids are kept in a Parquet file, read only when its range overlaps.
Batches of new pushes (files sealed in time order) pass with one count and no file read.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.destinations.sql_client import SqlClientBase


@dataclass(frozen=True)
class _IdRange:
    low: str
    high: str

    def overlaps(self, other: _IdRange) -> bool:
        return self.low <= other.high and other.low <= self.high


class NewPushes:
    """Filters the batches of one load; `directory` holds their ids (emptied first: a killed
    load may have left its own there)."""

    def __init__(self, directory: Path, pushes_table: str) -> None:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        self._directory = directory
        self._pushes_table = pushes_table
        self._earlier: list[tuple[_IdRange, Path]] = []

    def close(self) -> None:
        shutil.rmtree(self._directory, ignore_errors=True)

    def of(self, typed: pa.Table, warehouse: SqlClientBase) -> pa.Table:
        """The rows of `typed` (rows of `PUSHES_SCHEMA`) that are new pushes.

        `warehouse` is a client of the warehouse `pushes` is in, or will be once created.
        """
        if not typed.num_rows:
            return typed
        ids = pc.unique(typed["push_id"])
        bounds = pc.min_max(ids)
        id_range = _IdRange(bounds["min"].as_py(), bounds["max"].as_py())
        if len(ids) < typed.num_rows:
            typed = typed.take(_first_of_each_id(typed))
        seen = [
            *_ids_in_warehouse(warehouse, self._pushes_table, ids, id_range),
            *(
                pq.read_table(path).column("push_id").combine_chunks()
                for earlier, path in self._earlier
                if earlier.overlaps(id_range)
            ),
        ]
        if seen:
            typed = typed.filter(
                pc.invert(pc.is_in(typed["push_id"], value_set=pa.concat_arrays(seen)))
            )
        path = self._directory / f"ids-{len(self._earlier):06d}.parquet"
        pq.write_table(typed.select(["push_id"]), path, compression="none")
        self._earlier.append((id_range, path))
        return typed


def _first_of_each_id(typed: pa.Table) -> pa.Array:
    """Positions of the first row of each push_id (by source file, then line), in row order."""
    order = pc.sort_indices(
        typed,
        sort_keys=[(name, "ascending") for name in ("push_id", "source_file", "line_number")],
    )
    ids = typed["push_id"].take(order)
    starts = pc.not_equal(ids[1:], ids[:-1])
    first = pc.filter(order, pa.concat_arrays([pa.array([True]), starts.combine_chunks()]))
    return pc.take(first, pc.array_sort_indices(first))


def _ids_in_warehouse(
    warehouse: SqlClientBase, pushes_table: str, ids: pa.Array, id_range: _IdRange
) -> list[pa.Array]:
    """Those of `ids` already in the warehouse's pushes (none, or one array of them).

    The range is counted first (Postgres' unique index on push_id, DuckDB's min/max per row
    group); the ids are sent only when the range holds some.
    """
    table = warehouse.make_qualified_table_name(pushes_table)
    in_range = f"SELECT push_id FROM {table} WHERE push_id BETWEEN %s AND %s"  # noqa: S608
    try:
        [(count,)] = warehouse.execute_sql(
            f"SELECT count(*) FROM ({in_range}) AS in_range",  # noqa: S608
            id_range.low,
            id_range.high,
        )
    except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
        return []  # the first load: no pushes table yet
    if not count:
        return []
    rows = warehouse.execute_sql(
        f"{in_range} AND push_id IN (SELECT unnest(%s))",
        id_range.low,
        id_range.high,
        ids.to_pylist(),
    )
    return [pa.array([row[0] for row in rows or ()], pa.string())]
