"""The report API in Dagster: raw report tables partitioned by local day, and their schedules.

`reconcile_report_days` pulls the selected days (`pipelines/report_api/pull.py`), then builds the
models and the BI copy in the same run, so the reconciliation marts move with every pull. A
backfill of many days is one run (the pulls go one day after another under the writer limit).
Two schedules, in PBX55_TIMEZONE, exist once the API is configured: today every half hour of the
day (calls finish, the report grows), and the last PBX55_REPORT_API_LOOKBACK_DAYS days every night
(a day keeps changing after it ends).
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime.
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from foundation.settings import RAW_SCHEMA, Settings
from pipelines.orchestration.resources import WAREHOUSE_POOL, retried_when_busy
from pipelines.report_api.pull import (
    AGENT_TIMES_TABLE,
    CALLS_TABLE,
    DAY_TOTALS_TABLE,
    PULLS_TABLE,
    ReportPullFailedError,
    pull_report_days,
)

RECONCILE_JOB = "reconcile_report_days"
TODAY_CRON = "*/30 7-22 * * *"
NIGHTLY_CRON = "40 2 * * *"
_DESCRIPTIONS = {
    CALLS_TABLE: "report_02 rows: one per finished call leg of the day, every field as text.",
    DAY_TOTALS_TABLE: "The report_01 object of the day's totals, one row per pull.",
    AGENT_TIMES_TABLE: "report_03 rows: talk, idle and paused time per agent and day.",
    PULLS_TABLE: "One row per complete pull of a central's day: which rows are current.",
}
REPORT_KEYS = {table: dg.AssetKey([RAW_SCHEMA, table]) for table in _DESCRIPTIONS}
# dlt's own ledger, written by every load of both loaders; the report models read which loads
# are complete from it, so it appears in the graph, materialised by no asset of its own.
DLT_LOADS = dg.AssetSpec(
    dg.AssetKey([RAW_SCHEMA, "dlt_loads"]),
    description="dlt's _dlt_loads: one row per load, status 0 once every table of it is in.",
    group_name="raw",
    kinds={"dlt"},
)


def report_days_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """Local days in PBX55_TIMEZONE from PBX55_REPORT_API_FIRST_DAY, today included."""
    return dg.DailyPartitionsDefinition(
        start_date=settings.report_api_first_day.isoformat(),
        timezone=settings.timezone,
        end_offset=1,
    )


def build_report_assets(settings: Settings) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="report_api_days",
        specs=[
            dg.AssetSpec(key, description=_DESCRIPTIONS[table], kinds={"dlt"})
            for table, key in REPORT_KEYS.items()
        ],
        partitions_def=report_days_partitions(settings),
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="raw",
        pool=WAREHOUSE_POOL,
    )
    def report_api_days(
        context: dg.AssetExecutionContext, pbx55_settings: dg.ResourceParam[Settings]
    ):
        days = [date.fromisoformat(key) for key in context.partition_keys]
        with retried_when_busy(pbx55_settings):
            try:
                summary = pull_report_days(pbx55_settings, days)
            except ReportPullFailedError as error:
                raise dg.Failure(
                    description=str(error), metadata={"days_loaded": len(error.summary.loaded)}
                ) from None
        context.log.info(str(summary))
        for key in context.selected_asset_keys:
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "days": ", ".join(context.partition_keys),
                    "call_rows": sum(len(day.calls) for day in summary.loaded),
                    "agent_rows": sum(len(day.agent_times) for day in summary.loaded),
                    "seconds": round(summary.seconds, 2),
                },
            )

    return report_api_days


def build_report_schedules(settings: Settings, job: dg.JobDefinition) -> list:
    """Today during the day, the look-back days at night; none while the API is unconfigured."""
    if not settings.report_api_url:
        return []

    def local_today(context: dg.ScheduleEvaluationContext) -> date:
        moment = context.scheduled_execution_time or datetime.now(ZoneInfo(settings.timezone))
        return moment.astimezone(ZoneInfo(settings.timezone)).date()

    @dg.schedule(
        name="report_api_today_schedule",
        job=job,
        cron_schedule=TODAY_CRON,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Pulls today's reports every half hour from 07:00 to 22:30.",
    )
    def today_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(partition_key=local_today(context).isoformat())

    @dg.schedule(
        name="report_api_nightly_schedule",
        job=job,
        cron_schedule=NIGHTLY_CRON,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Pulls the last PBX55_REPORT_API_LOOKBACK_DAYS days again, in one run.",
    )
    def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        today = local_today(context)
        lookback = settings.report_api_lookback_days
        if lookback == 0:
            return dg.SkipReason("PBX55_REPORT_API_LOOKBACK_DAYS is 0: no day is pulled again")
        return dg.RunRequest(
            tags={
                "dagster/asset_partition_range_start": (today - timedelta(lookback)).isoformat(),
                "dagster/asset_partition_range_end": (today - timedelta(1)).isoformat(),
            }
        )

    return [today_schedule, nightly_schedule]
