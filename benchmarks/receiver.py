"""Receiver benchmark: the durable receiver against a do-nothing app on the same server stack.

    .venv/bin/python benchmarks/receiver.py [--connections 256] [--duration 8] [--rounds 3]
        [--receivers 1]

Both servers run as `uvicorn + httptools + uvloop` subprocesses on loopback; this process is the
client (a minimal keep-alive HTTP/1.1 client on uvloop, lighter than aiohttp, so the client
saturates later than the servers do). Bodies are ~1 KB final pushes shaped like the vendor's.

1. Saturation, closed loop: every connection sends its next push as soon as the previous one is
   answered. Printed for the baseline (answers 200 without parsing or writing) and for the
   durable receiver (parse, envelope, group-committed fsync), with the throughput ratio.
2. Half saturation, open loop: pushes are sent on a fixed schedule at half the durable
   receiver's measured throughput; latency counts from the scheduled send time, so a stall
   shows up in the percentiles instead of silently slowing the sender.

Both steps repeat `--rounds` times (baseline and durable alternating, each round landing in a
fresh directory, so drift on a shared machine hits both) and the table at the end gives min /
median / max. Targets (issue 14), on the medians: ratio >= 0.5 (aim 0.8), p99 < 5 ms at half
saturation. Every round also checks that every acknowledged push is on disk, so the numbers are
for real durable work.

With `--receivers N`, N durable receivers share one landing directory (each on its own port, as
behind a proxy), the client spreads its connections over them, and the figures are their sum.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop

BENCH_TOKEN = "benchmark-token-not-secret"
REPO = Path(__file__).resolve().parent.parent


# -- the baseline server ------------------------------------------------------------------


async def baseline_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the body (any handler must) and answers 200: the stack's own cost, nothing else."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    more_body = True
    while more_body:
        more_body = (await receive()).get("more_body", False)
    payload = b'{"status":"Success"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"20")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def serve_baseline(port: int) -> None:
    import uvicorn

    from ingest.server import tune_interpreter_for_serving, uvicorn_config

    tune_interpreter_for_serving()
    uvicorn.Server(uvicorn_config(baseline_app, host="127.0.0.1", port=port)).run()


# -- realistic bodies ---------------------------------------------------------------------


def make_bodies(count: int) -> list[bytes]:
    """Final pushes as the vendor sends them, ~1 KB each, all different."""
    rng = random.Random(55)
    bodies = []
    for number in range(count):
        call_id = f"{1716824410 + number}.{rng.randrange(10000):04d}"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(1716824410 + number * 7))
        talk = rng.randrange(0, 900)
        body = {
            "central_id": "1000",
            "branch_mask": rng.randrange(5000, 5100),
            "branch_email": f"agent{rng.randrange(100)}@example.com.br",
            "call_id": call_id,
            "call_date": stamp,
            "call_terminal": "551140040000",
            "call_type": rng.choice(["receptive", "active"]),
            "call_number": f"119{rng.randrange(10**8):08d}",
            "call_area_code": "11",
            "call_country_code": "55",
            "call_document": f"{rng.randrange(10**11):011d}",
            "call_order": "",
            "call_ura": f"Opcao - {rng.randrange(1, 5)}",
            "call_queue": rng.choice(["4961-CREDITO_P1", "4962-COBRANCA", "4963-SAC"]),
            "call_status": rng.choice(["call_attended", "call_abandoned", ""]),
            "call_disconnection": "externo",
            "call_time": talk,
            "call_duration": talk + rng.randrange(5, 60),
            "call_time_waiting": rng.randrange(0, 120),
            "call_tax_type": "VC2",
            "call_tax": 0.58,
            "call_cost": round(talk / 60 * 0.58, 2),
            "call_balance": 9999759.12,
            "call_url_audio": f"https://sip1.55pbx.com/webphone-1000/2026/11/26/audio-{call_id}.wav",
            "call_audio_file": f"audio-2026-11-26_11-50-09-100001-{call_id}.wav",
            "call_transfer_id": "",
        }
        text = json.dumps(body, indent=1)
        bodies.append(text.encode())
    return bodies


def request_bytes(body: bytes, token: str) -> bytes:
    head = (
        "POST /pushes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"token: {token}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


# -- a minimal keep-alive HTTP/1.1 client -------------------------------------------------


class Connection(asyncio.Protocol):
    """One keep-alive connection with one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = bytes(self.buffer[:head_end]).lower()
        length = 0
        length_at = head.find(b"content-length:")
        if length_at >= 0:
            line_end = head.find(b"\r\n", length_at)
            length = int(head[length_at + 15 : line_end if line_end >= 0 else len(head)])
        end = head_end + 4 + length
        if len(self.buffer) < end:
            return
        status = int(head[9:12])
        del self.buffer[:end]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed by the server"))

    async def send(self, request: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


async def connect(ports: list[int], count: int) -> list[Connection]:
    """`count` connections, spread round-robin over the servers at `ports`."""
    loop = asyncio.get_running_loop()
    connections = []
    for number in range(count):
        port = ports[number % len(ports)]
        _, protocol = await loop.create_connection(Connection, "127.0.0.1", port)
        connections.append(protocol)
    return connections


@dataclass
class Phase:
    completed: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    client_lag_s: list[float] = field(default_factory=list)  # open loop: sent late by the client
    server_cpu_s: float = 0.0  # closed loop: CPU the server process used while measured

    @property
    def cpu_us_per_push(self) -> float:
        return self.server_cpu_s / self.completed * 1e6

    @property
    def rate(self) -> float:
        return self.completed / self.elapsed_s

    def percentile_ms(self, fraction: float) -> float:
        return percentile(self.latencies_s, fraction) * 1000


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def closed_loop(
    servers: list[subprocess.Popen[bytes]],
    ports: list[int],
    requests: list[bytes],
    connections: int,
    warmup_s: float,
    duration_s: float,
) -> Phase:
    phase = Phase()
    pool = await connect(ports, connections)
    start = time.perf_counter()
    measure_from = start + warmup_s
    stop_at = measure_from + duration_s

    async def measure_server_cpu() -> None:
        await asyncio.sleep(warmup_s)
        cpu_before = sum(process_cpu_s(server.pid) for server in servers)
        await asyncio.sleep(duration_s)
        phase.server_cpu_s = sum(process_cpu_s(server.pid) for server in servers) - cpu_before

    async def worker(connection: Connection, offset: int) -> None:
        index = offset
        while True:
            sent = time.perf_counter()
            if sent >= stop_at:
                return
            status = await connection.send(requests[index % len(requests)])
            index += connections
            if sent >= measure_from:
                phase.latencies_s.append(time.perf_counter() - sent)
                phase.completed += 1
                phase.errors += status != 200

    await asyncio.gather(measure_server_cpu(), *(worker(c, n) for n, c in enumerate(pool)))
    phase.elapsed_s = time.perf_counter() - measure_from
    for connection in pool:
        connection.transport.close()
    return phase


async def open_loop(
    ports: list[int], requests: list[bytes], rate: float, connections: int, duration_s: float
) -> Phase:
    phase = Phase()
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for connection in await connect(ports, connections):
        idle.put_nowait(connection)
    total = int(rate * duration_s)
    in_flight = set()

    async def one(connection: Connection, request: bytes, due: float) -> None:
        status = await connection.send(request)
        phase.latencies_s.append(time.perf_counter() - due)
        phase.completed += 1
        phase.errors += status != 200
        idle.put_nowait(connection)

    start = time.perf_counter()
    for index in range(total):
        scheduled = start + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        # The clock starts when the client gets to the push (a starved client process is not
        # the server's fault; the lag is reported separately) and includes any wait for a free
        # connection (that is the server's fault).
        due = time.perf_counter()
        phase.client_lag_s.append(max(0.0, due - scheduled))
        connection = await idle.get()
        task = asyncio.create_task(one(connection, requests[index % len(requests)], due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    phase.elapsed_s = time.perf_counter() - start
    while not idle.empty():
        idle.get_nowait().transport.close()
    return phase


# -- servers under test -------------------------------------------------------------------


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pin_server_and_client() -> tuple[set[int], set[int]] | None:
    """Give the server and this client process a CPU each, when there are two or more.

    Unpinned, the client and the server's event loop and landing thread preempt each other on a
    small machine, and the measured tail is the scheduler's, not the receiver's. Both phases
    (baseline and durable) run pinned the same way, so the ratio stays like for like.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    server_cpus, client_cpus = set(cpus[len(cpus) // 2 :]), set(cpus[: len(cpus) // 2])
    os.sched_setaffinity(0, client_cpus)
    return server_cpus, client_cpus


def start_server(
    command: list[str],
    env: dict[str, str],
    port: int,
    cpus: set[int] | None = None,
    log: Any = None,
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        cwd=REPO,
        stdout=log,
        stderr=log,
        # In the child before exec, so every thread the server starts inherits it.
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited at start: {command}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"server did not answer: {command}")


def stop_server(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def scrape_metric(port: int, name: str) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/metrics")
    for line in connection.getresponse().read().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise KeyError(name)


def count_landed_lines(landing_dir: Path) -> int:
    return sum(
        len(path.read_bytes().splitlines())
        for path in (landing_dir / "pushes").glob("date=*/hour=*/*.jsonl*")
    )


def fsync_latency_ms(directory: Path, samples: int = 200) -> tuple[float, float]:
    """p50 and p99 of appending 16 KB and fdatasync-ing it, on the landing filesystem.

    Durable latency can be no better than this; on a shared machine it is the number to read
    the others against.
    """
    probe = directory / "fsync-probe"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    latencies = []
    try:
        for _ in range(samples):
            started = time.perf_counter()
            os.write(fd, b"x" * 16384)
            os.fdatasync(fd)
            latencies.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        probe.unlink()
    return percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000


def describe(name: str, phase: Phase) -> str:
    return (
        f"{name:<58} {phase.rate:8.0f} pushes/s   p50 {phase.percentile_ms(0.50):6.2f} ms"
        f"   p99 {phase.percentile_ms(0.99):6.2f} ms   errors {phase.errors}"
    )


@dataclass
class Round:
    baseline: Phase
    durable: Phase
    paced: Phase
    half_rate: float
    fsync_batches: float
    fsync_batched: float
    accepted: float
    landed: int
    access_lines: int
    exit_code: int

    @property
    def ratio(self) -> float:
        return self.durable.rate / self.baseline.rate

    @property
    def cpu_ratio(self) -> float:
        # On a shared machine throughput follows whatever else runs; the server's own CPU per
        # push does not, and predicts the ratio a dedicated core would see.
        return self.baseline.cpu_us_per_push / self.durable.cpu_us_per_push

    @property
    def lost(self) -> bool:
        return (
            self.landed != self.accepted
            or self.exit_code != 0
            or self.durable.errors + self.paced.errors > 0
        )


def run_round(
    args: argparse.Namespace, requests: list[bytes], data_dir: Path, server_cpus: set[int] | None
) -> Round:
    """The baseline at saturation, then the durable receiver(s) at saturation and at half of it."""
    python = sys.executable
    port = free_port()
    baseline = start_server(
        [python, __file__, "--serve-baseline", str(port)], {}, port, server_cpus
    )
    try:
        base = uvloop.run(
            closed_loop([baseline], [port], requests, args.connections, args.warmup, args.duration)
        )
    finally:
        stop_server(baseline)
    print(describe("baseline app, same stack, 200 without parsing or writing", base))

    env = {"PBX55_DATA_DIR": str(data_dir), "PBX55_TOKENS": BENCH_TOKEN}
    ports = [free_port() for _ in range(args.receivers)]
    receivers = []
    # Their log goes to a file, as to a journal: one access line per push, as in production.
    with tempfile.TemporaryFile() as receiver_log:
        try:
            for port in ports:
                command = [python, "-m", "pbx55.cli", "serve", "--port", str(port)]
                receivers.append(start_server(command, env, port, server_cpus, log=receiver_log))
            durable = uvloop.run(
                closed_loop(
                    receivers, ports, requests, args.connections, args.warmup, args.duration
                )
            )
            name = "durable receiver" if args.receivers == 1 else f"{args.receivers} receivers"
            print(describe(f"{name} at saturation (closed loop)", durable))
            half_rate = durable.rate / 2
            paced = uvloop.run(
                open_loop(ports, requests, half_rate, args.connections, args.duration)
            )
            print(describe(f"{name} at half saturation ({half_rate:.0f}/s, open loop)", paced))
            lag_p99 = percentile(paced.client_lag_s, 0.99) * 1000
            print(f"  (the client itself sent late by p99 {lag_p99:.2f} ms; not counted above)")
            batches, batched, accepted = (
                sum(scrape_metric(port, metric) for port in ports)
                for metric in (
                    "pbx55_fsync_batches_total",
                    "pbx55_fsync_batch_pushes_total",
                    'pbx55_pushes_accepted_total{parse="json"}',
                )
            )
        finally:
            exit_codes = [stop_server(receiver) for receiver in receivers]
        receiver_log.seek(0)
        access_lines = sum(b" ingest.access: " in line for line in receiver_log)
    landed = count_landed_lines(data_dir / "landing")
    return Round(
        baseline=base,
        durable=durable,
        paced=paced,
        half_rate=half_rate,
        fsync_batches=batches,
        fsync_batched=batched,
        accepted=accepted,
        landed=landed,
        access_lines=access_lines,
        exit_code=next((code for code in exit_codes if code != 0), 0),
    )


def spread(values: list[float], form: str) -> str:
    """min / median / max of the rounds."""
    return " / ".join(
        format(value, form) for value in (min(values), statistics.median(values), max(values))
    )


def run(args: argparse.Namespace) -> int:
    requests = [request_bytes(body, BENCH_TOKEN) for body in make_bodies(512)]
    mean_size = sum(len(r) for r in requests) / len(requests)
    print(
        f"pbx55 receiver benchmark: loopback, {args.connections} connections, "
        f"{mean_size:.0f}-byte requests, {args.warmup:g} s warm-up + {args.duration:g} s per "
        f"phase, {args.rounds} round(s)"
    )
    pinned = pin_server_and_client()
    server_cpus = pinned[0] if pinned else None
    if pinned:
        print(f"server pinned to CPUs {sorted(pinned[0])}, client to {sorted(pinned[1])}")
    rounds = []
    for number in range(1, args.rounds + 1):
        if args.data_dir:
            data_dir = Path(args.data_dir) / f"round-{number}"
        else:
            (REPO / "data").mkdir(exist_ok=True)
            data_dir = Path(tempfile.mkdtemp(prefix="pbx55-bench-", dir=REPO / "data"))
        data_dir.mkdir(parents=True, exist_ok=True)
        fsync_p50, fsync_p99 = fsync_latency_ms(data_dir)
        print(
            f"round {number}: fdatasync of 16 KB in {data_dir}: p50 {fsync_p50:.2f} ms, "
            f"p99 {fsync_p99:.2f} ms; load average {os.getloadavg()[0]:.2f}"
        )
        rounds.append(run_round(args, requests, data_dir, server_cpus))
        if not args.data_dir:
            shutil.rmtree(data_dir)

    print()
    print(f"{'over ' + str(len(rounds)) + ' round(s)':<44} min / median / max")
    rows = [
        ("baseline pushes/s", [r.baseline.rate for r in rounds], ".0f"),
        ("durable pushes/s", [r.durable.rate for r in rounds], ".0f"),
        ("throughput ratio (target >= 0.50)", [r.ratio for r in rounds], ".2f"),
        ("server CPU per push, baseline (us)", [r.baseline.cpu_us_per_push for r in rounds], ".0f"),
        ("server CPU per push, durable (us)", [r.durable.cpu_us_per_push for r in rounds], ".0f"),
        ("CPU-bound ratio", [r.cpu_ratio for r in rounds], ".2f"),
        (
            "p99 at half saturation, ms (target < 5)",
            [r.paced.percentile_ms(0.99) for r in rounds],
            ".2f",
        ),
        ("pushes per fsync", [r.fsync_batched / r.fsync_batches for r in rounds], ".1f"),
    ]
    for label, values, form in rows:
        print(f"{label:<44} {spread(values, form)}")
    landed = sum(r.landed for r in rounds)
    accepted = sum(r.accepted for r in rounds)
    print(
        f"landed lines {landed}, pushes accepted {accepted:.0f}, access log lines "
        f"{sum(r.access_lines for r in rounds)}, receiver exit codes "
        f"{sorted({r.exit_code for r in rounds})}"
    )
    median_ratio = statistics.median(r.ratio for r in rounds)
    median_p99 = statistics.median(r.paced.percentile_ms(0.99) for r in rounds)
    lost = any(r.lost for r in rounds)
    if lost:
        print("PUSHES LOST: an acknowledged push is not on disk, or a request failed")
        return 1
    met = median_ratio >= 0.5 and median_p99 < 5
    print("targets met (median)" if met else "targets missed (median)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Saturation needs more requests in flight than one fsync's worth: each connection waits
    # out a group commit, so with few connections the durable receiver idles on the disk and
    # the run measures fsync latency rather than throughput.
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds measured per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds discarded per phase")
    parser.add_argument("--rounds", type=int, default=3, help="baseline/durable pairs")
    parser.add_argument("--data-dir", help="landing root (default: a new directory under data/)")
    parser.add_argument(
        "--receivers", type=int, default=1, help="durable receivers sharing the landing directory"
    )
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return 0
    # The client's own collector pauses would show up as server latency.
    gc.freeze()
    gc.set_threshold(50_000)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
