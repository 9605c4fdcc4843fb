"""The receiver down for a window of the simulated day: what is lost, against a real `pbx55
serve`, what the truth says of it, and how the comparison reads the warehouse afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest

from pbx55.receiver_process import running_receiver
from simulator import Outage, SimulationConfig, plan_day, read_truth, run_simulation
from simulator.compare import (
    CONTRACT_OUTCOME,
    compare_calls,
    compare_journeys,
    expected_in_warehouse,
    expected_journeys,
    expected_values,
)
from simulator.model import Leg, SimulatedDay
from simulator.pushes import RenderedDay, warehouse_outcome
from simulator.sender import NOT_SENT, OUTAGE_ATTEMPTS, DeliveryResult
from simulator.truth import truth_records
from tests.ingest.receiver_harness import landed_records

DAY = date(2026, 11, 18)  # a Wednesday
CONFIG = SimulationConfig(day=DAY, calls=200, seed=2)  # a day with every kind of loss
OUTAGE = Outage.parse("10:00-10:40")
PBX55 = str(Path(sys.executable).with_name("pbx55"))


def test_outage_windows_are_read_in_local_time():
    assert Outage.parse("09:00-09:30") == Outage(9 * 3600, 9.5 * 3600)
    over_midnight = Outage.parse("23:30-00:15")
    assert (over_midnight.start_s, over_midnight.end_s) == (84600, 86400 + 900)
    assert str(over_midnight) == "23:30-00:15"
    assert over_midnight.covers(86400 + 60) and not over_midnight.covers(60)
    for bad in ("9-10", "24:00-01:00", "10:60-11:00", "10:00"):
        with pytest.raises(ValueError, match="HH:MM-HH:MM"):
            Outage.parse(bad)


def _losses(rendered: RenderedDay, outage: Outage) -> tuple[Counter, set[int], set[int]]:
    """From the pushes alone: per leg, how many fall in the window; the legs whose every push,
    and those whose every final push, does."""
    in_window: Counter = Counter()
    pushes_by_leg: dict[int, list] = defaultdict(list)
    for push in rendered.pushes:
        pushes_by_leg[push.leg_index].append(push)
        in_window[push.leg_index] += outage.covers(push.send_at)
    every_push = {leg for leg, pushes in pushes_by_leg.items() if in_window[leg] == len(pushes)}
    finals = {
        leg
        for leg, pushes in pushes_by_leg.items()
        if any(p.is_final for p in pushes)
        and all(outage.covers(p.send_at) for p in pushes if p.is_final)
    }
    return in_window, every_push, finals


def _check_truth_names_exactly_the_losses(report, outage: Outage) -> None:
    in_window, every_push, finals = _losses(report.rendered, outage)
    truth = report.truth
    assert [r["pushes_lost_in_outage"] for r in truth] == [in_window[i] for i in range(len(truth))]
    assert {i for i, r in enumerate(truth) if r["pushes_acknowledged"] == 0} == every_push
    assert {i for i, r in enumerate(truth) if r["final_push_lost_in_outage"]} == finals
    partly = {i for i in in_window if in_window[i]} - every_push
    assert every_push and finals - every_push and partly  # every kind of loss happened
    summary = report.summary()
    assert f"outage {outage} (receiver down): {report.lost_in_outage} pushes lost" in summary
    assert f"{len(every_push)} calls with no push acknowledged" in summary


def test_the_receiver_taken_down_loses_the_windows_pushes_and_nothing_else(settings):
    pids = []
    with running_receiver(settings.as_environment()) as receiver:

        def take_down() -> None:
            pids.append(receiver.process.pid)
            receiver.stop()

        def bring_up() -> None:
            receiver.start()
            pids.append(receiver.process.pid)

        report = run_simulation(
            CONFIG,
            url=receiver.push_url,
            token=settings.tokens[0],
            outage=OUTAGE,
            take_down=take_down,
            bring_up=bring_up,
            concurrency=8,
            progress=False,
        )
    assert len(set(pids)) == 2  # really stopped, and started again
    results = report.delivery.results
    for push, result in zip(report.rendered.pushes, results, strict=True):
        if OUTAGE.covers(push.send_at):
            # tried, refused by a closed port, given up after the platform's few retries
            assert result.in_outage and not result.acknowledged, push
            assert result.status is None and result.attempts == OUTAGE_ATTEMPTS
        else:
            assert result.acknowledged and not result.in_outage, push
    assert report.rejected == 0
    assert report.lost_in_outage == sum(OUTAGE.covers(p.send_at) for p in report.rendered.pushes)
    landed = [record["push_id"] for record in landed_records(settings.landing_dir)]
    assert sorted(landed) == sorted(r.push_id for r in results if r.acknowledged)
    _check_truth_names_exactly_the_losses(report, OUTAGE)


def test_without_callbacks_the_windows_pushes_are_not_sent(settings):
    with running_receiver(settings.as_environment()) as receiver:
        report = run_simulation(
            CONFIG,
            url=receiver.push_url,
            token=settings.tokens[0],
            outage=OUTAGE,
            concurrency=8,
            progress=False,
        )
    for push, result in zip(report.rendered.pushes, report.delivery.results, strict=True):
        if OUTAGE.covers(push.send_at):
            assert result.attempts == 0 and result.error == NOT_SENT and result.lost_in_outage
        else:
            assert result.acknowledged
    assert report.delivery.status_counts["not sent"] == report.lost_in_outage > 0
    landed = {record["push_id"] for record in landed_records(settings.landing_dir)}
    assert landed == {r.push_id for r in report.delivery.results if r.acknowledged}
    _check_truth_names_exactly_the_losses(report, OUTAGE)


def test_pbx55_simulate_with_an_outage(env, tmp_path):
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PBX55_")}
    truth_path = tmp_path / "truth.jsonl"
    with running_receiver(env) as receiver:
        sent = subprocess.run(
            [
                PBX55, "simulate", "--url", receiver.push_url, "--calls", "60", "--seed", "7",
                "--day", str(DAY), "--outage", "09:00-11:00", "--truth", str(truth_path),
                "--no-progress",
            ],
            env=inherited | env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert sent.returncode == 0, sent.stderr  # what the outage took is no refusal
    assert "outage 09:00-11:00 (receiver down)" in sent.stdout
    assert sum(record["pushes_lost_in_outage"] for record in read_truth(truth_path)) > 0
    refused = subprocess.run(
        [PBX55, "simulate", "--url", receiver.push_url, "--outage", "9h-10h"],
        env=inherited | env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "an outage is HH:MM-HH:MM, not '9h-10h'" in refused.stderr


# ---- the comparison after an outage, against warehouses built from the model ---------------

LINK_OUTAGE = Outage.parse("10:30-11:30")  # takes a transfer link between two legs it spares


@pytest.fixture(scope="module")
def outage_day() -> tuple[SimulatedDay, RenderedDay, list[DeliveryResult], list[dict]]:
    day, rendered = plan_day(SimulationConfig(day=DAY, calls=800, seed=5))
    results = [
        DeliveryResult(error=NOT_SENT, in_outage=True)
        if LINK_OUTAGE.covers(push.send_at)
        else DeliveryResult(status=200, push_id=f"push-{index}", attempts=1)
        for index, push in enumerate(rendered.pushes)
    ]
    return day, rendered, results, truth_records(day, rendered, results)


def _reconciled_warehouse(day, rendered, results) -> tuple[list[dict], list[dict]]:
    """fct_calls and fct_journeys as a right reconciliation makes them, from the model: every
    voice leg (the report lists them) and every SMS whose push got through."""
    acknowledged: dict[int, list] = defaultdict(list)
    for push, result in zip(rendered.pushes, results, strict=True):
        if result.acknowledged:
            acknowledged[push.leg_index].append(push)
    calls, legs_by_root, costs = [], defaultdict(list), {}
    for index, leg in enumerate(day.legs):
        if leg.kind == "sms" and not acknowledged[index]:
            continue
        final_received = any(push.is_final for push in acknowledged[index])
        source = "pushes" if leg.kind == "sms" else "both" if final_received else "report"
        calls.append(
            {
                "central_id": leg.central.central_id,
                "call_id": leg.call_id,
                "call_kind": leg.kind,
                "outcome": _contract_outcome(leg),
                "started_at": f"{day.local_datetime(leg.started_at):%Y-%m-%d %H:%M:%S}",
                "queue": leg.queue,
                "branch_mask": str(leg.agent.branch_mask) if leg.agent else None,
                "wait_seconds": leg.wait_seconds,
                "talk_seconds": leg.talk_seconds,
                "duration_seconds": leg.duration_seconds,
                "tax_type": leg.tax_type or None,
                "cost": None if source == "report" else float(leg.cost),  # the report has none
                "balance_after": float(leg.balance_after),
                "has_recording": leg.has_recording,
                "caller_ddd": str(leg.customer.ddd) if leg.customer.ddd else None,
                "journey_id": leg.journey_root.call_id,
                "has_final_push": final_received,
                "is_wait_partial": False,  # every call has its final state: pushes or report
                "push_count": sum(not push.is_duplicate for push in acknowledged[index]),
                "late_push_count": sum(push.is_late for push in acknowledged[index]),
                "final_state_source": source,
            }
        )
        legs_by_root[(leg.central.central_id, leg.journey_root.call_id)].append(leg)
        costs[leg.call_id] = calls[-1]["cost"]
    journeys = []
    for (central_id, root), legs in legs_by_root.items():
        last = max(legs, key=lambda leg: (leg.started_at, leg.call_id))
        journeys.append(
            {
                "central_id": central_id,
                "journey_id": root,
                "legs": len(legs),
                "transfers": len(legs) - 1,
                "final_outcome": _contract_outcome(last),
                "is_answered": last.outcome == "answered",
                "total_wait_seconds": sum(leg.wait_seconds for leg in legs),
                "total_talk_seconds": sum(leg.talk_seconds for leg in legs),
                "total_cost": (
                    None
                    if any(costs[leg.call_id] is None for leg in legs)
                    else float(sum(leg.cost for leg in legs))
                ),
            }
        )
    return calls, journeys


def _contract_outcome(leg: Leg) -> str:
    outcome = warehouse_outcome(leg)
    return CONTRACT_OUTCOME.get(outcome, outcome)


def test_reconciled_comparison_wants_every_reported_call_with_its_source(outage_day):
    day, rendered, results, truth = outage_day
    calls, journeys = _reconciled_warehouse(day, rendered, results)
    comparison = compare_calls(truth, calls, reconciled=True)
    assert comparison.agrees, comparison.report()
    assert compare_journeys(truth, journeys, reconciled=True) == []
    # the lost SMS are rightly absent, and that is said
    lost_sms = [r for r in truth if r["kind"] == "sms" and not r["pushes_acknowledged"]]
    assert lost_sms and comparison.calls_expected_absent == len(lost_sms)
    assert f"{len(lost_sms)} calls are rightly absent" in comparison.report()

    only_in_report = next(
        row for row in calls if row["final_state_source"] == "report" and row["push_count"] == 0
    )
    final_from_report = next(
        row for row in calls if row["final_state_source"] == "report" and row["push_count"]
    )
    without = [row for row in calls if row is not only_in_report]
    missing = compare_calls(truth, without, reconciled=True)
    assert missing.missing_in_warehouse == [
        (only_in_report["central_id"], only_in_report["call_id"])
    ]
    final_from_report["final_state_source"] = "pushes"
    wrong_source = compare_calls(truth, calls, reconciled=True)
    assert list(wrong_source.mismatches) == ["final_state_source"]
    final_from_report["final_state_source"] = "report"
    final_from_report["outcome"] = "incomplete"  # the report was not applied to it
    assert list(compare_calls(truth, calls, reconciled=True).mismatches) == ["outcome"]


def test_push_mode_expects_what_the_pushes_alone_can_say(outage_day):
    _, _, _, truth = outage_day
    lost_whole = [r for r in truth if r["pushes_acknowledged"] == 0]
    assert lost_whole
    for record in lost_whole:
        assert not expected_in_warehouse(record)
        assert expected_in_warehouse(record, reconciled=True) == record["in_report"]
    final_lost = [r for r in truth if r["final_push_lost_in_outage"] and r["pushes_acknowledged"]]
    assert final_lost
    for record in final_lost:
        assert expected_values(record)["outcome"] == "incomplete"
        assert expected_values(record, grace_elapsed=False)["outcome"] == "in_progress"
        assert "wait_seconds" not in expected_values(record)
        reconciled = expected_values(record, reconciled=True)
        assert reconciled["outcome"] == record["outcome"]  # the final push's, which was lost
        assert reconciled["wait_seconds"] == record["wait_seconds"]
        assert reconciled["final_state_source"] == {"report"}
    # a transfer link the outage took splits the journey, until the report joins it again
    by_call = {(r["central_id"], r["call_id"]): r for r in truth}
    split_legs = [
        r
        for r in truth
        if r["transfer_link_lost_in_outage"]
        and r["pushes_acknowledged"]
        and by_call[(r["central_id"], r["journey_root_call_id"])]["pushes_acknowledged"]
    ]
    assert split_legs
    from_pushes = expected_journeys(truth)
    reconciled_journeys = expected_journeys(truth, reconciled=True)
    for record in split_legs:
        own_root = (record["central_id"], record["call_id"])
        assert own_root in from_pushes and own_root not in reconciled_journeys
        real_root = (record["central_id"], record["journey_root_call_id"])
        assert reconciled_journeys[real_root]["legs"] > from_pushes[real_root]["legs"]
