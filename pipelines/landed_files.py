"""The sealed landing files: where they are, what they are called, how old their partition is.

The receiver writes `pushes/date=YYYY-MM-DD/hour=HH/<receiver>-<sequence>.jsonl.open` and renames
it to `.jsonl` once it is fsync'd (sealed). Only sealed files are ever read. Files are named by
their path relative to the landing directory; that name is the key of `pbx55_raw.loaded_files`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

SEALED_SUFFIX = ".jsonl"


@dataclass(frozen=True, order=True)
class LandedFile:
    source_file: str  # relative to the landing dir, with `/` separators on every OS
    path: Path
    size_bytes: int

    @property
    def partition_date(self) -> dt.date | None:
        """The UTC receive date from the `date=` partition, or None for a stray path."""
        return partition_date(self.source_file)


def partition_date(source_file: str) -> dt.date | None:
    for part in source_file.split("/"):
        if part.startswith("date="):
            try:
                return dt.date.fromisoformat(part.removeprefix("date="))
            except ValueError:
                return None
    return None


def sealed_landing_files(landing_dir: Path, pushes_dir: Path) -> list[LandedFile]:
    """Every sealed push file under `pushes_dir/date=*/hour=*/`, sorted by name.

    `os.scandir` instead of `Path.glob` because the sensor calls this every tick: it walks only
    the two partition levels and never stats the `.open` files being written.
    """
    files: list[LandedFile] = []
    for date_dir in _subdirectories(pushes_dir, "date="):
        for hour_dir in _subdirectories(Path(date_dir.path), "hour="):
            with os.scandir(hour_dir.path) as entries:
                for entry in entries:
                    if entry.name.endswith(SEALED_SUFFIX) and entry.is_file():
                        path = Path(entry.path)
                        files.append(
                            LandedFile(
                                source_file=path.relative_to(landing_dir).as_posix(),
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
