"""The landed line: push ids, receive timestamps and the envelope around each body.

The exact format is pinned in docs/contracts-internal.md; the loader relies on it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import time
from typing import Any

from ingest.parsing import PARSE_JSON, ParsedBody

_RECEIVER_ID_ALPHABET = string.ascii_lowercase + string.digits
US_PER_HOUR = 3_600_000_000


def new_receiver_id() -> str:
    """`[a-z0-9]{8}`, fresh at every start: two receivers or restarts never share file names."""
    return "".join(secrets.choice(_RECEIVER_ID_ALPHABET) for _ in range(8))


def now_us() -> int:
    """Receive time: microseconds since the epoch, UTC."""
    return time.time_ns() // 1000


def utc_text(epoch_us: int) -> str:
    """`2026-11-26T17:07:23.123456Z`; built from integers so no float rounds the microseconds."""
    seconds, micros = divmod(epoch_us, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def hour_partition(hour_bucket: int) -> tuple[str, str]:
    """(`YYYY-MM-DD`, `HH`) of an hour bucket (`epoch_us // US_PER_HOUR`)."""
    start = time.gmtime(hour_bucket * 3600)
    return time.strftime("%Y-%m-%d", start), time.strftime("%H", start)


class PushIds:
    """`<16 hex µs>-<receiver_id>-<8 hex sequence>`: unique and ordered by receive time."""

    def __init__(self, receiver_id: str) -> None:
        self.receiver_id = receiver_id
        self._sequence = 0

    def next(self, received_us: int) -> str:
        self._sequence += 1
        return f"{received_us:016x}-{self.receiver_id}-{self._sequence:08x}"


def body_sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def envelope_line(
    *,
    push_id: str,
    received_us: int,
    receiver_id: str,
    method: str,
    path: str,
    auth: str,
    parsed: ParsedBody,
    raw: bytes,
) -> bytes:
    """One `\\n`-terminated JSON line; `raw_body` when the parsed body is not the whole truth."""
    envelope: dict[str, Any] = {
        "push_id": push_id,
        "received_at": utc_text(received_us),
        "receiver_id": receiver_id,
        "method": method,
        "path": path,
        "auth": auth,
        "parse": parsed.mode,
        "body_sha256": body_sha256(raw),
        "body": parsed.body,
    }
    if parsed.mode != PARSE_JSON or parsed.lossy_numbers:
        envelope["raw_body"] = raw_text(raw)
    line = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return line.encode("utf-8") + b"\n"


def raw_text(raw: bytes) -> str:
    """The body as text, byte-order mark included; UTF-8, else Latin-1 as the parser reads it."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
