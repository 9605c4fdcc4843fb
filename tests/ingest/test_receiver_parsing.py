"""parse_push_body against every body shape of docs/field-notes.md and the vendor document."""

from __future__ import annotations

import json

import pytest

from foundation.landing.parsing import (
    PARSE_FORM,
    PARSE_JSON,
    PARSE_LENIENT,
    PushBodyError,
    parse_push_body,
)
from tests.ingest.receiver_harness import VENDOR_EXAMPLE


def test_strict_json_object() -> None:
    parsed = parse_push_body(b'{"call_id": "1716824410.5190", "call_time": 0}', "application/json")
    assert parsed == ({"call_id": "1716824410.5190", "call_time": 0}, PARSE_JSON, False)


def test_vendor_document_example() -> None:
    body, mode, lossy = parse_push_body(VENDOR_EXAMPLE, "application/json")
    assert mode == PARSE_LENIENT
    assert body["call_date"] == "2012-05-01 12:30:00"
    assert body["branch_mask"] == 5000
    assert body["call_transfer_id"] == "1479477009.5198"
    assert lossy is False


def test_isodate_with_single_quotes() -> None:
    body, mode, _ = parse_push_body(b"{\"call_date\": ISODate('2012-05-01 12:30:00')}", None)
    assert (body, mode) == ({"call_date": "2012-05-01 12:30:00"}, PARSE_LENIENT)


def test_lenient_pass_never_touches_string_contents() -> None:
    raw = b'{"call_ura": "ISODate(\\"x\\"), }", "n": [1, 2,],}'
    body, mode, _ = parse_push_body(raw, None)
    assert body == {"call_ura": 'ISODate("x"), }', "n": [1, 2]}
    assert mode == PARSE_LENIENT


def test_a_repeated_key_keeps_the_last_value_and_is_lenient() -> None:
    body, mode, _ = parse_push_body(b'{"call_status": "new_call", "call_status": ""}', None)
    assert (body, mode) == ({"call_status": ""}, PARSE_LENIENT)


def test_one_element_array() -> None:
    body, mode, _ = parse_push_body(b'[{"call_id": "1"}]', "application/json")
    assert (body, mode) == ({"call_id": "1"}, PARSE_LENIENT)


def test_array_of_two_is_not_a_push() -> None:
    with pytest.raises(PushBodyError, match="not a JSON object"):
        parse_push_body(b'[{"call_id": "1"}, {"call_id": "2"}]', None)


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", None, "text/plain"])
def test_form_body(content_type: str | None) -> None:
    raw = b"central_id=1000&call_id=1716824410.5190&call_ura=Opcao+-+1&call_queue="
    body, mode, lossy = parse_push_body(raw, content_type)
    assert mode == PARSE_FORM
    assert body == {
        "central_id": "1000",
        "call_id": "1716824410.5190",
        "call_ura": "Opcao - 1",
        "call_queue": "",
    }
    assert lossy is False


def test_json_sent_with_form_content_type_is_json() -> None:
    # `curl -d` labels JSON as form data.
    body, mode, _ = parse_push_body(b'{"a": "x=y&z=1"}', "application/x-www-form-urlencoded")
    assert (body, mode) == ({"a": "x=y&z=1"}, PARSE_JSON)


def test_utf8_bom() -> None:
    body, mode, _ = parse_push_body(b'\xef\xbb\xbf{"call_queue": "4961-CR\xc3\x89DITO"}', None)
    assert (body, mode) == ({"call_queue": "4961-CRÉDITO"}, PARSE_LENIENT)


def test_latin1_body() -> None:
    body, mode, _ = parse_push_body(b'{"call_queue": "4961-CR\xc9DITO"}', None)
    assert (body, mode) == ({"call_queue": "4961-CRÉDITO"}, PARSE_LENIENT)


def test_call_id_as_number_is_flagged_and_kept_as_text_on_request() -> None:
    raw = b'{"call_id": 1716824410.5190, "call_tax": 0.58, "branch_mask": 5000}'
    body, mode, lossy = parse_push_body(raw, None)
    assert mode == PARSE_JSON
    assert lossy is True
    assert body["call_id"] == 1716824410.519
    text_body, _, _ = parse_push_body(raw, None, numbers_as_text=True)
    assert text_body == {"call_id": "1716824410.5190", "call_tax": "0.58", "branch_mask": "5000"}


