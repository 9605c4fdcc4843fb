"""The landed line: one JSON object per line, exactly the contract's keys, nothing lost."""

from __future__ import annotations

import json

import pytest

from foundation.landing.envelope import PushIds, Receipt, envelope_line, utc_text
from foundation.landing.layout import hour_partition
from foundation.landing.parsing import parse_push_body

RECEIVED_US = 1_795_000_000_123_456


def _line(raw: bytes, content_type: str | None = None) -> bytes:
    receipt = Receipt(
        push_id=PushIds("abcd1234").next(RECEIVED_US),
        received_us=RECEIVED_US,
        receiver_id="abcd1234",
        method="POST",
        path="/pushes",
        auth="token-0-0123abcd",
    )
    return envelope_line(receipt, parse_push_body(raw, content_type), raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"call_id": "1", "call_ura": "Opcao - 1"}',
        b'{\r\n  "call_id": "1",\r\n  "call_queue": "4961-CR\xc3\x89DITO"\r\n}\r\n',
        b'{"call_ura": "line\\nbreak \\"quoted\\""}',
        b'{"accent": "\\u00e9", "pair": "\\ud83d\\ude00", "n": [1, {"m": 2}]}',
    ],
)
def test_strict_json_bodies_land_as_one_line_with_the_same_object(raw: bytes) -> None:
    line = _line(raw)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    envelope = json.loads(line)
    assert envelope["body"] == json.loads(raw)
    assert "raw_body" not in envelope


def test_lenient_bodies_keep_their_raw_text() -> None:
    raw = b'{"call_id": "1", "call_ura": "Opcao - 1",}'
    envelope = json.loads(_line(raw))
    assert envelope["parse"] == "lenient"
    assert envelope["body"] == {"call_id": "1", "call_ura": "Opcao - 1"}
    assert envelope["raw_body"] == raw.decode()


@pytest.mark.parametrize("raw", [b'{"a": "x\\ud800y"}', b'{"a": "x\\udc00y",}'])
def test_unpaired_surrogates_become_replacement_characters_and_raw_body_keeps_them(
    raw: bytes,
) -> None:
    line = _line(raw)
    line.decode("utf-8")  # every line is valid UTF-8, which the warehouse's JSON reader needs
    assert b"\\ud" not in line.split(b'"raw_body"')[0]
    envelope = json.loads(line)
    assert envelope["body"] == {"a": "x\ufffdy"}
    assert envelope["raw_body"] == raw.decode()


def test_envelope_keys_and_values() -> None:
    envelope = json.loads(_line(b'{"call_id": 1716824410.5190}'))
    assert list(envelope) == [
        "push_id",
        "received_at",
        "receiver_id",
        "method",
        "path",
        "auth",
        "parse",
        "body_sha256",
        "body",
        "raw_body",
    ]
    assert envelope["push_id"] == f"{RECEIVED_US:016x}-abcd1234-00000001"
    assert envelope["received_at"] == "2026-11-18T11:06:40.123456Z"
    assert envelope["raw_body"] == '{"call_id": 1716824410.5190}'


def test_receive_time_text_and_partition() -> None:
    assert utc_text(RECEIVED_US) == "2026-11-18T11:06:40.123456Z"
    assert utc_text(RECEIVED_US + 1_000_000) == "2026-11-18T11:06:41.123456Z"
    assert hour_partition(RECEIVED_US // 3_600_000_000) == ("2026-11-18", "11")


def test_push_ids_are_unique_and_ordered_by_receive_time() -> None:
    ids = PushIds("abcd1234")
    issued = [ids.next(RECEIVED_US), ids.next(RECEIVED_US), ids.next(RECEIVED_US + 1)]
    assert len(set(issued)) == 3
    assert issued == sorted(issued)
