"""Crashes: kill -9 in the middle of concurrent pushes, and start-up recovery of open files."""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from foundation.settings import Settings
from tests.ingest.receiver_harness import (
    Receiver,
    eventually,
    landed_records,
    landing_files,
    request,
)

CLIENTS = 12
ACKS_BEFORE_KILL = 400


class PushStream:
    """Client threads pushing until the receiver goes away, recording every acknowledged push."""

    def __init__(self, receiver: Receiver, clients: int = CLIENTS) -> None:
        self.receiver = receiver
        self.acked: list[str] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._push, args=(n,)) for n in range(clients)]
        for thread in self._threads:
            thread.start()

    def _push(self, number: int) -> None:
        headers = {"token": self.receiver.token}
        sequence = 0
        while True:
            body = json.dumps({"call_id": f"{number}.{sequence}", "call_status": "new_call"})
            try:
                response = request(self.receiver.port, "POST", "/pushes", body.encode(), headers)
            except (OSError, http.client.HTTPException):
                return  # the receiver is gone: this push was never acknowledged
            if response.status == 200:
                with self._lock:
                    self.acked.append(response.json()["push_id"])
            elif response.status == 503:
                return  # shutting down: refused, not acknowledged
            sequence += 1

    def wait_for(self, acks: int) -> None:
        assert eventually(lambda: len(self.acked) >= acks, timeout_s=60)

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=60)


def _assert_each_acked_push_landed_once(settings: Settings, acked: list[str]) -> None:
    landed = Counter(record["push_id"] for record in landed_records(settings.landing_dir))
    assert [push_id for push_id in acked if landed[push_id] != 1] == []
    assert max(landed.values()) == 1
    assert landing_files(settings.landing_dir, ".jsonl.open") == []


def test_sigterm_in_a_stream_of_pushes_seals_and_loses_nothing(
    receiver: Receiver, settings: Settings
) -> None:
    stream = PushStream(receiver)
    stream.wait_for(ACKS_BEFORE_KILL)
    assert receiver.terminate() == 0
    stream.join()
    _assert_each_acked_push_landed_once(settings, stream.acked)


def test_kill_9_loses_no_acknowledged_push(
    start_receiver: Callable[..., Receiver], settings: Settings
) -> None:
    first = start_receiver()
    stream = PushStream(first)
    stream.wait_for(ACKS_BEFORE_KILL)
    first.kill()
    stream.join()
    assert landing_files(settings.landing_dir, ".jsonl.open"), "killed with a file open"

    second = start_receiver()  # recovery runs before it answers
    assert landing_files(settings.landing_dir, ".jsonl.open") == []
    after = second.push(b'{"call_id": "after-restart"}')
    assert after.status == 200
    assert second.terminate() == 0
    _assert_each_acked_push_landed_once(settings, [*stream.acked, after.json()["push_id"]])


def _envelope(number: int) -> bytes:
    return json.dumps({"push_id": f"p{number}", "body": {"call_id": str(number)}}).encode() + b"\n"


def _open_file(settings: Settings, name: str, content: bytes) -> Path:
    directory = settings.pushes_dir / "date=2026-11-26" / "hour=16"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(content)
    return path


def test_start_up_seals_what_a_crash_left_dropping_only_the_torn_tail(
    start_receiver: Callable[..., Receiver], settings: Settings
) -> None:
    torn = _open_file(
        settings, "aaaaaaaa-00000001.jsonl.open", _envelope(1) + _envelope(2) + b'{"pu'
    )
    garbage = _open_file(
        settings, "bbbbbbbb-00000001.jsonl.open", _envelope(3) + b"\0\0\0\0\n" + b'{"push_id": "p\n'
    )
    whole = _open_file(settings, "cccccccc-00000001.jsonl.open", _envelope(4))
    empty = _open_file(settings, "dddddddd-00000001.jsonl.open", b"")
    only_torn = _open_file(settings, "eeeeeeee-00000001.jsonl.open", b'{"push_id": "p9", "bo')

    receiver = start_receiver()

    def sealed(path: Path) -> Path:
        return path.with_name(path.name.removesuffix(".open"))

    assert sealed(torn).read_bytes() == _envelope(1) + _envelope(2)
    assert sealed(garbage).read_bytes() == _envelope(3)
    assert sealed(whole).read_bytes() == _envelope(4)
    for dropped in (empty, only_torn):
        assert not dropped.exists()
        assert not sealed(dropped).exists()
    assert landing_files(settings.landing_dir, ".jsonl.open") == []
    assert receiver.terminate() == 0


def test_start_up_leaves_files_of_a_live_receiver_alone(
    start_receiver: Callable[..., Receiver], settings: Settings
) -> None:
    live = _open_file(settings, "ffffffff-00000001.jsonl.open", _envelope(1) + b'{"pu')
    fd = os.open(live, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a running receiver holds
        receiver = start_receiver()
        assert receiver.push(b'{"call_id": "1"}').status == 200
        assert live.read_bytes() == _envelope(1) + b'{"pu'
        assert receiver.terminate() == 0
        assert live.exists()
    finally:
        os.close(fd)


def test_two_receivers_share_a_landing_directory(
    start_receiver: Callable[..., Receiver], settings: Settings
) -> None:
    one, two = start_receiver(), start_receiver()
    for _ in range(3):
        assert one.push(b'{"call_id": "1"}').status == 200
        assert two.push(b'{"call_id": "2"}').status == 200
    open_files = landing_files(settings.landing_dir, ".jsonl.open")
    assert len(open_files) == 2
    assert len({path.name.split("-")[0] for path in open_files}) == 2
    # A restart of one must not seal the other's live file.
    assert one.terminate() == 0
    three = start_receiver()
    assert len(landing_files(settings.landing_dir, ".jsonl.open")) == 1
    for receiver in (two, three):
        assert receiver.terminate() == 0
    assert len(landed_records(settings.landing_dir)) == 6
