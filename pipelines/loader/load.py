"""Load sealed landing files into `pbx55_raw.pushes` with dlt (DuckDB or Postgres, same code).

The source `landed_pushes` yields Arrow tables (dlt's fast path) typed by `typed_pushes`, and,
after each batch, the rows of `pbx55_raw.loaded_files` naming the files of that batch.

Exactly once rests on three things, none of them dlt's working directory:
- a push is appended once: each batch hands dlt only the pushes neither in the warehouse nor in
  an earlier batch of the load (new_pushes.py), and the ledger is merged by `source_file`; so
  loading a file again after any interruption, or loading a copy of it, leaves one row per push;
- a file counts as loaded only when its ledger row belongs to a load recorded as complete in
  `_dlt_loads`, which dlt writes after every table of the load is in; so the ledger can never
  claim rows that did not arrive, whatever order the tables were written in;
- one writer at a time (warehouse_lock.py), for the whole load: nothing can add a push between
  new_pushes.py's look-up and dlt's commit.
An interrupted load's package is thrown away, not finished: the warehouse and the landing files
alone decide what is left to load.

Which files are waiting is decided by names, never by modification times: a file the receiver
seals late (after a crash, with an old mtime and an old partition) is still loaded, once.

Batches are typed two at a time on worker threads while dlt writes the previous one; a batch
with a malformed line is re-typed without it (malformed_lines.py), so one damaged file never
stops the load.

`load_landed_pushes` is the one entry point, used by `pbx55 load` and by the Dagster asset.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import dlt
import duckdb
import pyarrow as pa
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.common.schema.typing import LOADS_TABLE_NAME
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from foundation.landing.layout import LandedFile, sealed_landing_files
from foundation.settings import Settings
from pipelines.loader.malformed_lines import set_aside_line_count, set_aside_malformed_lines
from pipelines.loader.new_pushes import NewPushes
from pipelines.loader.personal_data import Tokenizer
from pipelines.loader.pii_key_record import check_pii_key
from pipelines.loader.typed_pushes import MalformedLinesError, type_landed_files
from pipelines.raw_destination import describe_destination, raw_schema_pipeline
from pipelines.warehouse_lock import warehouse_writer

log = logging.getLogger(__name__)
Typed = TypeVar("Typed")

PIPELINE_NAME = "pbx55_landed_pushes"
PUSHES_TABLE = "pushes"
LOADED_FILES_TABLE = "loaded_files"
# Landed JSON read per DuckDB pass: large enough to amortise each pass, small enough that the
# batches in flight (TYPING_THREADS being typed, one being written) stay within about 1.4 GB
# (measured peak for 1M pushes).
BATCH_BYTES = 192 * 1024 * 1024
TYPING_THREADS = 2

LOADED_FILES_SCHEMA = pa.schema(
    [
        # Not null, as dlt makes a primary key: a nullable Arrow field would have dlt warn
        # about differing hints on every batch.
        pa.field("source_file", pa.string(), nullable=False),
        ("row_count", pa.int64()),
        ("malformed_line_count", pa.int64()),
        ("loaded_at", pa.timestamp("us", tz="UTC")),
        ("_dlt_load_id", pa.string()),
    ]
)

# `pushes` is appended to: new_pushes.py hands dlt only pushes the warehouse does not hold yet,
# so each push is written once, straight into the table (a merge would write it twice, into a
# staging table and then the table). The ledger is merged by key (dlt's delete-insert): a file
# loaded again replaces its row. Each table gets its own hints (a table variant):
# resource-level columns would leak into both.
PUSHES_HINTS = dlt.mark.make_hints(
    table_name=PUSHES_TABLE,
    write_disposition="append",
    columns={
        # Wall time in PBX55_TIMEZONE: dlt would otherwise make every Arrow timestamp tz-aware.
        "call_date_local": {"data_type": "timestamp", "timezone": False},
    },
)
LOADED_FILES_HINTS = dlt.mark.make_hints(
    table_name=LOADED_FILES_TABLE,
    write_disposition={"disposition": "merge", "strategy": "delete-insert"},
    primary_key="source_file",
    columns={"source_file": {"unique": False}},
)


@dataclass(frozen=True)
class LoadSummary:
    files: int
    rows: int
    seconds: float
    destination: str
    malformed_lines: int = 0  # set aside in landing/quarantine/ (see malformed_lines.py)

    def __str__(self) -> str:
        if not self.files:
            return f"no sealed landing files waiting ({self.destination}, {self.seconds:.1f} s)"
        rate = self.rows / self.seconds if self.seconds else 0.0
        loaded = (
            f"loaded {self.rows} pushes from {self.files} files into "
            f"{self.destination} in {self.seconds:.1f} s ({rate:,.0f} rows/s)"
        )
        if self.malformed_lines:
            loaded += f"; {self.malformed_lines} malformed lines set aside in landing/quarantine/"
        return loaded


def raw_pipeline(settings: Settings) -> dlt.Pipeline:
    """The dlt pipeline of the landed pushes (pipelines/raw_destination.py)."""
    return raw_schema_pipeline(settings, PIPELINE_NAME)


@dlt.source(name="landed_pushes", max_table_nesting=0)
def landed_pushes(settings: Settings) -> dlt.sources.DltResource:
    """Pushes from the sealed landing files that no completed load has loaded yet."""
    return pushes(settings)


@dlt.resource(name=PUSHES_TABLE, write_disposition="append")
def pushes(settings: Settings) -> Iterator[pa.Table]:
    tokenizer = Tokenizer.from_key(settings.pii_key)
    pipeline = dlt.current.pipeline()
    already_loaded = _loaded_source_files(pipeline)
    waiting = [
        landed
        for landed in sealed_landing_files(settings.landing_dir, settings.pushes_dir)
        if landed.source_file not in already_loaded
    ]
    log.info("%d sealed landing files waiting", len(waiting))
    load_id = dlt.current.load_package_state()["load_id"]
    with (
        duckdb.connect(":memory:") as connection,
        contextlib.closing(
            NewPushes(
                Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.this_load",
                PUSHES_TABLE,
            )
        ) as new_pushes,
        pipeline.sql_client() as warehouse,
        # Closed first: typing still running finishes before its connection is closed.
        contextlib.closing(
            _typed_ahead(
                _BatchTyper(connection, settings, tokenizer, load_id),
                _batches(waiting, BATCH_BYTES),
            )
        ) as typed_batches,
    ):
        for batch, (typed, malformed) in typed_batches:
            new = new_pushes.of(typed, warehouse)
            if new.num_rows:
                yield dlt.mark.with_hints(new, PUSHES_HINTS, create_table_variant=True)
            yield dlt.mark.with_hints(
                _loaded_files_rows(batch, typed, malformed, load_id),
                LOADED_FILES_HINTS,
                create_table_variant=True,
            )


def load_landed_pushes(settings: Settings, *, rotate_pii_key: bool = False) -> LoadSummary:
    """Load every sealed landing file not loaded yet; return what was loaded.

    Holds the warehouse's writer lock throughout (warehouse_lock.py): a second load waits.
    Stops with `PiiKeyMismatchError` when `PBX55_PII_KEY` is not the key the warehouse's tokens
    were made with, unless `rotate_pii_key` (pii_key_record.py).
    """
    started = time.perf_counter()
    tokenizer = Tokenizer.from_key(settings.pii_key)  # a missing key fails here, not inside dlt
    with warehouse_writer(settings, "pbx55 load"):
        pipeline = raw_pipeline(settings)
        _abort_interrupted_loads(pipeline)
        with pipeline.sql_client() as client:
            check_pii_key(client, tokenizer, rotate=rotate_pii_key)
        pipeline.run(landed_pushes(settings))
        _ensure_push_id_index(pipeline, settings)
        _drop_staged_pushes(pipeline)
    trace = pipeline.last_trace
    row_counts = trace.last_normalize_info.row_counts
    return LoadSummary(
        files=row_counts.get(LOADED_FILES_TABLE, 0),
        rows=row_counts.get(PUSHES_TABLE, 0),
        seconds=time.perf_counter() - started,
        destination=describe_destination(settings),
        malformed_lines=sum(
            set_aside_line_count(settings.quarantine_dir, load_id)
            for load_id in trace.last_extract_info.loads_ids
        ),
    )


def _abort_interrupted_loads(pipeline: dlt.Pipeline) -> None:
    """Throw away what an interrupted load left in the working directory; its files load anew.

    Finishing such a package instead would trust the working directory, which may be stale or
    lost, and a package that can never load (a value the destination rejects) would block every
    later file. Nothing is lost: a file is loaded only once its load is complete in the
    warehouse (`_loaded_source_files`), and its pushes that did reach it are not loaded again
    (new_pushes.py).
    """
    if pipeline.has_pending_data:
        log.warning(
            "an earlier load was interrupted: its files are loaded again (pushes already in "
            "the warehouse are skipped, not duplicated)"
        )
        pipeline.abort_packages()


def _ensure_push_id_index(pipeline: dlt.Pipeline, settings: Settings) -> None:
    """On Postgres, a unique index on `push_id`: new_pushes.py looks ids up by it.

    Also the warehouse's own guarantee of one row per push. Named as Postgres names the
    constraint that earlier versions declared, so an existing warehouse keeps its index.
    DuckDB scans columns fast enough, and its indexes slow bulk inserts.
    """
    if settings.warehouse != "postgres":
        return
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(PUSHES_TABLE)
        client.execute_sql(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {PUSHES_TABLE}_push_id_key ON {table} (push_id)"
        )


def _drop_staged_pushes(pipeline: dlt.Pipeline) -> None:
    """Drop the staging copy of `pushes` that loads kept while it was a merge table.

    It holds the last such load's rows, personal data included, and nothing writes or purges it
    any more (retention purges `pushes`).
    """
    with pipeline.sql_client() as client, client.with_staging_dataset():
        table = client.make_qualified_table_name(PUSHES_TABLE)
        client.execute_sql(f"DROP TABLE IF EXISTS {table}")


def _loaded_source_files(pipeline: dlt.Pipeline) -> set[str]:
    """Files whose load is complete: their ledger row belongs to a load dlt recorded as done.

    dlt writes a load's `_dlt_loads` row only after every table of it is in; a ledger row of a
    load without one was committed before some of its pushes, so its file is still waiting.
    """
    try:
        with pipeline.sql_client() as client:
            files = client.make_qualified_table_name(LOADED_FILES_TABLE)
            loads = client.make_qualified_table_name(LOADS_TABLE_NAME)
            with client.execute_query(f"SELECT * FROM {files} LIMIT 0") as cursor:  # noqa: S608
                if "_dlt_load_id" not in {column[0] for column in cursor.description}:
                    # A ledger from before loads were checked: every file still on disk is
                    # loaded once more; its pushes already in the warehouse are skipped.
                    return set()
            rows = client.execute_sql(
                f"""SELECT files.source_file FROM {files} AS files
                    JOIN {loads} AS loads ON loads.load_id = files._dlt_load_id
                    WHERE loads.status = 0"""  # noqa: S608
            )
    except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
        return set()  # first load: the dataset or the table does not exist yet
    return {row[0] for row in rows or ()}


def _batches(files: Sequence[LandedFile], max_bytes: int) -> Iterator[list[LandedFile]]:
    batch: list[LandedFile] = []
    size = 0
    for landed in files:
        if batch and size + landed.size_bytes > max_bytes:
            yield batch
            batch, size = [], 0
        batch.append(landed)
        size += landed.size_bytes
    if batch:
        yield batch


class _BatchTyper:
    """Types a batch on the calling thread's own DuckDB cursor (temp tables are per cursor)."""

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        settings: Settings,
        tokenizer: Tokenizer,
        load_id: str,
    ) -> None:
        self._connection = connection
        self._settings = settings
        self._tokenizer = tokenizer
        self._load_id = load_id
        self._per_thread = threading.local()

    def __call__(self, batch: list[LandedFile]) -> tuple[pa.Table, dict[str, int]]:
        """The batch's rows, and how many lines of each damaged file were set aside."""
        try:
            return self._type(batch), {}
        except MalformedLinesError:
            with tempfile.TemporaryDirectory(prefix="repair-", dir=self._settings.data_dir) as work:
                repaired = set_aside_malformed_lines(
                    batch,
                    quarantine_dir=self._settings.quarantine_dir,
                    repair_dir=Path(work),
                    load_id=self._load_id,
                )
                return self._type(repaired.files), repaired.malformed_counts

    def _type(self, files: list[LandedFile]) -> pa.Table:
        if not hasattr(self._per_thread, "cursor"):
            self._per_thread.cursor = self._connection.cursor()
        return type_landed_files(
            self._per_thread.cursor,
            files,
            timezone=self._settings.timezone,
            tokenizer=self._tokenizer,
            load_id=self._load_id,
        )


