"""Crashes: kill -9 in the middle of concurrent pushes, and start-up recovery of open files."""

from __future__ import annotations

import datetime as dt
import fcntl
import http.client
import json
import os
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from foundation.landing.envelope import PushIds
from foundation.landing.layout import hour_bucket_at, sealed_path
from foundation.settings import Settings
from tests.ingest.receiver_harness import (
    Receiver,
    eventually,
    landed_records,
    request,
)
from tests.landing_files import epoch_us, landed_line, open_files, write_landing_file

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
    assert open_files(settings.pushes_dir) == []


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
    assert open_files(settings.pushes_dir), "killed with a file open"

    second = start_receiver()  # recovery runs before it answers
    assert open_files(settings.pushes_dir) == []
    after = second.push(b'{"call_id": "after-restart"}')
    assert after.status == 200
    assert second.terminate() == 0
    _assert_each_acked_push_landed_once(settings, [*stream.acked, after.json()["push_id"]])


# A crashed receiver's open files, in the partition of an hour long gone.
CRASHED_AT = dt.datetime(2026, 11, 26, 16, 5, tzinfo=dt.UTC)


def _envelopes(count: int) -> list[bytes]:
    """`count` landed lines of a receiver that crashed, the same on every call."""
    ids = PushIds("crashed1")
    return [
        landed_line(ids, {"call_id": str(number)}, received_us=epoch_us(CRASHED_AT) + number)
        for number in range(1, count + 1)
    ]


def _open_file(settings: Settings, receiver_id: str, content: bytes) -> Path:
    """The first open file of `receiver_id`, as a receiver killed while writing it left it."""
    bucket = hour_bucket_at(CRASHED_AT)
    return write_landing_file(settings.pushes_dir, bucket, receiver_id, 1, content, sealed=False)


def test_start_up_seals_what_a_crash_left_dropping_only_the_torn_tail(
    start_receiver: Callable[..., Receiver], settings: Settings
) -> None:
    one, two, three, four = _envelopes(4)
    torn = _open_file(settings, "aaaaaaaa", one + two + b'{"pu')
    garbage = _open_file(settings, "bbbbbbbb", three + b"\0\0\0\0\n" + b'{"push_id": "p\n')
    whole = _open_file(settings, "cccccccc", four)
    empty = _open_file(settings, "dddddddd", b"")
    only_torn = _open_file(settings, "eeeeeeee", b'{"push_id": "p9", "bo')

    receiver = start_receiver()

    assert sealed_path(torn).read_bytes() == one + two
    assert sealed_path(garbage).read_bytes() == three
    assert sealed_path(whole).read_bytes() == four
    for dropped in (empty, only_torn):
        assert not dropped.exists()
        assert not sealed_path(dropped).exists()
    assert open_files(settings.pushes_dir) == []
    assert receiver.terminate() == 0


def test_start_up_leaves_files_of_a_live_receiver_alone(
    start_receiver: Callable[..., Receiver], settings: Settings
) -> None:
    (line,) = _envelopes(1)
    live = _open_file(settings, "ffffffff", line + b'{"pu')
    fd = os.open(live, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a running receiver holds
        receiver = start_receiver()
        assert receiver.push(b'{"call_id": "1"}').status == 200
        assert live.read_bytes() == line + b'{"pu'
        assert receiver.terminate() == 0
        assert live.exists()
    finally:
        os.close(fd)


@pytest.mark.usefixtures("within_one_hour")
def test_two_receivers_share_a_landing_directory(
    start_receiver: Callable[..., Receiver], settings: Settings
) -> None:
    one, two = start_receiver(), start_receiver()
    for _ in range(3):
        assert one.push(b'{"call_id": "1"}').status == 200
        assert two.push(b'{"call_id": "2"}').status == 200
    still_open = open_files(settings.pushes_dir)
    assert len(still_open) == 2
    assert len({path.name.split("-")[0] for path in still_open}) == 2
    # A restart of one must not seal the other's live file.
    assert one.terminate() == 0
    three = start_receiver()
    assert len(open_files(settings.pushes_dir)) == 1
    for receiver in (two, three):
        assert receiver.terminate() == 0
    assert len(landed_records(settings.landing_dir)) == 6
