"""Storage failures answer 503 and never a false 200; the receiver recovers when storage does."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn

import ingest.landing_writer
from foundation.landing.envelope import now_us
from foundation.landing.layout import PUSHES_DIR, US_PER_HOUR, hour_bucket_of
from foundation.settings import Settings
from ingest.app import ReceiverApp
from ingest.auth import TokenAuth
from ingest.landing_writer import LandingWriter, StorageError
from ingest.metrics import ReceiverMetrics
from ingest.server import uvicorn_config
from tests.ingest.receiver_harness import (
    Receiver,
    free_port,
    landed_records,
    request,
)
from tests.landing_files import open_files, sealed_files

HALF_HOUR_US = US_PER_HOUR // 2


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs, so the disk can really fill up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount_point = tmp_path / "small-fs"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)


def _fill(path: Path) -> None:
    """Write until the filesystem refuses even a small block."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        for block in (64 * 1024, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * block)
            except OSError as error:
                assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_full_disk_answers_503_then_recovers(
    start_receiver: Callable[..., Receiver], small_filesystem: Path, settings: Settings
) -> None:
    landing_dir = small_filesystem / "landing"
    receiver = start_receiver(PBX55_LANDING_DIR=str(landing_dir))
    acked = [receiver.push(b'{"call_id": "before"}').json()["push_id"]]
    filler = small_filesystem / "filler"
    _fill(filler)

    statuses = []
    for number in range(200):
        response = receiver.push(b'{"call_id": "%d", "pad": "%s"}' % (number, b"x" * 900))
        statuses.append(response.status)
        if response.status == 200:  # fitted into the last page the open file already had
            acked.append(response.json()["push_id"])
        else:
            assert response.status == 503
            assert response.json() == {
                "status": "Error",
                "reason": "storage unavailable, retry later",
            }
            break
    assert statuses[-1] == 503
    assert receiver.push(b"[1, 2]").status == 503, "a body that cannot be quarantined is not a 400"
    assert request(receiver.port, "GET", "/readyz").status == 503

    filler.unlink()
    assert request(receiver.port, "GET", "/readyz").status == 200
    after = receiver.push(b'{"call_id": "after"}')
    assert after.status == 200
    acked.append(after.json()["push_id"])
    assert receiver.terminate() == 0

    landed = Counter(record["push_id"] for record in landed_records(landing_dir))
    assert [push_id for push_id in acked if landed[push_id] != 1] == []
    assert sum(landed.values()) == len(acked), "a push answered 503 landed anyway"
    assert open_files(landing_dir / PUSHES_DIR) == []


class FlakyDisk:
    """`os.write` that, when told to fail, writes part of the data and then raises EIO."""

    def __init__(self) -> None:
        self.failing = threading.Event()

    def write(self, fd: int, data: bytes) -> int:
        if self.failing.is_set():
            os.write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.EIO, "injected I/O error")
        return os.write(fd, data)


def _writer(settings: Settings, disk: FlakyDisk, metrics: ReceiverMetrics) -> LandingWriter:
    return LandingWriter(
        settings.pushes_dir,
        receiver_id="flakydsk",
        seal_max_bytes=settings.seal_max_bytes,
        seal_max_age_s=settings.seal_max_age_s,
        metrics=metrics,
        write=disk.write,
    )


