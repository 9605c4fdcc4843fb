"""The report API emulator over real HTTP: shapes, auth, status codes, `now`, the voice-bot
duplicates, the vendor's quirks, injected faults, determinism and HTTPS."""

from __future__ import annotations

import json
import re
import ssl
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from urllib.parse import quote

import pytest
import requests

from simulator import SimulationConfig, plan_day
from simulator.model import SAO_PAULO, SHIFT_SECONDS, SimulatedDay
from simulator.report_api import (
    ReportApi,
    local_day_range,
    report_path,
    running_report_api,
    simulated_api_keys,
)
from simulator.truth import truth_records
from tests.ingest.throwaway_ca import make_throwaway_ca

DAY = date(2026, 11, 18)  # a Wednesday
CONFIG = SimulationConfig(day=DAY, calls=900, seed=7)
HMS = re.compile(r"\d+:[0-5]\d:[0-5]\d")
HEX24 = re.compile(r"[0-9a-f]{24}")
TIMEOUT_S = 10


@pytest.fixture(scope="module")
def day() -> SimulatedDay:
    return plan_day(CONFIG)[0]


@pytest.fixture(scope="module")
def keys(day: SimulatedDay) -> dict[str, str]:
    return simulated_api_keys([day])


@pytest.fixture
def api(day: SimulatedDay, keys: dict[str, str]) -> Iterator[ReportApi]:
    with running_report_api([day], keys) as running:
        yield running


def get(api: ReportApi, path: str, key: str | None, timeout: float = TIMEOUT_S):
    headers = {"key": key} if key is not None else {}
    return requests.get(api.base_url + path, headers=headers, timeout=timeout)


def rows_of(api: ReportApi, key: str, report: str = "report_02", day: date = DAY) -> list[dict]:
    answer = get(api, report_path(report, day), key)
    assert answer.status_code == 200, answer.text
    return answer.json()[f"data_{report.replace('_', '')}"]


def seconds(hms: str) -> int:
    hours, minutes, secs = (int(part) for part in hms.split(":"))
    return hours * 3600 + minutes * 60 + secs


def blank(row: dict, name: str) -> bool:
    return row.get(name) in (None, "")


def extension(row: dict) -> str | None:
    value = row.get("Wy_branch_mask_agent")
    if isinstance(value, list):
        assert len(value) == 1
        value = value[0]
    return value or None


def is_voice_bot(row: dict) -> bool:
    return str(row.get("queue_name") or "").endswith("redirecionamento")


def test_report_02_lists_every_voice_leg_with_the_models_values(api, day, keys):
    queue_ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for central in day.centrals:
        legs = {
            leg.call_id: leg
            for leg in day.legs
            if leg.central is central and leg.kind != "sms" and leg.started_at < 86400
        }
        rows = [row for row in rows_of(api, keys[central.central_id]) if not is_voice_bot(row)]
        assert sorted(row["call_id"] for row in rows) == sorted(legs)
        for row in rows:
            leg = legs[row["call_id"]]
            started = day.local_datetime(leg.started_at)
            assert row["call_date"] == f"{started:%Y-%m-%dT%H:%M:%S}.000Z"  # wall time, "Z"
            assert int(row["wb_call_hour"]) == started.hour
            assert row["call_id_origin"] == leg.journey_root.call_id
            expected_type = {
                "answered": {"call_attended"},
                "abandoned_queue": {"call_abandoned"},
                "abandoned_ivr": {"call_retained_ura" if leg.retained_in_ivr else "call_abandoned"},
                "not_answered": {"NOANSWER", "call_refused"},
            }[leg.outcome]
            assert row["type_call"] in expected_type
            for name in ("call_time_URA", "call_time_waiting", "call_time_spoken"):
                assert HMS.fullmatch(row[name]), row[name]
            assert seconds(row["call_time_waiting"]) == leg.wait_seconds
            assert seconds(row["call_time_spoken"]) == leg.talk_seconds
            assert seconds(row["call_time_total_duration"]) == leg.duration_seconds
            assert (row.get("queue_name") or None) == leg.queue
            if leg.queue:
                assert HEX24.fullmatch(row["queue_id"])
                queue_ids[(central.central_id, leg.queue)].add(row["queue_id"])
            assert extension(row) == (str(leg.agent.branch_mask) if leg.agent else None)
            assert (row.get("call_number") or "") == leg.customer.number
            if leg.kind == "inbound":
                assert (row.get("call_document") or "") == leg.customer.document
            if leg.outcome == "answered":
                attended = datetime.fromisoformat(row["wl_time_attended"].removesuffix("Z"))
                assert row["wl_attended_date"] == f"{attended:%Y-%m-%d}"
                assert row["wl_attended_hour"] == f"{attended:%H:%M:%S}"
    # one stable id per queue, and different queues have different ids
    assert all(len(ids) == 1 for ids in queue_ids.values())
    assert len({next(iter(ids)) for ids in queue_ids.values()}) == len(queue_ids)


