"""Every Dagster resource, built in one place from `Settings`, and the single-writer rules.

Assets, checks and the sensor all take the settings the same way: the resource `pbx55_settings`.
DuckDB allows one writer per file, so every run that writes the warehouse carries
`WAREHOUSE_WRITER_TAG` (the run queue admits one at a time, see `pbx55.dagster_instance`) and
every op that writes it sits in `WAREHOUSE_POOL` (which also covers runs launched by hand from
the UI).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from foundation.settings import Settings
from pipelines.warehouse_lock import WarehouseBusy

SETTINGS_RESOURCE = "pbx55_settings"
WAREHOUSE_POOL = "pbx55_warehouse"
WAREHOUSE_WRITER_TAG = "pbx55/warehouse_writer"
# Every job writes the warehouse; a retried run (pbx55.dagster_instance) runs all its steps again,
# so it also loads what was sealed meanwhile (Dagster's default resumes at the failed step).
JOB_TAGS = {WAREHOUSE_WRITER_TAG: "true", "dagster/retry_strategy": "ALL_STEPS"}
# A writer outside Dagster (cron, `pbx55 build --full-refresh` by hand) can hold the warehouse
# longer than PBX55_WRITER_LOCK_TIMEOUT_S: the op waits that long, pauses, then waits again.
BUSY_RETRIES = 2
MAX_BUSY_PAUSE_S = 60


@contextmanager
def retried_when_busy(settings: Settings) -> Iterator[None]:
    """Turn `WarehouseBusy` into a retry of the op: every writer is safe to run again."""
    try:
        yield
    except WarehouseBusy as error:
        pause = min(MAX_BUSY_PAUSE_S, settings.writer_lock_timeout_s)
        raise dg.RetryRequested(max_retries=BUSY_RETRIES, seconds_to_wait=pause) from error


def build_resources(settings: Settings) -> dict[str, Any]:
    """Resources by key: the settings every asset, check and sensor reads."""
    return {SETTINGS_RESOURCE: settings}
