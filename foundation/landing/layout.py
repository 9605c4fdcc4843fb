"""Where landing files live and what they are called: the one spelling of the landing layout.

    pushes/date=YYYY-MM-DD/hour=HH/<receiver_id>-<sequence>.jsonl.open   being written
    pushes/date=YYYY-MM-DD/hour=HH/<receiver_id>-<sequence>.jsonl        sealed, immutable
    quarantine/date=YYYY-MM-DD/<name>                                    set aside

under the landing directory (PBX55_LANDING_DIR).

Partitions are the UTC receive time, never a body field, so no path is built from sender input.
Only sealed files are ever read. A file is named by its path relative to the landing directory
with `/` separators; that name is the key of `pbx55_raw.loaded_files`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

PUSHES_DIR = "pushes"
QUARANTINE_DIR = "quarantine"
OPEN_SUFFIX = ".jsonl.open"
SEALED_SUFFIX = ".jsonl"
SEALED_GLOB = f"date=*/hour=*/*{SEALED_SUFFIX}"
OPEN_GLOB = f"date=*/hour=*/*{OPEN_SUFFIX}"
QUARANTINE_GLOB = "date=*/*"
US_PER_HOUR = 3_600_000_000
_DATE_PREFIX = "date="
_HOUR_PREFIX = "hour="


def hour_bucket_of(epoch_us: int) -> int:
    """The partition hour of a receive time in microseconds since the epoch."""
    return epoch_us // US_PER_HOUR


def hour_bucket_at(moment: dt.datetime) -> int:
    """The partition hour of an aware datetime."""
    return int(moment.timestamp()) // 3600


def hour_partition(bucket: int) -> tuple[str, str]:
    """(`YYYY-MM-DD`, `HH`) of an hour bucket."""
    start = time.gmtime(bucket * 3600)
    return time.strftime("%Y-%m-%d", start), time.strftime("%H", start)


def partition_dir(pushes_dir: Path, bucket: int) -> Path:
    """`pushes_dir/date=YYYY-MM-DD/hour=HH` of an hour bucket."""
    date, hour = hour_partition(bucket)
    return pushes_dir / f"{_DATE_PREFIX}{date}" / f"{_HOUR_PREFIX}{hour}"


def open_file_name(receiver_id: str, sequence: int) -> str:
    return f"{receiver_id}-{sequence:08x}{OPEN_SUFFIX}"


def sealed_path(open_path: Path) -> Path:
    return open_path.with_name(open_path.name.removesuffix(OPEN_SUFFIX) + SEALED_SUFFIX)


def quarantine_partition(quarantine_dir: Path, date: str) -> Path:
    """`quarantine_dir/date=YYYY-MM-DD` for a UTC date."""
    return quarantine_dir / f"{_DATE_PREFIX}{date}"


def partition_date(source_file: str) -> dt.date | None:
    """The UTC receive date of a landing path's `date=` partition, or None for a stray path."""
    for part in source_file.split("/"):
        if part.startswith(_DATE_PREFIX):
            try:
                return dt.date.fromisoformat(part.removeprefix(_DATE_PREFIX))
            except ValueError:
                return None
    return None


def date_partitions(root: Path) -> list[Path]:
    """The `date=` partition directories directly under `root` (pushes or quarantine), sorted."""
    return sorted(path for path in root.glob(f"{_DATE_PREFIX}*") if path.is_dir())


@dataclass(frozen=True, order=True)
class LandedFile:
    source_file: str  # relative to the landing dir, with `/` separators on every OS
    path: Path
    size_bytes: int

    @property
    def partition_date(self) -> dt.date | None:
        return partition_date(self.source_file)


def source_file_name(landing_dir: Path, path: Path) -> str:
    return path.relative_to(landing_dir).as_posix()


def sealed_landing_files(landing_dir: Path, pushes_dir: Path) -> list[LandedFile]:
    """Every sealed push file under `pushes_dir/date=*/hour=*/`, sorted by name.

    `os.scandir` instead of `Path.glob` because the sensor calls this every tick: it walks only
    the two partition levels and never stats the `.open` files being written.
    """
    files: list[LandedFile] = []
    for date_dir in _subdirectories(pushes_dir, _DATE_PREFIX):
        for hour_dir in _subdirectories(Path(date_dir.path), _HOUR_PREFIX):
            with os.scandir(hour_dir.path) as entries:
                for entry in entries:
                    if entry.name.endswith(SEALED_SUFFIX) and entry.is_file():
                        path = Path(entry.path)
                        files.append(
                            LandedFile(
                                source_file=source_file_name(landing_dir, path),
                                path=path,
                                size_bytes=entry.stat().st_size,
                            )
                        )
    files.sort()
    return files


def _subdirectories(parent: Path, prefix: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(parent) as entries:
            return sorted(
                (e for e in entries if e.name.startswith(prefix) and e.is_dir()),
                key=lambda e: e.name,
            )
    except FileNotFoundError:
        return []


def listing_fingerprint(files: list[LandedFile]) -> str:
    """A short digest of the sealed-file names: changes whenever a file is sealed or purged."""
    digest = hashlib.sha256()
    for landed in files:
        digest.update(landed.source_file.encode())
        digest.update(b"\n")
    return f"{len(files)}-{digest.hexdigest()[:16]}"
