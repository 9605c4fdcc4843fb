"""Settings: read once from the environment, and handed to child processes the same way."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from foundation.settings import Settings
from pipelines.dbt_runner import dbt_env


def test_the_environment_of_settings_gives_the_same_settings_back(settings: Settings) -> None:
    changed = dataclasses.replace(
        settings,
        warehouse="postgres",
        postgres_url="postgresql://postgres@127.0.0.1:5432/test",
        schema_prefix="pbx55_ci_",
        as_of_utc="2026-11-20 21:00:00",
        header_timeout_s=2.5,
        retention_days=30,
        dagster_postgres_url="postgresql://dagster:secret@127.0.0.1:5432/dagster",
        sensor_interval_s=5,
        report_api_url="https://reportapi01.example.com:50500",
        report_api_keys=(("1000", "k1-1234567890123"), ("2047", "k2-1234567890123")),
        report_api_lookback_days=0,
        report_api_timeout_s=180.0,
        report_api_retries=0,
        report_api_backoff_s=0.5,
        report_api_verify_tls=False,
        report_api_first_day=dt.date(2025, 6, 1),
        interval_minutes=15,
    )
    assert Settings.from_env(changed.as_environment()) == changed
    assert Settings.from_env(settings.as_environment()) == settings


def test_the_schema_prefix_moves_the_raw_schema_too(env: dict[str, str]) -> None:
    assert Settings.from_env(env).raw_schema == "pbx55_raw"
    assert Settings.from_env(env | {"PBX55_SCHEMA_PREFIX": "t1_"}).raw_schema == "t1_pbx55_raw"


def test_a_size_or_duration_that_is_not_positive_names_its_variable(env: dict[str, str]) -> None:
    for name, value in (("PBX55_SEAL_MAX_AGE_S", "0"), ("PBX55_RAW_RETENTION_DAYS", "a year")):
        with pytest.raises(ValueError, match=name):
            Settings.from_env(env | {name: value})


def test_the_dagster_storage_url_names_the_driver_dagster_has(env: dict[str, str]) -> None:
    for url in ("postgres://u@h/db", "postgresql://u@h/db", "postgresql+psycopg2://u@h/db"):
        settings = Settings.from_env(env | {"PBX55_DAGSTER_POSTGRES_URL": url})
        assert settings.dagster_storage_url == "postgresql+psycopg2://u@h/db"
    with pytest.raises(ValueError, match="PBX55_DAGSTER_POSTGRES_URL must start with postgresql"):
        Settings.from_env(env | {"PBX55_DAGSTER_POSTGRES_URL": "mysql://u@h/db"})


def test_the_bi_storage_version_is_a_duckdb_release(env: dict[str, str]) -> None:
    assert Settings.from_env(env).bi_storage_version == "v1.4.0"
    assert Settings.from_env(env | {"PBX55_BI_STORAGE_VERSION": "v1.5.0"}).bi_storage_version == (
        "v1.5.0"
    )
    with pytest.raises(ValueError, match="PBX55_BI_STORAGE_VERSION"):
        Settings.from_env(env | {"PBX55_BI_STORAGE_VERSION": "1.5"})


def test_a_postgres_url_that_is_no_url_is_refused_without_echoing_it(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="PBX55_POSTGRES_URL") as refused:
        Settings.from_env(env | {"PBX55_POSTGRES_URL": "host=db password=sekrit"})
    assert "sekrit" not in str(refused.value)


def test_report_api_keys_are_central_key_pairs_and_errors_never_quote_a_key(
    env: dict[str, str],
) -> None:
    api = {"PBX55_REPORT_API_URL": "https://reportapi01.example.com:50500"}
    settings = Settings.from_env(env | api | {"PBX55_REPORT_API_KEYS": " 1000=abc-1 ,2047=def-2"})
    assert settings.report_api_keys == (("1000", "abc-1"), ("2047", "def-2"))
    assert "abc-1" not in repr(settings)
    for keys, problem in (
        ("1000=secret-key-1,secret-key-2", "entry 2 of 2 is not central_id=key"),
        ("1000=secret-key-1,1000=secret-key-2", "entry 2 of 2 repeats a central_id"),
        ("1000=secret key", "entry 1 of 1 contains whitespace"),
        ("10'00=secret-key", "entry 1 of 1 has a central_id other than letters"),
    ):
        with pytest.raises(ValueError, match=problem) as refused:
            Settings.from_env(env | api | {"PBX55_REPORT_API_KEYS": keys})
        assert "secret" not in str(refused.value)


def test_the_report_api_needs_both_its_url_and_its_keys(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="PBX55_REPORT_API_URL is set but PBX55_REPORT_API_KEYS"):
        Settings.from_env(env | {"PBX55_REPORT_API_URL": "https://reportapi01.example.com"})
    with pytest.raises(ValueError, match="PBX55_REPORT_API_KEYS is set but PBX55_REPORT_API_URL"):
        Settings.from_env(env | {"PBX55_REPORT_API_KEYS": "1000=abc"})


def test_report_api_tls_verification_is_on_off_or_a_ca_bundle(
    env: dict[str, str], tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    for value, expected in (("", True), ("TRUE", True), ("false", False), (str(bundle), bundle)):
        environ = env | {"PBX55_REPORT_API_VERIFY_TLS": value}
        assert Settings.from_env(environ).report_api_verify_tls == expected
    with pytest.raises(ValueError, match="PBX55_REPORT_API_VERIFY_TLS must be true, false or"):
        Settings.from_env(env | {"PBX55_REPORT_API_VERIFY_TLS": str(tmp_path / "missing.pem")})


def test_the_interval_is_a_quarter_or_half_hour_and_reaches_dbt(env: dict[str, str]) -> None:
    assert Settings.from_env(env).interval_minutes == 30
    quarter = Settings.from_env(env | {"PBX55_INTERVAL_MINUTES": " 15 "})
    assert quarter.interval_minutes == 15
    assert dbt_env(quarter)["PBX55_INTERVAL_MINUTES"] == "15"
    for value in ("20", "60", "half an hour", "0"):
        with pytest.raises(ValueError, match="PBX55_INTERVAL_MINUTES must be 15 or 30") as refused:
            Settings.from_env(env | {"PBX55_INTERVAL_MINUTES": value})
        assert "\n" not in str(refused.value)
