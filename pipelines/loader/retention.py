"""Retention of raw personal data (docs/architecture.md, LGPD): landing files and raw rows expire.

Anything received more than `PBX55_RAW_RETENTION_DAYS` days ago is deleted: sealed landing
files and quarantined bodies by their UTC `date=` partition (the receive date, never a body
field), raw rows by `received_at`. Files still being written (`.open`) are never touched.
`pbx55_raw.loaded_files` keeps naming purged files, so a purged file restored from a backup is
not loaded again.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from foundation.landing.layout import OPEN_SUFFIX, date_partitions, partition_date
from foundation.settings import Settings
from pipelines.loader.load import PUSHES_TABLE, raw_pipeline
from pipelines.warehouse_lock import warehouse_writer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeSummary:
    cutoff: dt.datetime
    partitions_deleted: int
    rows_deleted: int

    def __str__(self) -> str:
        return (
            f"purged data received before {self.cutoff:%Y-%m-%d}: "
            f"{self.partitions_deleted} landing partitions, {self.rows_deleted} raw rows"
        )


def retention_cutoff(settings: Settings, now: dt.datetime | None = None) -> dt.datetime:
    """Midnight UTC `retention_days` days ago: landing partitions (whole UTC days) and raw rows
    expire together."""
    now = now or dt.datetime.now(dt.UTC)
    return dt.datetime.combine(
        (now - dt.timedelta(days=settings.retention_days)).date(), dt.time(), tzinfo=dt.UTC
    )


def purge_expired(settings: Settings, *, now: dt.datetime | None = None) -> PurgeSummary:
    """Delete landing partitions and raw rows received before `retention_cutoff`."""
    cutoff = retention_cutoff(settings, now)
    with warehouse_writer(settings, "raw retention"):
        partitions = _expired_partitions(settings, cutoff.date())
        for directory in partitions:
            shutil.rmtree(directory)
        rows = _delete_raw_rows(settings, cutoff)
    summary = PurgeSummary(cutoff, len(partitions), rows)
    log.info("%s", summary)
    return summary


def _expired_partitions(settings: Settings, cutoff: dt.date) -> list[Path]:
    expired = []
    for root in (settings.pushes_dir, settings.quarantine_dir):
        for directory in date_partitions(root):
            day = partition_date(directory.name)
            if day is not None and day < cutoff:
                if any(directory.rglob(f"*{OPEN_SUFFIX}")):
                    log.warning("not purging %s: a file is still being written", directory)
                    continue
                expired.append(directory)
    return expired


def _delete_raw_rows(settings: Settings, cutoff: dt.datetime) -> int:
    pipeline = raw_pipeline(settings)
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(PUSHES_TABLE)
            with client.begin_transaction():
                counted = client.execute_sql(
                    f"SELECT count(*) FROM {table} WHERE received_at < %s",  # noqa: S608
                    cutoff,
                )
                client.execute_sql(
                    f"DELETE FROM {table} WHERE received_at < %s",  # noqa: S608
                    cutoff,
                )
    except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
        return 0  # nothing has been loaded yet
    return int(counted[0][0])
