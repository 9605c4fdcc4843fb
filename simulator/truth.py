"""The ground truth file: one JSON line per call id, from the simulator's own model of the call.

`outcome` is what the warehouse should report for the call given what was sent: the simulated
outcome (`answered`, `abandoned_queue`, `abandoned_ivr`, `not_answered`, `sms`) with a leg the IVR
kept as `retained_ivr` (`pushes.warehouse_outcome`), or `incomplete` when the final push never
came (`simulated_outcome` keeps what really happened, in the model's vocabulary). architecture.md
has no outcome for an SMS; `compare.CONTRACT_OUTCOME` says how the contract spells it.

The wait, talk, duration, cost, balance and recording are what really happened; for a call whose
final push never came (`has_final_push` false) the warehouse cannot know them, and comparisons
expect its talk, duration and cost unknown (null) and its wait flagged partial.
`journey_root_call_id` is the oldest leg of the call's transfer chain (the call itself when it
was never transferred); `transfer_id_sent_by` says which leg carried `call_transfer_id`.
`pushes_sent` counts deliveries (retried duplicates included, HTTP retries not),
`duplicates_sent` the identical re-sends, `late_pushes` the start pushes first delivered after the
call's final push, and `push_ids` the receiver's ids from the 200 responses.

For the reconciliation with the report API (simulator/report.py): `in_report` says the vendor's
report_02 lists the call (every voice leg, once it has ended), `report_rows` how many rows it has
(2 for a call the voice bot repeats). With the delivery results: `final_push_acknowledged` (a
final push of the call got a 200), `pushes_lost_in_outage` (sent while the receiver was down and
never acknowledged), `final_push_lost_in_outage` (its final push was among them, and no copy got
through), `transfer_link_lost_in_outage` (for a transfer leg: the outage took the push that links
it to the previous leg, so the pushes alone split the journey there). What the warehouse
should say once the report is reconciled: `reconciled_outcome`, `reconciled_wait_seconds`,
`reconciled_talk_seconds` (the simulated ones for every call in the report; for a call outside
it, what its pushes gave; null when unknown or the call is absent), and `final_state_sources`,
the values `fct_calls.final_state_source` may take (`["pushes", "both"]` when the final push was
acknowledged, `["report"]` when only the report has the final state; `["pushes"]` outside the
report; empty when the warehouse has no final state for the call).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from simulator.model import Leg, SimulatedDay, billed_seconds
from simulator.pushes import RenderedDay, warehouse_outcome
from simulator.report import in_report, voice_bot_legs
from simulator.sender import DeliveryResult


def truth_records(
    day: SimulatedDay, rendered: RenderedDay, results: Sequence[DeliveryResult] | None
) -> list[dict[str, object]]:
    pushes_by_leg: dict[int, list[int]] = {index: [] for index in range(len(day.legs))}
    for push_index, push in enumerate(rendered.pushes):
        pushes_by_leg[push.leg_index].append(push_index)
    voice_bot = voice_bot_legs(day)
    index_of_leg = {id(leg): index for index, leg in enumerate(day.legs)}
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
            "outcome": warehouse_outcome(leg) if has_final else "incomplete",
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
            "in_report": in_report(leg),
            "report_rows": (1 + (leg_index in voice_bot)) if in_report(leg) else 0,
        }
        if results is not None:
            own_results = [results[i] for i in pushes_by_leg[leg_index]]
            record["pushes_acknowledged"] = sum(1 for r in own_results if r.acknowledged)
            record["push_ids"] = [r.push_id for r in own_results if r.acknowledged]
            finals = [r for push, r in zip(own, own_results, strict=True) if push.is_final]
            final_acknowledged = any(r.acknowledged for r in finals)
            record["final_push_acknowledged"] = final_acknowledged
            record["pushes_lost_in_outage"] = sum(1 for r in own_results if r.lost_in_outage)
            record["final_push_lost_in_outage"] = not final_acknowledged and any(
                r.lost_in_outage for r in finals
            )
            record["transfer_link_lost_in_outage"] = _link_lost_in_outage(
                leg, leg_index, index_of_leg, rendered, pushes_by_leg, results
            )
            record |= _reconciled(record, leg)
        records.append(record)
    return records


def _link_lost_in_outage(
    leg: Leg,
    leg_index: int,
    index_of_leg: dict[int, int],
    rendered: RenderedDay,
    pushes_by_leg: dict[int, list[int]],
    results: Sequence[DeliveryResult],
) -> bool | None:
    """Whether the outage took every copy of the push linking a transfer leg to the previous leg
    (pushes.py: the older leg's `transfer` push names the newer, or the newer leg's final push
    names the older); None for a leg that is no transfer leg."""
    if leg.transferred_from is None:
        return None
    if rendered.transfer_forward[leg_index]:
        carrier, stage = index_of_leg[id(leg.transferred_from)], "transfer"
    else:
        carrier, stage = leg_index, "final"
    carried = [results[i] for i in pushes_by_leg[carrier] if rendered.pushes[i].stage == stage]
    return not any(r.acknowledged for r in carried) and any(r.lost_in_outage for r in carried)


def _reconciled(record: dict[str, object], leg: Leg) -> dict[str, object]:
    final_acknowledged = bool(record["final_push_acknowledged"])
    if record["in_report"]:
        sources = ["pushes", "both"] if final_acknowledged else ["report"]
        outcome, wait, talk = warehouse_outcome(leg), leg.wait_seconds, leg.talk_seconds
    elif final_acknowledged:
        sources = ["pushes"]
        outcome, wait, talk = warehouse_outcome(leg), leg.wait_seconds, leg.talk_seconds
    else:
        sources, wait, talk = [], None, None
        outcome = "incomplete" if record["pushes_acknowledged"] else None
    return {
        "reconciled_outcome": outcome,
        "reconciled_wait_seconds": wait,
        "reconciled_talk_seconds": talk,
        "final_state_sources": sources,
    }


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
