"""Fixtures of the model tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from pbx55.settings import Settings

from .warehouse import drop_schemas


@pytest.fixture
def postgres_settings(
    settings: Settings, postgres_url: str, postgres_schema_suffix: str
) -> Iterator[tuple[Settings, str]]:
    """The test's settings on the local Postgres, and a schema prefix of its own (dropped after)."""
    prefix = f"pbx55_models_{postgres_schema_suffix}_"
    pg_settings = dataclasses.replace(settings, warehouse="postgres", postgres_url=postgres_url)
    yield pg_settings, prefix
    drop_schemas(pg_settings, prefix)
