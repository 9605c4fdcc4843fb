"""Tokens and safe derivatives of caller numbers, documents and e-mails (LGPD, docs/kpis.md).

Phone numbers and CPF/CNPJ have small key spaces, so a plain hash can be reversed by
enumeration: tokens are HMAC-SHA256 under `PBX55_PII_KEY`. They are computed here, in Python,
so the key never enters SQL text, compiled dbt files or logs. The loader calls these functions
once per *distinct* value of a batch, not once per row.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

# The 67 Brazilian area codes (DDD), as in ../shared/data/ddd_uf.csv.
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
_NON_GEOGRAPHIC_PREFIXES = ("0800", "0300", "0303", "0500", "0900")
_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Z]")
_NOT_DIGIT = re.compile(r"\D")


class MissingPiiKeyError(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "PBX55_PII_KEY is not set: the loader tokenises caller numbers, documents and "
            "e-mails with HMAC-SHA256 under that key. Set it to a long random secret kept "
            "outside the warehouse (e.g. `export PBX55_PII_KEY=$(openssl rand -hex 32)`)."
        )


@dataclass(frozen=True)
class Caller:
    token: str | None
    ddd: str | None
    number_type: str  # mobile, fixed, toll_free, anonymous, unknown
    masked: str | None


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

    def caller(self, number: str | None, area_code: str | None) -> Caller:
        text = (number or "").strip()
        if not text:
            return Caller(None, None, "unknown", None)
        if text.lower() in ANONYMOUS_MARKERS:
            return Caller(None, None, "anonymous", None)
        digits = _national_number(text, area_code)
        if not digits or set(digits) == {"0"}:
            return Caller(None, None, "anonymous", None)
        ddd, subscriber, number_type = _classify(digits)
        return Caller(self.token(digits), ddd, number_type, _mask(ddd, subscriber))

    def document(self, value: str | None) -> Document:
        normalised = _NOT_ALPHANUMERIC.sub("", (value or "").upper())
        if not normalised:
            return Document(None, None)
        return Document(self.token(normalised), _document_kind(normalised))

    def email(self, value: str | None) -> str | None:
        normalised = (value or "").strip().lower()
        return self.token(normalised) if normalised else None


def _national_number(text: str, area_code: str | None) -> str:
    """Digits of the national number: `+55`/`55`, trunk `0` and carrier code removed, DDD added."""
    international = text.startswith(("+", "00"))
    digits = _NOT_DIGIT.sub("", text)
    if international:
        digits = digits.removeprefix("00")
        if not digits.startswith("55"):
            return "+" + digits  # foreign number: keep its country code, no DDD
        digits = digits[2:]
    elif digits.startswith("55") and len(digits) in (12, 13):
        digits = digits[2:]
    if digits.startswith(_NON_GEOGRAPHIC_PREFIXES):
        return digits
    if digits.startswith("0") and len(digits) in (13, 14):
        digits = digits[3:]  # 0 + two-digit carrier selection code + DDD + number
    elif digits.startswith("0") and len(digits) in (11, 12):
        digits = digits[1:]  # trunk prefix
    if len(digits) in (8, 9):
        ddd = _NOT_DIGIT.sub("", area_code or "").lstrip("0")
        if ddd in VALID_DDDS:
            digits = ddd + digits
    return digits


def _classify(digits: str) -> tuple[str | None, str, str]:
    """(DDD, subscriber number, number type) of a normalised number."""
    if digits.startswith("+"):
        return None, digits, "unknown"
    if digits.startswith(_NON_GEOGRAPHIC_PREFIXES):
        return None, digits, "toll_free" if digits.startswith("0800") else "unknown"
    if len(digits) in (10, 11) and digits[:2] in VALID_DDDS:
        ddd, subscriber = digits[:2], digits[2:]
    else:
        ddd, subscriber = None, digits
    if len(subscriber) == 9 and subscriber[0] == "9":
        return ddd, subscriber, "mobile"
    if len(subscriber) == 8 and subscriber[0] in "2345":
        return ddd, subscriber, "fixed"
    return ddd, subscriber, "unknown"


def _mask(ddd: str | None, subscriber: str) -> str:
    """`(11) 9****-1234`: the first digit and the last four stay readable."""
    if len(subscriber) <= 4:
        body = "*" * len(subscriber)
    else:
        body = f"{subscriber[0]}{'*' * (len(subscriber) - 5)}-{subscriber[-4:]}"
    return f"({ddd}) {body}" if ddd else body


def _document_kind(normalised: str) -> str:
    if len(normalised) == 11 and normalised.isdigit():
        return "cpf"
    # From July 2026 a CNPJ may carry letters in its first 12 positions; the check digits stay
    # numeric.
    if len(normalised) == 14 and normalised[12:].isdigit():
        return "cnpj"
    return "unknown"
