"""The warehouse remembers its PII key by fingerprint and refuses a load under another one."""

# The SQL here names only the test's own schemas.
# ruff: noqa: S608

from __future__ import annotations

import dataclasses

import duckdb
import pytest

from foundation.settings import Settings
from pipelines.loader.load import load_landed_pushes
from pipelines.loader.personal_data import Tokenizer
from pipelines.loader.pii_key_record import HISTORY_TABLE, PiiKeyMismatchError
from tests.pipelines.landing_writer import query

OTHER_KEY = "another-pii-key"
CALLER = {"call_id": "1", "call_number": "11987654321"}


def _caller_tokens(settings: Settings) -> set[str]:
    rows = query(settings, "select caller_token from pbx55_raw.pushes")
    return {token for (token,) in rows}


def test_a_load_under_another_key_is_refused_and_loads_nothing(settings: Settings, land_file):
    land_file([CALLER])
    load_landed_pushes(settings)
    land_file([CALLER])

    with pytest.raises(PiiKeyMismatchError) as refused:
        load_landed_pushes(dataclasses.replace(settings, pii_key=OTHER_KEY))

    assert refused.value.recorded == Tokenizer.from_key(settings.pii_key).key_id
    assert OTHER_KEY not in str(refused.value)
    assert query(settings, "select count(*) from pbx55_raw.pushes") == [(1,)]
    assert load_landed_pushes(settings).rows == 1  # the right key loads what was waiting


def test_a_rotation_is_recorded_and_the_new_key_is_then_the_warehouses(
    settings: Settings, land_file
):
    land_file([CALLER])
    load_landed_pushes(settings)
    rotated = dataclasses.replace(settings, pii_key=OTHER_KEY)
    land_file([CALLER])

    load_landed_pushes(rotated, rotate_pii_key=True)
    land_file([CALLER])
    load_landed_pushes(rotated)  # no flag needed any more

    # The same caller under two keys: the split the rotation warns of.
    assert len(_caller_tokens(settings)) == 2
    history = query(settings, f"select key_id, how from pbx55_raw.{HISTORY_TABLE} order by 1")
    assert sorted(history) == sorted(
        [
            (Tokenizer.from_key(settings.pii_key).key_id, "first load"),
            (Tokenizer.from_key(OTHER_KEY).key_id, "rotation"),
        ]
    )
    with pytest.raises(PiiKeyMismatchError):
        load_landed_pushes(settings)


def test_a_warehouse_from_before_the_record_takes_the_key_of_its_pushes(
    settings: Settings, land_file
):
    land_file([CALLER])
    load_landed_pushes(settings)
    with duckdb.connect(str(settings.duckdb_path)) as warehouse:
        warehouse.execute(f"drop table pbx55_raw.{HISTORY_TABLE}")
    land_file([CALLER])

    with pytest.raises(PiiKeyMismatchError):
        load_landed_pushes(dataclasses.replace(settings, pii_key=OTHER_KEY))
    assert load_landed_pushes(settings).rows == 1


@pytest.mark.postgres
def test_postgres_refuses_another_key_too(postgres_settings: Settings, land_file):
    land_file([CALLER])
    load_landed_pushes(postgres_settings)
    land_file([CALLER])

    with pytest.raises(PiiKeyMismatchError):
        load_landed_pushes(dataclasses.replace(postgres_settings, pii_key=OTHER_KEY))
    assert load_landed_pushes(postgres_settings, rotate_pii_key=True).rows == 1
