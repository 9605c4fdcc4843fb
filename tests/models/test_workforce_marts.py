"""The interval, staffing, forecast and callback marts over five weeks of hand-written calls.

Mondays 2026-11-02 to 11-30 (11-09 has no call at all: a missing week), then a late load that
changes an older Monday, calls a caller back the next morning and adds a call that runs past
midnight: the incremental run must move every mart those days feed, as a full refresh does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from foundation.settings import Settings
from pipelines.dbt_runner import build_models
from tests.models.raw_pushes import PushFactory
from tests.models.scenario import QUEUE, received
from tests.models.test_models import mart_rows
from tests.models.warehouse import append_raw, snapshot

VARS = {"as_of_utc": "2026-12-01 18:00:00+00"}
LATE_LOAD = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ANSWERED = {"call_status": "call_attended", "call_time": 60, "call_duration": 90}
ABANDONED = {"call_status": "call_abandoned", "call_time": 0, "call_duration": 45}


def call(
    factory: PushFactory,
    call_id: str,
    start: datetime,
    final: dict[str, Any],
    *,
    outbound: bool = False,
    caller: str = "tok-regular",
    received_at: datetime | None = None,
) -> list[tuple[Any, ...]]:
    """A start push and a final push, received after the call or, late, at `received_at`."""
    base = {
        "call_id": call_id,
        "call_type": "ATIVO" if outbound else "receptivo",
        "started_local": start,
        "caller_token": caller,
        "call_queue": "" if outbound else QUEUE,
        "branch_mask": "5000",
    }
    first, last = (
        (received_at, received_at) if received_at else (received(start, 1), received(start, 300))
    )
    return [
        factory.push(first, **base, call_status="new_call", call_time=0),
        factory.push(last + timedelta(seconds=1), **base, call_time_waiting=10, **final),
    ]


def monday(day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, 11, day, hour, minute)


def first_load(factory: PushFactory) -> list[tuple[Any, ...]]:
    rows = []
    for day in (2, 16, 23, 30):
        rows += call(factory, f"a{day}", monday(day, 9, 5), ANSWERED)
    rows += call(factory, "b23", monday(23, 9, 10), ANSWERED)
    rows += call(factory, "lost30", monday(30, 9, 10), ABANDONED, caller="tok-lost")
    return rows


def late_load(factory: PushFactory) -> list[tuple[Any, ...]]:
    return [
        *call(factory, "c16", monday(16, 9, 20), ANSWERED, received_at=LATE_LOAD),
        *call(
            factory,
            "back01",
            datetime(2026, 12, 1, 8, 0),
            ANSWERED,
            outbound=True,
            caller="tok-lost",
            received_at=LATE_LOAD,
        ),
        *call(
            factory,
            "night23",
            monday(23, 23, 50),
            {**ANSWERED, "call_duration": 1200},
            outbound=True,
            received_at=LATE_LOAD,
        ),
    ]


def row_where(settings: Settings, table: str, **values: Any) -> dict[str, Any]:
    rows = [
        row
        for row in mart_rows(settings, table)
        if all(row[name] == value for name, value in values.items())
    ]
    assert len(rows) == 1, (table, values, rows)
    return rows[0]


def test_forecast_staffing_and_callbacks_follow_late_changes_to_earlier_days(
    settings: Settings, mart_tables: list[str]
) -> None:
    factory = PushFactory()
    append_raw(settings, first_load(factory))
    build_models(settings, dbt_vars=VARS)

    nine = datetime(2026, 11, 30, 9, 0)
    forecast = row_where(settings, "kpi_forecast_by_interval", interval_start=nine, queue=QUEUE)
    # 11-23 had 2, 11-16 1, 11-09 nothing at all (left out), 11-02 1.
    assert (forecast["offered"], forecast["weeks_observed"]) == (2, 3)
    assert forecast["forecast_offered"] == 1.33
    recovery = row_where(
        settings, "kpi_callback_recovery_daily", reported_date=date(2026, 11, 30), queue=QUEUE
    )
    assert (recovery["abandoned_journeys"], recovery["called_back"]) == (1, 0)
    staffing = row_where(settings, "kpi_staffing_by_interval", interval_start=nine, queue=QUEUE)
    assert (staffing["agents_required"], staffing["agents_answering"]) == (1, 1)

    append_raw(settings, late_load(factory))
    build_models(settings, dbt_vars=VARS)

    # 11-16 now has two calls at 09:00: the forecasts of the Mondays after it move.
    forecast = row_where(settings, "kpi_forecast_by_interval", interval_start=nine, queue=QUEUE)
    assert forecast["forecast_offered"] == 1.67
    earlier = row_where(
        settings,
        "kpi_forecast_by_interval",
        interval_start=datetime(2026, 11, 23, 9, 0),
        queue=QUEUE,
    )
    assert (earlier["forecast_offered"], earlier["weeks_observed"]) == (1.5, 2)
    accuracy = row_where(
        settings, "kpi_forecast_accuracy_daily", reported_date=date(2026, 11, 30), queue=QUEUE
    )
    assert accuracy["wape"] == round(abs(1.67 - 2) / 2, 4)
    # Called back at 08:00 the next morning, 22 h 50 min after the abandon: day 11-30 changes.
    recovery = row_where(
        settings, "kpi_callback_recovery_daily", reported_date=date(2026, 11, 30), queue=QUEUE
    )
    assert (recovery["called_back"], recovery["callback_rate"]) == (1, 1.0)
    assert recovery["callback_p50_seconds"] == 22 * 3600 + 50 * 60
    # The 23:50 call is still going at midnight: the next day's first interval has its peak.
    midnight = row_where(
        settings,
        "kpi_by_interval",
        interval_start=datetime(2026, 11, 24, 0, 0),
        queue="(outbound)",
    )
    assert (midnight["reported_date"], midnight["legs"], midnight["peak_concurrent_calls"]) == (
        date(2026, 11, 24),
        0,
        1,
    )

    incremental = snapshot(settings, mart_tables)
    build_models(settings, full_refresh=True, dbt_vars=VARS)
    assert snapshot(settings, mart_tables) == incremental
