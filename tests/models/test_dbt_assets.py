"""The dbt models as Dagster assets: graph wiring, checks, and a materialisation on DuckDB."""

from __future__ import annotations

import dagster as dg
import pytest

from pbx55.settings import Settings
from pipelines.dbt_assets import pbx55_dbt_assets
from pipelines.resources import build_resources
from pipelines.transform import dbt_env

from .raw_pushes import PushFactory
from .scenario import first_batch
from .warehouse import append_raw


def test_models_hang_below_the_dlt_asset_and_tests_are_checks() -> None:
    upstream = {key for key in pbx55_dbt_assets.dependency_keys if key not in pbx55_dbt_assets.keys}
    assert upstream == {dg.AssetKey(["pbx55_raw", "pushes"])}
    assert dg.AssetKey(["marts", "fct_calls"]) in pbx55_dbt_assets.keys
    check_names = {spec.name for spec in pbx55_dbt_assets.check_specs}
    assert any(name.startswith("invariant_unique_fct_calls") for name in check_names)
    assert "dq_incomplete_calls" in check_names


def test_materialising_the_dbt_assets_builds_the_marts(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dbt_resource exports the connection variables; let monkeypatch restore them afterwards.
    for name, value in dbt_env(settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PBX55_AS_OF_UTC", "2026-11-20 21:00:00+00")
    append_raw(settings, first_batch(PushFactory()))

    result = dg.materialize([pbx55_dbt_assets], resources=build_resources(settings))

    assert result.success
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert dg.AssetKey(["marts", "kpi_daily"]) in materialized
