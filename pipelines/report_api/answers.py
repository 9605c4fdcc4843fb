"""What a report answer holds, as the raw tables keep it: every field as sent, as text.

The API changes a field's type from row to row (an hour as a number or a string, an agent id as a
string or an array), so no type is guessed here: a string stays as is, a number keeps its literal
digits (answers are parsed with decimals, never floats), an array or object becomes its JSON
text. Staging types the values (dbt_models/models/staging/pbx55_raw/). Column names follow dlt's
snake_case rule, applied here so that two fields that meet in one name, or a field named like one
of the columns pbx55 adds, keep apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import simplejson
from dlt.common.normalizers.naming.snake_case import NamingConvention

from pipelines.report_api.client import ReportApiError

# The columns every raw report row gets besides its fields (docs/contracts.md).
ADDED_COLUMNS = frozenset(
    {"central_id", "report_day", "row_number", "pulled_at", "nul_replaced_fields"}
)
ROWS_KEYS = {"report_02": "data_report02", "report_03": "data_report03"}
DAY_TOTALS_KEY = "data_report01"

_naming = NamingConvention()


class UnexpectedAnswerError(ReportApiError):
    """The answer is JSON but not of the report's shape: nothing of the day is replaced."""


def answer_rows(report: str, answer: Any) -> list[Any]:
    """The rows of a `report_02` or `report_03` answer: the list under its data key."""
    key = ROWS_KEYS[report]
    if isinstance(answer, Mapping) and isinstance(answer.get(key), list):
        return list(answer[key])
    if isinstance(answer, Mapping) and answer.get(key) is None and key in answer:
        return []  # the API's way of saying a day without calls
    raise UnexpectedAnswerError(f"the {report} answer has no {key} list ({_shape(answer)})")


def answer_day_totals(answer: Any) -> Mapping[str, Any]:
    """The `report_01` object, also when wrapped in a one-element list or under its data key."""
    if isinstance(answer, Mapping) and isinstance(answer.get(DAY_TOTALS_KEY), Mapping):
        return answer[DAY_TOTALS_KEY]
    if isinstance(answer, list) and len(answer) == 1 and isinstance(answer[0], Mapping):
        return answer[0]
    if isinstance(answer, Mapping):
        return answer
    raise UnexpectedAnswerError(f"the report_01 answer is not an object ({_shape(answer)})")


def text_row(fields: Any) -> dict[str, str | None]:
    """A row's fields by column name, each value as text; a row that is no object is kept whole.

    Postgres text cannot hold U+0000: it becomes U+FFFD, and `nul_replaced_fields` names the
    columns where that happened (as the push loader does).
    """
    if not isinstance(fields, Mapping):
        fields = {"unparsed_row": fields}
    row: dict[str, str | None] = {}
    nul_replaced = []
    for name, value in fields.items():
        column = _column_name(str(name), row)
        text = as_text(value)
        if text is not None and "\x00" in text:
            text = text.replace("\x00", "\ufffd")
            nul_replaced.append(column)
        row[column] = text
    if nul_replaced:
        row["nul_replaced_fields"] = ",".join(nul_replaced)
    return row


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False)


def _column_name(field: str, taken: Iterable[str]) -> str:
    column = _naming.normalize_identifier(field) if field else "_"
    if column in ADDED_COLUMNS or column.startswith("_dlt"):
        column = f"api_{column}"
    base, suffix = column, 2
    while column in taken:
        column, suffix = f"{base}_{suffix}", suffix + 1
    return column


def _shape(answer: Any) -> str:
    if isinstance(answer, Mapping):
        keys = ", ".join(sorted(map(str, answer))[:5])
        return f"an object with keys {keys}" if keys else "an empty object"
    return f"a {type(answer).__name__}"
