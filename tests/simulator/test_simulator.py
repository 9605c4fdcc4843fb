"""The simulator without a receiver: determinism, lifecycle, types as sent, costs, delivery."""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from aiohttp import web

from foundation.landing.parsing import parse_push_body
from simulator import SimulationConfig, plan_day
from simulator.model import billed_seconds, call_cost, tariff_class
from simulator.pushes import START_STAGES, Push
from simulator.sender import deliver
from simulator.truth import truth_records

DAY = date(2026, 11, 18)  # a Wednesday
CONFIG = SimulationConfig(day=DAY, calls=1500, seed=7)
ID_AS_NUMBER_WITH_TRAILING_ZERO = re.compile(rb'"call_id"\s*:\s*\d+\.\d*0[\s,}]')
FINISHED_STATUSES = {
    "call_attended",
    "call_abandoned",
    "call_retained_ura",
    "call_refused",
    "NOANSWER",
}


@pytest.fixture(scope="module")
def planned():
    day, rendered = plan_day(CONFIG)
    return day, rendered, truth_records(day, rendered, None)


def _body(push: Push) -> dict:
    return parse_push_body(push.body, push.content_type, numbers_as_text=True).body


def _seconds(value: object) -> int:
    text = str(value)
    if ":" in text:
        hours, minutes, seconds = (int(part) for part in text.split(":"))
        return hours * 3600 + minutes * 60 + seconds
    return int(text)


def _money(value: object) -> Decimal:
    return Decimal(str(value).replace(",", "."))


def test_same_seed_same_day_and_another_seed_another_day(planned):
    _, rendered, truth = planned
    again_day, again_rendered = plan_day(CONFIG)
    assert [p.body for p in again_rendered.pushes] == [p.body for p in rendered.pushes]
    assert truth_records(again_day, again_rendered, None) == truth
    _, other = plan_day(SimulationConfig(day=DAY, calls=1500, seed=8))
    assert [p.body for p in other.pushes] != [p.body for p in rendered.pushes]


def test_the_mix_has_every_case_field_notes_lists(planned):
    _, rendered, truth = planned
    outcomes = Counter((record["kind"], record["outcome"]) for record in truth)
    for expected in [
        ("inbound", "answered"),
        ("inbound", "abandoned_queue"),
        ("inbound", "abandoned_ivr"),
        ("inbound", "retained_ivr"),
        ("inbound", "incomplete"),
        ("outbound", "answered"),
        ("outbound", "not_answered"),
        ("sms", "sms"),
    ]:
        assert outcomes[expected] > 0, expected
    pushes = rendered.pushes
    assert {p.encoding for p in pushes} == {
        "json", "isodate", "trailing_comma", "extra_brace", "vendor_example", "array", "form",
    }  # fmt: skip
    assert sum(p.is_duplicate for p in pushes) > 0
    assert sum(p.is_late for p in pushes) > 0
    assert {record["tax_type"] for record in truth} >= {"LOCAL", "VC1", "VC2", "VC3", "LDN", "SMS"}
    # ids whose trailing zero a JSON number would drop are sometimes sent as JSON numbers
    assert any(ID_AS_NUMBER_WITH_TRAILING_ZERO.search(p.body) for p in pushes)


def test_every_push_parses_and_names_its_call(planned):
    day, rendered, _ = planned
    for push in rendered.pushes:
        body = _body(push)
        leg = day.legs[push.leg_index]
        assert body["call_id"] == leg.call_id
        assert str(body["central_id"]) == leg.central.central_id


