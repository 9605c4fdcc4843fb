"""The warehouse a fault test loads into, the loader children it runs, and what it checks after.

The check is the loader's contract, whatever happened before it: the push ids in the landing
files and in `pushes` are the same set, each id exactly once, and `loaded_files` has one row per
sealed file.
"""

# The SQL here names only the test's own dataset.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundation.settings import Settings
from tests.faults.fault_landing import landed_push_ids, sealed_files

FAULT_CHILD = Path(__file__).with_name("fault_child.py")
CHILD_TIMEOUT_S = 180


class MissingTable(Exception):
    """The dataset or the table does not exist (nothing was ever loaded into it)."""


@dataclass(frozen=True)
class Warehouse:
    kind: str  # duckdb or postgres
    settings: Settings
    env: dict[str, str]  # the PBX55_* variables of `settings`, for children

    @property
    def dataset(self) -> str:
        """The raw schema: pbx55_raw, behind the test's schema prefix on Postgres."""
        return self.settings.raw_schema

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """`sql` with `{raw}` standing for the quoted raw dataset."""
        sql = sql.format(raw=f'"{self.dataset}"')
        if self.kind == "duckdb":
            import duckdb

            if not self.settings.duckdb_path.exists():
                raise MissingTable(str(self.settings.duckdb_path))
            with duckdb.connect(str(self.settings.duckdb_path), read_only=True) as connection:
                try:
                    return connection.execute(sql).fetchall()
                except duckdb.CatalogException as error:
                    raise MissingTable(str(error)) from error
        import psycopg2
        import psycopg2.errors

        connection = psycopg2.connect(self.settings.postgres_url)
        try:
            with connection.cursor() as cursor:
                try:
                    cursor.execute(sql)
                except (psycopg2.errors.UndefinedTable, psycopg2.errors.InvalidSchemaName) as e:
                    raise MissingTable(str(e).strip()) from e
                return cursor.fetchall()
        finally:
            connection.close()

    def columns(self, table: str) -> set[str]:
        try:
            return {
                name
                for (name,) in self.query(
                    "SELECT column_name FROM information_schema.columns WHERE "
                    f"table_schema = '{self.dataset}' AND table_name = '{table}'"
                )
            }
        except MissingTable:
            return set()

    def child_env(self, **extra: str) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("PBX55_")}
        return inherited | self.env | extra

    def with_settings(self, **changes: Any) -> Warehouse:
        return dataclasses.replace(self, settings=dataclasses.replace(self.settings, **changes))


@dataclass
class Observation:
    """What the landing files and the warehouse hold after a scenario."""

    landed_ids: int = 0  # distinct push ids in the sealed files
    landed_lines: int = 0
    rows: int = 0  # rows of pushes
    distinct_ids: int = 0
    missing: list[str] = field(default_factory=list)  # landed, not in pushes
    unexpected: list[str] = field(default_factory=list)  # in pushes, never landed
    repeated: list[str] = field(default_factory=list)  # in pushes more than once
    sealed_files: int = 0
    ledger_rows: int = 0
    ledger_missing: list[str] = field(default_factory=list)
    ledger_unexpected: list[str] = field(default_factory=list)
    ledger_repeated: list[str] = field(default_factory=list)
    rows_of_unfinished_loads: int | None = None  # pushes rows whose load has no _dlt_loads row
    problems: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.rows - self.distinct_ids

    def violations(self) -> list[str]:
        found = list(self.problems)
        if self.missing:
            found.append(f"{len(self.missing)} landed push ids missing, e.g. {self.missing[:3]}")
        if self.unexpected:
            found.append(
                f"{len(self.unexpected)} push ids never landed, e.g. {self.unexpected[:3]}"
            )
        if self.repeated:
            found.append(
                f"{len(self.repeated)} push ids loaded more than once ({self.duplicates} extra "
                f"rows), e.g. {self.repeated[:3]}"
            )
        if self.ledger_missing:
            found.append(f"ledger lacks {len(self.ledger_missing)} sealed files")
        if self.ledger_unexpected:
            found.append(f"ledger names {len(self.ledger_unexpected)} files that are not sealed")
        if self.ledger_repeated:
            found.append(f"ledger names {len(self.ledger_repeated)} files more than once")
        return found

    def summary(self) -> str:
        return (
            f"{self.landed_ids} push ids landed ({self.landed_lines} lines), {self.rows} rows, "
            f"{self.distinct_ids} distinct; {self.sealed_files} sealed files, "
            f"{self.ledger_rows} ledger rows"
        )


