"""The dbt project as Dagster assets: models by layer, data tests as asset checks.

The assets are built from `dbt_models/target/manifest.json`, which `pbx55 prepare` writes
(`make dev`, the demo and CI run it); nothing is parsed at import. A run calls the same
`build_models` as `pbx55 build`, in this process, and turns dbt's structured log into Dagster
events with dagster-dbt's own translation, so the UI shows each model and test as it finishes.
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime.
import graphlib
import queue
import threading
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject, dbt_assets
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

from foundation.settings import Settings
from pipelines.dbt_runner import (
    DBT_PROJECT_DIR,
    MANIFEST_PATH,
    DbtEvent,
    build_models,
    default_target_path,
)
from pipelines.orchestration.resources import WAREHOUSE_POOL, retried_when_busy
from pipelines.unchanged_build import SkippedBuild

# dbt folder (the first level under models/, or the seeds) -> Dagster group and what it holds.
LAYER_GROUPS = {
    "staging": "models_staging",
    "intermediate": "models_intermediate",
    "marts": "models_marts",
    "seed": "reference_data",
}


class LayerTranslator(DagsterDbtTranslator):
    """Groups dbt assets by the layer of the project they sit in (see LAYER_GROUPS)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return LAYER_GROUPS["seed"]
        layer = dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else None
        return LAYER_GROUPS.get(layer, "models")


TRANSLATOR = LayerTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class ManifestMissingError(RuntimeError):
    """The dbt manifest the assets are built from has not been prepared."""


@cache
def build_dbt_assets(manifest_path: Path = MANIFEST_PATH) -> dg.AssetsDefinition:
    if not manifest_path.exists():
        raise ManifestMissingError(
            f"{manifest_path} is missing: run `pbx55 prepare` (make dev and make demo do) "
            "before loading the Dagster definitions"
        )
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

    @dbt_assets(
        manifest=manifest_path,
        project=project,
        dagster_dbt_translator=TRANSLATOR,
        name="dbt_models",
        pool=WAREHOUSE_POOL,
    )
    def dbt_models(
        context: dg.AssetExecutionContext, pbx55_settings: dg.ResourceParam[Settings]
    ) -> Iterator[Any]:
        select = _selected_nodes(context) if context.is_subset else ()
        target_path = default_target_path(pbx55_settings)
        with retried_when_busy(pbx55_settings):
            outcome: list[Any] = []
            for event in _streamed_build(pbx55_settings, select, outcome):
                message = DbtCoreCliEventMessage(raw_event=event, event_history_metadata={})
                yield from message.to_default_asset_events(
                    manifest=manifest_path,
                    dagster_dbt_translator=TRANSLATOR,
                    context=context,
                    target_path=target_path,
                    project=project,
                )
            if isinstance(outcome[0], SkippedBuild):
                # Current as of now, as a build would have left them: a quiet night is not late.
                context.log.info(outcome[0].message)
                for key in _in_dependency_order(context):
                    yield dg.MaterializeResult(
                        asset_key=key,
                        metadata={"pbx55/unchanged_since": outcome[0].last_built_at},
                    )

    return dbt_models


def _selected_nodes(context: dg.AssetExecutionContext) -> list[str]:
    """dbt node names of the assets selected for this run (a subset picked in the UI)."""
    by_key = {
        spec.key: spec.metadata.get("dagster_dbt/unique_id") for spec in context.assets_def.specs
    }
    selected = [by_key[key] for key in context.selected_asset_keys if by_key.get(key)]
    return sorted(unique_id.split(".")[-1] for unique_id in selected)


def _in_dependency_order(context: dg.AssetExecutionContext) -> list[dg.AssetKey]:
    """The selected assets, each after the assets it depends on (as Dagster wants them)."""
    selected = context.selected_asset_keys
    deps = context.assets_def.asset_deps
    graph = {key: {dep for dep in deps.get(key, ()) if dep in selected} for key in selected}
    return list(graphlib.TopologicalSorter(graph).static_order())


_FINISHED = object()


def _streamed_build(
    settings: Settings, select: list[str] | tuple[()], outcome: list[Any]
) -> Iterator[DbtEvent]:
    """`build_models`' events as they happen: dbt runs in a worker thread, this yields them;
    what `build_models` returned is appended to `outcome`."""
    events: queue.Queue[Any] = queue.Queue()
    failure: list[BaseException] = []

    def build() -> None:
        try:
            outcome.append(build_models(settings, select=select, on_event=events.put))
        except BaseException as error:  # re-raised in the run's own thread below
            failure.append(error)
        finally:
            events.put(_FINISHED)

    worker = threading.Thread(target=build, name="dbt-build", daemon=True)
    worker.start()
    while (event := events.get()) is not _FINISHED:
        yield event
    worker.join()
    if failure:
        raise failure[0]