def test_lifecycle_follows_field_notes(planned):
    day, rendered, _ = planned
    stages_by_leg: dict[int, list[str]] = defaultdict(list)
    for push in rendered.pushes:
        if push.is_duplicate or push.is_late:
            continue
        stages_by_leg[push.leg_index].append(push.stage)
        body = _body(push)
        if push.stage in START_STAGES:
            assert _seconds(body["call_time"]) == 0 and _seconds(body["call_duration"]) == 0
        if push.stage == "ivr":
            assert body["call_queue"] == "" and body["call_status"] == "new_call"
        if push.stage == "waiting":
            assert body["call_queue"] and body["call_status"] == "call_waiting"
        if push.stage == "ring":
            assert (
                body["branch_mask"] and body["branch_email"] and body["call_status"] == "new_call"
            )
        if push.stage in ("final", "transfer"):
            assert (
                _seconds(body["call_time"]) > 0
                or body["call_url_audio"]
                or body["call_disconnection"]
                or body["call_status"] in FINISHED_STATUSES
            ), "a final push must be recognisable by its content"
    for index, leg in enumerate(day.legs):
        stages = stages_by_leg[index]
        if leg.kind == "sms":
            assert stages == ["sms"]
            continue
        expected = ["dial"] if leg.kind == "outbound" else []
        if leg.kind == "inbound":
            expected += [] if leg.transferred_from else ["ivr"]
            expected += ["waiting"] if leg.queue else []
            expected += ["ring"] if leg.agent else []
        if not leg.final_push_lost:
            expected.append("final")
            if leg.transferred_to and rendered.transfer_forward[index]:
                expected.append("transfer")
        late = [p.stage for p in rendered.pushes if p.leg_index == index and p.is_late]
        assert [s for s in expected if s not in late] == stages


def test_late_pushes_come_after_the_final_and_duplicates_are_identical(planned):
    _, rendered, _ = planned
    first_final: dict[int, float] = {}
    originals = {(p.leg_index, p.stage): p for p in rendered.pushes if not p.is_duplicate}
    for push in rendered.pushes:
        if push.is_final:
            first_final.setdefault(push.leg_index, push.send_at)
    for push in rendered.pushes:
        if push.is_late:
            assert push.stage in ("waiting", "ring") and push.send_at > first_final[push.leg_index]
        if push.is_duplicate:
            original = originals[(push.leg_index, push.stage)]
            assert (push.body, push.method, push.content_type) == (
                original.body,
                original.method,
                original.content_type,
            )


def test_transfers_make_chains_of_two_and_three_named_in_both_directions(planned):
    day, rendered, truth = planned
    by_id = {(r["central_id"], r["call_id"]): r for r in truth}
    journeys = Counter((r["central_id"], r["journey_root_call_id"]) for r in truth)
    assert {2, 3} <= set(journeys.values())
    assert {r["transfer_id_sent_by"] for r in truth} == {None, "older_leg", "newer_leg"}
    links = set()
    for push in rendered.pushes:
        named = _body(push).get("call_transfer_id")
        if named:
            leg = day.legs[push.leg_index]
            links.add(frozenset({leg.call_id, named}))
            other = by_id[(leg.central.central_id, named)]
            assert (
                other["journey_root_call_id"]
                == by_id[(leg.central.central_id, leg.call_id)]["journey_root_call_id"]
            )
    transfer_legs = [r for r in truth if r["transferred_from_call_id"]]
    assert len(links) == len(transfer_legs)