def _typed_ahead(
    function: Callable[[list[LandedFile]], Typed], batches: Iterable[list[LandedFile]]
) -> Iterator[tuple[list[LandedFile], Typed]]:
    """`(batch, function(batch))` in order, typing the next batches while dlt writes this one.

    dlt writes each yielded table to Parquet on this thread, and typing alternates between
    DuckDB (both cores) and Python on distinct values (one core): two batches typed at once
    plus the write keep both cores busy (10.6 s instead of 12.7 s for 1M pushes, peak memory
    1.35 GB instead of 1.15 GB).
    """
    executor = ThreadPoolExecutor(max_workers=TYPING_THREADS, thread_name_prefix="pbx55-typing")
    try:
        pending: collections.deque[tuple[list[LandedFile], Future[Typed]]] = collections.deque()
        for batch in batches:
            pending.append((batch, executor.submit(function, batch)))
            if len(pending) > TYPING_THREADS:
                typed_batch, future = pending.popleft()
                yield typed_batch, future.result()
        while pending:
            typed_batch, future = pending.popleft()
            yield typed_batch, future.result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _loaded_files_rows(
    batch: Sequence[LandedFile], typed: pa.Table, malformed: dict[str, int], load_id: str
) -> pa.Table:
    counts = dict.fromkeys((landed.source_file for landed in batch), 0)
    grouped = typed.group_by("source_file").aggregate([("push_id", "count")])
    for source_file, count in zip(
        grouped["source_file"].to_pylist(), grouped["push_id_count"].to_pylist(), strict=True
    ):
        counts[source_file] = count
    now = dt.datetime.now(dt.UTC)
    return pa.table(
        {
            "source_file": list(counts),
            "row_count": list(counts.values()),
            "malformed_line_count": [malformed.get(name, 0) for name in counts],
            "loaded_at": [now] * len(counts),
            "_dlt_load_id": [load_id] * len(counts),
        },
        schema=LOADED_FILES_SCHEMA,
    )
