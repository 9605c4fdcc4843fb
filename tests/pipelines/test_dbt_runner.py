"""The one way dbt is run: its arguments and environment, from `Settings`."""

from __future__ import annotations

import dataclasses

from foundation.settings import Settings
from pipelines.dbt_runner import DBT_PROJECT_DIR, build_command, dbt_invocation


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_dbt_is_pointed_at_the_settings_warehouse_and_project(settings: Settings) -> None:
    settings = dataclasses.replace(settings, schema_prefix="ci_", as_of_utc="2026-11-20 21:00:00")
    invocation = dbt_invocation(settings, ["build"], dbt_vars={"sl_threshold_s": 30})

    assert invocation.args[0] == "build"
    assert flag(invocation.args, "--project-dir") == str(DBT_PROJECT_DIR)
    assert flag(invocation.args, "--target") == "duckdb"
    assert flag(invocation.args, "--vars") == '{"sl_threshold_s": 30}'
    # Artifacts and logs go under the data dir, never into the repository.
    assert flag(invocation.args, "--target-path").startswith(str(settings.data_dir))
    assert invocation.env["PBX55_DUCKDB_PATH"] == str(settings.duckdb_path)
    assert invocation.env["PBX55_SCHEMA_PREFIX"] == "ci_"
    assert invocation.env["PBX55_AS_OF_UTC"] == "2026-11-20 21:00:00"


def test_the_postgres_password_reaches_dbt_only_as_a_secret(settings: Settings) -> None:
    settings = dataclasses.replace(
        settings,
        warehouse="postgres",
        postgres_url="postgresql://pbx55:s%40cret@db.example:6432/warehouse",
    )
    invocation = dbt_invocation(settings, ["build"])

    assert invocation.env["DBT_ENV_SECRET_PBX55_PG_PASSWORD"] == "s@cret"
    assert (invocation.env["PBX55_PG_HOST"], invocation.env["PBX55_PG_PORT"]) == (
        "db.example",
        "6432",
    )
    assert (invocation.env["PBX55_PG_USER"], invocation.env["PBX55_PG_DBNAME"]) == (
        "pbx55",
        "warehouse",
    )
    public = [
        *invocation.args,
        *(value for name, value in invocation.env.items() if "SECRET" not in name),
    ]
    assert not any("s@cret" in value or "s%40cret" in value for value in public)


def test_the_build_command_leaves_out_unit_tests_and_current_seeds() -> None:
    routine = build_command(full_refresh=False, unit_tests=False, skip_seeds=True, select=())
    assert routine == [
        "build",
        "--no-write-json",
        "--exclude-resource-type",
        "unit_test",
        "--exclude-resource-type",
        "seed",
    ]
    ci = build_command(full_refresh=True, unit_tests=True, skip_seeds=False, select=["fct_calls"])
    assert ci == ["build", "--no-write-json", "--full-refresh", "--select", "fct_calls"]
