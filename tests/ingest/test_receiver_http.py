"""The receiver's HTTP contract (docs/contracts.md) against a real `pbx55 serve` process."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from foundation.landing.envelope import ENVELOPE_FIELDS
from foundation.landing.layout import QUARANTINE_GLOB
from foundation.landing.parsing import parse_push_body
from foundation.settings import Settings
from ingest.auth import token_label
from tests.ingest.receiver_harness import (
    VENDOR_EXAMPLE,
    Receiver,
    eventually,
    landed_records,
    request,
)
from tests.landing_files import open_files, sealed_files

PUSH = b'{"central_id": "1000", "call_id": "1716824410.5190", "call_status": "new_call"}'
PUSH_ID = re.compile(r"[0-9a-f]{16}-[a-z0-9]{8}-[0-9a-f]{8}")
RECEIVED_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


@pytest.mark.usefixtures("within_one_hour")
def test_landed_envelope_follows_the_contract(receiver: Receiver, settings: Settings) -> None:
    response = receiver.push(PUSH, headers={"Content-Type": "application/json"})
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    push_id = response.json()["push_id"]
    assert response.json() == {"status": "Success", "push_id": push_id}
    assert PUSH_ID.fullmatch(push_id)

    (record,) = landed_records(settings.landing_dir)
    assert list(record) == [
        "push_id",
        "received_at",
        "receiver_id",
        "method",
        "path",
        "auth",
        "parse",
        "body_sha256",
        "body",
    ]
    assert record["push_id"] == push_id
    assert RECEIVED_AT.fullmatch(record["received_at"])
    assert push_id.split("-")[1] == record["receiver_id"]
    assert (record["method"], record["path"], record["parse"]) == ("POST", "/pushes", "json")
    assert record["auth"] == token_label(0, receiver.token)
    assert record["body_sha256"] == hashlib.sha256(PUSH).hexdigest()
    assert record["body"] == json.loads(PUSH)

    # Partitioned by receive time in UTC, written by this receiver, still open while it runs.
    (open_file,) = open_files(settings.pushes_dir)
    date, hour = record["received_at"][:10], record["received_at"][11:13]
    assert open_file.parent.relative_to(settings.pushes_dir).parts == (
        f"date={date}",
        f"hour={hour}",
    )
    assert re.fullmatch(rf"{record['receiver_id']}-[0-9a-f]{{8}}\.jsonl\.open", open_file.name)
    assert receiver.token.encode() not in open_file.read_bytes()


def test_vendor_document_body_lands_leniently(receiver: Receiver, settings: Settings) -> None:
    assert receiver.push(VENDOR_EXAMPLE, method="PUT", path="/").status == 200
    (record,) = landed_records(settings.landing_dir)
    assert (record["method"], record["path"], record["parse"]) == ("PUT", "/", "lenient")
    assert record["body"]["call_date"] == "2012-05-01 12:30:00"
    assert record["raw_body"] == VENDOR_EXAMPLE.decode()
    # Every key the loader reads (ENVELOPE_FIELDS), in the order it declares them.
    assert list(record) == list(ENVELOPE_FIELDS)


def test_one_element_array_and_form_bodies(receiver: Receiver, settings: Settings) -> None:
    assert receiver.push(b'[{"call_id": "1479477009.5199"}]').status == 200
    form = b"central_id=1000&call_id=1479477009.5199&call_time=11"
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    assert receiver.push(form, headers=form_type).status == 200
    array_record, form_record = landed_records(settings.landing_dir)
    assert (array_record["parse"], array_record["body"]) == (
        "lenient",
        {"call_id": "1479477009.5199"},
    )
    assert form_record["parse"] == "form"
    assert form_record["body"] == {
        "central_id": "1000",
        "call_id": "1479477009.5199",
        "call_time": "11",
    }
    assert form_record["raw_body"] == form.decode()


def test_call_id_sent_as_a_number_survives_through_raw_body(
    receiver: Receiver, settings: Settings
) -> None:
    assert receiver.push(b'{"call_id": 1716824410.5190, "branch_mask": 5000}').status == 200
    (record,) = landed_records(settings.landing_dir)
    assert record["parse"] == "json"
    assert record["body"]["call_id"] == 1716824410.519  # what a float makes of it
    exact = parse_push_body(record["raw_body"].encode(), None, numbers_as_text=True).body
    assert exact["call_id"] == "1716824410.5190"


def test_scalars_land_exactly_as_sent_and_nothing_is_dropped(
    receiver: Receiver, settings: Settings
) -> None:
    raw = json.dumps(
        {
            "central_id": 1000,
            "branch_mask": "5000",
            "call_id": "1716824410.5190",
            "call_date": "26/11/2026 14:07:23",
            "call_time": "0:03:25",
            "call_duration": None,
            "call_time_waiting": "",
            "call_tax": "0,58",
            "call_cost": 0.58,
            "call_document": "12.ABC.345/0001-67",
            "branch_email": "agente@example.com.br",
            "a_field_nobody_announced": {"nested": [1, "two", None]},
        }
    ).encode()
    assert receiver.push(raw).status == 200
    (record,) = landed_records(settings.landing_dir)
    assert record["body"] == json.loads(raw)
    assert record["parse"] == "json"
    assert "raw_body" not in record  # nothing in it could lose digits


def test_token_header_in_any_case_bearer_and_rotation(
    start_receiver: Callable[..., Receiver], settings: Settings
) -> None:
    old_token = settings.tokens[0]
    receiver = start_receiver(PBX55_TOKENS=f"{old_token},second-token-for-rotation")
    for name in ("token", "Token", "TOKEN"):
        assert request(receiver.port, "POST", "/pushes", PUSH, {name: old_token}).status == 200
    bearer = {"Authorization": "Bearer second-token-for-rotation"}
    assert request(receiver.port, "POST", "/pushes", PUSH, bearer).status == 200
    lower_bearer = {"authorization": f"bearer {old_token}"}
    assert request(receiver.port, "POST", "/pushes", PUSH, lower_bearer).status == 200
    labels = [record["auth"] for record in landed_records(settings.landing_dir)]
    first, second = token_label(0, old_token), token_label(1, "second-token-for-rotation")
    assert labels == [first, first, first, second, first]


def test_wrong_or_missing_token_lands_nothing(receiver: Receiver, settings: Settings) -> None:
    attempts = [
        {"token": "wrong"},
        {"token": ""},
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {receiver.token}"},
        {"token": receiver.token[:-1]},
    ]
    for headers in attempts:
        response = request(receiver.port, "POST", "/pushes", PUSH, headers)
        assert response.status == 401
        assert response.json()["status"] == "Error"
    # Not even a body that would be quarantined.
    assert request(receiver.port, "POST", "/pushes", b"[1, 2]", {"token": "wrong"}).status == 401
    assert receiver.terminate() == 0
    assert list(settings.landing_dir.rglob("*.json*")) == []
    assert receiver.log_text().count("401:") == 1, "a burst of 401s is summarised, not echoed"


def test_unauthorized_attempts_are_counted(receiver: Receiver) -> None:
    request(receiver.port, "POST", "/pushes", PUSH, {"token": "wrong"})
    metrics = request(receiver.port, "GET", "/metrics").body.decode()
    assert 'pbx55_requests_rejected_total{reason="unauthorized"} 1' in metrics


def test_duplicates_are_all_landed(receiver: Receiver, settings: Settings) -> None:
    push_ids = [receiver.push(PUSH).json()["push_id"] for _ in range(3)]
    records = landed_records(settings.landing_dir)
    assert [record["push_id"] for record in records] == push_ids
    assert len(set(push_ids)) == 3
    assert {record["body_sha256"] for record in records} == {hashlib.sha256(PUSH).hexdigest()}


def test_other_methods_and_paths(receiver: Receiver) -> None:
    for path in ("/pushes", "/"):
        for method in ("GET", "DELETE", "PATCH"):
            response = request(receiver.port, method, path, headers={"token": receiver.token})
            assert response.status == 405
            assert response.headers["allow"] == "POST, PUT"
            assert response.json()["status"] == "Error"
    assert request(receiver.port, "POST", "/healthz").headers["allow"] == "GET, HEAD"
    unknown = request(receiver.port, "POST", "/pushes/x", PUSH, {"token": receiver.token})
    assert unknown.status == 404


def test_oversized_bodies_are_refused(
    start_receiver: Callable[..., Receiver], settings: Settings
) -> None:
    receiver = start_receiver(PBX55_MAX_BODY_BYTES="1024")
    big = b'{"call_ura": "' + b"x" * 2000 + b'"}'
    headers = {"token": receiver.token}
    declared = request(receiver.port, "POST", "/pushes", big, headers)
    assert (declared.status, declared.json()["status"]) == (413, "Error")
    # Without a Content-Length the receiver counts the streamed bytes.
    streamed = request(receiver.port, "POST", "/pushes", big, headers, chunked=True)
    assert streamed.status == 413
    small = request(receiver.port, "POST", "/pushes", PUSH, headers, chunked=True)
    assert small.status == 200
    assert len(landed_records(settings.landing_dir)) == 1


def test_empty_body_is_400_and_keeps_nothing(receiver: Receiver, settings: Settings) -> None:
    for body in (b"", b"  \n"):
        response = receiver.push(body)
        assert response.status == 400
        assert response.json() == {"status": "Error", "reason": "empty body"}
    assert list(settings.landing_dir.rglob("*.json*")) == []


def test_body_that_is_not_an_object_is_quarantined(receiver: Receiver, settings: Settings) -> None:
    bodies = [b"[1, 2]", b"not json at all", b'"just a string"']
    for body in bodies:
        response = receiver.push(body)
        assert response.status == 400
        assert response.json()["status"] == "Error"
    assert landed_records(settings.landing_dir) == []
    kept = sorted(settings.quarantine_dir.glob(QUARANTINE_GLOB))
    records = [json.loads(path.read_text()) for path in kept]
    assert sorted(record["raw_body"] for record in records) == sorted(b.decode() for b in bodies)
    # Kept under the UTC date it was received (docs/contracts.md): the layout, spelled out.
    assert all(
        path.parent.name == f"date={record['received_at'][:10]}" and path.suffix == ".json"
        for record, path in zip(records, kept, strict=True)
    )
    assert all(receiver.token not in path.read_text() for path in kept)


def test_probes_and_metrics(receiver: Receiver) -> None:
    assert request(receiver.port, "GET", "/healthz").status == 200
    assert request(receiver.port, "GET", "/readyz").status == 200
    receiver.push(PUSH)
    receiver.push(b"a=1")
    receiver.push(b"[1]")
    receiver.push(b"")
    request(receiver.port, "DELETE", "/pushes")
    metrics = request(receiver.port, "GET", "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.body.decode()
    for expected in (
        'pbx55_pushes_accepted_total{parse="json"} 1',
        'pbx55_pushes_accepted_total{parse="form"} 1',
        'pbx55_requests_rejected_total{reason="not_an_object"} 1',
        'pbx55_requests_rejected_total{reason="empty_body"} 1',
        'pbx55_requests_rejected_total{reason="method_not_allowed"} 1',
        "pbx55_quarantined_total 1",
        'pbx55_request_duration_seconds_bucket{le="+Inf"} 5',
        "pbx55_request_duration_seconds_count 5",
    ):
        assert expected in text
    batches = re.search(r"^pbx55_fsync_batches_total (\d+)$", text, re.MULTILINE)
    assert batches is not None and 1 <= int(batches[1]) <= 2


def test_logs_never_hold_a_token_or_a_body(receiver: Receiver) -> None:
    secret_body = b'{"call_number": "21987654321", "call_document": "12345678909"}'
    receiver.push(secret_body)
    receiver.push(secret_body, token="a-wrong-token-guess")
    receiver.push(b'["21987654321"]')
    request(receiver.port, "POST", "/%1B[31mred", secret_body, {"token": "x"})
    assert receiver.terminate() == 0
    log = receiver.log_text()
    for secret in (receiver.token, "a-wrong-token-guess", "21987654321", "12345678909", "\x1b"):
        assert secret not in log


def test_refuses_to_start_without_a_token(
    start_receiver: Callable[..., Receiver], settings: Settings
) -> None:
    try:
        start_receiver(PBX55_TOKENS="")
    except RuntimeError as error:
        assert "PBX55_TOKENS" in str(error)
    else:
        raise AssertionError("the receiver started without a token")
    insecure = start_receiver("--insecure-no-auth", PBX55_TOKENS="")
    assert request(insecure.port, "POST", "/pushes", PUSH).status == 200
    assert [record["auth"] for record in landed_records(settings.landing_dir)] == ["none"]


@pytest.mark.usefixtures("within_one_hour")
def test_sigterm_seals_open_files(receiver: Receiver, settings: Settings) -> None:
    for _ in range(5):
        assert receiver.push(PUSH).status == 200
    assert open_files(settings.pushes_dir)
    assert receiver.terminate() == 0
    assert open_files(settings.pushes_dir) == []
    (sealed,) = sealed_files(settings.pushes_dir)
    assert len(sealed.read_bytes().splitlines()) == 5


@pytest.mark.usefixtures("within_one_hour")
def test_files_are_sealed_on_size_and_on_age(
    start_receiver: Callable[..., Receiver], settings: Settings
) -> None:
    by_size = start_receiver(PBX55_SEAL_MAX_BYTES="1500", PBX55_SEAL_MAX_AGE_S="3600")
    for _ in range(20):
        assert by_size.push(PUSH).status == 200
    sealed = sealed_files(settings.pushes_dir)
    line_size = len(sealed[0].read_bytes().splitlines(keepends=True)[0])
    assert len(sealed) >= 3
    assert all(1500 <= path.stat().st_size < 1500 + line_size for path in sealed)
    assert by_size.terminate() == 0

    by_age = start_receiver(PBX55_SEAL_MAX_AGE_S="0.2")
    assert by_age.push(PUSH).status == 200
    receiver_id = landed_records(settings.landing_dir)[-1]["receiver_id"]
    assert eventually(
        lambda: (
            not [
                path
                for path in open_files(settings.pushes_dir)
                if path.name.startswith(receiver_id)
            ]
        )
    )
    assert len(landed_records(settings.landing_dir)) == 21


def test_concurrent_clients_each_push_lands_exactly_once(
    receiver: Receiver, settings: Settings
) -> None:
    def client(number: int) -> list[str]:
        push_ids = []
        for sequence in range(40):
            body = json.dumps({"call_id": f"{number}.{sequence}"}).encode()
            response = receiver.push(body)
            assert response.status == 200
            push_ids.append(response.json()["push_id"])
        return push_ids

    with ThreadPoolExecutor(max_workers=16) as pool:
        acked = [push_id for push_ids in pool.map(client, range(16)) for push_id in push_ids]
    landed = [record["push_id"] for record in landed_records(settings.landing_dir)]
    assert sorted(landed) == sorted(acked)
    assert len(set(landed)) == 16 * 40
    assert sorted(
        record["body"]["call_id"] for record in landed_records(settings.landing_dir)
    ) == sorted(f"{n}.{s}" for n in range(16) for s in range(40))
