"""The one place that reads the environment.

Every component (receiver, loader, dbt runs, Dagster) takes a `Settings` instead of reading
`os.environ` itself, so defaults are documented once, here and in the README's configuration
table. dbt reads what it needs from variables the dbt runner derives from a `Settings`.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from foundation.business_hours import BusinessHours, parse_business_hours, parse_hours_by_central
from foundation.landing.layout import PUSHES_DIR, QUARANTINE_DIR

DEMO_PII_KEY = "pbx55-demo-key-not-secret"
# The schema the loader writes and the dbt project reads as its source (before any prefix).
RAW_SCHEMA = "pbx55_raw"

# The storage format of the BI copy: DuckDB 1.4 and later open it. The MotherDuck Metabase driver
# bundles DuckDB 1.5 in its latest releases and 1.4 in its Dockerfile; files in the default
# format of the `duckdb` pinned here (2.x) open in neither (README, "Connect Metabase").
DEFAULT_BI_STORAGE_VERSION = "v1.4.0"
_STORAGE_VERSION = re.compile(r"v\d+\.\d+\.\d+")

# How long a landing file stays open, and how often the Dagster sensor lists the sealed ones:
# together with a run (about 12 s), they set how soon a push reaches the marts
# (benchmarks/freshness.py; the trade-off in the README's design notes).
SEAL_MAX_AGE_S = 15
SENSOR_INTERVAL_S = 10

# The first day the report API's Dagster partitions offer (PBX55_REPORT_API_FIRST_DAY); earlier
# days can still be pulled with `pbx55 reconcile --from`.
REPORT_API_FIRST_DAY = date(2026, 1, 1)

# The interval lengths of the interval, staffing and forecast marts (PBX55_INTERVAL_MINUTES): the
# half hour and quarter hour of workforce planning, both of which divide an hour.
INTERVAL_MINUTES = (15, 30)

MIN_TOKEN_LENGTH = 16
# In a token, these usually mean the list was written wrong: another separator than the comma
# (space, semicolon) or quotes carried over from a shell or .env file.
_SPLIT_MISTAKE_CHARACTERS = frozenset(";\"'")


def _split_tokens(raw: str | None) -> tuple[str, ...]:
    """PBX55_TOKENS: accepted tokens separated by commas, so no token can contain a comma.

    A mistake here would either lock out the PBX or accept a guessable token, and a token
    containing a comma would silently become two shorter ones. So each entry must be at least
    MIN_TOKEN_LENGTH printable ASCII characters, without whitespace, quotes or semicolons, and
    appear once; anything else stops the start with one line that names the entry by its
    position, never its text.
    """
    if raw is None or not raw.strip():
        return ()
    entries = [entry.strip() for entry in raw.split(",")]
    count = len(entries)
    for position, entry in enumerate(entries, start=1):
        problem = _token_problem(entry)
        if problem is None and entry in entries[: position - 1]:
            problem = f"repeats entry {entries.index(entry) + 1}"
        if problem is not None:
            raise ValueError(
                f"PBX55_TOKENS: entry {position} of {count} {problem}; tokens are separated by "
                f"commas (so a token cannot contain one) and each must be at least "
                f"{MIN_TOKEN_LENGTH} printable ASCII characters without spaces, quotes or "
                f"semicolons"
            )
    return tuple(entries)


def _token_problem(token: str) -> str | None:
    if not token:
        return "is empty (a stray comma?)"
    if any(not (" " < char < "\x7f") for char in token):
        if any(char.isspace() for char in token):
            return "contains whitespace (a list separated by spaces?)"
        return "contains a control or non-ASCII character"
    if any(char in _SPLIT_MISTAKE_CHARACTERS for char in token):
        return "contains a quote or a semicolon (quoting or a separator other than the comma?)"
    if len(token) < MIN_TOKEN_LENGTH:
        return f"is only {len(token)} characters long (a token split at a comma?)"
    return None


class ConfigurationError(ValueError):
    """An expected failure that a setting or flag fixes; its message names it (`pbx55` exits 2)."""


def _tls_files(env: Mapping[str, str]) -> tuple[Path | None, Path | None]:
    """PBX55_TLS_CERT_FILE and PBX55_TLS_KEY_FILE: both (the receiver serves HTTPS) or neither."""
    cert = env.get("PBX55_TLS_CERT_FILE", "").strip()
    key = env.get("PBX55_TLS_KEY_FILE", "").strip()
    if bool(cert) != bool(key):
        given, missing = (
            ("PBX55_TLS_CERT_FILE", "PBX55_TLS_KEY_FILE")
            if cert
            else ("PBX55_TLS_KEY_FILE", "PBX55_TLS_CERT_FILE")
        )
        raise ValueError(f"{given} is set but {missing} is not: set both for HTTPS, or neither")
    if not cert:
        return None, None
    return Path(cert).resolve(), Path(key).resolve()


def _trusted_proxies(raw: str | None) -> tuple[str, ...]:
    """PBX55_TRUSTED_PROXIES: comma-separated IP addresses or networks (CIDR), normalised."""
    if raw is None or not raw.strip():
        return ()
    proxies = []
    for position, entry in enumerate((entry.strip() for entry in raw.split(",")), start=1):
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(
                f"PBX55_TRUSTED_PROXIES: entry {position} ({entry!r}) is not an IP address or "
                f"network, e.g. 127.0.0.1,10.0.0.0/8"
            ) from None
        single = network.prefixlen == network.max_prefixlen
        proxies.append(str(network.network_address) if single else str(network))
    return tuple(proxies)


def _positive(env: Mapping[str, str], name: str, default: float, kind: type = float) -> Any:
    """A positive, finite number (int or float) from the environment; a message naming it if not."""
    text = env.get(name, "").strip()
    if not text:
        return kind(default)
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not (0 < value < math.inf):
        raise ValueError(f"{name} must be a positive {kind.__name__}, not {text!r}")
    return value


def _storage_version(env: Mapping[str, str], name: str) -> str:
    """A DuckDB storage version such as `v1.4.0`, or `latest`; a message naming `name` if not."""
    text = env.get(name, "").strip() or DEFAULT_BI_STORAGE_VERSION
    if text != "latest" and not _STORAGE_VERSION.fullmatch(text):
        raise ValueError(
            f"{name} must be a DuckDB release such as 'v1.4.0' (the oldest DuckDB that must "
            f"open the file) or 'latest', not {text!r}"
        )
    return text


def _http_url(env: Mapping[str, str], name: str) -> str | None:
    """An http(s) URL with a host, or None when unset; the message never quotes it (a webhook
    URL is a credential)."""
    text = env.get(name, "").strip()
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an http:// or https:// URL with a host")
    return text


# What pushes' central ids look like ("1000"); anything else is a typing mistake.
_CENTRAL_ID = re.compile(r"[A-Za-z0-9._-]+")


def _report_api_keys(raw: str | None) -> tuple[tuple[str, str], ...]:
    """PBX55_REPORT_API_KEYS: `central_id=key` pairs separated by commas, one per 55pbx account.

    The report API knows no central: each key sees one account, and the pushes of that account
    carry its `central_id`. Messages name an entry by position, never its text (keys are secrets).
    """
    if raw is None or not raw.strip():
        return ()
    entries = [entry.strip() for entry in raw.split(",")]
    accounts: dict[str, str] = {}
    for position, entry in enumerate(entries, start=1):
        central_id, equals, key = (part.strip() for part in entry.partition("="))
        problem = None
        if not equals or not central_id or not key:
            problem = "is not central_id=key"
        elif any(char.isspace() or not char.isprintable() for char in central_id + key):
            problem = "contains whitespace or a control character"
        elif not _CENTRAL_ID.fullmatch(central_id):
            problem = "has a central_id other than letters, digits, '.', '_' and '-'"
        elif central_id in accounts:
            problem = "repeats a central_id"
        if problem is not None:
            raise ValueError(
                f"PBX55_REPORT_API_KEYS: entry {position} of {len(entries)} {problem}; write "
                f"one central_id=key per 55pbx account, separated by commas, e.g. 1000=<key>"
            )
        accounts[central_id] = key
    return tuple(accounts.items())


def _tls_verification(env: Mapping[str, str], name: str) -> bool | Path:
    """True (verify against the system's CAs), False (explicitly off), or a CA bundle file."""
    text = env.get(name, "").strip()
    if not text or text.lower() == "true":
        return True
    if text.lower() == "false":
        return False
    bundle = Path(text).resolve()
    if not bundle.is_file():
        raise ValueError(
            f"{name} must be true, false or the path of a CA bundle file, not {text!r}"
        )
    return bundle


def _non_negative_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise ValueError(f"{name} must be a whole number of 0 or more, not {text!r}")
    return int(text)


def _interval_minutes(env: Mapping[str, str], name: str) -> int:
    text = env.get(name, "").strip()
    if not text:
        return 30
    if text not in {str(minutes) for minutes in INTERVAL_MINUTES}:
        raise ValueError(f"{name} must be 15 or 30 (minutes), not {text!r}")
    return int(text)


def _day(env: Mapping[str, str], name: str, default: date) -> date:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be a day as YYYY-MM-DD, not {text!r}") from None


DEFAULT_BUSINESS_HOURS = parse_business_hours("mon-fri 08:00-18:00", "PBX55_BUSINESS_HOURS")

# The schemes of a libpq URL that Dagster's storage (SQLAlchemy, through psycopg2) can open.
_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg2://")


def _dagster_postgres_url(env: Mapping[str, str]) -> str | None:
    url = env.get("PBX55_DAGSTER_POSTGRES_URL", "").strip()
    if not url:
        return None
    if not url.startswith(_POSTGRES_SCHEMES):
        raise ValueError(
            "PBX55_DAGSTER_POSTGRES_URL must start with postgresql://, e.g. "
            "postgresql://dagster@127.0.0.1:5432/dagster"
        )
    return url


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    landing_dir: Path
    tokens: tuple[str, ...] = field(repr=False)
    warehouse: str
    duckdb_path: Path
    postgres_url: str | None = field(repr=False)
    timezone: str
    pii_key: str | None = field(repr=False)
    max_body_bytes: int
    max_header_bytes: int
    max_headers: int
    header_timeout_s: float
    body_timeout_s: float
    idle_timeout_s: float
    max_connections: int
    seal_max_bytes: int
    seal_max_age_s: float
    retention_days: int
    writer_lock_timeout_s: float
    dagster_run_retention_days: int
    schema_prefix: str = ""
    as_of_utc: str | None = None
    bi_storage_version: str = DEFAULT_BI_STORAGE_VERSION
    alert_webhook_url: str | None = field(default=None, repr=False)
    dagster_ui_url: str | None = None
    alert_no_push_minutes: int = 30
    alert_waiting_minutes: int = 15
    business_hours: BusinessHours = DEFAULT_BUSINESS_HOURS
    business_hours_by_central: tuple[tuple[str, BusinessHours], ...] = ()
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    trusted_proxies: tuple[str, ...] = ()
    dagster_postgres_url: str | None = field(default=None, repr=False)
    sensor_interval_s: int = SENSOR_INTERVAL_S
    report_api_url: str | None = None
    report_api_keys: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    report_api_lookback_days: int = 3
    report_api_timeout_s: float = 60.0
    report_api_retries: int = 3
    report_api_backoff_s: float = 2.0
    report_api_verify_tls: bool | Path = True
    report_api_first_day: date = REPORT_API_FIRST_DAY
    interval_minutes: int = 30

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("PBX55_DATA_DIR", "./data")).resolve()
        warehouse = env.get("PBX55_WAREHOUSE", "duckdb").strip().lower()
        if warehouse not in ("duckdb", "postgres"):
            raise ValueError(f"PBX55_WAREHOUSE must be 'duckdb' or 'postgres', not {warehouse!r}")
        postgres_url = env.get("PBX55_POSTGRES_URL") or None
        if warehouse == "postgres" and not postgres_url:
            raise ValueError("PBX55_WAREHOUSE=postgres needs PBX55_POSTGRES_URL")
        if postgres_url and not postgres_url.startswith(("postgresql://", "postgres://")):
            # Anything else would reach the driver as a connection string that may echo it.
            raise ValueError(
                "PBX55_POSTGRES_URL must be a URL such as postgresql://user@host:5432/database"
            )
        tls_cert_file, tls_key_file = _tls_files(env)
        report_api_url = _http_url(env, "PBX55_REPORT_API_URL")
        report_api_keys = _report_api_keys(env.get("PBX55_REPORT_API_KEYS"))
        if bool(report_api_url) != bool(report_api_keys):
            given, missing = (
                ("PBX55_REPORT_API_URL", "PBX55_REPORT_API_KEYS")
                if report_api_url
                else ("PBX55_REPORT_API_KEYS", "PBX55_REPORT_API_URL")
            )
            raise ValueError(
                f"{given} is set but {missing} is not: set both to reconcile with the report "
                f"API, or neither"
            )
        return cls(
            data_dir=data_dir,
            landing_dir=Path(env.get("PBX55_LANDING_DIR", data_dir / "landing")).resolve(),
            tokens=_split_tokens(env.get("PBX55_TOKENS")),
            warehouse=warehouse,
            duckdb_path=Path(env.get("PBX55_DUCKDB_PATH", data_dir / "warehouse.duckdb")).resolve(),
            postgres_url=postgres_url,
            timezone=env.get("PBX55_TIMEZONE", "America/Sao_Paulo"),
            pii_key=env.get("PBX55_PII_KEY") or None,
            max_body_bytes=_positive(env, "PBX55_MAX_BODY_BYTES", 64 * 1024, int),
            max_header_bytes=_positive(env, "PBX55_MAX_HEADER_BYTES", 16 * 1024, int),
            max_headers=_positive(env, "PBX55_MAX_HEADERS", 100, int),
            header_timeout_s=_positive(env, "PBX55_HEADER_TIMEOUT_S", 10),
            body_timeout_s=_positive(env, "PBX55_BODY_TIMEOUT_S", 30),
            idle_timeout_s=_positive(env, "PBX55_IDLE_TIMEOUT_S", 5),
            max_connections=_positive(env, "PBX55_MAX_CONNECTIONS", 1000, int),
            seal_max_bytes=_positive(env, "PBX55_SEAL_MAX_BYTES", 64 * 1024 * 1024, int),
            seal_max_age_s=_positive(env, "PBX55_SEAL_MAX_AGE_S", SEAL_MAX_AGE_S),
            retention_days=_positive(env, "PBX55_RAW_RETENTION_DAYS", 400, int),
            writer_lock_timeout_s=_positive(env, "PBX55_WRITER_LOCK_TIMEOUT_S", 600),
            dagster_run_retention_days=_positive(env, "PBX55_DAGSTER_RUN_RETENTION_DAYS", 30, int),
            schema_prefix=env.get("PBX55_SCHEMA_PREFIX", "").strip(),
            as_of_utc=env.get("PBX55_AS_OF_UTC", "").strip() or None,
            bi_storage_version=_storage_version(env, "PBX55_BI_STORAGE_VERSION"),
            alert_webhook_url=_http_url(env, "PBX55_ALERT_WEBHOOK_URL"),
            dagster_ui_url=_http_url(env, "PBX55_DAGSTER_UI_URL"),
            alert_no_push_minutes=_positive(env, "PBX55_ALERT_NO_PUSH_MINUTES", 30, int),
            alert_waiting_minutes=_positive(env, "PBX55_ALERT_WAITING_MINUTES", 15, int),
            business_hours=parse_business_hours(
                env.get("PBX55_BUSINESS_HOURS") or str(DEFAULT_BUSINESS_HOURS),
                "PBX55_BUSINESS_HOURS",
            ),
            business_hours_by_central=parse_hours_by_central(
                env.get("PBX55_BUSINESS_HOURS_BY_CENTRAL", ""), "PBX55_BUSINESS_HOURS_BY_CENTRAL"
            ),
            tls_cert_file=tls_cert_file,
            tls_key_file=tls_key_file,
            trusted_proxies=_trusted_proxies(env.get("PBX55_TRUSTED_PROXIES")),
            dagster_postgres_url=_dagster_postgres_url(env),
            sensor_interval_s=_positive(env, "PBX55_SENSOR_INTERVAL_S", SENSOR_INTERVAL_S, int),
            report_api_url=report_api_url,
            report_api_keys=report_api_keys,
            report_api_lookback_days=_non_negative_int(env, "PBX55_REPORT_API_LOOKBACK_DAYS", 3),
            report_api_timeout_s=_positive(env, "PBX55_REPORT_API_TIMEOUT_S", 60),
            report_api_retries=_non_negative_int(env, "PBX55_REPORT_API_RETRIES", 3),
            report_api_backoff_s=_positive(env, "PBX55_REPORT_API_BACKOFF_S", 2),
            report_api_verify_tls=_tls_verification(env, "PBX55_REPORT_API_VERIFY_TLS"),
            report_api_first_day=_day(env, "PBX55_REPORT_API_FIRST_DAY", REPORT_API_FIRST_DAY),
            interval_minutes=_interval_minutes(env, "PBX55_INTERVAL_MINUTES"),
        )

    def as_environment(self) -> dict[str, str]:
        """The PBX55_* variables that give these settings back in another process."""
        environ = {
            "PBX55_DATA_DIR": str(self.data_dir),
            "PBX55_LANDING_DIR": str(self.landing_dir),
            "PBX55_TOKENS": ",".join(self.tokens),
            "PBX55_WAREHOUSE": self.warehouse,
            "PBX55_DUCKDB_PATH": str(self.duckdb_path),
            "PBX55_POSTGRES_URL": self.postgres_url or "",
            "PBX55_TIMEZONE": self.timezone,
            "PBX55_PII_KEY": self.pii_key or "",
            "PBX55_MAX_BODY_BYTES": str(self.max_body_bytes),
            "PBX55_MAX_HEADER_BYTES": str(self.max_header_bytes),
            "PBX55_MAX_HEADERS": str(self.max_headers),
            "PBX55_HEADER_TIMEOUT_S": repr(self.header_timeout_s),
            "PBX55_BODY_TIMEOUT_S": repr(self.body_timeout_s),
            "PBX55_IDLE_TIMEOUT_S": repr(self.idle_timeout_s),
            "PBX55_MAX_CONNECTIONS": str(self.max_connections),
            "PBX55_SEAL_MAX_BYTES": str(self.seal_max_bytes),
            "PBX55_SEAL_MAX_AGE_S": repr(self.seal_max_age_s),
            "PBX55_RAW_RETENTION_DAYS": str(self.retention_days),
            "PBX55_WRITER_LOCK_TIMEOUT_S": repr(self.writer_lock_timeout_s),
            "PBX55_DAGSTER_RUN_RETENTION_DAYS": str(self.dagster_run_retention_days),
            "PBX55_SCHEMA_PREFIX": self.schema_prefix,
            "PBX55_AS_OF_UTC": self.as_of_utc or "",
            "PBX55_BI_STORAGE_VERSION": self.bi_storage_version,
            "PBX55_ALERT_WEBHOOK_URL": self.alert_webhook_url or "",
            "PBX55_DAGSTER_UI_URL": self.dagster_ui_url or "",
            "PBX55_ALERT_NO_PUSH_MINUTES": str(self.alert_no_push_minutes),
            "PBX55_ALERT_WAITING_MINUTES": str(self.alert_waiting_minutes),
            "PBX55_BUSINESS_HOURS": str(self.business_hours),
            "PBX55_BUSINESS_HOURS_BY_CENTRAL": ";".join(
                f"{central}={hours}" for central, hours in self.business_hours_by_central
            ),
            "PBX55_TLS_CERT_FILE": str(self.tls_cert_file or ""),
            "PBX55_TLS_KEY_FILE": str(self.tls_key_file or ""),
            "PBX55_TRUSTED_PROXIES": ",".join(self.trusted_proxies),
            "PBX55_DAGSTER_POSTGRES_URL": self.dagster_postgres_url or "",
            "PBX55_SENSOR_INTERVAL_S": str(self.sensor_interval_s),
            "PBX55_REPORT_API_URL": self.report_api_url or "",
            "PBX55_REPORT_API_KEYS": ",".join(f"{c}={k}" for c, k in self.report_api_keys),
            "PBX55_REPORT_API_LOOKBACK_DAYS": str(self.report_api_lookback_days),
            "PBX55_REPORT_API_TIMEOUT_S": repr(self.report_api_timeout_s),
            "PBX55_REPORT_API_RETRIES": str(self.report_api_retries),
            "PBX55_REPORT_API_BACKOFF_S": repr(self.report_api_backoff_s),
            "PBX55_REPORT_API_VERIFY_TLS": str(self.report_api_verify_tls).lower()
            if isinstance(self.report_api_verify_tls, bool)
            else str(self.report_api_verify_tls),
            "PBX55_REPORT_API_FIRST_DAY": self.report_api_first_day.isoformat(),
            "PBX55_INTERVAL_MINUTES": str(self.interval_minutes),
        }
        return {name: value for name, value in environ.items() if value}

    @property
    def pushes_dir(self) -> Path:
        return self.landing_dir / PUSHES_DIR

    @property
    def quarantine_dir(self) -> Path:
        return self.landing_dir / QUARANTINE_DIR

    @property
    def raw_schema(self) -> str:
        """`pbx55_raw`, after `schema_prefix`: where the loader writes and dbt reads."""
        return self.schema_prefix + RAW_SCHEMA

    @property
    def bi_duckdb_path(self) -> Path:
        """Read-only serving copy for Metabase and notebooks (DuckDB has one writer)."""
        return self.duckdb_path.with_name(self.duckdb_path.stem + "_bi.duckdb")

    @property
    def dagster_storage_url(self) -> str | None:
        """PBX55_DAGSTER_POSTGRES_URL with the psycopg2 driver named, as SQLAlchemy needs it."""
        if self.dagster_postgres_url is None:
            return None
        _scheme, rest = self.dagster_postgres_url.split("://", 1)
        return f"postgresql+psycopg2://{rest}"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"

    def business_hours_of(self, central_id: str) -> BusinessHours:
        """The central's own hours (PBX55_BUSINESS_HOURS_BY_CENTRAL), else PBX55_BUSINESS_HOURS."""
        return dict(self.business_hours_by_central).get(central_id, self.business_hours)
