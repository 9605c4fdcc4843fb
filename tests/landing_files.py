"""Landing files written with the landing contract's own code (foundation.landing), the way the
receiver writes them, for the tests of everything downstream of it.

No test spells a partition, a suffix or an envelope here: a change to the contract changes these
files with it. The one place that checks the format against the documented contract with
literals is tests/ingest/test_receiver_http.py (`test_landed_envelope_follows_the_contract`).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from foundation.landing.envelope import PushIds, Receipt, envelope_line
from foundation.landing.layout import (
    OPEN_GLOB,
    SEALED_GLOB,
    open_file_name,
    partition_dir,
    sealed_path,
)
from foundation.landing.parsing import ParsedBody, parse_push_body

AUTH = "token-0-0badc0de"  # which token matched; the loader keeps the label as it is
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch_us(moment: dt.datetime) -> int:
    """Microseconds since the epoch of an aware datetime, exactly (no float in between)."""
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def landed_line(
    ids: PushIds,
    body: bytes | dict[str, Any],
    *,
    received_us: int,
    content_type: str | None = "application/json",
    method: str = "POST",
    parsed: ParsedBody | None = None,
) -> bytes:
    """The line the receiver lands for one push `body` (raw bytes, or an object sent as JSON)
    received at `received_us`, with the next push id of `ids`.

    `parsed` stands in for the receiver's parser only for a line today's receiver would refuse
    but an older one landed; otherwise the body goes through `parse_push_body` as it does.
    """
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    receipt = Receipt(
        push_id=ids.next(received_us),
        received_us=received_us,
        receiver_id=ids.receiver_id,
        method=method,
        path="/pushes",
        auth=AUTH,
    )
    return envelope_line(receipt, parsed or parse_push_body(raw, content_type), raw)


def write_landing_file(
    pushes_dir: Path,
    hour_bucket: int,
    receiver_id: str,
    sequence: int,
    data: bytes,
    *,
    sealed: bool = True,
) -> Path:
    """File number `sequence` of `receiver_id` in the partition of `hour_bucket` (`hour_bucket_at`,
    `hour_bucket_of`), holding `data`: written under its open name and, unless `sealed=False`,
    renamed to its sealed name, as the receiver seals."""
    directory = partition_dir(pushes_dir, hour_bucket)
    directory.mkdir(parents=True, exist_ok=True)
    open_path = directory / open_file_name(receiver_id, sequence)
    open_path.write_bytes(data)
    if not sealed:
        return open_path
    path = sealed_path(open_path)
    open_path.rename(path)
    return path


def sealed_files(pushes_dir: Path) -> list[Path]:
    """Every sealed landing file under `pushes_dir`, sorted by path."""
    return sorted(pushes_dir.glob(SEALED_GLOB))


def open_files(pushes_dir: Path) -> list[Path]:
    """Every landing file still being written under `pushes_dir`, sorted by path."""
    return sorted(pushes_dir.glob(OPEN_GLOB))
