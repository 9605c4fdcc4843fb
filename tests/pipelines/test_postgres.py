"""The same loader against the local Postgres server (CI runs it; elsewhere it may skip)."""

# The SQL here names only the test's own generated schema.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt

import psycopg2
import pytest

from foundation.settings import Settings
from pipelines.loader.load import load_landed_pushes
from pipelines.loader.retention import purge_expired

pytestmark = pytest.mark.postgres


def fetch(postgres_url: str, sql: str) -> list[tuple]:
    with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def test_postgres_loads_each_file_once_with_the_same_types(
    postgres_settings: Settings, postgres_url: str, land_file
) -> None:
    dataset = postgres_settings.raw_schema
    now = dt.datetime.now(dt.UTC)
    land_file(
        [
            {"call_id": "1", "call_time": "0:01:05", "call_tax": "0,58", "call_number": 2133334444},
            {"call_id": "2", "call_date": "2026-11-26T14:00:00Z", "extra": True},
        ],
        received_at=now,
    )

    first = load_landed_pushes(postgres_settings)
    second = load_landed_pushes(postgres_settings)

    assert (first.files, first.rows, second.rows) == (1, 2, 0)
    rows = fetch(
        postgres_url,
        "SELECT call_id, call_time, call_tax, call_number, call_date_local, call_date_format, "
        f'extra_fields_json FROM "{dataset}".pushes ORDER BY call_id',
    )
    assert rows == [
        ("1", 65, 0.58, "2133334444", None, None, None),
        ("2", None, None, None, dt.datetime(2026, 11, 26, 14, 0), "iso_z_local", '{"extra":true}'),
    ]
    types = dict(
        fetch(
            postgres_url,
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = '{dataset}' AND table_name = 'pushes'",
        )
    )
    assert types["received_at"] == "timestamp with time zone"
    assert types["call_date_local"] == "timestamp without time zone"
    assert types["call_date_utc"] == "timestamp with time zone"
    assert types["call_id"] == "character varying"
    assert types["line_number"] == "bigint"

    purged = purge_expired(postgres_settings, now=now + dt.timedelta(days=1000))
    assert purged.rows_deleted == 2
