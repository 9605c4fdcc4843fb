"""Landed JSONL lines -> typed Arrow rows of `pbx55_raw.pushes` (docs/contracts.md).

An in-memory DuckDB reads the files and types every field in vectorised SQL. Python only does
what SQL cannot do cheaply, and only once per *distinct* value of a batch: ids re-read from
`raw_body` with their literal digits, dates no known format matched (python-dateutil), and the
HMAC tokens of personal data (the key must never enter SQL text).

A value that cannot be parsed is never dropped and never guessed: its typed column stays null,
its name goes into `parse_errors` and the value as sent into `unparsed_values_json`.

Every text column is storable in Postgres, whose text cannot hold U+0000: a NUL character (a
`\\u0000` escape in a JSON body, `%00` in a form body) becomes U+FFFD, and the row's
`nul_replaced_fields` names the columns where that happened (`_replace_nul_characters`).
"""

# SQL here is assembled from this module's constants and from file paths the loader listed
# itself (quoted by `_sql_text`); no pushed value is ever spliced into SQL text.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Sequence

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from dateutil import parser as dateutil_parser

from foundation.landing.envelope import ENVELOPE_FIELDS
from foundation.landing.layout import LandedFile
from foundation.landing.parsing import PARSE_FORM, PushBodyError, parse_push_body
from pipelines.loader.malformed_lines import LINE_NUMBER_KEY
from pipelines.loader.personal_data import Tokenizer, normalised_callers_sql

# Body fields kept as text exactly as sent (numbers as their literal text).
TEXT_FIELDS = (
    "central_id",
    "call_id",
    "branch_mask",
    "branch_email",
    "call_terminal",
    "call_type",
    "call_number",
    "call_area_code",
    "call_country_code",
    "call_document",
    "call_order",
    "call_ura",
    "call_queue",
    "call_status",
    "call_disconnection",
    "call_url_audio",
    "call_audio_file",
    "call_transfer_id",
    "call_tax_type",
)
SECONDS_FIELDS = ("call_time", "call_duration", "call_time_waiting")
MONEY_FIELDS = ("call_tax", "call_cost", "call_balance")
KNOWN_FIELDS = (*TEXT_FIELDS, *SECONDS_FIELDS, *MONEY_FIELDS, "call_date")

CALL_DATE_FORMATS = (
    "ymd_hms",
    "isodate",
    "iso_z_local",
    "iso_offset",
    "dmy_hms",
    "epoch_ms",
    "epoch_s",
    "other",
    "unparsed",
)

PUSHES_SCHEMA = pa.schema(
    [
        ("push_id", pa.string()),
        ("received_at", pa.timestamp("us", tz="UTC")),
        ("receiver_id", pa.string()),
        ("method", pa.string()),
        ("request_path", pa.string()),
        ("auth", pa.string()),
        ("parse_mode", pa.string()),
        ("body_sha256", pa.string()),
        ("raw_body", pa.string()),
        ("source_file", pa.string()),
        ("line_number", pa.int64()),
        ("extra_fields_json", pa.string()),
        ("parse_errors", pa.string()),
        ("unparsed_values_json", pa.string()),
        ("nul_replaced_fields", pa.string()),
        *[(name, pa.string()) for name in TEXT_FIELDS],
        *[(name, pa.int64()) for name in SECONDS_FIELDS],
        *[(name, pa.float64()) for name in MONEY_FIELDS],
        ("call_date_raw", pa.string()),
        ("call_date_local", pa.timestamp("us")),
        ("call_date_utc", pa.timestamp("us", tz="UTC")),
        ("call_date_format", pa.string()),
        ("pii_key_id", pa.string()),
        ("caller_token", pa.string()),
        ("caller_ddd", pa.string()),
        ("caller_number_type", pa.string()),
        ("caller_masked", pa.string()),
        ("document_token", pa.string()),
        ("document_kind", pa.string()),
        ("branch_email_token", pa.string()),
        ("_dlt_load_id", pa.string()),
        ("_dlt_id", pa.string()),
    ]
)

_DUCKDB_TYPE_OF_JSON = {"string": "VARCHAR", "object": "JSON"}
_ENVELOPE_COLUMNS = (
    "{"
    + ", ".join(f"{name}: '{_DUCKDB_TYPE_OF_JSON[kind]}'" for name, kind in ENVELOPE_FIELDS.items())
    + f", {LINE_NUMBER_KEY}: 'BIGINT'}}"
)


