"""One writer per warehouse: the lock that every command and asset writing the warehouse takes.

Two writers at once break things that no single writer can: two loads both see the same files
as waiting, DuckDB refuses a second writing process mid-run, and a purge can delete under a load.
Dagster's run queue serialises Dagster's own runs, but not cron, a manual `pbx55 load` or a run
started from another instance, so the lock lives with the warehouse itself:

- DuckDB: an exclusive `flock` on `<warehouse>.writer.lock` beside the file. The kernel releases
  it when the holder dies, so a killed writer never leaves a stale lock. The warehouse file must
  also be free of DuckDB's own lock: a notebook or a SQL client that opened it (rather than the
  BI copy) would make DuckDB refuse the writer mid-run, so a writer waits for that too, and the
  message names the process that has it open.
- Postgres: a session advisory lock keyed by the raw schema's name, held on a connection of its
  own. The server releases it when that connection ends, and it covers writers on other hosts.

A second writer waits up to `PBX55_WRITER_LOCK_TIMEOUT_S`, then gives up with `WarehouseBusy`,
whose message names the holder. The lock is re-entrant within a process (`pbx55 run` holds it
for its load and its build).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from foundation.settings import Settings

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2


class WarehouseBusy(RuntimeError):
    """Another process held the warehouse's writer lock for longer than the wait allowed."""


class _Lock(Protocol):
    def try_acquire(self) -> bool: ...
    def release(self) -> None: ...
    def holder(self) -> str: ...


@contextlib.contextmanager
def warehouse_writer(settings: Settings, purpose: str) -> Iterator[None]:
    """Hold the writer lock of `settings`' warehouse while the block runs.

    `purpose` (e.g. "pbx55 load") is what a waiting writer is told. On Postgres the lock is the
    raw schema's, so that runs with their own schema prefix in one database never wait for
    each other.
    """
    scope = settings.raw_schema
    key = _lock_key(settings, scope)
    with _held_lock:
        if key in _held:
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _held_lock:
                _held[key] -= 1
        return

    lock = _lock_for(settings, scope, purpose)
    _acquire(lock, settings, purpose)
    with _held_lock:
        _held[key] = 1
    try:
        yield
    finally:
        with _held_lock:
            del _held[key]
        lock.release()


def _acquire(lock: _Lock, settings: Settings, purpose: str) -> None:
    deadline = time.monotonic() + settings.writer_lock_timeout_s
    waiting_logged = False
    while not lock.try_acquire():
        if time.monotonic() >= deadline:
            raise WarehouseBusy(
                f"{purpose}: the warehouse is held by {lock.holder()}; gave up after "
                f"{settings.writer_lock_timeout_s:g} s (PBX55_WRITER_LOCK_TIMEOUT_S). "
                "Let it finish (or close it) and run again."
            )
        if not waiting_logged:
            log.warning("%s waits for the warehouse writer lock (%s)", purpose, lock.holder())
            waiting_logged = True
        time.sleep(POLL_SECONDS)


# Keys of the locks this process holds, with their depth (the lock is re-entrant per process).
_held: dict[str, int] = {}
_held_lock = threading.Lock()


def _lock_key(settings: Settings, scope: str) -> str:
    if settings.warehouse == "postgres":
        return f"postgres:{scope}"
    return f"duckdb:{settings.duckdb_path}"


def _lock_for(settings: Settings, scope: str, purpose: str) -> _Lock:
    if settings.warehouse == "postgres":
        return _AdvisoryLock(settings.postgres_url or "", scope, purpose)
    return _FileLock(lock_file_path(settings.duckdb_path), settings.duckdb_path, purpose)


def lock_file_path(duckdb_path: Path) -> Path:
    return duckdb_path.with_name(duckdb_path.name + ".writer.lock")


def _holder_text(purpose: str) -> str:
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{purpose}, pid {os.getpid()}, since {started}"


