"""The dbt models as Dagster assets, downstream of the dlt load.

`pipelines/definitions.py` wires `pbx55_dbt_assets` with the resource
`{"dbt": dbt_resource(settings)}`. The dbt source `pbx55_raw.pushes` keeps dagster-dbt's
default key `["pbx55_raw", "pushes"]`, the key of the dlt asset, so the models hang below the
load in the asset graph. dbt data tests become asset checks. The manifest is prepared at import
time when it is missing or older than the project, so that the daemon and run workers load the
assets too, not only `dagster dev`.
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime.
import os
from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext, ResourceParam
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from pbx55.settings import Settings
from pipelines.transform import DBT_EXECUTABLE, DBT_PROJECT_DIR, dbt_env, prepare_manifest
from pipelines.warehouse_lock import warehouse_writer

pbx55_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
prepare_manifest()

_translator = DagsterDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True),
)


@dbt_assets(
    manifest=pbx55_dbt_project.manifest_path,
    project=pbx55_dbt_project,
    dagster_dbt_translator=_translator,
)
def pbx55_dbt_assets(
    context: AssetExecutionContext, dbt: DbtCliResource, pbx55_settings: ResourceParam[Settings]
) -> Iterator[Any]:
    # Unit tests check the SQL in CI; a run checks the data.
    with warehouse_writer(pbx55_settings, "Dagster dbt build"):
        yield from dbt.cli(
            ["build", "--exclude-resource-type", "unit_test"], context=context
        ).stream()


def dbt_resource(settings: Settings) -> DbtCliResource:
    """The `dbt` resource for `settings`' warehouse.

    dbt reads its connection from the environment (`dbt_models/profiles.yml`), and the resource
    runs dbt in a subprocess that inherits this process's environment, so the variables derived
    from `settings` are exported here.
    """
    os.environ.update(dbt_env(settings))
    return DbtCliResource(
        project_dir=pbx55_dbt_project,
        profiles_dir=str(DBT_PROJECT_DIR),
        target=settings.warehouse,
        # The virtualenv's dbt even when the virtualenv is not on PATH (the daemon's often is not).
        dbt_executable=str(DBT_EXECUTABLE),
    )
