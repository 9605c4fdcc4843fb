"""The BI copy: what Metabase opens holds the warehouse's marts under `marts`."""

from __future__ import annotations

import dataclasses

import duckdb

from foundation.settings import Settings
from pipelines.bi_copy import publish_bi_copy


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