class MalformedLinesError(Exception):
    """Some line of the batch is not an envelope the loader can type (`parsed_envelope`)."""


# Blank means absent: a start push carries "" where the final push carries a value.
_MACROS = r"""
CREATE OR REPLACE TEMP MACRO pbx_blank(v) AS v IS NULL OR trim(v) = '';

-- Whole seconds from 42, "42", "42.0", "42,0" or "H:MM:SS" (the vendor's report API).
CREATE OR REPLACE TEMP MACRO pbx_any_seconds(v) AS CASE
    WHEN regexp_full_match(trim(v), '[+-]?\d+([.,]0*)?')
        THEN TRY_CAST(regexp_extract(trim(v), '^[+-]?\d+') AS BIGINT)
    WHEN regexp_full_match(trim(v), '\d{1,6}:[0-5]\d:[0-5]\d')
        THEN CAST(split_part(trim(v), ':', 1) AS BIGINT) * 3600
            + CAST(split_part(trim(v), ':', 2) AS BIGINT) * 60
            + CAST(split_part(trim(v), ':', 3) AS BIGINT)
END;

-- 0.58, "0.58", "0,58", "1.234,56", 1e-05; "1,234.56" is ambiguous and stays unparsed.
CREATE OR REPLACE TEMP MACRO pbx_any_money(v) AS CASE
    WHEN regexp_full_match(trim(v), '[+-]?\d{1,3}(\.\d{3})+,\d+')
        THEN TRY_CAST(replace(replace(trim(v), '.', ''), ',', '.') AS DOUBLE)
    WHEN regexp_full_match(trim(v), '[+-]?\d+,\d+')
        THEN TRY_CAST(replace(trim(v), ',', '.') AS DOUBLE)
    WHEN regexp_full_match(trim(v), '[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?')
        THEN TRY_CAST(trim(v) AS DOUBLE)
END;

-- Beyond these a value is no measurement and would overflow the models' sums and decimals
-- (numeric(18, 4) of billed seconds, numeric(28, 6) of costs), stopping every refresh: it is
-- left untyped, listed in parse_errors and kept as sent. Infinity and NaN fail the test too.
CREATE OR REPLACE TEMP MACRO pbx_seconds(v) AS CASE
    WHEN abs(pbx_any_seconds(v)) < 1000000000 THEN pbx_any_seconds(v)
END;
CREATE OR REPLACE TEMP MACRO pbx_money(v) AS CASE
    WHEN abs(pbx_any_money(v)) < 1000000000000 THEN pbx_any_money(v)
END;

CREATE OR REPLACE TEMP MACRO pbx_wall_time(v) AS
    try_strptime(v, ['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M:%S.%f',
                     '%Y-%m-%dT%H:%M:%S', '%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%dT%H:%M']);

CREATE OR REPLACE TEMP MACRO pbx_date_format(v) AS CASE
    WHEN pbx_blank(v) THEN NULL
    WHEN regexp_full_match(trim(v), '\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?') THEN 'ymd_hms'
    WHEN regexp_full_match(trim(v), 'ISODate\(\s*["'']?[^"'']*["'']?\s*\)') THEN 'isodate'
    WHEN regexp_full_match(trim(v), '\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z')
        THEN 'iso_z_local'
    WHEN regexp_full_match(trim(v),
        '\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?[+-]\d{2}(:?\d{2})?') THEN 'iso_offset'
    WHEN regexp_full_match(trim(v), '\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}(:\d{2})?') THEN 'dmy_hms'
    WHEN regexp_full_match(trim(v), '\d{12,13}(\.\d+)?') THEN 'epoch_ms'
    WHEN regexp_full_match(trim(v), '\d{9,10}(\.\d+)?') THEN 'epoch_s'
    ELSE 'other'
END;

-- The inside of a literal `ISODate("...")` left in the body by a sender.
CREATE OR REPLACE TEMP MACRO pbx_isodate_inner(v) AS
    regexp_extract(trim(v), 'ISODate\(\s*["'']?([^"'']*)["'']?\s*\)', 1);

CREATE OR REPLACE TEMP MACRO pbx_epoch_utc(microseconds) AS
    timezone('UTC', make_timestamp(CAST(microseconds AS BIGINT)));
"""