def test_io_error_answers_503_and_leaves_no_torn_line(settings: Settings) -> None:
    disk = FlakyDisk()
    metrics = ReceiverMetrics()
    app = ReceiverApp(
        writer=_writer(settings, disk, metrics),
        auth=TokenAuth(settings.tokens, insecure_no_auth=False),
        metrics=metrics,
        quarantine_dir=settings.quarantine_dir,
        max_body_bytes=settings.max_body_bytes,
    )
    port = free_port()
    server = uvicorn.Server(uvicorn_config(app, host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive()
            threading.Event().wait(0.02)
        headers = {"token": settings.tokens[0]}

        def push(call_id: str) -> int:
            body = b'{"call_id": "%s"}' % call_id.encode()
            return request(port, "POST", "/pushes", body, headers).status

        assert push("1") == 200
        disk.failing.set()
        assert push("2") == 503
        assert push("3") == 503
        disk.failing.clear()
        assert push("4") == 200
        metrics_text = request(port, "GET", "/metrics").body.decode()
        assert "pbx55_storage_failures_total 2" in metrics_text
    finally:
        server.should_exit = True
        thread.join(timeout=30)

    records = landed_records(settings.landing_dir)
    assert [record["body"]["call_id"] for record in records] == ["1", "4"]
    assert open_files(settings.pushes_dir) == []


def test_hour_change_seals_the_previous_hour(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The writer's clock stands still in the middle of an hour: a real turn of the hour while
    # the test runs would seal the file the test expects to find open.
    this_hour = hour_bucket_of(now_us())
    monkeypatch.setattr(ingest.landing_writer, "now_us", lambda: (this_hour * 2 + 1) * HALF_HOUR_US)

    async def land_across_an_hour() -> None:
        writer = _writer(settings, FlakyDisk(), ReceiverMetrics())
        await writer.start()
        await writer.land(b'{"n": 1}\n', this_hour - 1)
        await writer.land(b'{"n": 2}\n', this_hour)
        (sealed,) = sealed_files(settings.pushes_dir)
        (still_open,) = open_files(settings.pushes_dir)
        assert sealed.read_bytes() == b'{"n": 1}\n'
        assert sealed.parent != still_open.parent
        await writer.close()
        with pytest.raises(StorageError):
            await writer.land(b'{"n": 3}\n', this_hour)

    asyncio.run(land_across_an_hour())
    assert len(sealed_files(settings.pushes_dir)) == 2
    assert open_files(settings.pushes_dir) == []


def test_a_stalled_disk_fills_a_bounded_backlog_then_refuses(settings: Settings) -> None:
    entered, release = threading.Event(), threading.Event()

    def stalled_write(fd: int, data: bytes) -> int:
        entered.set()
        release.wait(timeout=30)
        return os.write(fd, data)

    line = b'{"call_id": "%d"}\n'

    async def land_while_stalled() -> None:
        writer = LandingWriter(
            settings.pushes_dir,
            receiver_id="stalled1",
            seal_max_bytes=settings.seal_max_bytes,
            seal_max_age_s=settings.seal_max_age_s,
            metrics=ReceiverMetrics(),
            write=stalled_write,
            max_backlog_bytes=2 * len(line % 2) + 5,  # the stuck line and one more
        )
        await writer.start()
        hour = hour_bucket_of(now_us())
        stuck = asyncio.create_task(writer.land(line % 1, hour))
        assert await asyncio.to_thread(entered.wait, 30)
        queued = asyncio.create_task(writer.land(line % 2, hour))
        await asyncio.sleep(0)
        with pytest.raises(StorageError, match="backlog"):
            await writer.land(line % 3, hour)
        release.set()
        await asyncio.gather(stuck, queued)
        await writer.close()

    asyncio.run(land_while_stalled())
    bodies = [record["call_id"] for record in landed_records(settings.landing_dir)]
    assert bodies == ["1", "2"]


def test_pushes_of_one_loop_iteration_share_one_fsync(settings: Settings) -> None:
    line = b'{"call_id": "%d"}\n'
    metrics = ReceiverMetrics()

    async def land_at_once() -> None:
        writer = LandingWriter(
            settings.pushes_dir,
            receiver_id="batched1",
            seal_max_bytes=settings.seal_max_bytes,
            seal_max_age_s=settings.seal_max_age_s,
            metrics=metrics,
        )
        await writer.start()
        hour = hour_bucket_of(now_us())
        await asyncio.gather(*(writer.land(line % n, hour) for n in range(20)))
        await writer.close()

    asyncio.run(land_at_once())
    assert (metrics.fsync_batches, metrics.fsync_batch_pushes) == (1, 20)
    bodies = [record["call_id"] for record in landed_records(settings.landing_dir)]
    assert bodies == [str(n) for n in range(20)]
