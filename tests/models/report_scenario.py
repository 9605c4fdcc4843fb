"""The report API's answers for the day of `tests.models.scenario`, as the vendor sends them.

Each row says what the tests expect of it (`EXPECTED_REASONS`): most calls agree with their
pushes, some disagree, some only one source knows, one is the voice bot's double entry, one
has values no type fits. Values keep the vendor's quirks: `H:MM:SS` strings, Brasília wall time
labelled `Z`, extensions as strings or one-element arrays, numbers and strings mixed. The
personal fields hold the made-up values of `REPORT_PERSONAL_VALUES`, which no model may select.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from pipelines.report_api.pull import ReportDay
from tests.models.scenario import QUEUE

CENTRAL_ID = "1000"
DAY = date(2026, 11, 20)
FIRST_PULL_AT = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
VOICE_BOT_QUEUE = "9000-REDIRECIONAMENTO"
REPORT_PERSONAL_VALUES = [
    "21987650000",
    "98765432100",
    "Ana Souza",
    "5511999990000",
    "ana.report@example.com",
    "https://recordings.example.com/report",
]

# The reason fct_call_reconciliation gives each call of the day (and m1, on the 21st).
EXPECTED_REASONS = {
    "c1": "matched",
    "c2": "matched",
    "c3": "outcome_differs",
    "c4": "matched",
    "c5": "matched",
    "c6": "still_running",
    "c7": "final_push_missing",
    "t1": "durations_differ",
    "t2": "missing_from_report",
    "u1": "matched",
    "u2": "matched",
    "u3": "matched",
    "s1": "sms_not_reported",
    "m1": "not_pulled",
    "r1": "missing_from_pushes",
    "r2": "missing_from_pushes",
}


def _call(
    call_id: str | None, type_call: str, start: str, *parts: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "call_id": call_id,
        "call_id_origin": call_id,
        "type_call": type_call,
        "call_date": f"2026-11-20T{start}.000Z",
        "wb_call_hour": int(start[:2]),
        "call_time_URA": "0:00:05",
        "call_number": "21987650000",
        "call_document": "98765432100",
        "name": "",
        "Wy_branch_mask_agent": "",
    }
    for part in parts:
        row |= part
    return row | fields


def _answered(agent: Any, wait: Any, talk: str, total: str) -> dict[str, Any]:
    return {
        "name": "Ana Souza",
        "Wy_branch_mask_agent": agent,
        "Wy_branch_email_agent": "ana.report@example.com",
        "call_time_waiting": wait,
        "call_time_spoken": talk,
        "call_time_total_duration": total,
        "call_url_audio": "https://recordings.example.com/report/1.mp3",
    }


def _abandoned(wait: str, total: str) -> dict[str, Any]:
    return {
        "call_time_waiting": wait,
        "call_time_spoken": "0:00:00",
        "call_time_total_duration": total,
    }


QUEUED = {"queue_name": QUEUE, "queue_id": "68a4cecc60d8c4fe3ccf6371"}


def call_rows(without: Iterable[str] = ()) -> list[dict[str, Any]]:
    """report_02 of the day, leaving out the calls `without`."""
    rows = [
        _call(
            "c1",
            "call_attended",
            "10:00:00",
            QUEUED,
            _answered(["5000"], "0:00:12", "0:02:00", "0:02:30"),
            call_disconnection="externo",
            call_area_code="11",
            call_number_input="551130000000",
        ),
        _call("c2", "call_abandoned", "10:30:00", QUEUED, _abandoned("0:00:40", "0:00:45")),
        # The pushes say the caller abandoned; the report, that an agent answered.
        _call("c3", "call_attended", "11:00:00", QUEUED, _answered("5000", 3, "0:00:30", "35")),
        # Redirected to the voice bot: retained in the IVR, then "answered" by the bot.
        _call("c4", "call_retained_ura", "11:30:00", queue_name="", call_time_waiting=""),
        _call(
            "c4",
            "call_attended",
            "11:30:20",
            queue_name=VOICE_BOT_QUEUE,
            name="5511999990000",
            call_time_spoken="0:01:10",
        ),
        # An outbound call: no queue.
        _call("c5", "call_attended", "12:00:00", _answered(["5001"], "", "0:00:45", "0:00:50")),
        # Its final push never came: the report completes it.
        _call("c7", "call_attended", "14:00:00", QUEUED, _answered(5000, "0:00:25", "30", "45")),
        # The report's wait is 5 s longer than the pushes'.
        _call("t1", "call_attended", "13:00:00", QUEUED, _answered("5000", "0:00:15", "60", "90")),
        _call("u1", "call_attended", "15:00:00", QUEUED, _answered("5000", 5, "0:01:00", "90")),
        _call("u2", "call_attended", "15:02:00", QUEUED, _answered("5000", "6", "0:01:00", "90")),
        _call("u3", "call_attended", "15:04:00", QUEUED, _answered("5000", "7", "0:01:00", "90")),
        # Calls no push reported: r1 a transfer leg of t1's chain, r2 with a wait that is no
        # duration at all.
        _call(
            "r1",
            "call_attended",
            "16:30:00",
            QUEUED,
            _answered(["5000"], "0:00:05", "0:01:40", "0:01:50"),
            call_area_code="21",
            call_id_origin="t1",
        ),
        _call("r2", "call_abandoned", "16:45:00", QUEUED, _abandoned("abc", "0:00:50")),
        _call(None, "call_abandoned", "17:00:00", QUEUED),
    ]
    return [row for row in rows if row["call_id"] not in set(without)]


DAY_TOTALS = {
    "totalCallProcessedURA": 12,
    "totalCallProcessedQueue": "11",
    "totalCallAttendedReceptive": 9,
    "totalCallAbandonedQueue": 3,
    "totalCallAbandonedURA": 0,
    "totalCallRetainedURA": 1,
    "totalCallActive": 1,
    "totalCallAttendedActive": 1,
    "timeMediumWaitingAttendance": "0:00:11",
    "timeMaxWaitingAttendance": "0:00:25",
    "timeMediumDurationCall": "0:01:30",
    "timeMaxDurationCall": "0:02:30",
}

AGENT_TIMES = [
    {
        "name": "Ana Souza",
        "Wy_branch_mask_agent": ["5000"],
        "timeTotalSpoken": "1:00:00",
        "timeIdle": "0:30:00",
        "timeTotalPaused": "0:10:00",
        "productivity": "85.5",
        "attendedReceptive": 4,
        "quantityRefusal": 0,
    },
    {
        "name": "Bruno",
        "Wy_branch_mask_agent": "5001",
        "timeTotalSpoken": "0:00:45",
        "timeIdle": "0:00:15",
        "timeTotalPaused": "0:00:00",
        "productivity": 90,
        "attendedReceptive": 0,
        "quantityRefusal": "1",
    },
]


def report_day(pulled_at: datetime = FIRST_PULL_AT, without: Iterable[str] = ()) -> ReportDay:
    """The day's three answers as one pull arriving at `pulled_at`."""
    return ReportDay(
        central_id=CENTRAL_ID,
        day=DAY,
        day_totals=DAY_TOTALS,
        calls=call_rows(without),
        agent_times=AGENT_TIMES,
        pulled_at=pulled_at,
    )
