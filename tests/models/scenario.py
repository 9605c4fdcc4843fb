"""A small day of traffic whose marts are computed by hand in the tests.

Times: calls on Friday 2026-11-20 in America/Sao_Paulo (UTC-3); `AS_OF_UTC` pins the reference
time of the incomplete-call grace period.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.models.raw_pushes import LOCAL_OFFSET, PushFactory

AS_OF_UTC = "2026-11-20 21:00:00+00"
# m1's first push carries no call_date: the call is placed by its receipt, on the 21st (local).
MIDNIGHT_CALL_RECEIVED = datetime(2026, 11, 21, 3, 1, tzinfo=UTC)
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


def outbound_call(
    factory: PushFactory, call_id: str, start: datetime, **final: Any
) -> list[tuple[Any, ...]]:
    base = {"call_id": call_id, "call_type": "ATIVO", "started_local": start, "branch_mask": "5001"}
    return [
        factory.push(received(start, 1), **base, call_status="new_call", call_time=0),
        factory.push(received(start, 90), **base, **final),
    ]


def first_batch(factory: PushFactory) -> list[tuple[Any, ...]]:
    """The day as first loaded: every lifecycle the field notes describe."""
    personal = {
        "call_number": "11987654321",
        "call_document": "12345678901",
        "branch_email": "agent5000@example.com",
    }
    answered_final = {
        "call_status": "",  # the final push may carry an empty status
        "call_time": 120,
        "call_duration": 150,
        "call_time_waiting": 12,
        "call_url_audio": "https://recordings.example.com/c1.mp3?token=secret",
        "call_disconnection": "externo",
        "call_tax": 0.58,
        "call_tax_type": "VC2",
        "call_cost": 1.16,
        "call_balance": 100.0,
    }
    c1 = inbound_call(factory, "c1", local(10), branch="5000", final=answered_final, **personal)
    rows = [
        *c1,
        factory.duplicate(c1[-1], received(local(10), 260)),  # a vendor retry of the final push
        factory.push(  # a start push retried after the final one
            received(local(10), 400),
            call_id="c1",
            call_type="receptivo",
            call_status="call_waiting",
            call_queue=QUEUE,
            started_local=local(10),
            call_time=0,
        ),
    ]
    abandoned = {"call_status": "call_abandoned", "call_time": 0, "call_duration": 45}
    rows += inbound_call(factory, "c2", local(10, 30), final={**abandoned, "call_time_waiting": 40})
    rows += inbound_call(factory, "c3", local(11), final={**abandoned, "call_time_waiting": 3})
    # Self-service in the IVR: retained, not abandoned (the report lists it too, then the bot).
    retained = {**abandoned, "call_status": "call_retained_ura"}
    rows += inbound_call(factory, "c4", local(11, 30), queue=None, caller=None, final=retained)
    rows += outbound_call(
        factory,
        "c5",
        local(12),
        call_time=45,
        call_duration=50,
        call_tax=0.30,
        call_tax_type="vc1",
        call_cost=0.24,
        call_url_audio="https://recordings.example.com/c5.mp3",
    )
    rows += inbound_call(factory, "c6", local(17, 59), final=None)  # still in the queue
    rows += inbound_call(factory, "c7", local(14), final=None)  # final push never came
    talk = {"call_status": "call_attended", "call_time": 60, "call_duration": 90}
    rows += inbound_call(
        factory, "t1", local(13), final={**talk, "call_time_waiting": 10, "call_transfer_id": "t2"}
    )
    rows += inbound_call(
        factory, "t2", local(13, 3), queue=OTHER_QUEUE, final={**talk, "call_time_waiting": 30}
    )
    # The newer leg names the older one: links are taken in either direction.
    rows += inbound_call(factory, "u1", local(15), final={**talk, "call_time_waiting": 5})
    rows += inbound_call(
        factory,
        "u2",
        local(15, 2),
        final={**talk, "call_time_waiting": 6, "call_transfer_id": "u1"},
    )
    rows += inbound_call(
        factory,
        "u3",
        local(15, 4),
        final={**talk, "call_time_waiting": 7, "call_transfer_id": "u2"},
    )
    rows.append(
        factory.push(
            received(local(16), 0),
            call_id="s1",
            call_type="sms",
            call_status="",
            call_tax=0.10,
            call_tax_type="SMS",
            call_cost=0.10,
            started_local=local(16),
        )
    )
    rows.append(
        factory.push(
            MIDNIGHT_CALL_RECEIVED,
            call_id="m1",
            call_type="receptivo",
            call_status="new_call",
            call_queue="",
            call_time=0,
        )
    )
    return rows


def second_batch(factory: PushFactory) -> list[tuple[Any, ...]]:
    """Pushes loaded later: finals for open calls, a late retry, a new transfer leg, a new call."""
    talk = {"call_status": "call_attended", "call_time": 30, "call_duration": 45}
    return [
        factory.push(
            received(local(17, 59), 40),
            call_id="c6",
            call_type="receptivo",
            call_queue=QUEUE,
            started_local=local(17, 59),
            caller_token="tok-caller-a",
            caller_ddd="11",
            call_time_waiting=8,
            **talk,
        ),
        factory.push(
            received(local(14), 3600),
            call_id="c7",
            call_type="receptivo",
            call_queue=QUEUE,
            started_local=local(14),
            call_time_waiting=25,
            **talk,
        ),
        factory.push(
            received(local(10), 900),
            call_id="c1",
            call_type="receptivo",
            call_status="new_call",
            call_queue="",
            started_local=local(10),
            call_time=0,
        ),
        *inbound_call(
            factory,
            "u4",
            local(15, 10),
            final={**talk, "call_time_waiting": 9, "call_transfer_id": "u3"},
        ),
        *inbound_call(factory, "c9", local(18), final={**talk, "call_time_waiting": 2}),
        # m1's call_date arrives at last: it started on the 20th, not the 21st it was placed on.
        factory.push(
            MIDNIGHT_CALL_RECEIVED + timedelta(seconds=60),
            call_id="m1",
            call_type="receptivo",
            call_queue=QUEUE,
            started_local=local(23, 58),
            call_time_waiting=4,
            **talk,
        ),
    ]
