"""The raw zone in Dagster: the load of the landing files, its retention, the landing sensor.

The load is a plain multi-asset rather than dagster-dlt's `dlt_assets`: it calls the same
function as `pbx55 load`, whose exactly-once rules (pipelines/loader/load.py) must not be
replaced by the resource's own run, which drops pending packages first.
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime.
import dagster as dg

from foundation.landing.layout import listing_fingerprint, sealed_landing_files
from foundation.settings import RAW_SCHEMA, Settings
from pipelines.loader.load import PUSHES_TABLE, load_landed_pushes
from pipelines.loader.retention import purge_expired
from pipelines.orchestration.resources import WAREHOUSE_POOL, retried_when_busy
from pipelines.report_api.pull import delete_report_days_before

LOAD_JOB = "load_landed_pushes"
LANDING_SENSOR = "sealed_landing_files_sensor"
# `["pbx55_raw", <table>]`: the dbt source `pbx55_raw.pushes` has this key, so the models hang
# below the load in the asset graph without explicit wiring.
RAW_PUSHES_KEY = dg.AssetKey([RAW_SCHEMA, PUSHES_TABLE])
RETENTION_KEY = dg.AssetKey([RAW_SCHEMA, "retention"])


@dg.multi_asset(
    name="dlt_landed_pushes",
    specs=[
        dg.AssetSpec(
            RAW_PUSHES_KEY,
            description=(
                "Every landed push exactly once by push_id, typed, with its ledger "
                "pbx55_raw.loaded_files; holds personal data."
            ),
            kinds={"dlt"},
        ),
    ],
    group_name="raw",
    pool=WAREHOUSE_POOL,
)
def raw_pushes(context: dg.AssetExecutionContext, pbx55_settings: dg.ResourceParam[Settings]):
    with retried_when_busy(pbx55_settings):
        summary = load_landed_pushes(pbx55_settings)
    context.log.info(str(summary))
    for key in context.selected_asset_keys:
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "files_loaded": summary.files,
                "rows_loaded": summary.rows,
                "malformed_lines_set_aside": summary.malformed_lines,
                "seconds": round(summary.seconds, 2),
                "destination": summary.destination,
            },
        )


@dg.asset(
    key=RETENTION_KEY,
    group_name="raw",
    pool=WAREHOUSE_POOL,
    kinds={"python"},
    description=(
        "Deletes landing files and raw rows received more than PBX55_RAW_RETENTION_DAYS days "
        "ago (400 by default), and report API rows of days that old."
    ),
)
def raw_retention(
    context: dg.AssetExecutionContext, pbx55_settings: dg.ResourceParam[Settings]
) -> dg.MaterializeResult:
    with retried_when_busy(pbx55_settings):
        summary = purge_expired(pbx55_settings)
        report_rows = delete_report_days_before(pbx55_settings, summary.cutoff.date())
    context.log.info(f"{summary}, {report_rows} report API rows")
    return dg.MaterializeResult(
        metadata={
            "cutoff": summary.cutoff.isoformat(),
            "partitions_deleted": summary.partitions_deleted,
            "rows_deleted": summary.rows_deleted,
            "report_rows_deleted": report_rows,
        }
    )


def build_landing_sensor(settings: Settings) -> dg.SensorDefinition:
    """The sensor that starts `load_landed_pushes`, every `PBX55_SENSOR_INTERVAL_S` seconds."""

    @dg.sensor(
        name=LANDING_SENSOR,
        job_name=LOAD_JOB,
        minimum_interval_seconds=settings.sensor_interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests a load whenever the set of sealed landing files changes.",
    )
    def sealed_landing_files_sensor(
        context: dg.SensorEvaluationContext, pbx55_settings: dg.ResourceParam[Settings]
    ) -> dg.RunRequest | dg.SkipReason:
        return _landing_tick(context, pbx55_settings)

    return sealed_landing_files_sensor


def _landing_tick(
    context: dg.SensorEvaluationContext, settings: Settings
) -> dg.RunRequest | dg.SkipReason:
    """Lists files only: it must never open the DuckDB file, which has a single writer (the run).

    The cursor is a digest of the listing, so a file sealed late under an old partition
    triggers a run too; which files are new is decided by the load itself, from `loaded_files`.
    While a load waits in the queue, files sealed meanwhile are left to it: the cursor stays, so
    the next tick after it starts asks again. Without that, runs sealed faster than one run
    takes would queue up without end.
    """
    files = sealed_landing_files(settings.landing_dir, settings.pushes_dir)
    if not files:
        return dg.SkipReason(f"no sealed landing files under {settings.pushes_dir}")
    fingerprint = listing_fingerprint(files)
    if fingerprint == context.cursor:
        return dg.SkipReason("no landing file sealed since the last run request")
    if context.instance.get_runs_count(
        dg.RunsFilter(job_name=LOAD_JOB, statuses=_WAITING_STATUSES)
    ):
        return dg.SkipReason("a load waiting in the run queue will take the new files")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=fingerprint)


# A run in these states has not listed the landing files yet.
_WAITING_STATUSES = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.QUEUED]
