"""The BI copy: what Metabase opens holds the warehouse's marts under `marts`, in a storage format
the DuckDB bundled by Metabase's driver reads."""

from __future__ import annotations

import dataclasses
import subprocess

import duckdb
import pytest

from foundation.settings import Settings
from pipelines.bi_copy import UnknownStorageVersionError, publish_bi_copy
from tests.pipelines.older_duckdb import (
    METABASE_DRIVER_DUCKDB,
    older_duckdb_python,
    read_with_older_duckdb,
)


def test_the_copy_serves_prefixed_marts_as_marts(settings: Settings) -> None:
    settings = dataclasses.replace(settings, schema_prefix="ci_")
    settings.duckdb_path.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.duckdb_path)) as warehouse:
        warehouse.execute("create schema ci_marts")
        warehouse.execute("create table ci_marts.kpi_daily as select 1 as calls")
        warehouse.execute("create schema marts")  # another run's marts: not this one's
        warehouse.execute("create table marts.kpi_daily as select 2 as calls")

    publication = publish_bi_copy(settings)

    assert publication.tables == {"kpi_daily": 1}
    with duckdb.connect(str(settings.bi_duckdb_path), read_only=True) as served:
        assert served.execute("select calls from marts.kpi_daily").fetchall() == [(1,)]


# One value of every type the marts hold, as dbt builds them on DuckDB.
EVERY_MART_TYPE = """
select 'central-1'::varchar as central_id, date '2026-07-01' as reported_date,
    timestamptz '2026-07-01 12:00:00+00' as started_at_utc,
    timestamp '2026-07-01 09:00:00' as started_at_local, true as answered,
    42::bigint as calls, 7::integer as legs, 0.8125::double as service_level,
    12.34::decimal(18, 4) as cost_total, interval 90 second as talk
"""


@pytest.mark.parametrize("version", METABASE_DRIVER_DUCKDB)
def test_the_duckdb_of_the_metabase_driver_opens_the_copy(settings: Settings, version: str) -> None:
    python = older_duckdb_python(version)
    settings.duckdb_path.parent.mkdir(parents=True)
    # As text, which both releases print alike: no Python types to reconcile between them.
    as_text = "select columns(*)::varchar from marts.kpi_daily"
    with duckdb.connect(str(settings.duckdb_path)) as warehouse:
        warehouse.execute("create schema marts")
        warehouse.execute(f"create table marts.kpi_daily as {EVERY_MART_TYPE}")
        expected = [list(row) for row in warehouse.execute(as_text).fetchall()]

    publish_bi_copy(settings)

    reader, rows = read_with_older_duckdb(python, settings.bi_duckdb_path, as_text)
    assert reader == version
    assert rows == expected


def test_a_copy_in_the_latest_format_is_what_the_driver_cannot_open(settings: Settings) -> None:
    python = older_duckdb_python(METABASE_DRIVER_DUCKDB[-1])
    settings = dataclasses.replace(settings, bi_storage_version="latest")
    settings.duckdb_path.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.duckdb_path)) as warehouse:
        warehouse.execute("create schema marts")
        warehouse.execute("create table marts.kpi_daily as select 1 as calls")

    publish_bi_copy(settings)

    completed = subprocess.run(
        [
            str(python),
            "-c",
            "import duckdb, sys; duckdb.connect(sys.argv[1], read_only=True)",
            str(settings.bi_duckdb_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "version number" in completed.stderr, completed.stderr[-2000:]


def test_a_storage_version_duckdb_does_not_know_is_named(settings: Settings) -> None:
    settings = dataclasses.replace(settings, bi_storage_version="v9.0.0")
    settings.duckdb_path.parent.mkdir(parents=True)
    duckdb.connect(str(settings.duckdb_path)).close()

    with pytest.raises(UnknownStorageVersionError, match=r"PBX55_BI_STORAGE_VERSION=v9\.0\.0"):
        publish_bi_copy(settings)
    assert not settings.bi_duckdb_path.exists()
