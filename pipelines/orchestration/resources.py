"""Every Dagster resource, built in one place from `Settings`, and the single-writer rules.

Assets, checks and the sensor all take the settings the same way: the resource `pbx55_settings`.
DuckDB allows one writer per file, so every run that writes the warehouse carries
`WAREHOUSE_WRITER_TAG` (the run queue admits one at a time, see `pbx55.dev`) and every op that
writes it sits in `WAREHOUSE_POOL` (which also covers runs launched by hand from the UI).
"""

from __future__ import annotations

from typing import Any

from foundation.settings import Settings

SETTINGS_RESOURCE = "pbx55_settings"
WAREHOUSE_POOL = "pbx55_warehouse"
WAREHOUSE_WRITER_TAG = "pbx55/warehouse_writer"
WAREHOUSE_WRITER_TAGS = {WAREHOUSE_WRITER_TAG: "true"}


def build_resources(settings: Settings) -> dict[str, Any]:
    """Resources by key: the settings every asset, check and sensor reads."""
    return {SETTINGS_RESOURCE: settings}
