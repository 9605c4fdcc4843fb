"""The receiver's access log (one line per request, never a token or a body) and the client
address it names: the socket peer, or the forwarded one from PBX55_TRUSTED_PROXIES only."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import threading
from collections.abc import Callable

from ingest.server import LoopFlushedStreamHandler
from tests.ingest.receiver_harness import Receiver, request

BODY_MARKER = "caller-5511987654321"
PUSH = b'{"central_id": "1000", "call_id": "1.1", "call_number": "' + BODY_MARKER.encode() + b'"}'
FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}


def access_lines(receiver: Receiver) -> list[str]:
    return [line for line in receiver.log_text().splitlines() if " ingest.access: " in line]


def test_every_request_gets_one_access_line_without_token_or_body(receiver: Receiver) -> None:
    token = receiver.token
    assert receiver.push(PUSH, path=f"/pushes?token={token}&x=1").status == 200
    assert receiver.push(PUSH, token="").status == 401
    assert receiver.push(b"not json at all " + BODY_MARKER.encode()).status == 400
    assert receiver.push(PUSH, path=f"/hooks/{token}").status == 404
    assert request(receiver.port, "GET", "/healthz").status == 200
    receiver.terminate()  # every line is written

    lines = access_lines(receiver)
    assert len(lines) == 5 + 1  # and the harness's start-up probe of /healthz
    pushed, unauthorized, quarantined, unknown, probe = (
        line.split(": ", 1)[1] for line in lines[1:]
    )
    assert re.fullmatch(
        rf"POST /pushes 200 ok body={len(PUSH)}B \d+\.\dms client=127\.0\.0\.1 scheme=http", pushed
    )
    assert unauthorized.startswith("POST /pushes 401 unauthorized body=0B ")
    assert quarantined.startswith("POST /pushes 400 not_an_object body=")
    assert unknown.startswith("POST /hooks/<token> 404 not_found ")
    assert probe.startswith("GET /healthz 200 ok body=0B ")

    log = receiver.log_text()
    assert token not in log
    assert BODY_MARKER not in log
    assert "x=1" not in log  # no query string at all


def test_forwarded_client_is_trusted_only_from_the_configured_proxies(
    start_receiver: Callable[..., Receiver],
) -> None:
    # Loopback is a whole /8 on Linux: the "proxy" connects from 127.0.0.2, anyone else from
    # 127.0.0.1, both to the same receiver.
    receiver = start_receiver(PBX55_TRUSTED_PROXIES="127.0.0.2")
    assert receiver.push(PUSH, headers=FORWARDED, source_address="127.0.0.2").status == 200
    assert receiver.push(PUSH, headers=FORWARDED, source_address="127.0.0.1").status == 200
    receiver.terminate()
    from_proxy, from_elsewhere = access_lines(receiver)[-2:]
    assert from_proxy.endswith(" client=203.0.113.7 scheme=https")
    assert from_elsewhere.endswith(" client=127.0.0.1 scheme=http")
    assert "forwarding headers trusted from 127.0.0.2" in receiver.log_text()


def test_forwarding_headers_are_ignored_by_default(receiver: Receiver) -> None:
    # Not even from loopback, which uvicorn would trust by default: anything on the machine
    # can connect from there.
    assert receiver.push(PUSH, headers=FORWARDED).status == 200
    receiver.terminate()
    assert access_lines(receiver)[-1].endswith(" client=127.0.0.1 scheme=http")


def test_log_lines_of_one_loop_iteration_leave_in_one_write() -> None:
    writes: list[bytes] = []

    class Recording(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data: bytes) -> int:  # type: ignore[override]
            writes.append(bytes(data))
            return len(data)

    async def log_three_lines() -> None:
        handler = LoopFlushedStreamHandler(
            io.TextIOWrapper(io.BufferedWriter(Recording())), asyncio.get_running_loop()
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
        for n in range(3):
            handler.handle(logging.makeLogRecord({"msg": f"line {n}"}))
        assert writes == []  # still this iteration
        await asyncio.sleep(0)
        assert writes == [b"line 0\nline 1\nline 2\n"]
        other = threading.Thread(target=handler.handle, args=(logging.makeLogRecord({"msg": "x"}),))
        other.start()
        other.join()
        assert writes[-1] == b"x\n"  # off the loop's thread: at once

    asyncio.run(log_three_lines())