def type_landed_files(
    connection: duckdb.DuckDBPyConnection,
    files: Sequence[LandedFile],
    *,
    timezone: str,
    tokenizer: Tokenizer,
    load_id: str,
) -> pa.Table:
    """Read `files` and return their lines as rows of `PUSHES_SCHEMA`.

    `_dlt_load_id` and `_dlt_id` are added here, in SQL: dlt adds them to Arrow items only by
    reading and rewriting every Parquet file it has just written.
    """
    zoneinfo.ZoneInfo(timezone)  # fail early, with the zone's name, on a typo
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET enable_progress_bar = false")
    connection.execute(_MACROS)
    _read_landed_lines(connection, files)
    connection.register("raw_text_fields", _text_fields_from_raw_bodies(connection))
    connection.register("other_dates", _parse_other_dates(connection, timezone))
    _callers(connection, tokenizer)
    connection.register("documents", _documents(connection, tokenizer))
    connection.register("branch_emails", _branch_emails(connection, tokenizer))
    table = connection.sql(
        _typed_select(timezone), params={"pii_key_id": tokenizer.key_id, "load_id": load_id}
    ).to_arrow_table()
    connection.execute("DROP TABLE landed")
    connection.execute("DROP TABLE landed_files")
    connection.execute("DROP TABLE callers")
    return _replace_nul_characters(table.cast(PUSHES_SCHEMA))


NUL = "\x00"
# U+FFFD REPLACEMENT CHARACTER: Unicode's own mark for a character that could not be kept, and
# visible wherever the value is shown.
NUL_REPLACEMENT = "\ufffd"
NUL_REPLACED_FIELDS = "nul_replaced_fields"


def _replace_nul_characters(table: pa.Table) -> pa.Table:
    """`table` with U+0000 replaced by U+FFFD in every text column, and `nul_replaced_fields`
    set to the comma-separated names of the columns replaced in each row (null when none).

    DuckDB stores a NUL, but Postgres text cannot: one such value would fail the COPY of its
    batch on every retry and hold back every later file. JSON texts (`extra_fields_json`,
    `unparsed_values_json`) hold a NUL as the escape `\\u0000`, which is storable as it is.
    UTF-8 encodes U+0000, and nothing else, as a zero byte, so a column whose bytes hold none
    needs no further look: most batches cost one byte scan per column, not a search per value.
    """
    flags = []
    for index, field in enumerate(table.schema):
        if field.name == NUL_REPLACED_FIELDS or not pa.types.is_string(field.type):
            continue
        column = table.column(index)
        if not any(_may_hold_nul(chunk) for chunk in column.chunks):
            continue
        has_nul = pc.fill_null(pc.match_substring(column, NUL), False)
        if not pc.any(has_nul).as_py():
            continue
        table = table.set_column(index, field, pc.replace_substring(column, NUL, NUL_REPLACEMENT))
        flags.append(pc.if_else(has_nul, field.name, ""))
    if not flags:
        return table
    # Joined with empty names and tidied: `null_handling="skip"` drops rows (pyarrow 26).
    joined = pc.binary_join_element_wise(*flags, ",")
    names = pc.utf8_trim(pc.replace_substring_regex(joined, ",+", ","), ",")
    names = pc.if_else(pc.equal(names, ""), pa.scalar(None, pa.string()), names)
    index = table.schema.get_field_index(NUL_REPLACED_FIELDS)
    return table.set_column(index, table.schema.field(index), names)


def _may_hold_nul(chunk: pa.StringArray) -> bool:
    """Whether the bytes of `chunk`'s values hold a zero byte (null slots may count too)."""
    _, offsets, data = chunk.buffers()
    if data is None or len(chunk) == 0:
        return False
    bounds = pa.Array.from_buffers(pa.int32(), len(chunk) + 1, [None, offsets], offset=chunk.offset)
    start, end = bounds[0].as_py(), bounds[-1].as_py()
    return b"\x00" in data.slice(start, end - start).to_pybytes()


