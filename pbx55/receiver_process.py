"""The receiver as a child process: `pbx55 serve` started with exactly the given settings.

The demo sends its simulated day through it, and tests use it to exercise the real process
(signals, exit codes, what lands on disk).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60


@dataclass(frozen=True)
class RunningReceiver:
    base_url: str
    process: subprocess.Popen[bytes]

    @property
    def push_url(self) -> str:
        return f"{self.base_url}/pushes"


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as response:  # noqa: S310
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(log: IO[bytes], limit: int = 4000) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-limit:]


@contextmanager
def running_receiver(environ: Mapping[str, str]) -> Iterator[RunningReceiver]:
    """Run `pbx55 serve` with exactly this PBX55_* environment; SIGTERM it on the way out.

    PBX55_* variables of the calling shell are not inherited, so the receiver lands where
    `environ` says and nowhere else. Raises if it does not become ready or does not stop cleanly.
    """
    port = free_loopback_port()
    base_url = f"http://127.0.0.1:{port}"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PBX55_")}
    command = [
        sys.executable,
        "-m",
        "pbx55.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, env=inherited | dict(environ), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while not _ready(base_url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the receiver did not become ready:\n{_tail(log)}")
                time.sleep(0.1)
            yield RunningReceiver(base_url=base_url, process=process)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # seals the open landing files
                try:
                    process.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                    raise RuntimeError(f"the receiver ignored SIGTERM:\n{_tail(log)}") from None
        if process.returncode != 0:
            raise RuntimeError(f"the receiver exited with {process.returncode}:\n{_tail(log)}")
