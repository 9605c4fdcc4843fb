"""Turn a push body into a dict: strict JSON first, then the vendor's known deviations.

The receiver and the loader share this module. The receiver uses it to decide between 200 and
400 and to know whether `raw_body` must be kept; the loader calls it with `numbers_as_text=True`
on `raw_body` to take ids such as `call_id` exactly as sent (a JSON number `1716824410.5190`
becomes the float `1716824410.519` and loses its trailing zero).

Deviations seen in the wild (docs/field-notes.md) and handled by the lenient pass:
the MongoDB-shell literal `ISODate("...")` or `ISODate('...')`, trailing commas, an extra closing
brace, a one-element array `[{...}]`, form encoding, and a UTF-8 byte-order mark.
Nothing is ever evaluated: the lenient pass is a small scanner that rewrites the text into JSON.
"""

from __future__ import annotations

import json
import math
import re
import threading
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

PARSE_JSON = "json"
PARSE_LENIENT = "lenient"
PARSE_FORM = "form"

# Integers beyond this cannot round-trip through a double (JavaScript, DuckDB DOUBLE, ...).
_MAX_EXACT_FLOAT_INT = 2**53

_FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Form data is text: a control character (C0, DEL or C1, as Latin-1 decodes stray bytes) means
# the bytes are something else, however many `=` they contain.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
_HAS_CONTROL = re.compile(f"[{_CONTROL}]")
# `key=value` pairs joined by `&`: keys without spaces or JSON punctuation, values anything
# printable but `&`. A body that starts like JSON never matches, so `{"a": "x=y"}` stays JSON.
_FORM_KEY = rf"""[^\s{{}}\[\]"'=&{_CONTROL}]+"""
_FORM_VALUE = f"[^&{_CONTROL}]*"
_FORM_LIKE = re.compile(f"{_FORM_KEY}={_FORM_VALUE}(?:&{_FORM_KEY}={_FORM_VALUE})*")
# String literals (skipped whole, escapes included) and brackets, for the nesting check.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')
# Pushes are flat objects with the odd nested one: nothing real comes close to this.
MAX_NESTING_DEPTH = 32
_ISODATE = re.compile(r"""ISODate\s*\(\s*(?:"([^"\\]*)"|'([^'\\]*)')\s*\)""")


class PushBodyError(ValueError):
    """The body is empty, is not an object even after the lenient pass, or cannot be parsed.

    `reason` is short and never contains body text, so it is safe to return to the sender
    and to log; `label` names the kind of failure in metrics.
    """

    def __init__(self, reason: str, label: str = "not_an_object") -> None:
        super().__init__(reason)
        self.reason = reason
        self.label = label


class ParsedBody(NamedTuple):
    body: dict[str, Any]
    mode: str  # PARSE_JSON, PARSE_LENIENT or PARSE_FORM
    lossy_numbers: bool  # a JSON number would lose digits as a float: keep the raw text


def parse_push_body(
    raw: bytes,
    content_type: str | None,
    *,
    numbers_as_text: bool = False,
    max_depth: int | None = None,
) -> ParsedBody:
    """Parse one push body; raise `PushBodyError` when it is empty or not an object.

    With `numbers_as_text=True` every JSON number comes back as its literal text
    (`1716824410.5190` -> `"1716824410.5190"`), for callers that must keep ids exactly.
    With `max_depth`, a body whose arrays and objects nest deeper is refused before parsing
    (the receiver passes MAX_NESTING_DEPTH; Python's parser would otherwise recurse until it
    fails, and every reader after it would have to cope with the depth too).
    """
    text, decoded_strictly = _decode(raw)
    stripped = text.strip()
    if not stripped:
        raise PushBodyError("empty body", "empty_body")

    if stripped[0] not in "{[":
        if _FORM_LIKE.fullmatch(stripped):
            return ParsedBody(_parse_form(stripped), PARSE_FORM, False)
        if _is_form_content_type(content_type) and "=" in stripped:
            if _HAS_CONTROL.search(stripped):
                raise PushBodyError(
                    "form body holds control characters (binary data?)", "form_not_text"
                )
            return ParsedBody(_parse_form(stripped), PARSE_FORM, False)

    if max_depth is not None and _nesting_depth(stripped, max_depth) > max_depth:
        raise PushBodyError(f"body nested deeper than {max_depth} levels", "nested_too_deep")
    decoder = _TEXT_NUMBERS if numbers_as_text else _VALUE_NUMBERS
    try:
        value, noticed = _loads(decoder, stripped)
        mode = PARSE_JSON if decoded_strictly and not noticed.duplicate_keys else PARSE_LENIENT
    except (ValueError, RecursionError):
        try:
            value, noticed = _loads(decoder, _rewrite_lenient(stripped))
        except RecursionError:
            raise PushBodyError("body nested too deeply to parse", "nested_too_deep") from None
        except ValueError:
            raise PushBodyError("body is not JSON or form data") from None
        mode = PARSE_LENIENT

    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]
        mode = PARSE_LENIENT
    if not isinstance(value, dict):
        raise PushBodyError("body is not a JSON object")
    return ParsedBody(value, mode, noticed.lossy_numbers)


