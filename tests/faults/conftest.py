"""Fixtures of the fault tests: each test's own warehouse (DuckDB, then Postgres), the matrix.

Every test runs on both warehouses. On Postgres PBX55_SCHEMA_PREFIX is unique to the test (the
raw schema is `<prefix>pbx55_raw`), and every schema under the prefix is dropped afterwards. The
result of every test goes into a scenario x warehouse table that is written under pytest's base
temp dir and printed at the end of the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from foundation.settings import Settings
from tests.faults import fault_matrix
from tests.faults.fault_matrix import MatrixRow
from tests.faults.fault_warehouse import Warehouse


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fault_scenario(label): the row label of a fault test in the result matrix"
    )


@pytest.fixture(
    params=[pytest.param("duckdb"), pytest.param("postgres", marks=pytest.mark.postgres)]
)
def warehouse(request: pytest.FixtureRequest, env: dict[str, str]) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        yield Warehouse("duckdb", Settings.from_env(env), env)
        return
    postgres_url = request.getfixturevalue("postgres_url")  # skips or fails without a server
    prefix = f"pbx55_faults_{request.getfixturevalue('postgres_schema_suffix')}_"
    env = env | {
        "PBX55_WAREHOUSE": "postgres",
        "PBX55_POSTGRES_URL": postgres_url,
        "PBX55_SCHEMA_PREFIX": prefix,
    }
    yield Warehouse("postgres", Settings.from_env(env), env)
    _drop_schemas(postgres_url, prefix)


def _drop_schemas(postgres_url: str, prefix: str) -> None:
    connection = psycopg2.connect(postgres_url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
                [prefix.replace("_", r"\_") + "%"],
            )
            for (schema,) in cursor.fetchall():
                cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        connection.close()


@pytest.fixture(autouse=True)
def matrix_row(request: pytest.FixtureRequest) -> MatrixRow:
    """This test's row of the result matrix; the test fills in what it observed."""
    callspec = getattr(request.node, "callspec", None)
    params = dict(callspec.params) if callspec else {}
    warehouse = params.pop("warehouse", "-")
    marker = request.node.get_closest_marker("fault_scenario")
    label = marker.args[0].format(**params) if marker else request.node.originalname
    row = MatrixRow(scenario=label, warehouse=warehouse)
    fault_matrix.ROWS[request.node.nodeid] = row
    return row


@pytest.fixture(autouse=True, scope="session")
def _matrix_output(tmp_path_factory: pytest.TempPathFactory) -> None:
    fault_matrix.OUTPUT[:] = [tmp_path_factory.getbasetemp() / "fault-matrix.md"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    row = fault_matrix.ROWS.get(item.nodeid)
    if row is not None and (report.when == "call" or not report.passed):
        if report.when == "teardown":
            row.result = "error in teardown"
        else:
            row.result = report.outcome
        if report.skipped and isinstance(report.longrepr, tuple):
            row.symptom = row.symptom or str(report.longrepr[2])
        elif report.failed and not row.symptom:
            crash = getattr(report.longrepr, "reprcrash", None)
            row.symptom = (crash.message if crash else str(report.longrepr)).splitlines()[0]
    return report


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not fault_matrix.ROWS:
        return
    text = fault_matrix.table()
    destination: Path | None = fault_matrix.OUTPUT[0] if fault_matrix.OUTPUT else None
    if destination is not None:
        destination.write_text(text)
    terminalreporter.section("fault matrix")
    terminalreporter.write(text)
    if destination is not None:
        terminalreporter.write_line(f"(written to {destination})")
