"""The one Dagster `Definitions` of pbx55 (workspace.yaml points at `defs`).

- `load_landed_pushes` (job): the load into `pbx55_raw.pushes`, then everything downstream of it
  (the dbt models and the BI copy); started by `sealed_landing_files_sensor`. `pbx55 run` does
  the same steps without Dagster.
- `reconcile_report_days` (job, partitioned by local day): the report API pull of the days,
  then the models and the BI copy; on two schedules once the API is configured
  (report_assets.py). `pbx55 reconcile` does the same steps without Dagster.
- `hourly_refresh` (job, `hourly_refresh_schedule`): raw retention, then the models again so
  time-dependent flags (calls still waiting for a final push become incomplete) move on.
- `purge_run_history` (job, daily schedule): Dagster's own finished runs older than
  `PBX55_DAGSTER_RUN_RETENTION_DAYS`, deleted (run_history.py); it does not touch the warehouse.
- Every warehouse job runs its steps in one process, one after the other, and carries the warehouse
  writer tag: DuckDB has a single writer.
- Every job that publishes the BI copy also writes the daily report from it (`daily_report`).

`defs` is built when Dagster loads it, not at import, from the environment's `Settings`.
"""

from __future__ import annotations

import dagster as dg

from foundation.settings import Settings
from pipelines.orchestration.alerts import build_alert_sensors, with_freshness_policies
from pipelines.orchestration.dbt_assets import build_dbt_assets
from pipelines.orchestration.raw_assets import (
    LOAD_JOB,
    build_landing_sensor,
    raw_pushes,
    raw_retention,
)
from pipelines.orchestration.report_assets import (
    DLT_LOADS,
    RECONCILE_JOB,
    build_report_assets,
    build_report_schedules,
)
from pipelines.orchestration.resources import JOB_TAGS, build_resources
from pipelines.orchestration.run_history import (
    PURGE_JOB,
    build_run_history_schedule,
    purge_run_history,
)
from pipelines.orchestration.serving_assets import build_bi_serving_copy, daily_report

REFRESH_JOB = "hourly_refresh"


def build_definitions(settings: Settings) -> dg.Definitions:
    dbt_models = build_dbt_assets()
    bi_serving_copy = build_bi_serving_copy(dbt_models)
    report_days = build_report_assets(settings)
    # The whole dbt project, seeds included (they are not downstream of the raw pushes).
    models_and_serving = dg.AssetSelection.assets(dbt_models, bi_serving_copy, daily_report)
    load_job = dg.define_asset_job(
        LOAD_JOB,
        selection=dg.AssetSelection.assets(raw_pushes) | models_and_serving,
        tags=JOB_TAGS,
        description="Load sealed landing files, then the models, the BI copy and the daily report.",
    )
    reconcile_job = dg.define_asset_job(
        RECONCILE_JOB,
        selection=dg.AssetSelection.assets(report_days) | models_and_serving,
        tags=JOB_TAGS,
        description="Pull the report API's days, then the models, BI copy and daily report.",
    )
    refresh_job = dg.define_asset_job(
        REFRESH_JOB,
        selection=dg.AssetSelection.assets(raw_retention) | models_and_serving,
        tags=JOB_TAGS,
        description="Retention of raw data, then the models, BI copy and daily report again.",
    )
    return dg.Definitions(
        assets=with_freshness_policies(
            [
                raw_pushes,
                raw_retention,
                report_days,
                DLT_LOADS,
                dbt_models,
                bi_serving_copy,
                daily_report,
            ]
        ),
        jobs=[load_job, reconcile_job, refresh_job, purge_run_history],
        sensors=[
            build_landing_sensor(settings),
            *build_alert_sensors([LOAD_JOB, RECONCILE_JOB, REFRESH_JOB, PURGE_JOB]),
        ],
        schedules=[
            dg.ScheduleDefinition(
                name="hourly_refresh_schedule",
                job=refresh_job,
                cron_schedule="5 * * * *",
                execution_timezone=settings.timezone,
                default_status=dg.DefaultScheduleStatus.RUNNING,
            ),
            *build_report_schedules(settings, reconcile_job),
            build_run_history_schedule(settings),
        ],
        resources=build_resources(settings),
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
