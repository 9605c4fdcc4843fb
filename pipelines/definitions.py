"""The one Dagster `Definitions` of pbx55 (workspace.yaml points here).

- `load_landed_pushes` (job): the dlt load into `pbx55_raw.pushes`, then everything downstream
  of it (the dbt models and the BI copy); started by `sealed_landing_files_sensor`.
- `hourly_refresh` (job, `hourly_refresh_schedule`): raw retention, then the models again so
  time-dependent flags (calls still waiting for a final push become incomplete) move on.
- Every job runs its steps in one process, one after the other, and carries the warehouse
  writer tag: DuckDB has a single writer.
"""

from __future__ import annotations

import dagster as dg

from pbx55.settings import Settings
from pipelines.dbt_assets import pbx55_dbt_assets
from pipelines.raw_assets import (
    build_landing_files_sensor,
    build_raw_pushes_assets,
    build_retention_asset,
)
from pipelines.resources import WAREHOUSE_WRITER_TAGS, build_resources
from pipelines.serving import bi_serving_copy


def build_definitions(settings: Settings) -> dg.Definitions:
    raw_pushes = build_raw_pushes_assets(settings)
    retention = build_retention_asset(settings)
    # The dbt source `pbx55_raw.pushes` has the dlt asset's key, so the models (and the BI copy
    # after them) are downstream of the load without any explicit wiring.
    assets = [raw_pushes, retention, pbx55_dbt_assets, bi_serving_copy]

    # The whole dbt project, seeds included (they are not downstream of the raw pushes).
    models_and_serving = dg.AssetSelection.assets(pbx55_dbt_assets, bi_serving_copy)
    load_job = dg.define_asset_job(
        "load_landed_pushes",
        selection=dg.AssetSelection.assets(raw_pushes) | models_and_serving,
        tags=WAREHOUSE_WRITER_TAGS,
        description="Load sealed landing files, then build the models and the BI copy.",
    )
    refresh_job = dg.define_asset_job(
        "hourly_refresh",
        selection=dg.AssetSelection.assets(retention) | models_and_serving,
        tags=WAREHOUSE_WRITER_TAGS,
        description="Retention of raw data, then the models again for time-dependent flags.",
    )
    return dg.Definitions(
        assets=assets,
        jobs=[load_job, refresh_job],
        sensors=[build_landing_files_sensor(settings, load_job)],
        schedules=[
            dg.ScheduleDefinition(
                name="hourly_refresh_schedule",
                job=refresh_job,
                cron_schedule="5 * * * *",
                execution_timezone=settings.timezone,
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        ],
        resources=build_resources(settings),
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings.from_env())
