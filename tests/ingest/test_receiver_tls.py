"""`pbx55 serve` terminating TLS itself (PBX55_TLS_CERT_FILE, PBX55_TLS_KEY_FILE), with a CA made
for the test: pushes land over HTTPS, plain HTTP lands nothing, the token and the limits hold."""

from __future__ import annotations

import http.client
import signal
import ssl
from collections.abc import Callable

import pytest

from foundation.settings import Settings
from tests.ingest.receiver_harness import (
    Receiver,
    connect,
    landed_records,
    read_until_closed,
    request,
)
from tests.ingest.throwaway_ca import ThrowawayCa

PUSH = b'{"central_id": "1000", "call_id": "1716824410.5190", "call_status": "new_call"}'


@pytest.fixture
def https_receiver(start_receiver: Callable[..., Receiver], throwaway_ca: ThrowawayCa) -> Receiver:
    return start_receiver(tls=throwaway_ca.client_context(), **throwaway_ca.server_env())


def test_a_client_trusting_the_ca_lands_a_push_over_https(
    https_receiver: Receiver, settings: Settings
) -> None:
    answer = https_receiver.push(PUSH)
    assert answer.status == 200
    (record,) = landed_records(settings.landing_dir)
    assert record["push_id"] == answer.json()["push_id"]
    assert "listening on https://127.0.0.1:" in https_receiver.log_text()
    assert "scheme=https" in https_receiver.log_text()


def test_the_token_is_still_required_over_https(
    https_receiver: Receiver, settings: Settings
) -> None:
    assert https_receiver.push(PUSH, token="").status == 401
    assert https_receiver.push(PUSH, token="a-wrong-token-of-enough-length").status == 401
    assert landed_records(settings.landing_dir) == []


def test_a_client_that_does_not_trust_the_certificate_sends_nothing(
    https_receiver: Receiver, settings: Settings
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        request(https_receiver.port, "POST", "/pushes", PUSH, tls=ssl.create_default_context())
    assert landed_records(settings.landing_dir) == []


def test_plain_http_to_the_https_port_lands_nothing(
    https_receiver: Receiver, settings: Settings
) -> None:
    with connect(https_receiver.port) as sock:
        sock.sendall(
            b"POST /pushes HTTP/1.1\r\nhost: x\r\ntoken: "
            + https_receiver.token.encode()
            + b"\r\ncontent-length: %d\r\n\r\n" % len(PUSH)
            + PUSH
        )
        answer = read_until_closed(sock)
    assert b"200" not in answer and b"Success" not in answer
    assert landed_records(settings.landing_dir) == []
    assert https_receiver.push(PUSH).status == 200  # and HTTPS still works after it


def test_the_limits_apply_inside_tls(
    start_receiver: Callable[..., Receiver], throwaway_ca: ThrowawayCa
) -> None:
    receiver = start_receiver(
        tls=throwaway_ca.client_context(),
        PBX55_HEADER_TIMEOUT_S="1",
        PBX55_MAX_HEADER_BYTES="2048",
        PBX55_MAX_BODY_BYTES="1024",
        **throwaway_ca.server_env(),
    )
    assert receiver.push(PUSH, headers={"x-padding": "a" * 4096}).status == 431
    assert receiver.push(b'{"a": "' + b"b" * 2000 + b'"}').status == 413
    # A connection that never begins its handshake is closed by the head time-out (1 s here),
    # not held for uvloop's default of 60 s, which the read below would not outlast.
    with connect(receiver.port, timeout_s=15) as sock:
        assert sock.recv(1) == b""  # closed; a time-out would raise
    assert receiver.metric('pbx55_requests_rejected_total{reason="header_too_large"}') == 1
    assert receiver.metric('pbx55_requests_rejected_total{reason="too_large"}') == 1


def test_an_idle_https_client_does_not_hold_up_a_stop(
    https_receiver: Receiver, settings: Settings, throwaway_ca: ThrowawayCa
) -> None:
    # A keep-alive client that stays connected and never answers the TLS close: the stop waits
    # for its close_notify a moment, not the 30 s in-flight requests get.
    idle = http.client.HTTPSConnection(
        "127.0.0.1", https_receiver.port, context=throwaway_ca.client_context()
    )
    idle.request("POST", "/pushes", PUSH, {"token": https_receiver.token})
    assert idle.getresponse().read().startswith(b'{"status":"Success"')
    assert https_receiver.process is not None
    https_receiver.process.send_signal(signal.SIGTERM)
    assert https_receiver.process.wait(timeout=20) == 0
    idle.close()
    assert len(landed_records(settings.landing_dir)) == 1
