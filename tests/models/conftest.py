"""Fixtures of the model tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.settings import Settings
from tests.models.warehouse import drop_schemas, manifest_marts


@pytest.fixture
def postgres_settings(
    settings: Settings, postgres_url: str, postgres_schema_suffix: str
) -> Iterator[Settings]:
    """The test's settings on the local Postgres, with a schema prefix of its own (dropped
    afterwards)."""
    pg_settings = dataclasses.replace(
        settings,
        warehouse="postgres",
        postgres_url=postgres_url,
        schema_prefix=f"pbx55_models_{postgres_schema_suffix}_",
    )
    yield pg_settings
    drop_schemas(pg_settings, pg_settings.schema_prefix)


@pytest.fixture(scope="session")
def mart_tables(dbt_manifest: Path) -> list[str]:
    """The marts of the dbt project, from its manifest (see `manifest_marts`)."""
    return manifest_marts(dbt_manifest)
