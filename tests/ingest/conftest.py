"""Fixtures for the ingest tests: real receivers on free ports (see receiver_harness.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.ingest.receiver_harness import Receiver


@pytest.fixture
def start_receiver(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Receiver]]:
    """Start receivers sharing the test's data directory; any left running is killed at the end."""
    started: list[Receiver] = []

    def start(*args: str, open_files: tuple[int, int] | None = None, **extra_env: str) -> Receiver:
        log_path = tmp_path / f"receiver-{len(started)}.log"
        receiver = Receiver({**env, **extra_env}, log_path, args, open_files)
        started.append(receiver)
        return receiver.start()

    yield start
    for receiver in started:
        if receiver.process is not None and receiver.process.poll() is None:
            receiver.kill()


@pytest.fixture
def receiver(start_receiver: Callable[..., Receiver]) -> Receiver:
    return start_receiver()
