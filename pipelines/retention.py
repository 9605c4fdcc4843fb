"""Retention of raw personal data (docs/kpis.md, LGPD): landing files and raw rows expire.

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

from pbx55.settings import Settings
from pipelines.landed_files import partition_date
from pipelines.loading import PUSHES_TABLE, RAW_DATASET, raw_pipeline
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


def purge_expired(
    settings: Settings, *, now: dt.datetime | None = None, dataset_name: str = RAW_DATASET
) -> PurgeSummary:
    """Delete landing partitions and raw rows received before the retention cutoff.

    The cutoff is midnight UTC `retention_days` days ago, so landing partitions (whole UTC
    days) and raw rows expire together.
    """
    now = now or dt.datetime.now(dt.UTC)
    cutoff = dt.datetime.combine(
        (now - dt.timedelta(days=settings.retention_days)).date(), dt.time(), tzinfo=dt.UTC
    )
    with warehouse_writer(settings, "raw retention", scope=dataset_name):
        partitions = _expired_partitions(settings, cutoff.date())
        for directory in partitions:
            shutil.rmtree(directory)
        rows = _delete_raw_rows(settings, cutoff, dataset_name)
    summary = PurgeSummary(cutoff, len(partitions), rows)
    log.info("%s", summary)
    return summary


def _expired_partitions(settings: Settings, cutoff: dt.date) -> list[Path]:
    expired = []
    for root in (settings.pushes_dir, settings.quarantine_dir):
        if not root.is_dir():
            continue
        for directory in sorted(root.glob("date=*")):
            day = partition_date(directory.name)
            if day is not None and day < cutoff and directory.is_dir():
                if any(directory.rglob("*.open")):
                    log.warning("not purging %s: a file is still being written", directory)
                    continue
                expired.append(directory)
    return expired


def _delete_raw_rows(settings: Settings, cutoff: dt.datetime, dataset_name: str) -> int:
    pipeline = raw_pipeline(settings, dataset_name)
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