def test_billing_follows_anatel_steps_and_costs_match_the_pushes(planned):
    assert [billed_seconds(s) for s in (0, 1, 30, 31, 36, 37, 95)] == [0, 30, 30, 36, 36, 42, 96]
    assert call_cost(31, Decimal("0.58")) == Decimal("0.35")  # 36 s at 0.58/min = 0.348
    assert call_cost(85, Decimal("0.19")) == Decimal("0.29")  # 90 s at 0.19/min = 0.285, half up
    assert call_cost(211, Decimal("0.69")) == Decimal("2.48")  # 216 s at 0.69/min = 2.484
    assert call_cost(0, Decimal("0.69")) == 0
    day, rendered, truth = planned
    outbound = [record for record in truth if record["kind"] == "outbound"]
    assert any(record["talk_seconds"] == 0 for record in outbound)
    assert any(record["talk_seconds"] > 30 for record in outbound)
    per_minute: dict[str, Decimal] = {}
    for record in outbound:
        # The rules themselves, not the simulator's functions: nothing for an unanswered call,
        # else at least 30 s, in 6 s steps, covering the talk time by less than one step.
        talk, billed = record["talk_seconds"], record["billed_seconds"]
        if talk == 0:
            assert billed == 0, record
        else:
            assert billed % 6 == 0 and billed >= 30 and talk <= billed, record
            assert billed == 30 or billed - 6 < talk, record
        # One price per tariff class, and the cost is that price for the billed minutes, in cents.
        rate = Decimal(str(record["tax_per_minute"]))
        assert per_minute.setdefault(record["tax_type"], rate) == rate, record
        cost = Decimal(str(record["cost"]))
        assert cost == cost.quantize(Decimal("0.01"))
        assert abs(cost * 60 - rate * billed) <= Decimal("0.3"), record  # within half a cent
    for push in rendered.pushes:
        if push.stage == "final":
            leg = day.legs[push.leg_index]
            body = _body(push)
            assert _money(body["call_cost"]) == leg.cost
            assert _seconds(body["call_time"]) == leg.talk_seconds
            assert _seconds(body["call_time_waiting"]) == leg.wait_seconds


def test_tariff_classes_follow_the_ddds():
    from simulator.model import Customer

    def customer(ddd: int, mobile: bool) -> Customer:
        return Customer(ddd=ddd, number=f"{ddd}999999999", is_mobile=mobile, document="")

    assert tariff_class(11, customer(11, False)) == "LOCAL"
    assert tariff_class(11, customer(11, True)) == "VC1"
    assert tariff_class(11, customer(19, True)) == "VC2"
    assert tariff_class(21, customer(51, True)) == "VC3"
    assert tariff_class(21, customer(51, False)) == "LDN"


def test_balance_falls_by_each_cost_per_central_in_end_order(planned):
    day, _, _ = planned
    for central in day.centrals:
        legs = sorted(
            (leg for leg in day.legs if leg.central is central),
            key=lambda leg: (leg.ended_at, leg.started_at),
        )
        for before, after in itertools.pairwise(legs):
            assert after.balance_after == before.balance_after - after.cost


