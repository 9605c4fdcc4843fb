"""Which PII key the warehouse's tokens were made with, so that a load under another one stops.

Caller, document and e-mail tokens are HMAC-SHA256 under `PBX55_PII_KEY`. A load under another
key gives every caller new tokens, so each history would split silently in the marts (repeat
callers, journeys by caller). So the warehouse records the fingerprint of each key it was given
(`Tokenizer.key_id`: an HMAC of a constant under the key, never the key) in `pii_key_history`
of the raw schema, and a load whose key is not the latest recorded stops, unless it is told to
rotate. A warehouse from before this record takes the key of its newest raw row as its own.

Rotating keeps every earlier token as it is; a caller's history splits at the rotation unless
the warehouse is rebuilt from the landing files under the new key (`pbx55 rebuild`).
"""

from __future__ import annotations

import datetime as dt
import logging

from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.destinations.sql_client import SqlClientBase

from pipelines.loader.personal_data import Tokenizer

log = logging.getLogger(__name__)

HISTORY_TABLE = "pii_key_history"


class PiiKeyMismatchError(RuntimeError):
    def __init__(self, recorded: str, given: str) -> None:
        self.recorded = recorded
        self.given = given
        super().__init__(
            f"PBX55_PII_KEY is not the key this warehouse's tokens were made with (key id "
            f"{recorded}, this key's is {given}); loading under it would split every caller's "
            f"history — set PBX55_PII_KEY back to that key, or rotate on purpose with "
            f"--rotate-pii-key (`pbx55 load`, `run`, or `rebuild` to re-tokenise the whole "
            f"history; README, Backup, restore and upgrade)"
        )


def check_pii_key(client: SqlClientBase, tokenizer: Tokenizer, *, rotate: bool) -> None:
    """Refuse `tokenizer`'s key unless it is the warehouse's (or `rotate`); record a new one."""
    recorded = recorded_key_id(client)
    if recorded is None:
        recorded = _key_id_of_newest_push(client)
        if recorded is not None:
            _record(client, recorded, "found in pushes")
    if recorded == tokenizer.key_id:
        return
    if recorded is not None and not rotate:
        raise PiiKeyMismatchError(recorded, tokenizer.key_id)
    if recorded is not None:
        log.warning(
            "PII key rotated from key id %s to %s: earlier tokens stay as they are, so callers' "
            "histories split here unless the warehouse is rebuilt (pbx55 rebuild)",
            recorded,
            tokenizer.key_id,
        )
    _record(client, tokenizer.key_id, "rotation" if recorded else "first load")


def warehouse_key_id(client: SqlClientBase) -> str | None:
    """The fingerprint of the key the warehouse's tokens were last made with; None if none."""
    return recorded_key_id(client) or _key_id_of_newest_push(client)


def recorded_key_id(client: SqlClientBase) -> str | None:
    """The fingerprint of the key the warehouse was last given, by its record."""
    table = client.make_qualified_table_name(HISTORY_TABLE)
    try:
        rows = client.execute_sql(
            f"SELECT key_id FROM {table} ORDER BY recorded_at DESC LIMIT 1"  # noqa: S608
        )
    except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
        return None
    return rows[0][0] if rows else None


def _key_id_of_newest_push(client: SqlClientBase) -> str | None:
    table = client.make_qualified_table_name("pushes")
    try:
        rows = client.execute_sql(
            f"SELECT pii_key_id FROM {table} ORDER BY received_at DESC LIMIT 1"  # noqa: S608
        )
    except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
        return None
    return rows[0][0] if rows else None


def _record(client: SqlClientBase, key_id: str, how: str) -> None:
    if not client.has_dataset():
        client.create_dataset()
    table = client.make_qualified_table_name(HISTORY_TABLE)
    client.execute_sql(
        f"CREATE TABLE IF NOT EXISTS {table} (key_id VARCHAR NOT NULL, "
        "recorded_at TIMESTAMP WITH TIME ZONE NOT NULL, how VARCHAR NOT NULL)"
    )
    client.execute_sql(
        f"INSERT INTO {table} (key_id, recorded_at, how) VALUES (%s, %s, %s)",  # noqa: S608
        key_id,
        dt.datetime.now(dt.UTC),
        how,
    )
