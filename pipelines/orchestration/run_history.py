"""Dagster's own run history, kept for `PBX55_DAGSTER_RUN_RETENTION_DAYS` days.

While pushes flow, the landing sensor starts a load run every minute or so (the README's
"Fresher data" note), each with some hundreds of events in Dagster's storage, and Dagster keeps
runs for ever: the instance's `retention` covers sensor and schedule ticks only. The daily job
`purge_run_history` deletes finished runs created before the retention period, events included.
What they loaded stays in the warehouse (`pbx55_raw.loaded_files` names every file), and the
alert sensors only look at recent runs.
"""

import datetime as dt

import dagster as dg

from foundation.settings import Settings

PURGE_JOB = "purge_run_history"
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
# Runs deleted per look-up: each deletion is a transaction of its own, the look-up is not.
PURGE_BATCH = 500


def purge_runs_created_before(instance: dg.DagsterInstance, cutoff: dt.datetime) -> int:
    """Delete every finished run created before `cutoff`; return how many there were."""
    deleted = 0
    finished_before = dg.RunsFilter(statuses=list(FINISHED), created_before=cutoff)
    while records := instance.get_run_records(finished_before, limit=PURGE_BATCH, ascending=True):
        for record in records:
            instance.delete_run(record.dagster_run.run_id)
        deleted += len(records)
    return deleted


@dg.op(description="Deletes finished Dagster runs older than PBX55_DAGSTER_RUN_RETENTION_DAYS.")
def purge_old_runs(
    context: dg.OpExecutionContext, pbx55_settings: dg.ResourceParam[Settings]
) -> None:
    days = pbx55_settings.dagster_run_retention_days
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    deleted = purge_runs_created_before(context.instance, cutoff)
    context.log.info(f"deleted {deleted} finished runs created before {cutoff:%Y-%m-%d %H:%M} UTC")


@dg.job(
    name=PURGE_JOB,
    description="Dagster's run history older than PBX55_DAGSTER_RUN_RETENTION_DAYS, deleted.",
)
def purge_run_history() -> None:
    purge_old_runs()


def build_run_history_schedule(settings: Settings) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=f"{PURGE_JOB}_schedule",
        job=purge_run_history,
        cron_schedule="15 3 * * *",  # a quiet hour of a call centre
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
