"""A build with nothing to do is skipped, and every change the models could see still builds."""

from __future__ import annotations

import re

import pytest

from foundation.settings import Settings
from pipelines.dbt_runner import DBT_PROJECT_DIR, build_models
from pipelines.unchanged_build import SkippedBuild
from tests.models.raw_pushes import PushFactory
from tests.models.scenario import AS_OF_UTC, first_batch, second_batch
from tests.models.warehouse import append_raw, connect


def _scalar(settings: Settings, sql: str) -> object:
    """One value of `sql`, its `marts` the settings' marts schema."""
    with connect(settings) as connection:
        cursor = connection.cursor()
        cursor.execute(sql.replace("marts.", f"{settings.schema_prefix}marts."))
        return cursor.fetchone()[0]


def _outcome(settings: Settings, call_id: str) -> object:
    sql = f"select outcome from marts.fct_calls where call_id = '{call_id}'"  # noqa: S608
    return _scalar(settings, sql)


def _built_at(settings: Settings) -> object:
    return _scalar(settings, "select max(built_at) from marts.fct_calls")


@pytest.mark.usefixtures("dbt_manifest")
def test_nothing_new_is_skipped_until_pushes_arrive_or_a_call_runs_out_of_grace(
    settings: Settings,
) -> None:
    factory = PushFactory()
    append_raw(settings, first_batch(factory))
    assert not isinstance(build_models(settings, dbt_vars={"as_of_utc": AS_OF_UTC}), SkippedBuild)
    built_at = _built_at(settings)
    assert _outcome(settings, "c6") == "in_progress"  # its last push came at 21:00 UTC

    # 90 minutes on, c6 is still within its 2 hours of grace: nothing to do.
    later = {"as_of_utc": "2026-11-20 22:30:00+00"}
    assert isinstance(build_models(settings, dbt_vars=later), SkippedBuild)
    assert _built_at(settings) == built_at

    # Past its grace, c6 is incomplete: the build runs though no push came.
    past_grace = {"as_of_utc": "2026-11-20 23:30:00+00"}
    assert not isinstance(build_models(settings, dbt_vars=past_grace), SkippedBuild)
    assert _outcome(settings, "c6") == "incomplete"

    # New pushes build; a var that changes the results builds.
    append_raw(settings, second_batch(factory))
    assert not isinstance(build_models(settings, dbt_vars=past_grace), SkippedBuild)
    assert isinstance(build_models(settings, dbt_vars=past_grace), SkippedBuild)
    assert not isinstance(
        build_models(settings, dbt_vars={**past_grace, "sl_threshold_s": 30}), SkippedBuild
    )


@pytest.mark.usefixtures("dbt_manifest")
def test_a_mart_dropped_by_hand_or_a_lost_record_builds_again(settings: Settings) -> None:
    append_raw(settings, first_batch(PushFactory()))
    vars_ = {"as_of_utc": AS_OF_UTC}
    build_models(settings, dbt_vars=vars_)
    with connect(settings) as connection:
        connection.execute("drop table marts.kpi_daily")

    assert not isinstance(build_models(settings, dbt_vars=vars_), SkippedBuild)
    assert _scalar(settings, "select count(*) from marts.kpi_daily") > 0

    for record in (settings.data_dir / "dbt").glob("last-build-*.json"):
        record.unlink()  # a lost data directory
    assert not isinstance(build_models(settings, dbt_vars=vars_), SkippedBuild)
    assert isinstance(build_models(settings, dbt_vars=vars_), SkippedBuild)


@pytest.mark.postgres
@pytest.mark.usefixtures("dbt_manifest")
def test_postgres_skips_nothing_new_and_builds_new_pushes(postgres_settings: Settings) -> None:
    factory = PushFactory()
    vars_ = {"as_of_utc": AS_OF_UTC}
    append_raw(postgres_settings, first_batch(factory))
    build_models(postgres_settings, dbt_vars=vars_)

    assert isinstance(build_models(postgres_settings, dbt_vars=vars_), SkippedBuild)
    append_raw(postgres_settings, second_batch(factory))
    assert not isinstance(build_models(postgres_settings, dbt_vars=vars_), SkippedBuild)
    assert _outcome(postgres_settings, "c6") != "in_progress"


# What reads the clock, each covered by pipelines/unchanged_build.py: the grace period (recorded
# as the time the oldest call in progress runs out of it) and two data-quality tests (a record
# holds for an hour at most). A new reader must be covered there before it is added here.
CLOCK_READERS = {
    "macros/kpi_helpers.sql",  # as_of_utc() and incomplete_since(), defined
    "models/intermediate/int_calls__reduced.sql",
    "tests/dq_report_api_silent.sql",
    "tests/dq_report_coverage.sql",
}
CLOCK = re.compile(r"as_of_utc\(\)|incomplete_since\(\)|current_timestamp|now\(\)|current_date")


def test_only_the_nodes_a_skipped_build_accounts_for_read_the_clock() -> None:
    readers = {
        str(path.relative_to(DBT_PROJECT_DIR))
        for folder in ("models", "macros", "tests")
        for path in (DBT_PROJECT_DIR / folder).rglob("*.sql")
        if CLOCK.search(path.read_text())
    }
    assert readers == CLOCK_READERS
