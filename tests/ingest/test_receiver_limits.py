"""Resource limits of the receiver (ingest/protocol.py), against a real `pbx55 serve` process.

Every attack here is bounded: loopback only, a fixed number of connections, a fixed number of
bytes, small limits set through the PBX55_* settings. Timings are asserted only as generous
upper bounds.
"""

from __future__ import annotations

import http.client
import re
import resource
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from foundation.settings import Settings
from ingest.protocol import connection_limits
from tests.ingest.receiver_harness import (
    Receiver,
    connect,
    eventually,
    landed_records,
    read_until_closed,
    request,
    status,
)

PUSH = b'{"central_id": "1000", "call_id": "1716824410.5190", "call_status": "new_call"}'
HAS_PROC = Path("/proc/self/status").exists()
GENEROUS_S = 15.0  # upper bound for anything that should take a second or two


def closed_by_receiver(sock: socket.socket) -> bool:
    """Whether the receiver has closed `sock` (EOF or reset waiting), without blocking."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


@contextmanager
def held_connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    sockets = [connect(port) for _ in range(count)]
    try:
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def send_unterminated_head(port: int, offered_bytes: int) -> bytes:
    """Offer `offered_bytes` of one header value that never ends; what the receiver answered."""
    chunk = b"a" * 65536
    with connect(port) as sock:
        try:
            sock.sendall(b"POST /pushes HTTP/1.1\r\nHost: x\r\nX-Big: ")
            for _ in range(offered_bytes // len(chunk)):
                sock.sendall(chunk)
        except OSError:
            pass  # refused and closed: stop sending
        return read_until_closed(sock)


@pytest.mark.skipif(not HAS_PROC, reason="reads the receiver's memory from /proc")
def test_unterminated_heads_are_cut_memory_stays_bounded_and_pushes_go_on(
    start_receiver: Callable[..., Receiver], settings: Settings
) -> None:
    # Before the limits, 50 such connections of 20 MB took the receiver from 33 MB to over 1 GB
    # and a legitimate push to 9 s. Each attacker here offers 8 MB; the receiver reads about
    # 16 KiB of it (plus at most one read), answers 431 and drops the rest.
    attackers, offered = 20, 8 * 1024 * 1024
    receiver = start_receiver()
    assert receiver.push(PUSH).status == 200
    before = receiver.memory_kb()

    with (
        held_connections(receiver.port, 10),  # idle ones, connected all along
        ThreadPoolExecutor(max_workers=attackers) as pool,
    ):
        answers = pool.map(
            lambda _: send_unterminated_head(receiver.port, offered), range(attackers)
        )
        legitimate = [receiver.push(PUSH).status for _ in range(20)]
        answers = list(answers)
    after = receiver.memory_kb()

    assert legitimate == [200] * 20
    growth_mb = (after["VmHWM"] - before["VmRSS"]) / 1024
    assert growth_mb < 30, f"the receiver grew by {growth_mb:.0f} MB under the header flood"
    # Each attacker was refused once; the answer reaches those that read it before a reset.
    assert receiver.metric('pbx55_requests_rejected_total{reason="header_too_large"}') == attackers
    assert any(answer.startswith(b"HTTP/1.1 431 ") for answer in answers)
    assert len(landed_records(settings.landing_dir)) == 21


def test_head_size_and_header_count_limits(start_receiver: Callable[..., Receiver]) -> None:
    receiver = start_receiver(PBX55_MAX_HEADER_BYTES="4096", PBX55_MAX_HEADERS="20")
    assert receiver.push(PUSH, headers={"x-fits": "a" * 3000}).status == 200
    too_large = receiver.push(PUSH, headers={"x-big": "a" * 5000})
    assert too_large.status == 431
    assert too_large.json() == {"status": "Error", "reason": "request head over 4096 bytes"}
    assert too_large.headers["connection"] == "close"
    # A legitimate client with a big head still reads its 431 (the receiver lingers before it
    # closes instead of resetting the connection under the client's feet).
    assert receiver.push(PUSH, headers={"x-big": "a" * 500_000}).status == 431

    assert receiver.push(PUSH, headers={f"x-h{n}": "v" for n in range(15)}).status == 200
    too_many = receiver.push(PUSH, headers={f"x-h{n}": "v" for n in range(30)})
    assert too_many.status == 431
    assert too_many.json()["reason"] == "more than 20 request headers"
    assert receiver.metric('pbx55_requests_rejected_total{reason="header_too_large"}') == 2
    assert receiver.metric('pbx55_requests_rejected_total{reason="too_many_headers"}') == 1


def test_slow_heads_get_408_and_idle_connections_are_closed(
    start_receiver: Callable[..., Receiver],
) -> None:
    receiver = start_receiver(PBX55_HEADER_TIMEOUT_S="1", PBX55_IDLE_TIMEOUT_S="1")
    # Keep-alive still works: two pushes on one connection.
    connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=GENEROUS_S)
    for _ in range(2):
        connection.request("POST", "/pushes", PUSH, {"token": receiver.token})
        response = connection.getresponse()
        assert (response.status, response.getheader("connection")) == (200, None)
        response.read()
    connection.close()

    started = time.monotonic()
    with held_connections(receiver.port, 5) as idle, connect(receiver.port) as drip:
        # A head that trickles in, one header line every 0.2 s: the deadline counts from its
        # first byte, so the trickle does not extend it.
        drip.sendall(b"POST /pushes HTTP/1.1\r\n")
        drip.settimeout(0.2)
        answer = b""
        while time.monotonic() - started < GENEROUS_S and not answer:
            try:
                drip.sendall(b"x-slow: 1\r\n")
                answer = drip.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b'"reason":"request head not complete within 1 s"' in answer
        assert b"connection: close" in answer
        # The connections that never sent a byte are closed without an answer.
        for sock in idle:
            sock.settimeout(GENEROUS_S)
            assert read_until_closed(sock) == b""
    with connect(receiver.port) as blank_lines:
        # Empty lines between requests are skipped by the parser; they do not make a
        # connection less idle.
        blank_lines.settimeout(0.2)
        while time.monotonic() - started < GENEROUS_S:
            try:
                blank_lines.sendall(b"\r\n")
                if blank_lines.recv(1) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        else:
            raise AssertionError("a connection sending only empty lines was kept open")
    assert time.monotonic() - started < GENEROUS_S
    assert receiver.metric('pbx55_requests_rejected_total{reason="header_timeout"}') == 1
    assert receiver.metric('pbx55_connections_closed_total{reason="idle"}') >= 6
    assert receiver.push(PUSH).status == 200


def test_what_is_not_http_gets_400(receiver: Receiver, settings: Settings) -> None:
    with connect(receiver.port) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not HTTP at all\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert answer.endswith(b'{"status":"Error","reason":"invalid HTTP request"}')
    # Broken chunked framing in the middle of a body is answered at once, not at the time-out.
    started = time.monotonic()
    with connect(receiver.port) as sock:
        head = f"POST /pushes HTTP/1.1\r\nHost: x\r\ntoken: {receiver.token}\r\n"
        sock.sendall(head.encode() + b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n')
        time.sleep(0.2)  # let the app start reading the body
        sock.sendall(b"not-a-chunk-size\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert time.monotonic() - started < GENEROUS_S
    assert landed_records(settings.landing_dir) == []
    assert receiver.metric('pbx55_requests_rejected_total{reason="invalid_http"}') == 2
    assert receiver.push(PUSH).status == 200


def test_a_body_that_does_not_arrive_gets_408(
    start_receiver: Callable[..., Receiver], settings: Settings
) -> None:
    receiver = start_receiver(PBX55_BODY_TIMEOUT_S="0.5")
    with connect(receiver.port) as sock:
        head = f"POST /pushes HTTP/1.1\r\nHost: x\r\ntoken: {receiver.token}\r\n"
        sock.sendall(head.encode() + b"Content-Length: 100\r\n\r\n" + PUSH[:10])
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"reason":"body not complete within 0.5 s"' in answer
    assert landed_records(settings.landing_dir) == []
    assert receiver.metric('pbx55_requests_rejected_total{reason="body_timeout"}') == 1


def test_connection_limit_answers_503_with_retry_after(
    start_receiver: Callable[..., Receiver], settings: Settings
) -> None:
    receiver = start_receiver(PBX55_MAX_CONNECTIONS="4", PBX55_IDLE_TIMEOUT_S="30")
    served, cap = connection_limits(4, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    assert (served, cap) == (4, 20)
    with held_connections(receiver.port, 4) as held:
        refused = receiver.push(PUSH)
        assert refused.status == 503
        assert refused.headers["retry-after"] == "30"
        assert refused.headers["connection"] == "close"
        assert refused.json() == {"status": "Error", "reason": "too many connections, retry later"}
        # Beyond the cap there is no answer at all: the connection is closed on accept.
        with (
            held_connections(receiver.port, cap - len(held)),
            pytest.raises((OSError, http.client.HTTPException)),
        ):
            receiver.push(PUSH)
    assert eventually(lambda: status(lambda: receiver.push(PUSH)) == 200)
    assert receiver.metric('pbx55_requests_rejected_total{reason="connection_limit"}') >= 1
    assert receiver.metric('pbx55_connections_closed_total{reason="over_capacity"}') >= 1
    assert len(landed_records(settings.landing_dir)) == 1


@pytest.mark.skipif(not HAS_PROC, reason="reads the receiver's limits from /proc")
def test_open_file_limit_is_raised_and_connections_stay_below_it(
    start_receiver: Callable[..., Receiver],
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 700 or (hard != resource.RLIM_INFINITY and hard < 300):
        pytest.skip(f"needs 700 open files here and a hard limit of 300 (have {soft}/{hard})")
    receiver = start_receiver(open_files=(200, 300), PBX55_IDLE_TIMEOUT_S="30")
    assert receiver.process is not None
    limits = Path(f"/proc/{receiver.process.pid}/limits").read_text()
    assert re.search(r"^Max open files\s+300\s+300\s", limits, re.MULTILINE)
    served, cap = connection_limits(1000, 300)
    log = receiver.log_text()
    assert "raised the soft open-file limit from 200 to 300" in log
    assert f"PBX55_MAX_CONNECTIONS=1000 lowered to {served}" in log

    # More connections than the receiver has files: the ones past the cap are closed at once,
    # so it never runs out of files for its own work.
    with held_connections(receiver.port, 300) as held:
        assert eventually(lambda: sum(closed_by_receiver(sock) for sock in held) == 300 - cap)
    assert eventually(lambda: status(lambda: request(receiver.port, "GET", "/readyz")) == 200)
    assert receiver.push(PUSH).status == 200
    assert receiver.metric('pbx55_connections_closed_total{reason="over_capacity"}') == 300 - cap


def test_websocket_upgrade_is_refused_cleanly(receiver: Receiver, settings: Settings) -> None:
    upgrade = {
        "token": receiver.token,
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    for method, body in (("GET", None), ("POST", PUSH)):
        refused = request(receiver.port, method, "/pushes", body, upgrade)
        assert refused.status == 400
        assert refused.json() == {
            "status": "Error",
            "reason": "protocol upgrades are not supported",
        }
        assert refused.headers["connection"] == "close"
    assert receiver.push(PUSH).status == 200
    assert len(landed_records(settings.landing_dir)) == 1
    assert receiver.metric('pbx55_requests_rejected_total{reason="upgrade_refused"}') == 2
    assert receiver.terminate() == 0
    assert "Traceback" not in receiver.log_text()
    assert "Unsupported upgrade" not in receiver.log_text()  # uvicorn's two lines per request