def observe(warehouse: Warehouse) -> Observation:
    landed = landed_push_ids(warehouse.settings)
    sealed = set(sealed_files(warehouse.settings))
    seen = Observation(
        landed_ids=len(landed), landed_lines=sum(landed.values()), sealed_files=len(sealed)
    )
    try:
        counts = dict(warehouse.query("SELECT push_id, count(*) FROM {raw}.pushes GROUP BY 1"))
        (seen.rows,) = warehouse.query("SELECT count(*) FROM {raw}.pushes")[0]
    except MissingTable as error:
        counts = {}
        seen.problems.append(f"no pushes table ({error})")
    seen.distinct_ids = len(counts)
    seen.missing = sorted(set(landed) - set(counts))
    seen.unexpected = sorted(set(counts) - set(landed))
    seen.repeated = sorted(push_id for push_id, count in counts.items() if count > 1)
    try:
        ledger = dict(
            warehouse.query("SELECT source_file, count(*) FROM {raw}.loaded_files GROUP BY 1")
        )
    except MissingTable as error:
        ledger = {}
        seen.problems.append(f"no loaded_files table ({error})")
    seen.ledger_rows = sum(ledger.values())
    seen.ledger_missing = sorted(sealed - set(ledger))
    seen.ledger_unexpected = sorted(set(ledger) - sealed)
    seen.ledger_repeated = sorted(name for name, count in ledger.items() if count > 1)
    if "_dlt_load_id" in warehouse.columns("pushes"):
        with contextlib.suppress(MissingTable):
            (seen.rows_of_unfinished_loads,) = warehouse.query(
                "SELECT count(*) FROM {raw}.pushes WHERE _dlt_load_id NOT IN "
                "(SELECT load_id FROM {raw}._dlt_loads WHERE status = 0)"
            )[0]
    return seen


@dataclass
class Child:
    """A loader child process (fault_child.py) and the markers it leaves."""

    process: subprocess.Popen[bytes]
    markers: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float = CHILD_TIMEOUT_S) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def reached(self, marker: str) -> bool:
        return (self.markers / marker).exists()

    def killed_at(self) -> str | None:
        killed = sorted(self.markers.glob("killed-*"))
        return killed[0].name.removeprefix("killed-") if killed else None

    def output(self, stream: str) -> str:
        return (self.markers / stream).read_text(errors="replace")

    def describe(self) -> str:
        markers = sorted(p.name for p in self.markers.iterdir() if p.name not in _STREAMS)
        stderr = self.output("stderr").strip().splitlines()
        return (
            f"child exited {self.process.returncode}, markers {markers}; "
            f"stdout: {self.output('stdout').strip()[-300:]!r}; stderr tail: {stderr[-5:]}"
        )


_STREAMS = ("stdout", "stderr")


def start_child(
    warehouse: Warehouse,
    markers: Path,
    *,
    kill_at: str | None = None,
    pause_at_first_batch: Path | None = None,
    batch_bytes: int | None = 1,
    env: dict[str, str] | None = None,
) -> Child:
    """`pbx55 load` into the warehouse's dataset in a new process, with fault hooks installed.

    `batch_bytes=1` makes every landing file a batch of its own, so a load has several batches.
    """
    markers.mkdir(parents=True)
    command = [sys.executable, str(FAULT_CHILD), "--markers", str(markers)]
    if kill_at:
        command += ["--kill-at", kill_at]
    if pause_at_first_batch:
        command += ["--pause-at-first-batch", str(pause_at_first_batch)]
    if batch_bytes is not None:
        command += ["--batch-bytes", str(batch_bytes)]
    with (markers / "stdout").open("wb") as stdout, (markers / "stderr").open("wb") as stderr:
        process = subprocess.Popen(
            command,
            stdout=stdout,
            stderr=stderr,
            env=env or warehouse.child_env(),
            cwd=markers,  # nothing may land in the working directory
        )
    return Child(process, markers)


@contextlib.contextmanager
def terminating(*children: Child) -> Iterator[None]:
    """Kill children a failed test leaves running."""
    try:
        yield
    finally:
        for child in children:
            if child.process.poll() is None:
                child.process.kill()
                child.process.wait()
