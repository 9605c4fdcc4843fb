"""Durable landing: envelope lines appended to JSONL files, acknowledged only once fsynced.

The layout and file names are the landing contract's (`foundation.landing.layout`).

Group commit, as in a database WAL: requests add their lines to the event loop's current
hand-over and await a future; once per loop iteration the hand-over goes on a queue as one item.
A single landing thread takes everything queued so far, writes it with one `write`, makes it
durable with one `fdatasync`, and hands the batch back to the event loop, which resolves every
future of it; then the thread takes the next batch straight away. While the thread waits on the
disk, the event loop keeps accepting and queueing. So a push is acknowledged only after an fsync
that covers its own bytes, and one fsync serves every push written before it.

Handing over once per loop iteration rather than once per push is what keeps the two threads
from trading the GIL: a put that wakes a waiting landing thread makes it contend for the GIL
with the loop, and with one put per push that cost a context switch or two per push
(benchmarks/receiver.py; README, design notes).

Every file operation runs on that one thread, so the open file needs no lock. Each open file
also carries an exclusive `flock`: the start-up recovery of another receiver sharing the landing
directory skips live files and seals only those whose process died (the kernel drops the lock
with the process, even on kill -9).
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import logging
import os
import queue
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from foundation.landing.durable import (
    fsync_path,
    make_dirs_durably,
    seal,
    unlink_quietly,
    write_all,
)
from foundation.landing.envelope import now_us
from foundation.landing.layout import OPEN_GLOB, hour_bucket_of, open_file_name, partition_dir
from ingest.metrics import ReceiverMetrics

log = logging.getLogger(__name__)

# Lines queued for the next group commit beyond this are refused with 503 (see `land`).
MAX_BACKLOG_BYTES = 32 * 1024 * 1024
_STOP = object()  # queued by close(): commit everything before it, seal, end the thread
# How long a file that could not be sealed (storage failure) waits before the next attempt.
_ORPHAN_RETRY_S = 2.0


class StorageError(Exception):
    """The push could not be made durable; it must not be acknowledged."""


@dataclass
class _OpenFile:
    path: Path
    hour_bucket: int
    fd: int
    opened_at: float  # time.monotonic()
    committed_bytes: int = 0  # bytes covered by a successful fsync


@dataclass
class _Orphan:
    """A file the writer gave up on after a storage failure, to be sealed once storage is back."""

    path: Path
    committed_bytes: int  # everything after this offset was never acknowledged


@dataclass(slots=True)
class _Pending:
    hour_bucket: int
    line: bytes
    outcome: asyncio.Future[StorageError | None]


class LandingWriter:
    def __init__(
        self,
        pushes_dir: Path,
        *,
        receiver_id: str,
        seal_max_bytes: int,
        seal_max_age_s: float,
        metrics: ReceiverMetrics,
        write: Callable[[int, bytes], int] = os.write,
        max_backlog_bytes: int = MAX_BACKLOG_BYTES,
    ) -> None:
        """`write` is the system call that appends to a landing file; tests pass a failing one."""
        self.pushes_dir = pushes_dir
        self.receiver_id = receiver_id
        self.seal_max_bytes = seal_max_bytes
        self.seal_max_age_s = seal_max_age_s
        self._metrics = metrics
        self._write = write
        self._current: _OpenFile | None = None
        self._orphans: list[_Orphan] = []
        self._next_orphan_retry = 0.0
        self._file_sequence = 0
        self.max_backlog_bytes = max_backlog_bytes
        self._backlog_bytes = 0  # queued or being committed; only the event loop touches it
        # Event loop -> landing thread: each loop iteration's pushes as a list, then _STOP.
        self._queue: queue.SimpleQueue[list[_Pending] | object] = queue.SimpleQueue()
        self._handover: list[_Pending] = []  # this iteration's; only the event loop touches it
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._landing_thread_done: asyncio.Future[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing")

    async def start(self) -> None:
        """Seal what a crashed receiver left behind, then start committing."""
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(self._thread, recover_open_files, self.pushes_dir)
        self._landing_thread_done = self._loop.run_in_executor(self._thread, self._commit_forever)

    async def land(self, line: bytes, hour_bucket: int) -> None:
        """Return once `line` is fsynced; raise `StorageError` if it could not be."""
        if self._closing:
            raise StorageError("receiver is shutting down")
        if self._backlog_bytes + len(line) > self.max_backlog_bytes:
            # The disk is not keeping up (or hangs): refuse now, and the sender retries later,
            # instead of holding every push in memory until the process runs out of it.
            raise StorageError("landing backlog full")
        self._backlog_bytes += len(line)
        assert self._loop is not None, "start() first"
        outcome: asyncio.Future[StorageError | None] = self._loop.create_future()
        if not self._handover:
            self._loop.call_soon(self._hand_over)
        self._handover.append(_Pending(hour_bucket, line, outcome))
        failure = await outcome
        if failure is not None:
            raise failure

    def _hand_over(self) -> None:
        """On the event loop, once per iteration with pushes: queue them for the landing thread."""
        self._queue.put(self._handover)
        self._handover = []

    async def close(self) -> None:
        """Commit what is queued, seal the open file and stop (SIGTERM path)."""
        self._closing = True
        if self._handover:
            self._hand_over()
        self._queue.put(_STOP)
        if self._landing_thread_done is not None:
            await self._landing_thread_done
        self._thread.shutdown(wait=True)

    def is_closing(self) -> bool:
        return self._closing

    def _acknowledge(self, batch: list[_Pending], failures: list[StorageError | None]) -> None:
        """On the event loop: answer every push of a committed batch."""
        for pending, failure in zip(batch, failures, strict=True):
            self._backlog_bytes -= len(pending.line)
            if not pending.outcome.cancelled():  # the request may have been cancelled
                pending.outcome.set_result(failure)

    # -- landing thread side --------------------------------------------------------------

    def _commit_forever(self) -> None:
        """The landing thread: commit whatever is queued, as soon as the previous fsync ends.

        The thread takes its next batch itself rather than waiting for the event loop to hand
        it over, so the disk never idles while the loop is busy answering the last batch.
        """
        assert self._loop is not None
        tick_s = max(0.05, min(1.0, self.seal_max_age_s / 4))
        stopping = False
        while not stopping:
            batch: list[_Pending] = []
            try:
                item = self._queue.get(timeout=tick_s)
                while True:
                    if item is _STOP:
                        stopping = True
                        break
                    assert isinstance(item, list)
                    batch += item
                    item = self._queue.get_nowait()
            except queue.Empty:
                pass
            if batch:
                failures = self._commit_batch_safely(batch)
                self._loop.call_soon_threadsafe(self._acknowledge, batch, failures)
            try:
                self._maintain()
            except Exception:
                log.exception("landing maintenance failed unexpectedly; retrying next tick")
        self._seal_all()

    def _commit_batch_safely(self, batch: list[_Pending]) -> list[StorageError | None]:
        try:
            return self._commit_batch(batch)
        except Exception as error:
            # A bug must cost this batch a 503, never stop the landing thread.
            log.exception("landing batch failed unexpectedly")
            return [StorageError(type(error).__name__)] * len(batch)

    def _seal_due(self, current: _OpenFile) -> bool:
        return (
            time.monotonic() - current.opened_at >= self.seal_max_age_s
            or hour_bucket_of(now_us()) != current.hour_bucket
        )

    def _commit_batch(self, batch: list[_Pending]) -> list[StorageError | None]:
        failures: list[StorageError | None] = []
        # Lines of one hour go to one file; a batch spans two hours only around the turn.
        for hour_bucket, group in groupby(batch, key=lambda pending: pending.hour_bucket):
            lines = [pending.line for pending in group]
            try:
                self._append_durably(hour_bucket, b"".join(lines))
            except OSError as error:
                self._metrics.storage_failures += 1
                log.error("landing write failed, answering 503: %s", _describe(error))
                failures.extend([StorageError(_describe(error))] * len(lines))
            else:
                self._metrics.fsync_batches += 1
                self._metrics.fsync_batch_pushes += len(lines)
                failures.extend([None] * len(lines))
        return failures

    def _append_durably(self, hour_bucket: int, data: bytes) -> None:
        current = self._current
        if current is not None and current.hour_bucket != hour_bucket:
            self._seal_or_orphan(current)
            current = None
        if current is None:
            current = self._current = self._open_new_file(hour_bucket)
        try:
            write_all(self._write, current.fd, data)
            os.fdatasync(current.fd)
        except OSError:
            self._abandon(current)
            raise
        current.committed_bytes += len(data)
        self._metrics.landed_bytes += len(data)
        if current.committed_bytes >= self.seal_max_bytes:
            self._seal_or_orphan(current)

    def _open_new_file(self, hour_bucket: int) -> _OpenFile:
        directory = partition_dir(self.pushes_dir, hour_bucket)
        make_dirs_durably(directory)
        self._file_sequence += 1
        path = directory / open_file_name(self.receiver_id, self._file_sequence)
        # O_EXCL: even a receiver-id collision can never append to someone else's file.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        fd = os.open(path, flags, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fsync_path(directory)  # the file's name must survive a crash along with its data
        except OSError:
            os.close(fd)
            unlink_quietly(path)
            raise
        return _OpenFile(path, hour_bucket, fd, time.monotonic())

    def _abandon(self, current: _OpenFile) -> None:
        """After a failed write or fsync: cut the unacknowledged bytes, then seal what is left.

        A fresh file is opened for the next batch, so a file whose page cache state is unknown
        after a failed fsync is never appended to again.
        """
        self._current = None
        try:
            os.ftruncate(current.fd, current.committed_bytes)
        except OSError as error:
            # Sealing now could seal a torn line; the orphan retry cuts and seals it later.
            log.error(
                "could not cut unacknowledged bytes of %s: %s", current.path, _describe(error)
            )
            os.close(current.fd)
            self._orphans.append(_Orphan(current.path, current.committed_bytes))
            return
        self._seal_or_orphan(current)

    def _seal_or_orphan(self, current: _OpenFile) -> None:
        if self._current is current:
            self._current = None
        try:
            seal(current.fd, current.path, empty=current.committed_bytes == 0)
            if current.committed_bytes:
                self._metrics.sealed_files += 1
        except OSError as error:
            log.error("could not seal %s, will retry: %s", current.path, _describe(error))
            self._orphans.append(_Orphan(current.path, current.committed_bytes))
        finally:
            os.close(current.fd)

    def _maintain(self) -> None:
        current = self._current
        if current is not None and self._seal_due(current):
            self._seal_or_orphan(current)
        if self._orphans and time.monotonic() >= self._next_orphan_retry:
            self._retry_orphans()

    def _retry_orphans(self) -> None:
        still_orphaned = []
        for orphan in self._orphans:
            try:
                if recover_open_file(orphan.path, committed_bytes=orphan.committed_bytes):
                    self._metrics.sealed_files += 1
            except OSError as error:
                log.warning("sealing %s failed again: %s", orphan.path, _describe(error))
                still_orphaned.append(orphan)
        self._orphans = still_orphaned
        self._next_orphan_retry = time.monotonic() + _ORPHAN_RETRY_S

    def _seal_all(self) -> None:
        if self._current is not None:
            self._seal_or_orphan(self._current)
        if self._orphans:
            self._retry_orphans()
        for orphan in self._orphans:
            log.error("left %s unsealed; the next start seals it", orphan.path)


def recover_open_files(pushes_dir: Path) -> int:
    """Seal every `.jsonl.open` file whose writer is gone; return how many were sealed."""
    sealed = 0
    for path in sorted(pushes_dir.glob(OPEN_GLOB)):
        if recover_open_file(path, committed_bytes=None):
            sealed += 1
    if sealed:
        log.info("sealed %d landing file(s) left open by a previous run", sealed)
    return sealed


def recover_open_file(path: Path, *, committed_bytes: int | None) -> bool:
    """Seal one open file left behind; False when a live receiver still holds it.

    Everything acknowledged was fsynced, so it is a prefix of whole, valid lines. What follows
    was never acknowledged: a torn last line (no newline, or not a JSON object) is cut. When the
    writer knew how many bytes were acknowledged, the file is cut exactly there.
    Returns True when a non-empty file was sealed.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False  # sealed meanwhile by the receiver that owned it
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if not _same_file(fd, path):
            return False
        size = os.fstat(fd).st_size
        if committed_bytes is None or committed_bytes > size:
            committed_bytes = _valid_prefix_length(os.pread(fd, size, 0))
        if size != committed_bytes:
            log.warning("%s: dropping %d unacknowledged byte(s)", path, size - committed_bytes)
            os.ftruncate(fd, committed_bytes)
        seal(fd, path, empty=committed_bytes == 0)
        return committed_bytes > 0
    finally:
        os.close(fd)


def _valid_prefix_length(data: bytes) -> int:
    """Length of the file without its torn tail: a partial line or unparseable last lines."""
    end = data.rfind(b"\n") + 1
    while end > 0:
        start = data.rfind(b"\n", 0, end - 1) + 1
        if _is_json_object(data[start : end - 1]):
            break
        end = start
    return end


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _same_file(fd: int, path: Path) -> bool:
    try:
        by_path = os.stat(path)
    except FileNotFoundError:
        return False
    by_fd = os.fstat(fd)
    return (by_path.st_dev, by_path.st_ino) == (by_fd.st_dev, by_fd.st_ino)


def _describe(error: OSError) -> str:
    return errno.errorcode.get(error.errno or 0, "OSError") + f" ({error.strerror or error})"