def test_a_key_sees_only_its_central_and_a_missing_or_unknown_key_gets_401(api, day, keys):
    central_ids = [central.central_id for central in day.centrals]
    assert len(central_ids) == 2
    first = {row["call_id"] for row in rows_of(api, keys[central_ids[0]])}
    second = {row["call_id"] for row in rows_of(api, keys[central_ids[1]])}
    assert first and second and not first & second
    path = report_path("report_02", DAY)
    for key in (None, "not-a-key", keys[central_ids[0]] + "x"):
        answer = get(api, path, key)
        assert answer.status_code == 401
        assert answer.json()["status"] == "error"
    logged = api.requests
    assert [(r.key_sent, r.key_matched, r.status) for r in logged] == [
        (True, True, 200),
        (True, True, 200),
        (False, False, 401),
        (True, False, 401),
        (True, False, 401),
    ]
    assert [r.central_id for r in logged[:2]] == central_ids
    assert all(r.path == path for r in logged)
    for key in keys.values():
        assert key not in repr(logged)


def test_unknown_reports_and_paths_get_404_and_unreadable_dates_400(api, keys):
    key = next(iter(keys.values()))
    good = report_path("report_02", DAY)
    assert get(api, good.replace("report_02", "report_04"), key).status_code == 404
    assert get(api, good.replace("all_queues", "queue_1"), key).status_code == 404
    assert get(api, good.rsplit("/", 1)[0], key).status_code == 404  # no tz
    assert get(api, "/api/pbx/reports", key).status_code == 404
    start, end = (m.isoformat(timespec="milliseconds") for m in local_day_range(DAY))

    def dated(first: str, last: str) -> str:
        return (
            f"/api/pbx/reports/metrics/{quote(first, safe='')}/{quote(last, safe='')}"
            "/all_queues/all_numbers/all_agent/report_02/undefined/undefined/-3"
        )

    assert dated(start, end) == good
    for bad_start, bad_end in [
        ("yesterday", end),
        (start, "2026-13-01T00:00:00.000-03:00"),
        ("Tue Foo 12 2026 00:00:00 GMT-0300", end),
        (end, start),  # the end before the start
    ]:
        answer = get(api, dated(bad_start, bad_end), key)
        assert answer.status_code == 400, (bad_start, bad_end)
        assert answer.json()["status"] == "error"
    for tz in ("minus3", "-300"):
        assert get(api, good.rsplit("/", 1)[0] + f"/{tz}", key).status_code == 400
    assert get(api, dated("2026-11-18T00:00:00", "2026-11-18T23:59:59"), key).status_code == 200
    assert requests.post(api.base_url + good, headers={"key": key}, timeout=5).status_code == 405


def test_both_date_spellings_and_ranges_of_several_days(day, keys):
    next_day = plan_day(SimulationConfig(day=DAY + timedelta(days=1), calls=300, seed=7))[0]
    with running_report_api([day, next_day], keys) as api:
        key = keys[day.centrals[0].central_id]
        iso = get(api, report_path("report_02", DAY), key).json()
        javascript = get(api, report_path("report_02", DAY, js_dates=True), key).json()
        assert iso == javascript
        one_day_ids = {row["call_id"] for row in iso["data_report02"]}
        following = {row["call_id"] for row in rows_of(api, key, day=DAY + timedelta(days=1))}
        assert one_day_ids and following
        two_days = report_path("report_02", DAY).replace(
            quote(local_day_range(DAY)[1].isoformat(timespec="milliseconds"), safe=""),
            quote(local_day_range(DAY + timedelta(days=1))[1].isoformat(), safe=""),
        )
        both = {row["call_id"] for row in get(api, two_days, key).json()["data_report02"]}
        assert both == one_day_ids | following