class _FileLock:
    def __init__(self, path: Path, duckdb_path: Path, purpose: str) -> None:
        self._path = path
        self._duckdb_path = duckdb_path
        self._purpose = purpose
        self._descriptor: int | None = None
        self._refusal: str | None = None

    def try_acquire(self) -> bool:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            self._refusal = None
            return False
        outsiders = duckdb_file_holders(self._duckdb_path)
        if outsiders:
            os.close(descriptor)
            self._refusal = (
                f"a process with the DuckDB file open ({describe_process(outsiders[0])})"
            )
            return False
        # Who holds it, for the message of the next writer that has to wait.
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps({"holder": _holder_text(self._purpose)}).encode(), 0)
        self._descriptor = descriptor
        return True

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing the descriptor releases the flock
            self._descriptor = None

    def holder(self) -> str:
        if self._refusal is not None:
            return self._refusal
        try:
            return "another writer (" + json.loads(self._path.read_text())["holder"] + ")"
        except (OSError, ValueError, KeyError):
            return f"another writer (lock file {self._path})"


def duckdb_file_holders(duckdb_path: Path) -> list[int]:
    """Other processes holding DuckDB's lock on `duckdb_path` (Linux; elsewhere none are seen).

    DuckDB locks its file with `fcntl` record locks. They are read from /proc/locks rather than
    probed with F_GETLK: probing needs a descriptor of the file, and closing any descriptor of a
    file drops every record lock this process holds on it, DuckDB's own included.
    """
    try:
        stat = os.stat(duckdb_path)
        with open("/proc/locks") as locks:
            lines = locks.readlines()
    except OSError:
        return []
    file_id = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    holders = []
    for line in lines:
        fields = line.split()
        # "1: POSIX ADVISORY WRITE <pid> <maj:min:inode> <start> <end>"; waiters have "->".
        if len(fields) >= 6 and fields[1] == "POSIX" and fields[5] == file_id:
            pid = int(fields[4])
            if pid != os.getpid():
                holders.append(pid)
    return holders


def describe_process(pid: int) -> str:
    """`pid` and the start of its command line, as `ps` would show it."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"pid {pid}"
    command = " ".join(b" ".join(arguments).decode(errors="replace").split())
    return f"pid {pid}: {command[:80]}"


class _AdvisoryLock:
    def __init__(self, postgres_url: str, scope: str, purpose: str) -> None:
        self._url = postgres_url
        self._purpose = purpose
        # Advisory locks take a bigint; a digest of the scope keeps unrelated scopes apart.
        digest = hashlib.sha256(f"pbx55 warehouse writer {scope}".encode()).digest()
        self._key = int.from_bytes(digest[:8], "big", signed=True)
        self._connection = None

    def try_acquire(self) -> bool:
        import psycopg2

        if self._connection is None:
            # application_name is how a waiting writer can tell who holds the lock.
            self._connection = psycopg2.connect(
                self._url, application_name=_holder_text(self._purpose)[:63]
            )
            self._connection.autocommit = True
        with self._connection.cursor() as cursor:
            cursor.execute("select pg_try_advisory_lock(%s)", (self._key,))
            acquired = bool(cursor.fetchone()[0])
        return acquired

    def release(self) -> None:
        if self._connection is not None:
            self._connection.close()  # ending the session releases its advisory locks
            self._connection = None

    def holder(self) -> str:
        if self._connection is None:
            return "unknown holder"
        with self._connection.cursor() as cursor:
            cursor.execute(
                """select activity.application_name, activity.client_addr
                   from pg_locks as locks
                   join pg_stat_activity as activity on activity.pid = locks.pid
                   where locks.locktype = 'advisory' and locks.granted
                     and (locks.classid::bigint << 32) | locks.objid::bigint = %s
                     and activity.pid <> pg_backend_pid()""",
                (self._key,),
            )
            row = cursor.fetchone()
        if row is None:
            return "a session that has just ended"
        name, address = row
        return f"{name or 'a Postgres session'} from {address or 'this host'}"
