"""The ground truth file: one JSON line per call id, from the simulator's own model of the call.

`outcome` is what the warehouse should report for the call given what was sent: the simulated
outcome (`answered`, `abandoned_queue`, `abandoned_ivr`, `not_answered`, `sms`), or `incomplete`
when the final push never came (`simulated_outcome` keeps what really happened). architecture.md
has no outcome for an SMS; `compare.CONTRACT_OUTCOME` says how the contract spells it.

The wait, talk, duration, cost, balance and recording are what really happened; for a call whose
final push never came (`has_final_push` false) the warehouse cannot know them, and comparisons
skip them. `journey_root_call_id` is the oldest leg of the call's transfer chain (the call itself
when it was never transferred); `transfer_id_sent_by` says which leg carried `call_transfer_id`.
`pushes_sent` counts deliveries (retried duplicates included, HTTP retries not),
`duplicates_sent` the identical re-sends, `late_pushes` the start pushes first delivered after the
call's final push, and `push_ids` the receiver's ids from the 200 responses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from simulator.model import SimulatedDay, billed_seconds
from simulator.pushes import RenderedDay
from simulator.sender import DeliveryResult


def truth_records(
    day: SimulatedDay, rendered: RenderedDay, results: Sequence[DeliveryResult] | None
) -> list[dict[str, object]]:
    pushes_by_leg: dict[int, list[int]] = {index: [] for index in range(len(day.legs))}
    for push_index, push in enumerate(rendered.pushes):
        pushes_by_leg[push.leg_index].append(push_index)
    records = []
    for leg_index, leg in enumerate(day.legs):
        own = [rendered.pushes[i] for i in pushes_by_leg[leg_index]]
        has_final = leg.kind == "sms" or not leg.final_push_lost
        started = day.local_datetime(leg.started_at)
        root = leg.journey_root
        record: dict[str, object] = {
            "central_id": leg.central.central_id,
            "call_id": leg.call_id,
            "kind": leg.kind,
            "call_type_sent": rendered.call_types_sent[leg_index],
            "outcome": leg.outcome if has_final else "incomplete",
            "simulated_outcome": leg.outcome,
            "started_at_local": f"{started:%Y-%m-%d %H:%M:%S}",
            "queue": leg.queue,
            "branch_mask": str(leg.agent.branch_mask) if leg.agent else None,
            "wait_seconds": leg.wait_seconds,
            "talk_seconds": leg.talk_seconds,
            "duration_seconds": leg.duration_seconds,
            "tax_type": leg.tax_type or None,
            "tax_per_minute": float(leg.tax_per_minute),
            "billed_seconds": billed_seconds(leg.talk_seconds) if leg.kind == "outbound" else 0,
            "cost": float(leg.cost),
            "balance_after": float(leg.balance_after) if leg.balance_after is not None else None,
            "has_recording": leg.has_recording,
            "caller_ddd": str(leg.customer.ddd) if leg.customer.ddd else None,
            "ivr_option": leg.ivr_option,
            "journey_root_call_id": root.call_id,
            "transferred_from_call_id": (
                leg.transferred_from.call_id if leg.transferred_from else None
            ),
            "transferred_to_call_id": leg.transferred_to.call_id if leg.transferred_to else None,
            "transfer_id_sent_by": _transfer_sender(rendered.transfer_forward[leg_index]),
            "has_final_push": has_final,
            "pushes_sent": len(own),
            "duplicates_sent": sum(1 for push in own if push.is_duplicate),
            "late_pushes": sum(1 for push in own if push.is_late),
            "malformed_bodies": sum(1 for push in own if push.encoding != "json"),
        }
        if results is not None:
            own_results = [results[i] for i in pushes_by_leg[leg_index]]
            record["pushes_acknowledged"] = sum(1 for r in own_results if r.acknowledged)
            record["push_ids"] = [r.push_id for r in own_results if r.acknowledged]
        records.append(record)
    return records


def _transfer_sender(forward: bool | None) -> str | None:
    if forward is None:
        return None
    return "older_leg" if forward else "newer_leg"


def write_truth(path: Path, records: Sequence[dict[str, object]]) -> None:
    """Write atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(partial, path)


def read_truth(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
