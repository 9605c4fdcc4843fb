"""The receiver as a child process: `pbx55 serve` started with exactly the given settings.

The demo sends its simulated day through it, and tests use it to exercise the real process
(signals, exit codes, what lands on disk). `RunningReceiver.stop` and `start` take it down and
bring it back on the same port: the take-down and bring-up of a simulated outage.
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
from typing import IO

READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60


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


class RunningReceiver:
    """`pbx55 serve` on one loopback port, which `stop()` and `start()` take down and bring back
    on the same port (the outage of `simulator.sender`)."""

    def __init__(self, environ: Mapping[str, str], port: int, log: IO[bytes]) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("PBX55_")}
        self._env = inherited | dict(environ)
        self._command = [
            sys.executable, "-m", "pbx55.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
        ]  # fmt: skip
        self._log = log

    @property
    def push_url(self) -> str:
        return f"{self.base_url}/pushes"

    def start(self) -> None:
        """Start the receiver and wait until it is ready; raises if it is not."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the receiver is already running")
        process = subprocess.Popen(
            self._command, env=self._env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.process = process
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(self.base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                raise RuntimeError(f"the receiver did not become ready:\n{_tail(self._log)}")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM the receiver, which seals its open landing files; raises unless it exits 0."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise RuntimeError(f"the receiver ignored SIGTERM:\n{_tail(self._log)}") from None
        if process.returncode != 0:
            raise RuntimeError(
                f"the receiver exited with {process.returncode}:\n{_tail(self._log)}"
            )


@contextmanager
def running_receiver(environ: Mapping[str, str]) -> Iterator[RunningReceiver]:
    """Run `pbx55 serve` with exactly this PBX55_* environment; SIGTERM it on the way out.

    PBX55_* variables of the calling shell are not inherited, so the receiver lands where
    `environ` says and nowhere else. Raises if it does not become ready or does not stop cleanly.
    """
    with tempfile.TemporaryFile() as log:
        receiver = RunningReceiver(environ, free_loopback_port(), log)
        receiver.start()  # stops what it started when the receiver does not become ready
        try:
            yield receiver
        finally:
            receiver.stop()
