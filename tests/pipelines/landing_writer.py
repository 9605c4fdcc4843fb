"""Landing lines of the loader tests, built by the receiver's own envelope code, and a query."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from foundation.landing.envelope import PushIds
from foundation.landing.parsing import ParsedBody
from foundation.settings import Settings
from tests.landing_files import epoch_us, landed_line

RECEIVER_ID = "test0001"
# One sequence for the whole run, so no two lines of any test share a push id.
_ids = PushIds(RECEIVER_ID)


def envelope(
    body: bytes | dict[str, Any],
    *,
    received_at: dt.datetime,
    content_type: str | None = "application/json",
    parsed: ParsedBody | None = None,
) -> bytes:
    """The landed line of one push (see `tests.landing_files.landed_line`)."""
    return landed_line(
        _ids, body, received_us=epoch_us(received_at), content_type=content_type, parsed=parsed
    )


def query(settings: Settings, sql: str, *parameters: Any) -> list[tuple]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return connection.execute(sql, list(parameters)).fetchall()
