"""`pbx55 rebuild`: the warehouse recreated from the landing files has the same rows and marts.

Through the real console script, on DuckDB, after traffic sent to a real receiver.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb
import pytest

from foundation.settings import Settings
from pbx55.receiver_process import running_receiver
from pipelines.loader.personal_data import Tokenizer
from tests.faults.fault_landing import landed_push_ids
from tests.models.warehouse import connect, drop_schemas, manifest_marts, snapshot
from tests.test_cli import pbx55

pytestmark = pytest.mark.slow

# Pinned, so that calls without a final push are judged alike by both builds.
AS_OF_UTC = "2030-01-01 00:00:00"
NEW_KEY = "the-new-pii-key-after-a-leak"


def _warehouse_push_ids(settings: Settings) -> Counter[str]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as warehouse:
        rows = warehouse.execute("select push_id from pbx55_raw.pushes").fetchall()
    return Counter(push_id for (push_id,) in rows)


def _key_ids(settings: Settings) -> set[str]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as warehouse:
        rows = warehouse.execute("select distinct pii_key_id from pbx55_raw.pushes").fetchall()
    return {key_id for (key_id,) in rows}


def test_a_rebuild_recreates_the_same_warehouse_from_the_landing_files(
    env: dict[str, str], dbt_manifest: Path
):
    env = env | {"PBX55_AS_OF_UTC": AS_OF_UTC}
    settings = Settings.from_env(env)
    with running_receiver(env) as receiver:
        sent = pbx55(
            "simulate", "--url", receiver.push_url, "--calls", "60", "--seed", "11",
            "--no-progress", env=env,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
    first = pbx55("run", env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    marts = manifest_marts(dbt_manifest)
    before = snapshot(settings, marts)

    unconfirmed = pbx55("rebuild", env=env)
    assert unconfirmed.returncode == 2
    assert "--yes" in unconfirmed.stderr
    assert snapshot(settings, marts) == before
    # A landing directory set wrong would empty the warehouse: refused, whatever --yes says.
    elsewhere = env | {"PBX55_LANDING_DIR": str(settings.data_dir / "no-landing-here")}
    misdirected = pbx55("rebuild", "--yes", env=elsewhere)
    assert misdirected.returncode == 2
    assert "PBX55_LANDING_DIR" in misdirected.stderr.splitlines()[-1]
    assert snapshot(settings, marts) == before

    rebuilt = pbx55("rebuild", "--yes", env=env)

    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert _warehouse_push_ids(settings) == landed_push_ids(settings)
    assert max(landed_push_ids(settings).values()) == 1
    assert snapshot(settings, marts) == before
    aside = [path for path in settings.data_dir.iterdir() if ".before-rebuild-" in path.name]
    assert len(aside) == 1
    assert str(aside[0]) in rebuilt.stdout
    with duckdb.connect(str(settings.bi_duckdb_path), read_only=True) as served:
        calls = served.execute("select count(*) from marts.fct_calls").fetchone()[0]
    assert calls == len(before["fct_calls"])

    # Rotating the PII key for the whole history: refused without saying so, then every push
    # is tokenised anew under the new key and the marts keep their shape.
    new_key = env | {"PBX55_PII_KEY": NEW_KEY}
    refused = pbx55("rebuild", "--yes", env=new_key)
    assert refused.returncode == 2
    assert "--rotate-pii-key" in refused.stderr
    rotated = pbx55("rebuild", "--yes", "--rotate-pii-key", env=new_key)
    assert rotated.returncode == 0, rotated.stderr[-3000:]
    assert _key_ids(settings) == {Tokenizer.from_key(NEW_KEY).key_id}
    after = snapshot(settings, marts)
    assert {table: len(rows) for table, rows in after.items()} == {
        table: len(rows) for table, rows in before.items()
    }
    assert pbx55("load", env=new_key).returncode == 0


@pytest.mark.postgres
def test_a_rebuild_on_postgres_recreates_the_same_raw_rows_and_marts(
    env: dict[str, str], dbt_manifest: Path, postgres_url: str, postgres_schema_suffix: str
):
    prefix = f"rebuild_{postgres_schema_suffix}_"
    env = env | {
        "PBX55_AS_OF_UTC": AS_OF_UTC,
        "PBX55_WAREHOUSE": "postgres",
        "PBX55_POSTGRES_URL": postgres_url,
        "PBX55_SCHEMA_PREFIX": prefix,
    }
    settings = Settings.from_env(env)
    try:
        with running_receiver(env) as receiver:
            sent = pbx55(
                "simulate", "--url", receiver.push_url, "--calls", "40", "--seed", "12",
                "--no-progress", env=env,
            )  # fmt: skip
            assert sent.returncode == 0, sent.stderr
        first = pbx55("run", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        marts = manifest_marts(dbt_manifest)
        before = snapshot(settings, marts)

        rebuilt = pbx55("rebuild", "--yes", env=env)

        assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
        with connect(settings) as warehouse:
            cursor = warehouse.cursor()
            cursor.execute(f"select push_id from {settings.raw_schema}.pushes")  # noqa: S608
            in_warehouse = Counter(push_id for (push_id,) in cursor.fetchall())
        assert in_warehouse == landed_push_ids(settings)
        assert snapshot(settings, marts) == before
    finally:
        drop_schemas(settings, prefix)
