"""Fixtures shared by every test package: isolated settings and the local Postgres."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.settings import Settings

POSTGRES_URL = os.environ.get(
    "PBX55_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TEST_TOKEN = "test-token-0123456789abcdef"
TEST_PII_KEY = "test-pii-key"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A PBX55_* environment rooted in a fresh temporary data directory."""
    return {
        "PBX55_DATA_DIR": str(tmp_path / "data"),
        "PBX55_TOKENS": TEST_TOKEN,
        "PBX55_PII_KEY": TEST_PII_KEY,
        "PBX55_TIMEZONE": "America/Sao_Paulo",
    }


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


def _postgres_answers() -> str | None:
    """None when the server answers, else the reason it does not."""
    try:
        import psycopg2

        psycopg2.connect(POSTGRES_URL, connect_timeout=3).close()
    except Exception as error:
        return f"no Postgres at {POSTGRES_URL}: {error}".strip()
    return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The local Postgres test database. Required in CI; skipped with the reason elsewhere."""
    reason = _postgres_answers()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    yield POSTGRES_URL


@pytest.fixture
def postgres_schema_suffix() -> str:
    """A unique suffix so parallel or repeated runs never share Postgres schemas."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def dbt_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dbt manifest the Dagster definitions are built from, as `pbx55 prepare` writes it."""
    from pipelines.dbt_runner import prepare_manifest

    data_dir = tmp_path_factory.mktemp("manifest")
    return prepare_manifest(Settings.from_env({"PBX55_DATA_DIR": str(data_dir)}))
