"""Dagster definitions of the raw zone: the dlt load, its retention, the landing-file sensor.

Each is built from `Settings` by a factory, so tests build them against a temporary data dir and
`pipelines.definitions` builds them once from the environment.
"""

from collections.abc import Iterator

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster_dlt import DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from pbx55.settings import Settings
from pipelines.landed_files import listing_fingerprint, sealed_landing_files
from pipelines.loading import RAW_DATASET, landed_pushes, load_landed_pushes, raw_pipeline
from pipelines.resources import WAREHOUSE_POOL
from pipelines.retention import purge_expired

RAW_PUSHES_KEY = dg.AssetKey([RAW_DATASET, "pushes"])
RETENTION_KEY = dg.AssetKey([RAW_DATASET, "retention"])


class RawDatasetTranslator(DagsterDltTranslator):
    """Keys `["pbx55_raw", <table>]`: the dbt source `pbx55_raw.pushes` maps onto them as is."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        default = super().get_asset_spec(data)
        return default.replace_attributes(
            key=dg.AssetKey([RAW_DATASET, data.resource.name]),
            deps=[],
            description="Every landed push, one row per landing-file line, typed (append-only).",
        )


def build_raw_pushes_assets(settings: Settings) -> dg.AssetsDefinition:
    @dlt_assets(
        dlt_source=landed_pushes(settings),
        dlt_pipeline=raw_pipeline(settings),
        name="dlt_landed_pushes",
        group_name="raw",
        dagster_dlt_translator=RawDatasetTranslator(),
        pool=WAREHOUSE_POOL,
    )
    def raw_pushes_assets(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
        # The same call as `pbx55 load`. Not `DagsterDltResource.run`: it drops the pipeline's
        # pending packages first, and a package interrupted between its `pushes` and
        # `loaded_files` jobs must be finished, not dropped, or its files would load twice.
        summary = load_landed_pushes(settings)
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

    return raw_pushes_assets


def build_retention_asset(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(
        key=RETENTION_KEY,
        group_name="raw",
        pool=WAREHOUSE_POOL,
        kinds={"python", settings.warehouse},
        description=(
            f"Deletes landing files and raw rows received more than {settings.retention_days} "
            "days ago (PBX55_RAW_RETENTION_DAYS)."
        ),
    )
    def raw_retention(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        summary = purge_expired(settings)
        context.log.info(str(summary))
        return dg.MaterializeResult(
            metadata={
                "cutoff": summary.cutoff.isoformat(),
                "partitions_deleted": summary.partitions_deleted,
                "rows_deleted": summary.rows_deleted,
            }
        )

    return raw_retention


def build_landing_files_sensor(
    settings: Settings, job: dg.JobDefinition | UnresolvedAssetJobDefinition
) -> dg.SensorDefinition:
    """Requests a run whenever the set of sealed landing files changes.

    It only lists files: it must never open the DuckDB file, which has a single writer (the
    run). The cursor is a digest of the listing, so a file sealed late under an old partition
    triggers a run too; which files are new is decided by the load itself, from `loaded_files`.
    """

    @dg.sensor(
        name="sealed_landing_files_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def sealed_landing_files_sensor(
        context: dg.SensorEvaluationContext,
    ) -> dg.RunRequest | dg.SkipReason:
        files = sealed_landing_files(settings.landing_dir, settings.pushes_dir)
        if not files:
            return dg.SkipReason(f"no sealed landing files under {settings.pushes_dir}")
        fingerprint = listing_fingerprint(files)
        if fingerprint == context.cursor:
            return dg.SkipReason("no landing file sealed since the last run request")
        context.update_cursor(fingerprint)
        return dg.RunRequest(run_key=fingerprint)

    return sealed_landing_files_sensor
