"""Tokens and safe derivatives of caller numbers, documents and e-mails (LGPD, architecture.md).

Phone numbers and CPF/CNPJ have small key spaces, so a plain hash can be reversed by
enumeration: tokens are HMAC-SHA256 under `PBX55_PII_KEY`. They are computed here, in Python,
so the key never enters SQL text, compiled dbt files or logs. The loader calls them once per
*distinct* value of a batch, not once per row. Caller numbers are normalised in SQL first
(`normalised_callers_sql`), so Python only hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

# The 67 Brazilian area codes (DDD), as in dbt_models/seeds/ddd_uf.csv.
VALID_DDDS = frozenset(
    str(ddd)
    for ddd in (
        *range(11, 20),
        21,
        22,
        24,
        27,
        28,
        31,
        32,
        33,
        34,
        35,
        37,
        38,
        *range(41, 50),
        51,
        53,
        54,
        55,
        *range(61, 70),
        71,
        73,
        74,
        75,
        77,
        79,
        *range(81, 90),
        *range(91, 100),
    )
)
# Caller-id values PBXs use when the number is withheld.
ANONYMOUS_MARKERS = frozenset(
    {"anonymous", "anonimo", "anônimo", "restricted", "restrito", "private", "privado", "unknown"}
)
NON_GEOGRAPHIC_PREFIXES = ("0800", "0300", "0303", "0500", "0900")
_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Z]")


def normalised_callers_sql(pairs_query: str) -> str:
    """SQL normalising distinct `(number, area_code)` pairs into a national number, DDD, type, mask.

    `pairs_query` selects the pairs (columns `number`, `area_code`); the result adds `national`
    (what `token` hashes; null for blank or anonymous numbers), `ddd`, `number_type` and
    `masked`. National number: digits only, `+55`/`55`, trunk `0` and carrier code removed, DDD
    added from the area code when the number lacks one; a foreign number keeps `+` and its
    country code. Vectorised, because a busy day has a distinct caller for most calls.
    """
    valid_ddds = ", ".join(f"'{ddd}'" for ddd in sorted(VALID_DDDS))
    markers = ", ".join("'" + marker.replace("'", "''") + "'" for marker in ANONYMOUS_MARKERS)

    def non_geographic(column: str) -> str:
        return " OR ".join(
            f"starts_with({column}, '{prefix}')" for prefix in NON_GEOGRAPHIC_PREFIXES
        )

    # Built from this module's constants and the caller's query text; no pushed value.
    return f"""
    WITH pairs AS ({pairs_query}),
    cleaned AS (
        SELECT number, area_code,
            trim(coalesce(number, '')) AS text,
            regexp_replace(text, '\\D', '', 'g') AS digits,
            ltrim(regexp_replace(coalesce(area_code, ''), '\\D', '', 'g'), '0') AS area_ddd
        FROM pairs
    ),
    without_country AS (
        SELECT *,
            CASE
                WHEN starts_with(text, '+') OR starts_with(text, '00') THEN
                    CASE WHEN starts_with(ltrim_00, '55') THEN ltrim_00[3:] ELSE '+' || ltrim_00 END
                WHEN starts_with(digits, '55') AND length(digits) IN (12, 13) THEN digits[3:]
                ELSE digits
            END AS number_digits
        FROM (SELECT *, CASE WHEN starts_with(digits, '00') THEN digits[3:] ELSE digits END
                  AS ltrim_00 FROM cleaned)
    ),
    national AS (
        SELECT number, area_code, text, digits,
            starts_with(number_digits, '+') AS is_foreign,
            {non_geographic("number_digits")} AS kept_as_dialled,
            CASE
                WHEN is_foreign OR kept_as_dialled THEN number_digits
                WHEN number_digits[1] = '0' AND length(number_digits) IN (13, 14)
                    THEN number_digits[4:]  -- 0 + two-digit carrier selection code + DDD + number
                WHEN number_digits[1] = '0' AND length(number_digits) IN (11, 12)
                    THEN number_digits[2:]  -- trunk prefix
                ELSE number_digits
            END AS without_trunk,
            CASE
                WHEN NOT (is_foreign OR kept_as_dialled) AND length(without_trunk) IN (8, 9)
                    AND area_ddd IN ({valid_ddds}) THEN area_ddd || without_trunk
                ELSE without_trunk
            END AS national
        FROM without_country
    ),
    classified AS (
        SELECT *,
            -- PBXs send a marker word or zeros ("0000000000", "+00") for a withheld number.
            lower(text) IN ({markers}) OR regexp_full_match(digits, '0*')
                OR regexp_full_match(national, '0*') AS is_withheld,
            {non_geographic("national")} AS is_non_geographic,
            NOT (is_foreign OR is_non_geographic) AND length(national) IN (10, 11)
                AND national[1:2] IN ({valid_ddds}) AS has_ddd,
            CASE WHEN has_ddd THEN national[3:] ELSE national END AS subscriber
        FROM national
    )
    SELECT number, area_code,
        CASE WHEN NOT is_withheld THEN national END AS national,
        CASE WHEN NOT is_withheld AND has_ddd THEN national[1:2] END AS ddd,
        CASE
            WHEN text = '' THEN 'unknown'
            WHEN is_withheld THEN 'anonymous'
            WHEN is_foreign THEN 'unknown'
            WHEN is_non_geographic THEN
                CASE WHEN starts_with(national, '0800') THEN 'toll_free' ELSE 'unknown' END
            WHEN length(subscriber) = 9 AND subscriber[1] = '9' THEN 'mobile'
            WHEN length(subscriber) = 8 AND subscriber[1] IN ('2', '3', '4', '5') THEN 'fixed'
            ELSE 'unknown'
        END AS number_type,
        CASE WHEN NOT is_withheld THEN
            CASE WHEN has_ddd THEN '(' || national[1:2] || ') ' ELSE '' END
            || CASE WHEN length(subscriber) <= 4 THEN repeat('*', length(subscriber))
                ELSE subscriber[1] || repeat('*', length(subscriber) - 5) || '-'
                    || subscriber[-4:] END
        END AS masked
    FROM classified
    """  # noqa: S608


class MissingPiiKeyError(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "PBX55_PII_KEY is not set: the loader tokenises caller numbers, documents and "
            "e-mails with HMAC-SHA256 under it — set PBX55_PII_KEY to a long random secret "
            "kept outside the warehouse (e.g. `openssl rand -hex 32`), the same for every load"
        )


@dataclass(frozen=True)
class Document:
    token: str | None
    kind: str | None  # cpf, cnpj, unknown; None when blank


@dataclass(frozen=True)
class Tokenizer:
    key: bytes = field(repr=False)
    # HMAC with the key already absorbed: a copy per token skips re-hashing the padded key,
    # which is most of the cost of hashing a phone number (one token per distinct value).
    _keyed: hmac.HMAC = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keyed", hmac.new(self.key, digestmod=hashlib.sha256))

    @classmethod
    def from_key(cls, pii_key: str | None) -> Tokenizer:
        if not pii_key:
            raise MissingPiiKeyError()
        return cls(pii_key.encode())

    @property
    def key_id(self) -> str:
        """Names the key (for rotation) without revealing it."""
        return self.token("pbx55-key-id")[:8]

    def token(self, value: str) -> str:
        keyed = self._keyed.copy()
        keyed.update(value.encode())
        return keyed.hexdigest()

    def document(self, value: str | None) -> Document:
        normalised = _NOT_ALPHANUMERIC.sub("", (value or "").upper())
        if not normalised:
            return Document(None, None)
        return Document(self.token(normalised), _document_kind(normalised))

    def email(self, value: str | None) -> str | None:
        normalised = (value or "").strip().lower()
        return self.token(normalised) if normalised else None


def _document_kind(normalised: str) -> str:
    if len(normalised) == 11 and normalised.isdigit():
        return "cpf"
    # From July 2026 a CNPJ may carry letters in its first 12 positions; the check digits stay
    # numeric.
    if len(normalised) == 14 and normalised[12:].isdigit():
        return "cnpj"
    return "unknown"
