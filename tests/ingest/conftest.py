"""Fixtures for the ingest tests: real receivers on free ports (see receiver_harness.py)."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.ingest.receiver_harness import Receiver
from tests.ingest.throwaway_ca import ThrowawayCa, make_throwaway_ca


@pytest.fixture
def start_receiver(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Receiver]]:
    """Start receivers sharing the test's data directory; any left running is killed at the end."""
    started: list[Receiver] = []

    def start(
        *args: str,
        open_files: tuple[int, int] | None = None,
        tls: ssl.SSLContext | None = None,
        **extra_env: str,
    ) -> Receiver:
        log_path = tmp_path / f"receiver-{len(started)}.log"
        receiver = Receiver({**env, **extra_env}, log_path, args, open_files, tls)
        started.append(receiver)
        return receiver.start()

    yield start
    for receiver in started:
        if receiver.process is not None and receiver.process.poll() is None:
            receiver.kill()


@pytest.fixture
def receiver(start_receiver: Callable[..., Receiver]) -> Receiver:
    return start_receiver()


# Longer than any test that asks for `within_one_hour` runs.
HOUR_MARGIN_S = 60


@pytest.fixture
def within_one_hour() -> None:
    """For a test that expects a landing file still open: a receiver seals its open file when
    the UTC hour turns (at midnight in São Paulo, say), so a test starting in the last minute of
    an hour waits for the next one first."""
    left = 3600 - time.time() % 3600
    if left < HOUR_MARGIN_S:
        time.sleep(left + 0.5)


@pytest.fixture
def throwaway_ca(tmp_path: Path) -> ThrowawayCa:
    """A CA made for this test and a server certificate for 127.0.0.1 that it signed."""
    return make_throwaway_ca(tmp_path / "tls")
