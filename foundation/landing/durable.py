"""Durable file I/O for the landing directory: what is written here survives a crash.

A file counts as written only once its bytes and its directory entry are fsynced, and every
directory created on the way is fsynced into its parent. The receiver acknowledges a push only
after such a write; the loader keeps set-aside lines the same way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable
from pathlib import Path

from foundation.landing.layout import quarantine_partition, sealed_path


def write_all(write: Callable[[int, bytes], int], fd: int, data: bytes) -> None:
    """`write` until every byte of `data` is written; OSError when it makes no progress."""
    view = memoryview(data)
    while view:
        written = write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "write made no progress")
        view = view[written:]


def make_dirs_durably(directory: Path) -> None:
    """mkdir -p, fsyncing each parent whose entries changed so the path survives a crash."""
    missing = []
    probe = directory
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue  # another process made it; it fsyncs its own change
        fsync_path(path.parent)


def fsync_path(path: Path) -> None:
    """fsync a file or a directory by name."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def seal(fd: int, open_path: Path, *, empty: bool) -> None:
    """fsync, rename `.jsonl.open` to `.jsonl` (or drop an empty file), fsync the directory.

    The caller holds the file's lock throughout, so no recovering receiver can race the rename.
    """
    if empty:
        open_path.unlink()
    else:
        os.fsync(fd)
        open_path.rename(sealed_path(open_path))
    fsync_path(open_path.parent)


def write_new_file(path: Path, content: bytes) -> None:
    """Create `path` (never overwriting), write `content`, fsync it and its directory.

    A partial copy is no copy: on failure the file is removed and the OSError raised.
    """
    make_dirs_durably(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        write_all(os.write, fd, content)
        os.fsync(fd)
        fsync_path(path.parent)
    except OSError:
        unlink_quietly(path)
        raise
    finally:
        os.close(fd)


def write_quarantine_file(quarantine_dir: Path, date: str, name: str, content: bytes) -> Path:
    """Keep what was set aside durably: `quarantine/date=YYYY-MM-DD/<name>`."""
    path = quarantine_partition(quarantine_dir, date) / name
    write_new_file(path, content)
    return path


def probe_writable(directory: Path) -> None:
    """Raise OSError unless a small file can be written, fsynced and removed in `directory`."""
    probe = directory / f".readyz-{os.getpid()}-{time.monotonic_ns()}"
    try:
        write_new_file(probe, b"ready\n")
    finally:
        unlink_quietly(probe)
