"""Bodies no parser copes with, and requests that are not pushes, against a real receiver.

Whatever a client sends, the answer is never a 500: a body that cannot be parsed is answered 400
with the reason, kept in quarantine and counted, so a sender retrying on 5xx does not retry it
forever.
"""

from __future__ import annotations

import json
import threading

import pytest
import uvicorn

from foundation.landing.envelope import raw_text
from foundation.landing.layout import QUARANTINE_GLOB
from foundation.landing.parsing import MAX_NESTING_DEPTH
from foundation.settings import Settings
from ingest.app import ReceiverApp
from ingest.auth import TokenAuth
from ingest.landing_writer import LandingWriter
from ingest.metrics import ReceiverMetrics
from tests.ingest.receiver_harness import (
    Receiver,
    connect,
    eventually,
    free_port,
    landed_records,
    read_until_closed,
    request,
)
from tests.landing_files import open_files

PUSH = b'{"central_id": "1000", "call_id": "1716824410.5190", "call_status": "new_call"}'


def test_a_401_closes_the_connection(receiver: Receiver) -> None:
    refused = request(receiver.port, "POST", "/pushes", PUSH, {"token": "not-the-token"})
    assert (refused.status, refused.headers["connection"]) == (401, "close")


def test_deep_nesting_is_400_quarantined_and_counted(
    receiver: Receiver, settings: Settings
) -> None:
    bodies = [
        b"[" * 1000 + b"]" * 1000,
        b'{"a":' * 1000 + b"1" + b"}" * 1000,
        b'{"call_id": "1", "x": ' + b"[" * 40 + b"]" * 40 + b"}",
    ]
    for body in bodies:
        response = receiver.push(body)
        assert response.status == 400
        reason = f"body nested deeper than {MAX_NESTING_DEPTH} levels"
        assert response.json() == {"status": "Error", "reason": reason}
    kept = [json.loads(path.read_text()) for path in settings.quarantine_dir.glob(QUARANTINE_GLOB)]
    assert sorted(record["raw_body"] for record in kept) == sorted(b.decode() for b in bodies)
    assert {record["reason"] for record in kept} == {reason}
    # Nesting up to the limit is fine.
    fits = b'{"a":' * (MAX_NESTING_DEPTH - 1) + b"1" + b"}" * (MAX_NESTING_DEPTH - 1)
    assert receiver.push(fits).status == 200
    assert receiver.metric('pbx55_requests_rejected_total{reason="nested_too_deep"}') == 3
    assert receiver.metric("pbx55_quarantined_total") == 3
    assert receiver.terminate() == 0
    assert "Traceback" not in receiver.log_text()


@pytest.mark.usefixtures("within_one_hour")
def test_a_number_no_double_holds_lands_as_valid_json(
    receiver: Receiver, settings: Settings
) -> None:
    assert receiver.push(b'{"call_id": "1", "call_cost": 1e999}').status == 200
    (path,) = open_files(settings.pushes_dir)

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} in a landed line")

    record = json.loads(path.read_text(), parse_constant=no_constants)
    assert record["body"]["call_cost"] == "1e999"
    assert record["raw_body"] == '{"call_id": "1", "call_cost": 1e999}'


def test_binary_bodies_with_equals_signs_are_not_form_data(
    receiver: Receiver, settings: Settings
) -> None:
    garbage = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR=\x00\x10&key=\xff\xfe\x01"
    plain = receiver.push(garbage)
    assert plain.status == 400
    assert plain.json()["reason"] == "body is not JSON or form data"
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    labelled = receiver.push(garbage, headers=form_type)
    assert labelled.status == 400
    assert labelled.json()["reason"] == "form body holds control characters (binary data?)"
    assert landed_records(settings.landing_dir) == []
    kept = [json.loads(path.read_text()) for path in settings.quarantine_dir.glob(QUARANTINE_GLOB)]
    assert [record["raw_body"] for record in kept] == [raw_text(garbage)] * 2
    assert receiver.metric('pbx55_requests_rejected_total{reason="form_not_text"}') == 1
    # Printable form data still lands, with or without the content type.
    assert receiver.push(b"central_id=1000&call_id=1.2&call_ura=Op%C3%A7%C3%A3o").status == 200
    assert receiver.push(b"central_id=1000&call_queue=", headers=form_type).status == 200


def test_the_app_closes_a_websocket_scope_before_accepting(settings: Settings) -> None:
    """Under a server that does speak WebSocket (stock uvicorn), the app refuses: 403, not 500."""
    pytest.importorskip("websockets")
    metrics = ReceiverMetrics()
    app = ReceiverApp(
        writer=LandingWriter(
            settings.pushes_dir,
            receiver_id="wsprobe0",
            seal_max_bytes=settings.seal_max_bytes,
            seal_max_age_s=settings.seal_max_age_s,
            metrics=metrics,
        ),
        auth=TokenAuth(settings.tokens, insecure_no_auth=False),
        metrics=metrics,
        quarantine_dir=settings.quarantine_dir,
        max_body_bytes=settings.max_body_bytes,
    )
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws="auto", lifespan="on", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        assert eventually(lambda: server.started or not thread.is_alive())
        with connect(port) as sock:
            sock.sendall(
                b"GET /pushes HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 403 "), answer[:80]
        assert metrics.rejected_by_reason["upgrade_refused"] == 1
    finally:
        server.should_exit = True
        thread.join(timeout=30)
