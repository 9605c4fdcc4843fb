"""The dlt pipelines that write the raw schema: one warehouse, one place that says how to reach it.

Both loaders (landed pushes, report API pulls) write `settings.raw_schema` of the configured
warehouse through dlt; their working state lives under the data directory and the DuckDB path is
always explicit, so nothing lands in the current directory or in `~/.dlt`.
"""

from __future__ import annotations

import dlt
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.destinations.impl.postgres.configuration import PostgresCredentials

from foundation.settings import Settings


def raw_schema_pipeline(settings: Settings, name: str) -> dlt.Pipeline:
    """The dlt pipeline `name` writing the raw schema of the settings' warehouse."""
    # A completed load package holds every row it loaded, phone numbers included: kept, it
    # would be a second raw table on disk that retention never purges. Once files are deleted
    # after loading, compressing them only costs time (half of a Postgres load).
    dlt.config["load.delete_completed_jobs"] = True
    dlt.config["normalize.data_writer.disable_compression"] = True
    if settings.warehouse == "postgres":
        destination = dlt.destinations.postgres(credentials=_postgres_credentials(settings))
    else:
        settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        destination = dlt.destinations.duckdb(
            credentials=DuckDbCredentials(
                str(settings.duckdb_path),
                # A large insert then writes its row groups as they fill, on every core,
                # instead of keeping them for the checkpoint at commit (half of a load's write).
                # Row order in the raw tables means nothing: every reader orders by columns.
                global_config={"preserve_insertion_order": False},
            )
        )
    return dlt.pipeline(
        pipeline_name=f"{name}_{settings.raw_schema}",
        pipelines_dir=str(settings.data_dir / "dlt_pipelines"),
        destination=destination,
        dataset_name=settings.raw_schema,
    )


def describe_destination(settings: Settings) -> str:
    if settings.warehouse == "postgres":
        return f"postgres schema {settings.raw_schema}"
    return f"{settings.duckdb_path} ({settings.raw_schema})"


def _postgres_credentials(settings: Settings) -> PostgresCredentials:
    credentials = PostgresCredentials()
    credentials.parse_native_representation(settings.postgres_url)
    # dlt requires a password; servers with trust or peer authentication need none.
    if credentials.password is None:
        credentials.password = ""
    return credentials
