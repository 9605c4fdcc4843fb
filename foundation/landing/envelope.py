"""The landed line: push ids, receive timestamps, the envelope around each body, its validation.

The receiver writes envelopes with `envelope_line`; the loader reads them by `ENVELOPE_FIELDS`
and checks each with `parsed_envelope`. docs/contracts.md describes the format for people.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import string
import time
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from foundation.landing.parsing import PARSE_JSON, ParsedBody

_RECEIVER_ID_ALPHABET = string.ascii_lowercase + string.digits

# Every key of an envelope line, in the order written, with its JSON type. `raw_body` is present
# only when the parsed `body` is not the whole truth (see `envelope_line`).
ENVELOPE_FIELDS = {
    "push_id": "string",
    "received_at": "string",  # UTC, `utc_text`
    "receiver_id": "string",
    "method": "string",
    "path": "string",
    "auth": "string",  # Receipt.auth
    "parse": "string",  # a PARSE_* mode of foundation.landing.parsing
    "body_sha256": "string",
    "body": "object",
    "raw_body": "string",
}


def new_receiver_id() -> str:
    """`[a-z0-9]{8}`, fresh at every start: two receivers or restarts never share file names."""
    return "".join(secrets.choice(_RECEIVER_ID_ALPHABET) for _ in range(8))


def now_us() -> int:
    """Receive time: microseconds since the epoch, UTC."""
    return time.time_ns() // 1000


def utc_text(epoch_us: int) -> str:
    """`2026-11-26T17:07:23.123456Z`; built from integers so no float rounds the microseconds."""
    global _second_text
    seconds, micros = divmod(epoch_us, 1_000_000)
    cached_second, text = _second_text
    if cached_second != seconds:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second_text = (seconds, text)
    return f"{text}.{micros:06d}Z"


# Formatting the date and time once per second instead of once per push.
_second_text = (-1, "")


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


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the receiver knows of a request apart from its body: the head of every record it
    keeps, landed or quarantined."""

    push_id: str
    received_us: int
    receiver_id: str
    method: str
    path: str
    auth: str  # which token matched (ingest/auth.py `token_label`), never the token


def envelope_line(receipt: Receipt, parsed: ParsedBody, raw: bytes) -> bytes:
    """One `\\n`-terminated JSON line; `raw_body` when the parsed body is not the whole truth."""
    head = (
        f'{{"push_id":{_quote(receipt.push_id)},'
        f'"received_at":{_quote(utc_text(receipt.received_us))},'
        f'"receiver_id":{_quote(receipt.receiver_id)},"method":{_quote(receipt.method)},'
        f'"path":{_quote(receipt.path)},"auth":{_quote(receipt.auth)},'
        f'"parse":{_quote(parsed.mode)},'
        f'"body_sha256":"{body_sha256(raw)}","body":'
    ).encode()
    body = parsed.body
    keep_raw = parsed.mode != PARSE_JSON or parsed.lossy_numbers
    if b"\\u" in raw and _SURROGATE_ESCAPE.search(raw):
        body, replaced = _replace_lone_surrogates(body)
        keep_raw = keep_raw or replaced
    if not keep_raw:
        # The body is strict JSON and lost nothing in parsing, so its own text is the object.
        # Strict JSON allows a raw CR or LF only as whitespace between tokens, so turning them
        # into spaces makes it one line without re-serialising it (the hot path's costliest step).
        return head + raw.strip().translate(_NEWLINES_TO_SPACES) + b"}\n"
    body_json = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    raw_body = json.dumps(raw_text(raw), ensure_ascii=False).encode()
    return head + body_json + b',"raw_body":' + raw_body + b"}\n"


_NEWLINES_TO_SPACES = bytes.maketrans(b"\r\n", b"  ")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # the only way one gets into a body
_quote = encode_basestring_ascii


def _replace_lone_surrogates(value: Any) -> tuple[Any, bool]:
    """The value with each unpaired surrogate (`"\\ud800"`) replaced by U+FFFD, and whether any was.

    JSON's grammar lets a sender escape half a surrogate pair, but such a string has no UTF-8
    form and the warehouse's JSON reader rejects the whole line; `raw_body` keeps the original.
    """
    if isinstance(value, str):
        replaced = _LONE_SURROGATE.sub("\ufffd", value)
        return replaced, replaced != value
    if isinstance(value, dict):
        cleaned = {}
        changed = False
        for key, item in value.items():
            clean_key, key_changed = _replace_lone_surrogates(key)
            cleaned[clean_key], item_changed = _replace_lone_surrogates(item)
            changed = changed or key_changed or item_changed
        return cleaned, changed
    if isinstance(value, list):
        results = [_replace_lone_surrogates(item) for item in value]
        return [item for item, _ in results], any(changed for _, changed in results)
    return value, False


def raw_text(raw: bytes) -> str:
    """The body as text, byte-order mark included; UTF-8, else Latin-1 as the parser reads it."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def quarantined_body_record(
    receipt: Receipt, *, reason: str, content_type: str | None, raw: bytes
) -> bytes:
    """One JSON line keeping a body the receiver answered 400 to, for a human to look at."""
    record = {
        "push_id": receipt.push_id,
        "received_at": utc_text(receipt.received_us),
        "receiver_id": receipt.receiver_id,
        "method": receipt.method,
        "path": receipt.path,
        "auth": receipt.auth,
        "reason": reason,
        "content_type": content_type,
        "body_sha256": body_sha256(raw),
        "raw_body": raw_text(raw),
    }
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"


class EnvelopeProblemError(ValueError):
    """Why a landing line is not an envelope (the message never quotes the line)."""


def parsed_envelope(line: str) -> dict[str, Any]:
    """The envelope of a landing line: an object with a `push_id`, a `received_at` timestamp
    and a `body` object; EnvelopeProblemError otherwise."""
    try:
        envelope = json.loads(line)
    except json.JSONDecodeError as error:
        raise EnvelopeProblemError(f"not JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(envelope, dict):
        raise EnvelopeProblemError("not a JSON object")
    if not isinstance(envelope.get("push_id"), str) or not envelope["push_id"]:
        raise EnvelopeProblemError("no push_id")
    received_at = envelope.get("received_at")
    if not isinstance(received_at, str) or not _is_timestamp(received_at):
        raise EnvelopeProblemError("no valid received_at")
    if not isinstance(envelope.get("body"), dict):
        raise EnvelopeProblemError("body is not an object")
    return envelope


def _is_timestamp(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True