def test_calls_still_running_at_now_are_absent(api, day, keys):
    central = day.centrals[0]
    key = keys[central.central_id]
    midday = datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=SAO_PAULO)
    api.now = midday
    listed = {row["call_id"] for row in rows_of(api, key)}
    ended = {
        leg.call_id
        for leg in day.legs
        if leg.central is central and leg.kind != "sms" and leg.ended_at <= 12 * 3600
    }
    running = {
        leg.call_id
        for leg in day.legs
        if leg.central is central
        and leg.kind != "sms"
        and leg.started_at < 12 * 3600 < leg.ended_at
    }
    assert listed == ended
    assert running and not running & listed
    agents = rows_of(api, key, "report_03")
    on_shift_by_noon = [
        a for a in central.inbound_agents + central.outbound_agents if a.shift_start < 12 * 3600
    ]
    assert (
        len(agents)
        == len(on_shift_by_noon)
        < len(central.inbound_agents) + len(central.outbound_agents)
    )
    api.now = None
    assert len(rows_of(api, key)) > len(listed)


def test_about_a_third_of_closed_ivr_calls_come_twice_once_from_the_voice_bot(api, day, keys):
    rendered = plan_day(CONFIG)[1]
    doubled_in_truth = {
        r["call_id"] for r in truth_records(day, rendered, None) if r["report_rows"] == 2
    }
    closed = {leg.call_id for leg in day.legs if leg.closed_ivr}
    doubled = set()
    for central in day.centrals:
        rows = rows_of(api, keys[central.central_id])
        by_id = defaultdict(list)
        for row in rows:
            by_id[row["call_id"]].append(row)
        for call_id, pair in by_id.items():
            if len(pair) == 1:
                continue
            doubled.add(call_id)
            retained, bot = pair
            assert retained["type_call"] == "call_retained_ura"
            assert bot["type_call"] == "call_attended"
            assert re.fullmatch(r"\d{4}-URA_redirecionamento", bot["queue_name"])
            assert re.fullmatch(r"\d{10,13}", bot["name"])  # a phone number, not an agent
            assert extension(bot) is None
    assert doubled <= closed
    assert doubled == doubled_in_truth
    assert 0.2 < len(doubled) / len(closed) < 0.5


def test_the_vendors_quirks_are_there(api, day, keys):
    rows = [row for c in day.centrals for row in rows_of(api, keys[c.central_id])]
    assert {type(row["wb_call_hour"]) for row in rows} == {int, str}
    extensions = [row["Wy_branch_mask_agent"] for row in rows if extension(row)]
    assert {type(value) for value in extensions} == {str, list}
    assert {type(row["wx_queue_overflow"]) for row in rows} == {list, str}
    # a blank is "", null or left out
    blanks = Counter(
        "missing" if "call_order" not in row else repr(row["call_order"])
        for row in rows
        if blank(row, "call_order")
    )
    assert set(blanks) == {"''", "None", "missing"}
    assert any("wz_call_tag" in row for row in rows)  # a field nobody documented
    assert any(name.startswith("wh_question_") for row in rows for name in row)
    assert all(row.get("call_url_audio", "") in ("", None) or "55pbx" in row["call_url_audio"]
               for row in rows)  # fmt: skip


def test_report_01_counts_the_rows_voice_bot_rows_included(api, day, keys):
    for central in day.centrals:
        key = keys[central.central_id]
        rows = rows_of(api, key)
        totals = get(api, report_path("report_01", DAY), key).json()
        types = Counter(row["type_call"] for row in rows)
        assert totals["totalCall"] == len(rows)
        assert (
            totals["totalCallAttendedReceptive"] + totals["totalCallAttendedActive"]
            == types["call_attended"]
        )
        assert totals["totalCallRetainedURA"] == types["call_retained_ura"]
        outbound = [leg for leg in day.legs if leg.central is central and leg.kind == "outbound"]
        assert totals["totalCallActive"] == len(outbound)
        bot_rows = sum(is_voice_bot(row) for row in rows)
        answered_inbound = sum(
            1 for leg in day.legs
            if leg.central is central and leg.kind == "inbound" and leg.outcome == "answered"
        )  # fmt: skip
        assert totals["totalCallAttendedReceptive"] == answered_inbound + bot_rows
        for name in ("timeMediumDurationCall", "timeMaxWaitingAttendance", "timeMaxDurationCall"):
            assert HMS.fullmatch(totals[name])
        assert seconds(totals["timeMaxDurationCall"]) == max(
            leg.duration_seconds
            for leg in day.legs
            if leg.central is central and leg.outcome == "answered" and leg.kind != "sms"
        )


