"""Every Dagster resource, built in one place from `Settings`, and the single-writer rules.

DuckDB allows one writer per file, so every run that writes the warehouse carries
`WAREHOUSE_WRITER_TAG` (the run queue admits one at a time, see `pipelines.dev`) and every op
that writes it sits in `WAREHOUSE_POOL` (which also covers runs launched by hand from the UI).
"""

from __future__ import annotations

from typing import Any

from pbx55.settings import Settings
from pipelines.dbt_assets import dbt_resource

WAREHOUSE_POOL = "pbx55_warehouse"
WAREHOUSE_WRITER_TAG = "pbx55/warehouse_writer"
WAREHOUSE_WRITER_TAGS = {WAREHOUSE_WRITER_TAG: "true"}


def build_resources(settings: Settings) -> dict[str, Any]:
    """Resources by key: the settings themselves (BI copy) and the dbt CLI (models)."""
    return {"pbx55_settings": settings, "dbt": dbt_resource(settings)}
