"""Hand-written rows of `pbx55_raw.pushes`, in the loader's columns (`PUSHES_SCHEMA`).

The rows are written by hand so that the models are tested on their own, on rows the tests
spell out; the table they go into is the loader's own (`tests.models.warehouse.append_raw`).
Personal-data columns hold made-up tokens, as the loader would compute them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from foundation.landing.envelope import PushIds
from foundation.landing.layout import (
    PUSHES_DIR,
    hour_bucket_at,
    open_file_name,
    partition_dir,
    sealed_path,
)
from pipelines.loader.typed_pushes import PUSHES_SCHEMA

COLUMN_NAMES: list[str] = PUSHES_SCHEMA.names
LOCAL_OFFSET = timedelta(hours=-3)  # America/Sao_Paulo has no daylight saving time since 2019
RECEIVER_ID = "testrcvr"


def insert_sql(schema: str, dialect: str, columns: Sequence[str] = COLUMN_NAMES) -> str:
    marker = "?" if dialect == "duckdb" else "%s"
    markers = ", ".join([marker] * len(columns))
    # Identifiers come from the loader's schema; values travel as parameters.
    return f"insert into {schema}.pushes ({', '.join(columns)}) values ({markers})"  # noqa: S608


def source_file(received_at: datetime) -> str:
    """The name of the landing file a push received at `received_at` would come from."""
    path = partition_dir(Path(PUSHES_DIR), hour_bucket_at(received_at))
    return sealed_path(path / open_file_name(RECEIVER_ID, 1)).as_posix()


class PushFactory:
    """Builds raw rows; each push is received `received_at` (UTC) with a time-ordered push_id."""

    def __init__(self) -> None:
        self.sequence = 0
        self._ids = PushIds(RECEIVER_ID)

    def push(self, received_at: datetime, **body: Any) -> tuple[Any, ...]:
        self.sequence += 1
        body = {"central_id": "1000", **body}
        body_text = json.dumps(body, sort_keys=True, default=str)
        row: dict[str, Any] = {
            "push_id": self._push_id(received_at),
            "received_at": received_at,
            "receiver_id": RECEIVER_ID,
            "method": "POST",
            "request_path": "/pushes",
            "auth": "token-0-00000000",
            "parse_mode": "json",
            "body_sha256": hashlib.sha256(body_text.encode()).hexdigest(),
            "source_file": source_file(received_at),
            "line_number": self.sequence,
            "_dlt_load_id": "1",
            "_dlt_id": f"dlt{self.sequence}",
        }
        started = body.pop("started_local", None)
        for name, value in body.items():
            row[name] = None if value is None else value
        if started is not None:
            row["call_date_raw"] = f"{started:%Y-%m-%d %H:%M:%S}"
            row["call_date_local"] = started
            row["call_date_utc"] = (started - LOCAL_OFFSET).replace(tzinfo=UTC)
            row["call_date_format"] = "ymd_hms"
        return tuple(row.get(name) for name in COLUMN_NAMES)

    def duplicate(self, row: tuple[Any, ...], received_at: datetime) -> tuple[Any, ...]:
        """The same body again (a vendor retry): same hash, new envelope."""
        self.sequence += 1
        values = dict(zip(COLUMN_NAMES, row, strict=True))
        values |= {
            "push_id": self._push_id(received_at),
            "received_at": received_at,
            "line_number": self.sequence,
            "_dlt_id": f"dlt{self.sequence}",
        }
        return tuple(values[name] for name in COLUMN_NAMES)

    def _push_id(self, received_at: datetime) -> str:
        # The receiver's push ids, numbered along with `sequence` (line numbers and `_dlt_id`).
        return self._ids.next(int(received_at.timestamp() * 1_000_000))
