"""Every "types as sent" point of docs/field-notes.md, loaded for real and read back typed."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from foundation.landing.layout import hour_bucket_at
from foundation.landing.parsing import PARSE_FORM, ParsedBody
from foundation.settings import Settings
from pipelines.loader.load import load_landed_pushes
from pipelines.loader.personal_data import Tokenizer
from pipelines.loader.typed_pushes import NUL_REPLACED_FIELDS, _replace_nul_characters
from tests.landing_files import write_landing_file
from tests.pipelines.landing_writer import RECEIVER_ID, envelope

TEST_PII_KEY = "typing-test-key"
RECEIVED = dt.datetime(2026, 11, 26, 17, 7, 23, 123456, tzinfo=dt.UTC)
# Every case is one push; `call_id` names the case so the test can find its row.
CASES: dict[str, dict[str, Any]] = {
    "numbers_as_strings": {"call_time": "65", "call_duration": "80", "call_cost": "1.5"},
    "numbers_as_numbers": {"call_time": 65, "call_duration": 80.0, "call_cost": 1.5},
    "comma_decimals": {"call_tax": "0,58", "call_cost": "1.234,56", "call_balance": "-3,5"},
    "hms_durations": {"call_time": "0:01:05", "call_duration": "1:00:00", "call_time_waiting": "0"},
    "blank_values": {"call_time": "", "call_cost": "", "call_date": "", "call_queue": ""},
    "null_values": {"call_time": None, "call_cost": None, "call_queue": None},
    "unparseable": {"call_time": "abc", "call_cost": "R$ 1", "call_date": "ontem à tarde"},
    "ambiguous_money": {"call_cost": "1,234.56"},
    # Numbers no call has, which would overflow the models' sums and decimals.
    "out_of_range": {
        "call_time": 10**15,
        "call_duration": "99999999:00:00",
        "call_time_waiting": "-99999999999999999999",
        "call_cost": 1e300,
        "call_balance": "1e999",
    },
    "unknown_fields": {"new_vendor_field": {"nested": [1, 2]}, "branch_email": "a@b.com.br"},
    "date_ymd_hms": {"call_date": "2026-11-26 14:00:00"},
    "date_isodate": {"call_date": 'ISODate("2026-11-26 14:00:00")'},
    "date_iso_z_local": {"call_date": "2026-11-26T14:00:00Z"},
    "date_iso_offset": {"call_date": "2026-11-26T15:00:00-02:00"},
    "date_dmy_hms": {"call_date": "26/11/2026 14:00:00"},
    "date_epoch_ms": {"call_date": 1795712400000},
    "date_epoch_s": {"call_date": "1795712400"},
    "date_other": {"call_date": "Nov 26 2026 2:00 PM"},
    "date_incomplete": {"call_date": "14:00"},
    "phones_as_numbers": {"call_number": 21987654321, "call_terminal": 551130030000},
    "phone_punctuated": {"call_number": "+55 (21) 98765-4321", "call_area_code": "21"},
    "phone_without_ddd": {"call_number": "987654321", "call_area_code": 11},
    "phone_fixed_trunk": {"call_number": "02133334444"},
    "phone_toll_free": {"call_number": "08001234567"},
    "phone_anonymous": {"call_number": "anonymous"},
    "phone_carrier_code": {"call_number": "0 15 21 98765-4321"},
    "phone_international_00": {"call_number": "00 55 11 3003-0000"},
    "phone_foreign": {"call_number": "+44 20 7123 4567", "call_area_code": "11"},
    "phone_all_zeros": {"call_number": "0000000000"},
    "cpf": {"call_document": "123.456.789-09"},
    "cnpj_with_letters": {"call_document": "12.ABC.345/01DE-35"},
    "long_document": {"call_document": "123456789012345678"},
    # A JSON `\\u0000` escape: storable in DuckDB, but not in Postgres text.
    "nul_characters": {"call_queue": "4961\x00CREDITO", "call_date": "2026\x00", "k\x00": "v\x00"},
}
# A form body with `%00` and a raw zero byte, both decoded into NUL characters.
FORM_WITH_NUL = "central_id=1000&call_id=form_nul&call_queue=4961%00CREDITO&note=a\x00b"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, dict]]:
    data_dir = tmp_path_factory.mktemp("typing") / "data"
    settings = Settings.from_env({"PBX55_DATA_DIR": str(data_dir), "PBX55_PII_KEY": TEST_PII_KEY})
    lines = [
        envelope({"call_id": name, **fields}, received_at=RECEIVED)
        for name, fields in CASES.items()
    ]
    # A JSON number id loses its trailing zero as a float; the receiver kept the raw text.
    lenient = b'{"call_id": 1716824410.5190, "central_id": 12345, "call_time": 3,}'
    lines.append(envelope(lenient, received_at=RECEIVED))
    # Today's receiver refuses a raw zero byte in a form body (400); an older one landed it,
    # decoded as below, and the loader still has to take it.
    form_body = {"central_id": "1000", "call_id": "form_nul", "call_queue": "4961\x00CREDITO",
                 "note": "a\x00b"}  # fmt: skip
    lines.append(
        envelope(
            FORM_WITH_NUL.encode(),
            received_at=RECEIVED,
            parsed=ParsedBody(form_body, PARSE_FORM, lossy_numbers=False),
        )
    )
    write_landing_file(
        settings.pushes_dir, hour_bucket_at(RECEIVED), RECEIVER_ID, 1, b"".join(lines)
    )
    load_landed_pushes(settings)
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        cursor = connection.execute("SELECT * FROM pbx55_raw.pushes")
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return settings, {row["call_id"]: row for row in rows}


@pytest.fixture(scope="module")
def rows(loaded: tuple[Settings, dict[str, dict]]) -> dict[str, dict]:
    return loaded[1]


def test_every_line_lands_once_with_its_envelope(rows: dict[str, dict]) -> None:
    assert len(rows) == len(CASES) + 2
    row = rows["numbers_as_strings"]
    assert row["source_file"] == "pushes/date=2026-11-26/hour=17/test0001-00000001.jsonl"
    assert row["line_number"] == 1
    assert row["received_at"] == RECEIVED
    assert (row["method"], row["request_path"], row["parse_mode"]) == ("POST", "/pushes", "json")
    assert row["_dlt_load_id"] and row["_dlt_id"]
    assert sorted(r["line_number"] for r in rows.values()) == list(range(1, len(CASES) + 3))


def test_numbers_sent_as_strings_or_numbers_are_typed(rows: dict[str, dict]) -> None:
    for case in ("numbers_as_strings", "numbers_as_numbers"):
        row = rows[case]
        assert (row["call_time"], row["call_duration"], row["call_cost"]) == (65, 80, 1.5)
        assert row["parse_errors"] is None


def test_comma_decimals(rows: dict[str, dict]) -> None:
    row = rows["comma_decimals"]
    assert (row["call_tax"], row["call_cost"], row["call_balance"]) == (0.58, 1234.56, -3.5)


def test_hms_durations(rows: dict[str, dict]) -> None:
    row = rows["hms_durations"]
    assert (row["call_time"], row["call_duration"], row["call_time_waiting"]) == (65, 3600, 0)


def test_blank_and_null_are_absent_not_errors(rows: dict[str, dict]) -> None:
    blank, null = rows["blank_values"], rows["null_values"]
    assert blank["call_time"] is None and blank["call_cost"] is None
    assert blank["call_queue"] == ""  # text stays exactly as sent
    assert null["call_queue"] is None
    assert blank["call_date_format"] is None and blank["parse_errors"] is None
    assert null["parse_errors"] is None


def test_unparseable_values_are_kept_raw_and_flagged(rows: dict[str, dict]) -> None:
    row = rows["unparseable"]
    assert row["parse_errors"] == "call_time,call_cost,call_date"
    assert row["call_time"] is None and row["call_cost"] is None
    assert (row["call_date_raw"], row["call_date_format"]) == ("ontem à tarde", "unparsed")
    assert row["call_date_local"] is None and row["call_date_utc"] is None
    assert json.loads(row["unparsed_values_json"]) == {
        "call_time": "abc",
        "call_cost": "R$ 1",
        "call_date": "ontem à tarde",
    }
    ambiguous = rows["ambiguous_money"]
    assert ambiguous["parse_errors"] == "call_cost"
    assert json.loads(ambiguous["unparsed_values_json"]) == {"call_cost": "1,234.56"}
    assert rows["numbers_as_strings"]["unparsed_values_json"] is None


def test_numbers_out_of_any_plausible_range_are_kept_raw_and_flagged(
    rows: dict[str, dict],
) -> None:
    row = rows["out_of_range"]
    fields = ("call_time", "call_duration", "call_time_waiting", "call_cost", "call_balance")
    assert row["parse_errors"] == ",".join(fields)
    assert all(row[name] is None for name in fields)
    assert json.loads(row["unparsed_values_json"])["call_time"] == 10**15


def test_unknown_fields_are_kept(rows: dict[str, dict]) -> None:
    row = rows["unknown_fields"]
    assert json.loads(row["extra_fields_json"]) == {"new_vendor_field": {"nested": [1, 2]}}
    assert row["branch_email"] == "a@b.com.br"
    assert rows["numbers_as_strings"]["extra_fields_json"] is None
    assert rows["null_values"]["extra_fields_json"] is None


@pytest.mark.parametrize(
    ("case", "expected_format"),
    [
        ("date_ymd_hms", "ymd_hms"),
        ("date_isodate", "isodate"),
        ("date_iso_z_local", "iso_z_local"),
        ("date_iso_offset", "iso_offset"),
        ("date_dmy_hms", "dmy_hms"),
        ("date_epoch_ms", "epoch_ms"),
        ("date_epoch_s", "epoch_s"),
        ("date_other", "other"),
    ],
)
def test_call_date_formats_in_brasilia_time(
    rows: dict[str, dict], case: str, expected_format: str
) -> None:
    row = rows[case]
    assert row["call_date_format"] == expected_format
    assert row["call_date_raw"] == str(CASES[case]["call_date"])
    # 14:00 in São Paulo (UTC-3) is 17:00 UTC, whichever way it was written.
    assert row["call_date_local"] == dt.datetime(2026, 11, 26, 14, 0)
    assert row["call_date_utc"] == dt.datetime(2026, 11, 26, 17, 0, tzinfo=dt.UTC)
    assert row["parse_errors"] is None


def test_a_date_missing_its_day_is_not_completed_with_today(rows: dict[str, dict]) -> None:
    row = rows["date_incomplete"]
    assert (row["call_date_format"], row["call_date_local"]) == ("unparsed", None)
    assert row["parse_errors"] == "call_date"


def test_ids_and_phones_are_text(rows: dict[str, dict]) -> None:
    row = rows["phones_as_numbers"]
    assert (row["call_number"], row["call_terminal"]) == ("21987654321", "551130030000")


def test_call_id_from_raw_body_keeps_its_trailing_zero(rows: dict[str, dict]) -> None:
    row = rows["1716824410.5190"]
    assert row["central_id"] == "12345"
    assert row["parse_mode"] == "lenient"
    assert row["call_time"] == 3


def test_caller_tokens_ddd_type_and_mask(rows: dict[str, dict]) -> None:
    tokenizer = Tokenizer.from_key(TEST_PII_KEY)
    plain, punctuated = rows["phones_as_numbers"], rows["phone_punctuated"]
    assert plain["caller_token"] == tokenizer.token("21987654321")
    assert punctuated["caller_token"] == plain["caller_token"]
    assert (plain["caller_ddd"], plain["caller_number_type"]) == ("21", "mobile")
    assert plain["caller_masked"] == "(21) 9****-4321"
    assert rows["phone_without_ddd"]["caller_token"] == tokenizer.token("11987654321")
    fixed = rows["phone_fixed_trunk"]
    assert (fixed["caller_ddd"], fixed["caller_number_type"]) == ("21", "fixed")
    assert fixed["caller_masked"] == "(21) 3***-4444"
    assert rows["phone_toll_free"]["caller_number_type"] == "toll_free"
    anonymous = rows["phone_anonymous"]
    assert (anonymous["caller_token"], anonymous["caller_number_type"]) == (None, "anonymous")
    assert rows["phone_all_zeros"]["caller_number_type"] == "anonymous"
    assert rows["phone_carrier_code"]["caller_token"] == plain["caller_token"]
    international = rows["phone_international_00"]
    assert international["caller_token"] == tokenizer.token("1130030000")
    assert (international["caller_ddd"], international["caller_masked"]) == ("11", "(11) 3***-0000")
    foreign = rows["phone_foreign"]
    assert foreign["caller_token"] == tokenizer.token("+442071234567")
    assert (foreign["caller_ddd"], foreign["caller_number_type"]) == (None, "unknown")
    assert rows["numbers_as_strings"]["caller_token"] is None
    assert plain["pii_key_id"] == tokenizer.key_id


@pytest.mark.parametrize("key", [TEST_PII_KEY, "k" * 100])  # 100 bytes: longer than a block
def test_tokens_are_hmac_sha256_of_the_value(key: str) -> None:
    tokenizer = Tokenizer.from_key(key)
    for value in ("21987654321", "", "ação@b.com.br"):
        expected = hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()
        assert tokenizer.token(value) == expected


def test_documents_are_never_truncated(rows: dict[str, dict]) -> None:
    tokenizer = Tokenizer.from_key(TEST_PII_KEY)
    cpf, cnpj, long = rows["cpf"], rows["cnpj_with_letters"], rows["long_document"]
    assert cpf["call_document"] == "123.456.789-09"
    assert (cpf["document_kind"], cpf["document_token"]) == (
        "cpf",
        tokenizer.token("12345678909"),
    )
    assert cnpj["call_document"] == "12.ABC.345/01DE-35"
    assert (cnpj["document_kind"], cnpj["document_token"]) == (
        "cnpj",
        tokenizer.token("12ABC34501DE35"),
    )
    assert long["call_document"] == "123456789012345678"
    assert long["document_token"] == tokenizer.token("123456789012345678")
    assert long["document_kind"] == "unknown"


def test_branch_email_is_tokenised(rows: dict[str, dict]) -> None:
    tokenizer = Tokenizer.from_key(TEST_PII_KEY)
    assert rows["unknown_fields"]["branch_email_token"] == tokenizer.token("a@b.com.br")


def test_the_key_never_reaches_the_warehouse_or_the_pipeline_state(
    loaded: tuple[Settings, dict[str, dict]],
) -> None:
    settings = loaded[0]
    for path in settings.data_dir.rglob("*"):
        if path.is_file():
            assert TEST_PII_KEY.encode() not in path.read_bytes(), path


def test_no_copy_of_the_pushes_stays_in_the_pipeline_working_dir(
    loaded: tuple[Settings, dict[str, dict]],
) -> None:
    # Retention purges landing files and raw rows; dlt's loaded files would outlive both.
    settings = loaded[0]
    load_files = [
        path
        for path in (settings.data_dir / "dlt_pipelines").rglob("*")
        if path.name.startswith(("pushes.", "loaded_files."))
    ]
    assert load_files == []


def test_nul_characters_become_the_replacement_character_and_are_flagged(
    rows: dict[str, dict],
) -> None:
    row = rows["nul_characters"]
    assert (row["call_queue"], row["call_date_raw"]) == ("4961\ufffdCREDITO", "2026\ufffd")
    assert row["nul_replaced_fields"] == "call_queue,call_date_raw"
    # JSON texts keep the NUL as the escape `\\u0000`, which any text column stores.
    assert row["extra_fields_json"] == '{"k\\u0000":"v\\u0000"}'
    assert json.loads(row["unparsed_values_json"]) == {"call_date": "2026\x00"}
    form = rows["form_nul"]
    assert form["call_queue"] == "4961\ufffdCREDITO"
    assert form["raw_body"] == FORM_WITH_NUL.replace("\x00", "\ufffd")  # `%00` stays as sent
    assert form["nul_replaced_fields"] == "raw_body,call_queue"
    others = [name for name, r in rows.items() if r["nul_replaced_fields"] is not None]
    assert sorted(others) == ["form_nul", "nul_characters"]
    for value in (v for r in rows.values() for v in r.values()):
        assert not isinstance(value, str) or "\x00" not in value


def test_a_zero_byte_outside_the_values_of_a_slice_changes_nothing() -> None:
    # The byte scan looks at a chunk's values only; a hit elsewhere would only cost a search.
    whole = pa.array(["a\x00", "b", "c\x00d"])
    table = pa.Table.from_batches(
        [
            pa.record_batch(
                [whole.slice(1, 1), pa.nulls(1, pa.string())],
                names=["call_id", NUL_REPLACED_FIELDS],
            ),
            pa.record_batch(
                [whole.slice(2, 1), pa.nulls(1, pa.string())],
                names=["call_id", NUL_REPLACED_FIELDS],
            ),
        ]
    )
    replaced = _replace_nul_characters(table)
    assert replaced.column("call_id").to_pylist() == ["b", "c\ufffdd"]
    assert replaced.column(NUL_REPLACED_FIELDS).to_pylist() == [None, "call_id"]
    clean = table.slice(0, 1)
    assert _replace_nul_characters(clean) is clean
