"""Hand-written rows of `pbx55_raw.pushes` in the shape of docs/contracts.md.

The tests create the raw table with plain SQL so that the models are tested on their own, not
through the loader. Personal-data columns hold made-up tokens, as the loader would compute them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.loader.typed_pushes import TEXT_FIELDS

# (column, DuckDB type, Postgres type), in the contract's order.
RAW_COLUMNS: list[tuple[str, str, str]] = [
    ("push_id", "varchar", "text"),
    ("received_at", "timestamptz", "timestamptz"),
    ("receiver_id", "varchar", "text"),
    ("method", "varchar", "text"),
    ("request_path", "varchar", "text"),
    ("auth", "varchar", "text"),
    ("parse_mode", "varchar", "text"),
    ("body_sha256", "varchar", "text"),
    ("raw_body", "varchar", "text"),
    ("source_file", "varchar", "text"),
    ("line_number", "bigint", "bigint"),
    ("extra_fields_json", "varchar", "text"),
    ("parse_errors", "varchar", "text"),
    ("unparsed_values_json", "varchar", "text"),
    ("nul_replaced_fields", "varchar", "text"),
    *((name, "varchar", "text") for name in TEXT_FIELDS),
    ("call_time", "bigint", "bigint"),
    ("call_duration", "bigint", "bigint"),
    ("call_time_waiting", "bigint", "bigint"),
    ("call_tax", "double", "double precision"),
    ("call_cost", "double", "double precision"),
    ("call_balance", "double", "double precision"),
    ("call_date_raw", "varchar", "text"),
    ("call_date_local", "timestamp", "timestamp"),
    ("call_date_utc", "timestamptz", "timestamptz"),
    ("call_date_format", "varchar", "text"),
    ("pii_key_id", "varchar", "text"),
    ("caller_token", "varchar", "text"),
    ("caller_ddd", "varchar", "text"),
    ("caller_number_type", "varchar", "text"),
    ("caller_masked", "varchar", "text"),
    ("document_token", "varchar", "text"),
    ("document_kind", "varchar", "text"),
    ("branch_email_token", "varchar", "text"),
    ("_dlt_load_id", "varchar", "text"),
    ("_dlt_id", "varchar", "text"),
]
COLUMN_NAMES = [name for name, _, _ in RAW_COLUMNS]
LOCAL_OFFSET = timedelta(hours=-3)  # America/Sao_Paulo has no daylight saving time since 2019


def create_table_sql(schema: str, dialect: str) -> list[str]:
    position = 1 if dialect == "duckdb" else 2
    columns = ", ".join(f"{column[0]} {column[position]}" for column in RAW_COLUMNS)
    return [
        f"create schema if not exists {schema}",
        f"create table if not exists {schema}.pushes ({columns})",
    ]


def insert_sql(schema: str, dialect: str) -> str:
    marker = "?" if dialect == "duckdb" else "%s"
    columns = ", ".join(COLUMN_NAMES)
    markers = ", ".join([marker] * len(COLUMN_NAMES))
    # Identifiers come from this module; values travel as parameters.
    return f"insert into {schema}.pushes ({columns}) values ({markers})"  # noqa: S608


class PushFactory:
    """Builds raw rows; each push is received `received_at` (UTC) with a time-ordered push_id."""

    def __init__(self) -> None:
        self.sequence = 0

    def push(self, received_at: datetime, **body: Any) -> tuple[Any, ...]:
        self.sequence += 1
        body = {"central_id": "1000", **body}
        micros = int(received_at.timestamp() * 1_000_000)
        body_text = json.dumps(body, sort_keys=True, default=str)
        row: dict[str, Any] = {
            "push_id": f"{micros:016x}-testrcvr-{self.sequence:08x}",
            "received_at": received_at,
            "receiver_id": "testrcvr",
            "method": "POST",
            "request_path": "/pushes",
            "auth": "token-0-00000000",
            "parse_mode": "json",
            "body_sha256": hashlib.sha256(body_text.encode()).hexdigest(),
            "source_file": f"pushes/date={received_at:%Y-%m-%d}/hour={received_at:%H}/r-1.jsonl",
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
        micros = int(received_at.timestamp() * 1_000_000)
        values |= {
            "push_id": f"{micros:016x}-testrcvr-{self.sequence:08x}",
            "received_at": received_at,
            "line_number": self.sequence,
            "_dlt_id": f"dlt{self.sequence}",
        }
        return tuple(values[name] for name in COLUMN_NAMES)
