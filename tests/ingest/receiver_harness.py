"""A real receiver in a subprocess (`python -m pbx55.cli serve`) and readers for what it landed.

Imported by the ingest tests as `tests.ingest.receiver_harness`.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import resource
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundation.landing.layout import PUSHES_DIR
from tests.landing_files import open_files, sealed_files

STARTUP_DEADLINE_S = 30.0

# The vendor document's own example, in its shape: ISODate literal, a trailing comma after the
# last field and one closing brace too many.
VENDOR_EXAMPLE = b"""{
    "central_id" : "1000",
    "branch_mask" : 5000,
    "call_id" : "1479477009.5199",
    "call_date" : ISODate("2012-05-01 12:30:00"),
    "call_type" : "active",
    "call_tax" : 0.58,
    "call_url_audio" : "https://sip1.55pbx.com/webphone-1000/audio-1479477009.5199.wav",
    "call_transfer_id" : "1479477009.5198",
}
}"""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    chunked: bool = False,
    tls: ssl.SSLContext | None = None,
    source_address: str | None = None,
) -> Response:
    """One request on its own connection: HTTPS when `tls` (the client's context) is given, from
    `source_address` (another loopback address, say) when given."""
    source = (source_address, 0) if source_address else None
    connection: http.client.HTTPConnection
    if tls is None:
        connection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=30, source_address=source
        )
    else:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=30, source_address=source, context=tls
        )
    try:
        if chunked:
            connection.request(
                method, path, body=iter([body or b""]), headers=headers or {}, encode_chunked=True
            )
        else:
            connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return Response(
            answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
        )
    finally:
        connection.close()


class Receiver:
    """`pbx55 serve` on a free port, its output kept in a log file for assertions."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        args: tuple[str, ...] = (),
        open_files: tuple[int, int] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.env = env
        self.tls = tls  # the client's context, for a receiver serving HTTPS
        self.token = env.get("PBX55_TOKENS", "").split(",")[0]
        self.log_path = log_path
        self.args = args
        self.open_files = open_files  # (soft, hard) RLIMIT_NOFILE of the receiver process
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Receiver:
        # The free port can be taken between probing and binding; try another one then.
        for _ in range(3):
            if self._start_on(free_port()):
                return self
        raise RuntimeError(f"receiver found no free port:\n{self.log_text()}")

    def _start_on(self, port: int) -> bool:
        self.port = port
        command = [sys.executable, "-m", "pbx55.cli", "serve", "--port", str(port)]
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, *self.args],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self._limit_open_files if self.open_files else None,
            )
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "address already in use" in self.log_text()[log_start:]:
                    return False
                raise RuntimeError(f"receiver exited at start:\n{self.log_text()}")
            try:
                if request(self.port, "GET", "/healthz", tls=self.tls).status == 200:
                    return True
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"receiver did not answer in time:\n{self.log_text()}")

    def _limit_open_files(self) -> None:
        assert self.open_files is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, self.open_files)

    def memory_kb(self) -> dict[str, int]:
        """VmRSS (now) and VmHWM (peak) of the receiver process, in kB (Linux /proc)."""
        assert self.process is not None
        memory = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                memory[name] = int(value.split()[0])
        return memory

    def push(
        self,
        body: bytes,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        method: str = "POST",
        path: str = "/pushes",
        source_address: str | None = None,
    ) -> Response:
        all_headers = {"token": token if token is not None else self.token, **(headers or {})}
        return request(
            self.port, method, path, body, all_headers, tls=self.tls, source_address=source_address
        )

    def terminate(self) -> int:
        """SIGTERM, as a service manager stops it; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metric(self, name: str) -> int:
        """The value of one /metrics line (0 when absent); `name` includes its labels."""
        text = request(self.port, "GET", "/metrics", tls=self.tls).body.decode()
        match = re.search(rf"^{re.escape(name)} (\d+)$", text, re.MULTILINE)
        return int(match[1]) if match else 0


def status(answer: Callable[[], Response]) -> int | None:
    """The status of `answer()`, or None when the connection was closed without one."""
    try:
        return answer().status
    except (OSError, http.client.HTTPException):
        return None


def connect(port: int, timeout_s: float = 15.0) -> socket.socket:
    """A raw connection, for what an HTTP client library would not send."""
    return socket.create_connection(("127.0.0.1", port), timeout=timeout_s)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the receiver sends until it closes (a reset after an answer ends it too)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except OSError:
        pass
    return received


def landed_records(landing_dir: Path) -> list[dict[str, Any]]:
    """Every landed line, sealed or still open, in file order."""
    records = []
    pushes_dir = landing_dir / PUSHES_DIR
    for path in sealed_files(pushes_dir) + open_files(pushes_dir):
        with path.open("rb") as lines:
            records += [json.loads(line) for line in lines]
    return records


def eventually(condition: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    """Poll for a state the receiver reaches on its own (an age-based seal, say)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
