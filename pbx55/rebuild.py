"""`pbx55 rebuild`: the warehouse recreated from the landing files, which are the source of truth.

For a damaged or lost warehouse, or to re-tokenise the whole history under a new PII key. Under
the writer lock: the current raw schema is set aside (DuckDB: the file is moved aside and put
back if the rebuild fails; Postgres: the raw schema is dropped), dlt's working directory is
dropped, then the landing files are loaded, every model is rebuilt (`--full-refresh`) and the
BI copy published. Pushes whose landing files are gone (purged after `PBX55_RAW_RETENTION_DAYS`,
or deleted) are not in the rebuilt warehouse, and neither are their days in the marts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from foundation.landing.layout import sealed_landing_files
from foundation.settings import Settings
from pipelines.bi_copy import BiPublication, publish_bi_copy
from pipelines.dbt_runner import build_models
from pipelines.loader.load import LOADED_FILES_TABLE, LoadSummary, load_landed_pushes, raw_pipeline
from pipelines.loader.personal_data import Tokenizer
from pipelines.loader.pii_key_record import PiiKeyMismatchError, warehouse_key_id
from pipelines.warehouse_lock import warehouse_writer


class NothingToRebuildFromError(RuntimeError):
    """The landing directory holds no sealed file while the warehouse has loaded some."""


@dataclass(frozen=True)
class WarehouseState:
    landing_files: int  # sealed files under the landing directory
    loaded_files: int  # files the warehouse has loaded, purged ones included
    key_id: str | None  # the PII key its tokens were made with


@dataclass(frozen=True)
class Rebuilt:
    load: LoadSummary
    publication: BiPublication
    previous: Path | None  # the DuckDB warehouse set aside; None on Postgres


def warehouse_state(settings: Settings) -> WarehouseState:
    """What a rebuild would start from, and what it would replace."""
    landing_files = len(sealed_landing_files(settings.landing_dir, settings.pushes_dir))
    if settings.warehouse == "duckdb" and not settings.duckdb_path.exists():
        return WarehouseState(landing_files, 0, None)
    with raw_pipeline(settings).sql_client() as client:
        table = client.make_qualified_table_name(LOADED_FILES_TABLE)
        try:
            loaded = client.execute_sql(f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608
        except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
            loaded = 0
        return WarehouseState(landing_files, loaded, warehouse_key_id(client))


def rebuild_warehouse(settings: Settings, *, rotate_pii_key: bool = False) -> Rebuilt:
    """Recreate the warehouse from the landing files (module docstring)."""
    tokenizer = Tokenizer.from_key(settings.pii_key)  # before anything is set aside
    with warehouse_writer(settings, "pbx55 rebuild"):
        state = warehouse_state(settings)
        if state.key_id not in (None, tokenizer.key_id) and not rotate_pii_key:
            raise PiiKeyMismatchError(state.key_id, tokenizer.key_id)
        if state.landing_files == 0 and state.loaded_files > 0:
            raise NothingToRebuildFromError(
                f"no sealed landing files under {settings.pushes_dir}, while the warehouse has "
                f"loaded {state.loaded_files}: a rebuild would empty it — fix PBX55_LANDING_DIR "
                "(or PBX55_DATA_DIR)"
            )
        previous = _set_aside(settings)
        raw_pipeline(settings).drop()  # dlt's working state describes the warehouse set aside
        try:
            load = load_landed_pushes(settings)
            build_models(settings, full_refresh=True)
            publication = publish_bi_copy(settings)
        except BaseException:
            if previous is not None:
                _put_back(previous, settings.duckdb_path)
            raise
    return Rebuilt(load=load, publication=publication, previous=previous)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _set_aside(settings: Settings) -> Path | None:
    """Move the DuckDB warehouse aside (returned), or drop the Postgres raw schema."""
    if settings.warehouse == "postgres":
        with raw_pipeline(settings).sql_client() as client:
            if client.has_dataset():
                client.drop_dataset()
        return None
    if not settings.duckdb_path.exists():
        return None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = settings.duckdb_path.with_name(f"{settings.duckdb_path.name}.before-rebuild-{stamp}")
    os.replace(settings.duckdb_path, aside)
    with contextlib.suppress(FileNotFoundError):
        os.replace(_wal(settings.duckdb_path), _wal(aside))
    return aside


def _put_back(aside: Path, path: Path) -> None:
    """The warehouse as it was before the rebuild, in place of the half-built one."""
    for partial in (path, _wal(path)):
        partial.unlink(missing_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.replace(_wal(aside), _wal(path))
    os.replace(aside, path)
