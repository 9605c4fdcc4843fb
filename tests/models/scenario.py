"""A small day of traffic whose marts are computed by hand in the tests.

Times: calls on Friday 2026-11-20 in America/Sao_Paulo (UTC-3); `AS_OF_UTC` pins the reference
time of the incomplete-call grace period.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.models.raw_pushes import LOCAL_OFFSET, PushFactory

AS_OF_UTC = "2026-11-20 21:00:00+00"
QUEUE = "4961-CREDITO_P1"
OTHER_QUEUE = "4962-COBRANCA"


def local(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, 20, hour, minute, second)


def received(start: datetime, seconds: float) -> datetime:
    """UTC receive time `seconds` after a local start time."""
    return (start - LOCAL_OFFSET).replace(tzinfo=UTC) + timedelta(seconds=seconds)


def inbound_call(
    factory: PushFactory,
    call_id: str,
    start: datetime,
    *,
    final: dict[str, Any] | None,
    queue: str | None = QUEUE,
    branch: str | None = None,
    caller: str | None = "tok-caller-a",
    **common: Any,
) -> list[tuple[Any, ...]]:
    """IVR push, queue push, agent push (when `branch`), final push (when `final`)."""
    base = {
        "call_id": call_id,
        "call_type": "receptivo",
        "started_local": start,
        "caller_token": caller,
        "caller_ddd": "11" if caller else None,
        "caller_masked": "(11) 9****-1234" if caller else None,
        "call_time": 0,
        "call_duration": 0,
        **common,
    }
    rows = [factory.push(received(start, 1), **base, call_status="new_call", call_queue="")]
    if queue:
        rows.append(
            factory.push(received(start, 5), **base, call_status="call_waiting", call_queue=queue)
        )
    if branch:
        rows.append(
            factory.push(
                received(start, 20),
                **base,
                call_status="new_call",
                call_queue=queue,
                branch_mask=branch,
            )
        )
    if final is not None:
        rows.append(
            factory.push(
                received(start, 200),
                **{**base, "call_queue": queue or "", "branch_mask": branch, **final},
            )
        )
    return rows
