"""A broken invariant stops the build and says which rows and what to do (macros/invariants.sql)."""

from __future__ import annotations

import pytest

from foundation.settings import Settings
from pipelines.dbt_runner import DbtRunError, build_models
from tests.models.raw_pushes import PushFactory
from tests.models.scenario import AS_OF_UTC, first_batch
from tests.models.warehouse import append_raw, connect

VARS = {"as_of_utc": AS_OF_UTC}


def test_a_duplicate_call_fails_the_build_naming_the_call_and_the_remedy(
    settings: Settings,
) -> None:
    append_raw(settings, first_batch(PushFactory()))
    build_models(settings, dbt_vars=VARS)
    with connect(settings) as connection:  # what a bug in an incremental model could leave
        connection.execute(
            "insert into marts.fct_calls select * from marts.fct_calls where call_id = 'c2'"
        )

    with pytest.raises(DbtRunError):  # every row tested, as in CI: c2 was built before this run
        build_models(settings, dbt_vars={**VARS, "data_tests_on_all_rows": True})

    log = (settings.data_dir / "dbt" / "logs" / "dbt.log").read_text()
    broken = next(line for line in log.splitlines() if "Broken invariant" in line)
    assert "Broken invariant invariant_key_fct_calls: found 2, e.g. (call_key=" in broken
    assert "central_id=1000, call_id=c2" in broken
    assert "rows_with_this_natural_key=2" in broken
    assert "Rebuild with `pbx55 build --full-refresh`" in log
    # Data-quality findings of the same build are warnings, never reported as broken invariants.
    assert "Broken invariant dq_" not in log

    build_models(settings, full_refresh=True, dbt_vars=VARS)  # the remedy works