def _read_landed_lines(connection: duckdb.DuckDBPyConnection, files: Sequence[LandedFile]) -> None:
    """Every file of the batch in one parallel `read_json`, into the temp table `landed`.

    Insertion order is preserved, so `landed.rowid` follows the files' lines: a line's number is
    its rowid minus the first rowid of its file (`landed_files.first_rowid`), unless the line
    carries it (a repaired copy, see malformed_lines.py).

    Raises MalformedLinesError, whose message holds no line content, when a line is not a typable
    envelope (DuckDB's own message quotes the line).
    """
    connection.execute("SET preserve_insertion_order = true")
    # Every known field as text, in one pass over each body; numbers keep their JSON spelling.
    as_text = _sql_text(json.dumps(dict.fromkeys(KNOWN_FIELDS, "VARCHAR")))
    paths = ", ".join(_sql_text(str(landed.path)) for landed in files)
    try:
        connection.execute(
            f"""CREATE OR REPLACE TEMP TABLE landed AS
                SELECT *, json_transform(body, {as_text}) AS field_text
                FROM read_json([{paths}], format = 'newline_delimited',
                               columns = {_ENVELOPE_COLUMNS}, filename = true)"""
        )
    except (duckdb.InvalidInputException, duckdb.ConversionException):
        raise MalformedLinesError("a landing line is not JSON or not an object") from None
    untypable = connection.execute(
        """SELECT count(*) FROM landed
           WHERE push_id IS NULL OR push_id = ''
              OR TRY_CAST(received_at AS TIMESTAMPTZ) IS NULL
              -- read_json re-serialises `body` minified: an object starts with '{'.
              OR body IS NULL OR NOT starts_with(CAST(body AS VARCHAR), '{')"""
    ).fetchall()[0][0]
    if untypable:
        raise MalformedLinesError(f"{untypable} landing lines lack a push_id, time or body")
    connection.register(
        "batch_files",
        pa.table(
            {
                "filename": [str(landed.path) for landed in files],
                "source_file": [landed.source_file for landed in files],
            }
        ),
    )
    connection.execute(
        """CREATE OR REPLACE TEMP TABLE landed_files AS
            SELECT filename, batch_files.source_file, min(landed.rowid) AS first_rowid
            FROM landed JOIN batch_files USING (filename)
            GROUP BY ALL"""
    )


def _text_fields_from_raw_bodies(connection: duckdb.DuckDBPyConnection) -> pa.Table:
    """The text fields as literally sent, for lines whose receiver kept `raw_body`.

    The landed `body` went through a float: `1716824410.5190` became `1716824410.519`.
    """
    rows = connection.execute(
        "SELECT push_id, parse, raw_body FROM landed WHERE raw_body IS NOT NULL"
    ).fetchall()
    columns: dict[str, list[str | None]] = {"push_id": []} | {name: [] for name in TEXT_FIELDS}
    for push_id, parse_mode, raw_body in rows:
        content_type = "application/x-www-form-urlencoded" if parse_mode == PARSE_FORM else None
        try:
            body = parse_push_body(raw_body.encode(), content_type, numbers_as_text=True).body
        except PushBodyError:
            continue  # the landed body stays the source of the text fields
        columns["push_id"].append(push_id)
        for name in TEXT_FIELDS:
            columns[name].append(_as_text(body.get(name)))
    return pa.table(columns, schema=pa.schema([(name, pa.string()) for name in columns]))


def _as_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _parse_other_dates(connection: duckdb.DuckDBPyConnection, timezone: str) -> pa.Table:
    """python-dateutil for the distinct `call_date` texts no known format matched.

    A date missing its day, month or year is not completed from today's date: it stays
    unparsed (two different defaults must give the same answer).
    """
    values = [
        row[0]
        for row in connection.execute(
            f"""SELECT DISTINCT {_body_text("call_date")} FROM landed
                WHERE pbx_date_format({_body_text("call_date")}) = 'other'"""
        ).fetchall()
    ]
    zone = zoneinfo.ZoneInfo(timezone)
    raws, locals_, utcs = [], [], []
    for raw in values:
        parsed = _dateutil_or_none(raw)
        if parsed is None:
            continue
        if parsed.tzinfo is None:
            local = parsed
            utc = parsed.replace(tzinfo=zone).astimezone(dt.UTC)
        else:
            utc = parsed.astimezone(dt.UTC)
            local = utc.astimezone(zone).replace(tzinfo=None)
        raws.append(raw)
        locals_.append(local)
        utcs.append(utc)
    return pa.table(
        {"raw": raws, "local_time": locals_, "utc_time": utcs},
        schema=pa.schema(
            [
                ("raw", pa.string()),
                ("local_time", pa.timestamp("us")),
                ("utc_time", pa.timestamp("us", tz="UTC")),
            ]
        ),
    )


_DEFAULT_A = dt.datetime(2001, 1, 1)
_DEFAULT_B = dt.datetime(2002, 2, 2)


