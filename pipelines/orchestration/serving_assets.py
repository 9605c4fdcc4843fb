"""The BI serving copy, downstream of every mart, and the daily report, downstream of the copy."""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime.
import dagster as dg

from foundation.settings import Settings
from pipelines.bi_copy import SERVED_SCHEMA, publish_bi_copy
from pipelines.daily_report import write_daily_report
from pipelines.orchestration.resources import WAREHOUSE_POOL, retried_when_busy


def build_bi_serving_copy(dbt_models: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """The copy waits for every dbt model under `models/marts`."""
    mart_keys = [
        spec.key for spec in dbt_models.specs if spec.group_name == f"models_{SERVED_SCHEMA}"
    ]

    @dg.asset(
        name="bi_serving_copy",
        deps=mart_keys,
        group_name="serving",
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        description=(
            "Read-only copy of the marts for Metabase and notebooks (DuckDB: a new file swapped "
            "in atomically next to the warehouse; Postgres: BI reads the warehouse directly)."
        ),
    )
    def bi_serving_copy(
        context: dg.AssetExecutionContext, pbx55_settings: dg.ResourceParam[Settings]
    ) -> dg.MaterializeResult:
        with retried_when_busy(pbx55_settings):
            publication = publish_bi_copy(pbx55_settings)
        metadata: dict[str, object] = {"published_at": publication.published_at.isoformat()}
        if publication.path is None:
            metadata["note"] = publication.note
        else:
            metadata |= {
                "path": dg.MetadataValue.path(str(publication.path)),
                "tables": len(publication.tables),
                "fct_calls_rows": publication.tables.get("fct_calls", 0),
                "bytes": publication.path.stat().st_size,
            }
            context.log.info(
                f"published {len(publication.tables)} marts tables to {publication.path}"
            )
        return dg.MaterializeResult(metadata=metadata)

    return bi_serving_copy


@dg.asset(
    name="daily_report",
    deps=["bi_serving_copy"],
    group_name="serving",
    kinds={"html"},
    description=(
        "The supervisor's report of the last complete day: one self-contained HTML file, "
        "$PBX55_DATA_DIR/reports/daily-<day>.html and daily-latest.html, read from the served "
        "marts (it takes no writer lock: it only reads what BI reads)."
    ),
)
def daily_report(
    context: dg.AssetExecutionContext, pbx55_settings: dg.ResourceParam[Settings]
) -> dg.MaterializeResult:
    path = write_daily_report(pbx55_settings)
    context.log.info(f"daily report written to {path}")
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(path)), "bytes": path.stat().st_size}
    )