def test_busy_day_curve_peaks_in_the_morning_and_the_afternoon(planned):
    day, _, _ = planned
    by_hour = Counter(int(leg.started_at // 3600) for leg in day.legs if leg.kind == "inbound")
    assert sum(by_hour[h] for h in (9, 10, 11)) > 10 * sum(by_hour[h] for h in (2, 3, 4))
    lunch = max(by_hour[12], by_hour[13])
    assert by_hour[10] > 1.4 * lunch and by_hour[15] > 1.4 * lunch


def test_the_floor_routes_to_staffed_queues_and_agents_keep_their_breaks(planned):
    day, rendered, _ = planned
    inbound = [leg for leg in day.legs if leg.kind == "inbound"]
    for leg in inbound:
        if leg.queue:
            skilled = [a for a in leg.central.inbound_agents if leg.queue in a.queues]
            assert any(a.on_shift(leg.queue_entered_at) for a in skilled), leg
        if leg.overflowed_from:
            assert leg.queue != leg.overflowed_from
    assert any(leg.overflowed_from for leg in inbound)
    # Closed hours and self-service are retained in the IVR, without a queue or an agent.
    retained = [leg for leg in inbound if leg.retained_in_ivr]
    assert {leg.closed_ivr for leg in retained} == {True, False}
    assert all(leg.queue is None and leg.agent is None for leg in retained)
    finals = [p for p in rendered.pushes if p.stage == "final" and not p.is_duplicate]
    for push in finals:
        if day.legs[push.leg_index].retained_in_ivr:
            assert _body(push)["call_status"] == "call_retained_ura"
    # About a fifth of queue abandons are short (under 5 s), as kpis.md counts them.
    abandons = [leg for leg in inbound if leg.outcome == "abandoned_queue"]
    assert 0.1 < sum(leg.wait_seconds < 5 for leg in abandons) / len(abandons) < 0.35
    # Agents take every rostered break whole, inside the shift, and answer nothing meanwhile.
    agents = [a for central in day.centrals for a in central.inbound_agents]
    assert all(len(a.breaks) == 3 for a in agents)
    assert any(a.breaks_taken for a in agents)
    for agent in agents:
        rostered = agent.breaks[: len(agent.breaks_taken)]  # the later ones fell due unseen
        for (start, end), (planned_at, length) in zip(agent.breaks_taken, rostered, strict=True):
            assert start >= planned_at and end - start == length
            assert agent.shift_start < start and end < agent.shift_end
    for leg in day.legs:
        if leg.agent is not None and leg.kind == "inbound":
            rang_at = leg.queue_entered_at + leg.wait_seconds - leg.ring_seconds
            assert not any(s < rang_at < e - 1 for s, e in leg.agent.breaks_taken), leg


def test_agents_sometimes_hang_up_first_and_the_push_says_interno(planned):
    day, rendered, _ = planned
    sides: Counter = Counter()
    for push in rendered.pushes:
        if push.stage != "final":
            continue
        leg = day.legs[push.leg_index]
        disconnection = _body(push)["call_disconnection"]
        if disconnection:
            expected = "interno" if leg.hung_up_by == "agent" else "externo"
            assert disconnection == expected, leg
        if leg.outcome == "answered":
            sides[leg.hung_up_by] += 1
        else:
            assert leg.hung_up_by == "caller"
    assert 0.05 < sides["agent"] / (sides["agent"] + sides["caller"]) < 0.3


@pytest.fixture
def flaky_receiver() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A loopback aiohttp app: every first attempt of a body gets 503, then 200 with a push id."""
    received: list[tuple[str, bytes]] = []
    seen: set[bytes] = set()
    ready = threading.Event()
    state: dict[str, object] = {}

    async def pushes(request: web.Request) -> web.Response:
        body = await request.read()
        token = request.headers.get("token") or request.headers.get("Authorization", "")
        if body not in seen:
            seen.add(body)
            return web.json_response({"status": "unavailable"}, status=503)
        received.append((token, body))
        return web.json_response({"status": "Success", "push_id": f"p{len(received)}"})

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://192.0.2.1/elsewhere")

    def run() -> None:
        loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_route("*", "/pushes", pushes)
        app.router.add_route("*", "/moved", redirect)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        state["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        state["loop"] = loop
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    yield f"http://127.0.0.1:{state['port']}", received
    loop = state["loop"]
    loop.call_soon_threadsafe(loop.stop)  # type: ignore[attr-defined]
    thread.join(10)


def test_delivery_retries_until_acknowledged_and_keeps_each_call_in_order(flaky_receiver):
    base_url, received = flaky_receiver
    _, rendered = plan_day(SimulationConfig(day=DAY, calls=60, seed=3))
    report = deliver(f"{base_url}/pushes", "s3cret", rendered.pushes, concurrency=8, progress=False)
    assert all(result.acknowledged and result.push_id for result in report.results)
    assert report.retries >= len({p.body for p in rendered.pushes})
    assert {token.removeprefix("Bearer ") for token, _ in received} == {"s3cret"}
    sent_order = defaultdict(list)
    for push in rendered.pushes:
        sent_order[push.leg_index].append(push.body)
    leg_of = {push.body: push.leg_index for push in rendered.pushes}
    received_order = defaultdict(list)
    for _, body in received:
        received_order[leg_of[body]].append(body)
    assert received_order == sent_order


def test_delivery_never_follows_a_redirect(flaky_receiver):
    base_url, _ = flaky_receiver
    _, rendered = plan_day(SimulationConfig(day=DAY, calls=5, seed=3))
    report = deliver(f"{base_url}/moved", "s3cret", rendered.pushes[:3], progress=False)
    assert {result.status for result in report.results} == {302}
    assert not any(result.acknowledged for result in report.results)