def _dateutil_or_none(raw: str) -> dt.datetime | None:
    # Brazilian senders write the day first ("03/04/2026" is 3 April).
    try:
        first = dateutil_parser.parse(raw, dayfirst=True, default=_DEFAULT_A)
        second = dateutil_parser.parse(raw, dayfirst=True, default=_DEFAULT_B)
    except (ValueError, OverflowError):
        return None
    return first if first == second else None


def _callers(connection: duckdb.DuckDBPyConnection, tokenizer: Tokenizer) -> None:
    """Temp table `callers` (each distinct number and area code, normalised) and their tokens."""
    pairs = f"""SELECT DISTINCT {_final_text("call_number")} AS number,
                    {_final_text("call_area_code")} AS area_code
                FROM landed LEFT JOIN raw_text_fields USING (push_id)"""
    connection.execute(f"CREATE OR REPLACE TEMP TABLE callers AS {normalised_callers_sql(pairs)}")
    nationals = [
        row[0]
        for row in connection.execute(
            "SELECT DISTINCT national FROM callers WHERE national IS NOT NULL"
        ).fetchall()
    ]
    connection.register(
        "caller_tokens",
        pa.table(
            {"national": nationals, "token": [tokenizer.token(number) for number in nationals]},
            schema=pa.schema([("national", pa.string()), ("token", pa.string())]),
        ),
    )


def _documents(connection: duckdb.DuckDBPyConnection, tokenizer: Tokenizer) -> pa.Table:
    values = _distinct_final_texts(connection, "call_document")
    documents = [tokenizer.document(value) for value in values]
    return pa.table(
        {
            "document": values,
            "token": [document.token for document in documents],
            "kind": [document.kind for document in documents],
        },
        schema=pa.schema([(name, pa.string()) for name in ("document", "token", "kind")]),
    )


def _branch_emails(connection: duckdb.DuckDBPyConnection, tokenizer: Tokenizer) -> pa.Table:
    values = _distinct_final_texts(connection, "branch_email")
    return pa.table(
        {"email": values, "token": [tokenizer.email(value) for value in values]},
        schema=pa.schema([("email", pa.string()), ("token", pa.string())]),
    )