def test_report_03_has_each_agents_day(api, day, keys):
    for central in day.centrals:
        agents = {a.branch_mask: a for a in central.inbound_agents + central.outbound_agents}
        rows = rows_of(api, keys[central.central_id], "report_03")
        assert sorted(int(row["Wy_branch_mask_agent"]) for row in rows) == sorted(agents)
        for row in rows:
            agent = agents[int(row["Wy_branch_mask_agent"])]
            answered = [leg for leg in day.legs if leg.agent is agent and leg.outcome == "answered"]
            talk = sum(leg.talk_seconds for leg in answered)
            assert row["name"] == agent.email.split("@")[0]
            assert seconds(row["timeTotalSpoken"]) == talk
            assert seconds(row["timeTotalPaused"]) == 0
            assert seconds(row["timeIdle"]) == max(0, SHIFT_SECONDS - talk)
            assert float(row["productivity"]) == pytest.approx(100 * talk / SHIFT_SECONDS, abs=0.01)
            assert row["attendedReceptive"] == sum(leg.kind == "inbound" for leg in answered)
            assert row["quantityRefusal"] == 0
    productivity_types = {
        type(row["productivity"])
        for central in day.centrals
        for row in rows_of(api, keys[central.central_id], "report_03")
    }
    assert productivity_types == {float, str}


def test_injected_statuses_then_normal_answers(api, keys):
    key = next(iter(keys.values()))
    path = report_path("report_01", DAY)
    api.fail_next(2, 503)
    api.fail_next(1, 500)
    assert [get(api, path, key).status_code for _ in range(4)] == [503, 503, 500, 200]
    api.fail_next(1, 401)
    refused = get(api, path, key)
    assert refused.status_code == 401 and refused.json()["status"] == "error"
    assert [r.status for r in api.requests] == [503, 503, 500, 200, 401]


def test_a_delayed_answer_times_the_client_out(api, keys):
    key = next(iter(keys.values()))
    path = report_path("report_01", DAY)
    api.delay_answers(30, count=1)
    with pytest.raises(requests.Timeout):
        get(api, path, key, timeout=0.5)
    assert get(api, path, key).status_code == 200  # only the next answer was delayed


def test_a_body_that_is_not_json(api, keys):
    key = next(iter(keys.values()))
    path = report_path("report_02", DAY)
    api.answer_not_json()
    broken = get(api, path, key)
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        json.loads(broken.content)
    assert get(api, path, key).json()["data_report02"]


def test_fields_dropped_renamed_or_untypable_in_every_row(api, keys):
    key = next(iter(keys.values()))
    api.drop_field("call_id_origin")
    api.rename_field("call_time_spoken", "call_time_talking")
    api.set_field("call_time_waiting", "abc")
    rows = rows_of(api, key)
    assert rows and all("call_id_origin" not in row for row in rows)
    assert all("call_time_spoken" not in row and HMS.fullmatch(row["call_time_talking"])
               for row in rows)  # fmt: skip
    assert {row["call_time_waiting"] for row in rows} == {"abc"}
    api.rename_field("timeTotalSpoken", "timeSpoken")
    assert all("timeSpoken" in row for row in rows_of(api, key, "report_03"))
    api.clear_faults()
    assert all("call_id_origin" in row for row in rows_of(api, key))


def test_report_01_in_the_three_shapes_pbx55_accepts(api, keys):
    key = next(iter(keys.values()))
    path = report_path("report_01", DAY)
    totals = get(api, path, key).json()
    assert isinstance(totals, dict) and "totalCallProcessedURA" in totals
    api.wrap_report_01("list")
    assert get(api, path, key).json() == [totals]
    api.wrap_report_01("data_report01")
    assert get(api, path, key).json() == {"data_report01": totals}
    with pytest.raises(ValueError):
        api.wrap_report_01("csv")


def test_same_seed_same_answers_another_seed_others(day, keys):
    def answers(simulated: SimulatedDay, central_keys: dict[str, str]) -> list[bytes]:
        with running_report_api([simulated], central_keys) as api:
            return [
                get(api, report_path(report, DAY), key).content
                for key in central_keys.values()
                for report in ("report_01", "report_02", "report_03")
            ]

    again = plan_day(CONFIG)[0]
    assert simulated_api_keys([again]) == keys
    assert answers(again, keys) == answers(day, keys)
    other = plan_day(SimulationConfig(day=DAY, calls=900, seed=8))[0]
    assert answers(other, simulated_api_keys([other])) != answers(day, keys)


def test_https_with_a_certificate_the_client_verifies(tmp_path, day, keys):
    ca = make_throwaway_ca(tmp_path / "ca")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(ca.server_cert, ca.server_key)
    with running_report_api([day], keys, ssl_context=context) as api:
        assert api.base_url.startswith("https://127.0.0.1:")
        url = api.base_url + report_path("report_01", DAY)
        key = next(iter(keys.values()))
        verified = requests.get(url, headers={"key": key}, verify=str(ca.ca_cert), timeout=10)
        assert verified.status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(url, headers={"key": key}, timeout=10)  # the system CAs do not know it