@pytest.mark.parametrize(
    ("literal", "lossy"),
    [
        ("0.58", False),
        ("9999759.12", False),
        ("1716824410.5190", True),
        ("12345678901234567890", True),
        ("1e5", True),
        ("5000", False),
    ],
)
def test_which_numbers_lose_digits(literal: str, lossy: bool) -> None:
    assert parse_push_body(f'{{"n": {literal}}}'.encode(), None).lossy_numbers is lossy


def test_nan_stays_valid_json() -> None:
    body, _, lossy = parse_push_body(b'{"call_cost": NaN}', None)
    assert lossy is True
    json.dumps(body, allow_nan=False)


def test_numbers_as_text_in_the_lenient_pass() -> None:
    body, mode, lossy = parse_push_body(
        b'{"call_id": 1716824410.5190,}', None, numbers_as_text=True
    )
    assert (body, mode, lossy) == ({"call_id": "1716824410.5190"}, PARSE_LENIENT, True)


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\xef\xbb\xbf"])
def test_empty_body(raw: bytes) -> None:
    with pytest.raises(PushBodyError, match="empty body"):
        parse_push_body(raw, "application/json")


@pytest.mark.parametrize(
    "raw",
    [b'"a string"', b"42", b"null", b"[]", b"hello world", b'{"a": 1', b"{'a': 1}", b"__import__"],
)
def test_not_an_object(raw: bytes) -> None:
    with pytest.raises(PushBodyError) as error:
        parse_push_body(raw, "application/json")
    assert error.value.reason in ("body is not a JSON object", "body is not JSON or form data")


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 40 + b"]" * 40,
        b'{"a":' * 33 + b"1" + b"}" * 33,
        b'[{"a": [' * 12 + b"1" + b"]}]" * 12,
    ],
)
def test_nesting_deeper_than_the_limit(raw: bytes) -> None:
    with pytest.raises(PushBodyError) as error:
        parse_push_body(raw, None, max_depth=32)
    assert (error.value.reason, error.value.label) == (
        "body nested deeper than 32 levels",
        "nested_too_deep",
    )


def test_nesting_is_measured_outside_strings_only() -> None:
    raw = b'{"call_ura": "' + b"[{" * 100 + b'\\" ]", "n": [[1]]}'
    body, mode, _ = parse_push_body(raw, None, max_depth=32)
    assert (body["n"], mode) == ([[1]], PARSE_JSON)
    fits = b'{"a":' * 32 + b"1" + b"}" * 32
    assert parse_push_body(fits, None, max_depth=32).mode == PARSE_JSON


def test_nesting_too_deep_for_the_parser_without_a_limit() -> None:
    # The loader parses without a limit: nesting Python cannot parse is a PushBodyError too.
    with pytest.raises(PushBodyError, match="nested too deeply to parse"):
        parse_push_body(b"[" * 100_000 + b"]" * 100_000, None, numbers_as_text=True)


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded"])
def test_binary_data_with_equals_signs_is_not_a_form(content_type: str | None) -> None:
    for raw in (b"\x00\x01key=value", b"key=\x89PNG\r\n\x1a\n", b"k=v&\x7f=1", b"k=\xc2\x85v"):
        with pytest.raises(PushBodyError):
            parse_push_body(raw, content_type)


def test_accented_form_values_are_still_form_data() -> None:
    body, mode, _ = parse_push_body("call_queue=Opção 1&x=".encode(), None)
    assert (body, mode) == ({"call_queue": "Opção 1", "x": ""}, PARSE_FORM)


def test_a_number_no_double_holds_is_kept_as_text() -> None:
    body, mode, lossy = parse_push_body(b'{"call_cost": 1e999, "n": -1E400}', None)
    assert (body, mode, lossy) == ({"call_cost": "1e999", "n": "-1E400"}, PARSE_JSON, True)
