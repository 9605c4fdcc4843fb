"""Fixtures of the loader tests: sealed landing files under the test's data dir."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from foundation.landing.layout import hour_bucket_at
from foundation.settings import Settings
from tests.landing_files import write_landing_file
from tests.pipelines.landing_writer import RECEIVER_ID, envelope

LandFile = Callable[..., Path]


@pytest.fixture
def land_file(settings: Settings) -> LandFile:
    """Write a sealed (or, with `sealed=False`, still open) landing file; return its path.

    Its lines are the envelopes of `bodies`, or `lines` as they are (each ending in a newline).
    """
    counter = itertools.count(1)

    def write(
        bodies: Sequence[dict[str, Any]] = ({"call_id": "1"},),
        *,
        received_at: dt.datetime | None = None,
        lines: Sequence[bytes] | None = None,
        sealed: bool = True,
    ) -> Path:
        received_at = received_at or dt.datetime.now(dt.UTC)
        lines = lines or [envelope(body, received_at=received_at) for body in bodies]
        return write_landing_file(
            settings.pushes_dir,
            hour_bucket_at(received_at),
            RECEIVER_ID,
            next(counter),
            b"".join(lines),
            sealed=sealed,
        )

    return write


@pytest.fixture
def postgres_settings(
    env: dict[str, str], postgres_url: str, postgres_schema_suffix: str
) -> Iterator[Settings]:
    """The loader on Postgres, under a schema prefix of this test's own (dropped afterwards)."""
    settings = Settings.from_env(
        env
        | {
            "PBX55_WAREHOUSE": "postgres",
            "PBX55_POSTGRES_URL": postgres_url,
            "PBX55_SCHEMA_PREFIX": f"loader_{postgres_schema_suffix}_",
        }
    )
    yield settings
    with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{settings.raw_schema}" CASCADE')
        cursor.execute(f'DROP SCHEMA IF EXISTS "{settings.raw_schema}_staging" CASCADE')