def _nesting_depth(text: str, limit: int) -> int:
    """How deep arrays and objects nest (brackets inside strings do not count); stops past
    `limit`. A body with no more brackets than the limit is answered without a scan."""
    if text.count("{") + text.count("[") <= limit:
        return 0
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        lexeme = match.group()
        if lexeme in ("{", "["):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif lexeme in ("}", "]"):
            depth -= 1
    return deepest


def _decode(raw: bytes) -> tuple[str, bool]:
    """Text of the body and whether it was plain UTF-8 without a byte-order mark.

    Legacy senders may still emit Latin-1; every byte sequence decodes as Latin-1, so such a
    body is parsed (leniently) instead of bouncing forever between 400 and the vendor's retries.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        strict = False
    else:
        strict = True
    try:
        return raw.decode("utf-8"), strict
    except UnicodeDecodeError:
        return raw.decode("latin-1"), False


def _is_form_content_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == _FORM_CONTENT_TYPE


def _parse_form(text: str) -> dict[str, Any]:
    # A repeated key keeps its last value, as most web frameworks do; raw_body keeps them all.
    pairs = parse_qsl(text, keep_blank_values=True)
    if not pairs:
        raise PushBodyError("form body has no fields", "form_not_text")
    return dict(pairs)


class _Noticed(threading.local):
    """What the decoder hooks noticed in the current parse, per thread (the loader may parse in
    several)."""

    lossy_numbers = False
    duplicate_keys = False


_noticed = _Noticed()


def _loads(decoder: json.JSONDecoder, text: str) -> tuple[Any, _Noticed]:
    _noticed.lossy_numbers = _noticed.duplicate_keys = False
    return decoder.decode(text), _noticed


def _float_value(literal: str) -> float | str:
    value = float(literal)
    if not math.isfinite(value):
        # `1e999` is valid JSON but no double holds it; as a float it would land as `Infinity`,
        # which is not JSON. Keep the text, as for NaN.
        _noticed.lossy_numbers = True
        return literal
    # `repr` is the shortest text that round-trips; anything else (a trailing zero, more digits
    # than a double holds, an exponent) is text the float cannot give back.
    if repr(value) != literal:
        _noticed.lossy_numbers = True
    return value


def _float_text(literal: str) -> str:
    _float_value(literal)
    return literal


def _int_value(literal: str) -> int:
    value = int(literal)
    if not -_MAX_EXACT_FLOAT_INT <= value <= _MAX_EXACT_FLOAT_INT:
        _noticed.lossy_numbers = True
    return value


def _int_text(literal: str) -> str:
    _int_value(literal)
    return literal


def _constant(literal: str) -> str:
    # NaN and Infinity are not JSON; keep them as text so the landed line stays valid JSON.
    _noticed.lossy_numbers = True
    return literal


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Readers disagree on a repeated key (Python keeps the last, DuckDB the first), so such a
    # body is not plain JSON: it is parsed leniently, last value winning, raw text kept.
    value = dict(pairs)
    if len(value) != len(pairs):
        _noticed.duplicate_keys = True
    return value


# Built once: building a decoder per call costs more than all of its hooks.
_VALUE_NUMBERS = json.JSONDecoder(
    parse_float=_float_value,
    parse_int=_int_value,
    parse_constant=_constant,
    object_pairs_hook=_object,
)
_TEXT_NUMBERS = json.JSONDecoder(
    parse_float=_float_text,
    parse_int=_int_text,
    parse_constant=_constant,
    object_pairs_hook=_object,
)


def _rewrite_lenient(text: str) -> str:
    """Rewrite the vendor's near-JSON into JSON, touching nothing inside string literals."""
    out: list[str] = []
    depth = 0
    closed_top_level = False
    i = 0
    length = len(text)
    while i < length:
        char = text[i]
        if char == '"':
            end = _string_end(text, i)
            out.append(text[i:end])
            i = end
            continue
        if char == "I":
            match = _ISODATE.match(text, i)
            if match:
                date_text = match.group(1) if match.group(1) is not None else match.group(2)
                out.append(json.dumps(date_text))
                i = match.end()
                continue
        if char == ",":
            following = _next_significant(text, i + 1)
            if following < length and text[following] in "}]":
                i += 1  # trailing comma
                continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            if depth == 0 and closed_top_level:
                i += 1  # an extra closing brace after the object is complete
                continue
            depth -= 1
            if depth == 0:
                closed_top_level = True
        out.append(char)
        i += 1
    return "".join(out)


def _string_end(text: str, start: int) -> int:
    """Index just after the JSON string literal that opens at `start` (or the text's end)."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        else:
            i += 1
    return len(text)


def _next_significant(text: str, start: int) -> int:
    i = start
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i