def _distinct_final_texts(connection: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    return [
        row[0]
        for row in connection.execute(
            f"""SELECT DISTINCT {_final_text(name)} AS value
                FROM landed LEFT JOIN raw_text_fields USING (push_id)
                WHERE value IS NOT NULL"""
        ).fetchall()
    ]


def _typed_select(timezone: str) -> str:
    zone = _sql_text(timezone)
    date_text = _body_text("call_date")
    seconds = ",\n".join(f"pbx_seconds({_body_text(name)}) AS {name}" for name in SECONDS_FIELDS)
    money = ",\n".join(f"pbx_money({_body_text(name)}) AS {name}" for name in MONEY_FIELDS)
    texts = ",\n".join(f"{_final_text(name)} AS {name}" for name in TEXT_FIELDS)
    unparsed = ", ".join(
        f"CASE WHEN NOT pbx_blank({_body_text(name)}) AND {name} IS NULL THEN '{name}' END"
        for name in (*SECONDS_FIELDS, *MONEY_FIELDS)
    )
    known_fields_removed = json.dumps(dict.fromkeys(KNOWN_FIELDS))
    known_list = "[" + ", ".join(_sql_text(name) for name in KNOWN_FIELDS) + "]"
    known_with_value = " + ".join(
        f"CAST({_body_text(name)} IS NOT NULL AS INTEGER)" for name in KNOWN_FIELDS
    )
    return f"""
    WITH typed AS (
        SELECT landed.*,
            landed_files.source_file,
            coalesce(landed.{LINE_NUMBER_KEY}, landed.rowid - landed_files.first_rowid + 1)
                AS line_number,
            {texts},
            {seconds},
            {money},
            {date_text} AS call_date_raw,
            pbx_date_format(call_date_raw) AS matched_format,
            CASE matched_format
                WHEN 'ymd_hms' THEN pbx_wall_time(trim(call_date_raw))
                WHEN 'isodate' THEN pbx_wall_time(
                    regexp_replace(pbx_isodate_inner(call_date_raw), 'Z$', ''))
                WHEN 'iso_z_local' THEN pbx_wall_time(rtrim(trim(call_date_raw), 'Z'))
                WHEN 'dmy_hms' THEN try_strptime(trim(call_date_raw),
                    ['%d/%m/%Y %H:%M:%S', '%d/%m/%Y %H:%M'])
                WHEN 'other' THEN other_dates.local_time
            END AS wall_time,
            CASE matched_format
                WHEN 'iso_offset' THEN TRY_CAST(trim(call_date_raw) AS TIMESTAMPTZ)
                WHEN 'epoch_ms' THEN pbx_epoch_utc(
                    TRY_CAST(trim(call_date_raw) AS DECIMAL(20, 3)) * 1000)
                WHEN 'epoch_s' THEN pbx_epoch_utc(
                    TRY_CAST(trim(call_date_raw) AS DECIMAL(20, 6)) * 1000000)
                WHEN 'other' THEN other_dates.utc_time
            END AS instant
        FROM landed
        JOIN landed_files USING (filename)
        LEFT JOIN raw_text_fields USING (push_id)
        LEFT JOIN other_dates ON other_dates.raw = {date_text}
    ),
    dated AS (
        SELECT *,
            coalesce(wall_time, timezone({zone}, instant)) AS call_date_local,
            coalesce(instant, timezone({zone}, wall_time)) AS call_date_utc,
            CASE WHEN call_date_local IS NULL AND matched_format IS NOT NULL
                THEN 'unparsed' ELSE matched_format END AS call_date_format
        FROM typed
    ),
    checked AS (
        SELECT *,
            nullif(concat_ws(',', {unparsed},
                CASE WHEN call_date_format = 'unparsed' THEN 'call_date' END), '') AS parse_errors
        FROM dated
    )
    SELECT
        push_id,
        CAST(received_at AS TIMESTAMPTZ) AS received_at,
        receiver_id,
        method,
        path AS request_path,
        auth,
        parse AS parse_mode,
        body_sha256,
        raw_body,
        source_file,
        line_number,
        -- A merge patch with null values removes those keys (RFC 7396): what is left is unknown.
        -- Most pushes carry only known fields, so the patch runs only where needed. Each known
        -- field with a value is one key at least: a body with no more keys than those has none
        -- unknown, which spares most rows the search of their keys in the list (a lambda).
        CASE WHEN len(json_keys(body)) > {known_with_value}
                AND len(list_filter(json_keys(body),
                                    lambda k: NOT list_contains({known_list}, k))) > 0
            THEN CAST(json_merge_patch(body, {_sql_text(known_fields_removed)}) AS VARCHAR)
        END AS extra_fields_json,
        parse_errors,
        -- Rare, so built only where needed (a list per row would cost every row).
        CASE WHEN parse_errors IS NOT NULL THEN CAST(to_json(map_from_entries(list_transform(
            string_split(parse_errors, ','),
            lambda name: {{k: name, v: json_extract(body, '$.' || name)}}
        ))) AS VARCHAR) END AS unparsed_values_json,
        CAST(NULL AS VARCHAR) AS {NUL_REPLACED_FIELDS},  -- set by _replace_nul_characters
        {", ".join(TEXT_FIELDS)},
        {", ".join(SECONDS_FIELDS)},
        {", ".join(MONEY_FIELDS)},
        call_date_raw,
        call_date_local,
        call_date_utc,
        call_date_format,
        $pii_key_id AS pii_key_id,
        caller_tokens.token AS caller_token,
        callers.ddd AS caller_ddd,
        callers.number_type AS caller_number_type,
        callers.masked AS caller_masked,
        documents.token AS document_token,
        documents.kind AS document_kind,
        branch_emails.token AS branch_email_token,
        $load_id AS _dlt_load_id,
        substr(md5(push_id), 1, 14) AS _dlt_id
    FROM checked
    LEFT JOIN callers ON callers.number IS NOT DISTINCT FROM checked.call_number
        AND callers.area_code IS NOT DISTINCT FROM checked.call_area_code
    LEFT JOIN caller_tokens ON caller_tokens.national = callers.national
    LEFT JOIN documents ON documents.document = checked.call_document
    LEFT JOIN branch_emails ON branch_emails.email = checked.branch_email
    """


def _body_text(name: str) -> str:
    return f"field_text.{name}"


def _final_text(name: str) -> str:
    """A text field: literal digits from `raw_body` when the receiver kept it, else the body."""
    if name in TEXT_FIELDS:
        return (
            f"CASE WHEN raw_text_fields.push_id IS NOT NULL THEN raw_text_fields.{name}"
            f" ELSE {_body_text(name)} END"
        )
    return _body_text(name)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
