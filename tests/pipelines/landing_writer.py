"""Landing lines written by hand in the receiver's envelope format (docs/contracts.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from typing import Any

import duckdb

from foundation.settings import Settings

RECEIVER_ID = "test0001"
_sequence = itertools.count(1)


def envelope(
    body: dict[str, Any],
    *,
    received_at: dt.datetime,
    raw_body: str | None = None,
    parse: str = "json",
) -> dict[str, Any]:
    sequence = next(_sequence)
    micros = int(received_at.timestamp() * 1_000_000)
    line = {
        "push_id": f"{micros:016x}-{RECEIVER_ID}-{sequence:08x}",
        "received_at": received_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "receiver_id": RECEIVER_ID,
        "method": "POST",
        "path": "/pushes",
        "auth": "token-0-0badc0de",
        "parse": parse,
        "body_sha256": hashlib.sha256((raw_body or json.dumps(body)).encode()).hexdigest(),
        "body": body,
    }
    if raw_body is not None:
        line["raw_body"] = raw_body
    return line


def query(settings: Settings, sql: str, *parameters: Any) -> list[tuple]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return connection.execute(sql, list(parameters)).fetchall()
