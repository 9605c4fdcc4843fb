"""The dbt models as Dagster assets: graph wiring, checks, and a materialisation on DuckDB."""

from __future__ import annotations

import dataclasses

import dagster as dg
import pytest

from foundation.settings import Settings
from pipelines.orchestration.dbt_assets import build_dbt_assets
from pipelines.orchestration.report_assets import REPORT_KEYS
from pipelines.orchestration.resources import build_resources
from tests.models.raw_pushes import PushFactory
from tests.models.scenario import first_batch
from tests.models.warehouse import append_raw

pytestmark = pytest.mark.usefixtures("dbt_manifest")


def test_models_hang_below_the_dlt_assets_and_tests_are_checks() -> None:
    dbt_models = build_dbt_assets()
    upstream = {key for key in dbt_models.dependency_keys if key not in dbt_models.keys}
    raw_tables = ["pushes", *REPORT_KEYS, "dlt_loads"]  # dlt's ledger of loads too
    assert upstream == {dg.AssetKey(["pbx55_raw", table]) for table in raw_tables}
    assert dg.AssetKey(["marts", "fct_calls"]) in dbt_models.keys
    check_names = {spec.name for spec in dbt_models.check_specs}
    assert any(name == "invariant_key_fct_calls" for name in check_names)
    assert "dq_incomplete_calls" in check_names


def test_models_are_grouped_by_layer_in_the_ui() -> None:
    groups = build_dbt_assets().group_names_by_key
    assert groups[dg.AssetKey(["staging", "stg_pbx55__pushes"])] == "models_staging"
    assert groups[dg.AssetKey(["marts", "fct_calls"])] == "models_marts"
    assert "default" not in set(groups.values())


def test_materialising_the_dbt_assets_builds_the_marts(
    settings: Settings, mart_tables: list[str]
) -> None:
    settings = dataclasses.replace(settings, as_of_utc="2026-11-20 21:00:00+00")
    append_raw(settings, first_batch(PushFactory()))

    result = dg.materialize([build_dbt_assets()], resources=build_resources(settings))

    assert result.success
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert {dg.AssetKey(["marts", table]) for table in mart_tables} <= materialized

    again = dg.materialize([build_dbt_assets()], resources=build_resources(settings))

    assert again.success  # nothing new: the build is skipped, the marts are current as of now
    unchanged = again.get_asset_materialization_events()
    assert {event.asset_key for event in unchanged} == materialized
    assert all("pbx55/unchanged_since" in event.materialization.metadata for event in unchanged)
