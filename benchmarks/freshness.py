"""Freshness: from a call's final push answered 200 to the call, finished, in `marts.fct_calls`.

For each pair of settings (the old defaults, seal 60 s / sensor 30 s, then the new ones), in one
run: starts the real receiver (`pbx55 serve`) and the real Dagster daemon (`pbx55 dagster
daemon`, whose sensor starts `load_landed_pushes`) on a fresh data directory, sends a new call
every few seconds (a start push, then its final push), and polls the BI copy
(`warehouse_bi.duckdb`; the warehouse itself belongs to the run that writes it) until every
call shows as answered. Prints the median and p90 of the delay, and where the time went: the
wait for the file to be sealed, then for the run that lists it, and that run's phases, from
Dagster's event log.

    .venv/bin/python benchmarks/freshness.py [--calls 30] [--every 5] [--only new]
        [--seal-max-age-s S] [--sensor-interval-s S]  (the new scenario; default: the defaults)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from foundation.landing.layout import sealed_landing_files
from foundation.settings import SEAL_MAX_AGE_S, SENSOR_INTERVAL_S, Settings
from pbx55.receiver_process import running_receiver

TOKEN = "freshness-bench-token-0123456789"
CENTRAL = "7000"
OLD = {"PBX55_SEAL_MAX_AGE_S": "60", "PBX55_SENSOR_INTERVAL_S": "30"}
TALK_S = 2  # between a call's start push and its final push
WARM_UP_TIMEOUT_S = 300
POLL_S = 0.5
# Steps of `load_landed_pushes`, in the order they run.
STEPS = {"dlt_landed_pushes": "load", "dbt_models": "dbt build", "bi_serving_copy": "BI copy"}


@dataclass
class Call:
    call_id: str
    acknowledged_at: float = 0.0  # wall clock of the final push's 200
    seen_at: float | None = None  # wall clock of the first poll that found it answered
    sealed_at: float | None = None  # when the file holding its final push was sealed


@dataclass
class Scenario:
    name: str
    environ: dict[str, str]
    calls: list[Call] = field(default_factory=list)
    runs: list[dict[str, float]] = field(default_factory=list)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30, help="measured calls per scenario")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between new calls")
    parser.add_argument("--only", choices=("old", "new"), help="run one scenario only")
    parser.add_argument(
        "--seal-max-age-s",
        type=float,
        default=SEAL_MAX_AGE_S,
        help="PBX55_SEAL_MAX_AGE_S of the new scenario (default: the default)",
    )
    parser.add_argument(
        "--sensor-interval-s",
        type=int,
        default=SENSOR_INTERVAL_S,
        help="PBX55_SENSOR_INTERVAL_S of the new scenario (default: the default)",
    )
    args = parser.parse_args()

    new = {
        "PBX55_SEAL_MAX_AGE_S": f"{args.seal_max_age_s:g}",
        "PBX55_SENSOR_INTERVAL_S": str(args.sensor_interval_s),
    }
    scenarios = [Scenario("old defaults", OLD), Scenario("new defaults", new)]
    scenarios = [s for s in scenarios if args.only is None or s.name.startswith(args.only)]
    for scenario in scenarios:
        knobs = ", ".join(f"{name}={value}" for name, value in scenario.environ.items())
        print(f"\n== {scenario.name} ({knobs}): {args.calls} calls, one every {args.every:g} s")
        measure(scenario, args.calls, args.every)
        report(scenario)
    if len(scenarios) == 2:
        old, new = (statistics.median(_delays(s)) for s in scenarios)
        print(f"\nmedian delay, new / old defaults: {new:.1f} s / {old:.1f} s = {new / old:.2f}")
    return 0


def measure(scenario: Scenario, calls: int, every: float) -> None:
    with tempfile.TemporaryDirectory(prefix="pbx55-freshness-", ignore_cleanup_errors=True) as tmp:
        environ = {
            "PBX55_DATA_DIR": str(Path(tmp) / "data"),
            "PBX55_TOKENS": TOKEN,
            "PBX55_PII_KEY": "freshness-bench-key",
            **scenario.environ,
        }
        settings = Settings.from_env(environ)
        with ExitStack() as stack:
            receiver = stack.enter_context(running_receiver(environ))
            stack.enter_context(_dagster_daemon(environ, Path(tmp) / "daemon.log"))
            sender = _Sender(receiver.push_url)
            # The first call waits for the daemon to load the code location and run once.
            warm_up = sender.call("warm-up")
            _wait_until_seen(settings, [warm_up], time.monotonic() + WARM_UP_TIMEOUT_S)
            print(f"  warm-up call visible after {warm_up.seen_at - warm_up.acknowledged_at:.0f} s")

            measured = [Call(f"call-{index:04d}") for index in range(calls)]
            deadline = time.monotonic() + calls * every + WARM_UP_TIMEOUT_S
            poller = threading.Thread(target=_wait_until_seen, args=(settings, measured, deadline))
            poller.start()
            next_at = time.monotonic()
            for call in measured:
                time.sleep(max(0.0, next_at - time.monotonic()))
                sender.call(call.call_id, call)
                next_at += every
            poller.join()
        scenario.calls = measured
        _attach_seal_times(settings, measured)
        scenario.runs = _run_phases(settings)


class _Sender:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, call_id: str, call: Call | None = None) -> Call:
        """A start push, then after TALK_S the final push of an answered inbound call."""
        call = call or Call(call_id)
        started = dt.datetime.now(ZoneInfo("America/Sao_Paulo")).strftime("%Y-%m-%d %H:%M:%S")
        body = {
            "central_id": CENTRAL,
            "call_id": call_id,
            "call_type": "receptive",
            "call_date": started,
            "call_number": "11987654321",
            "call_queue": "4961-SAC",
        }
        self._push(body | {"call_status": "new_call", "call_time": 0, "call_duration": 0})
        time.sleep(TALK_S)
        final = {"call_status": "call_attended", "call_time": TALK_S, "call_duration": TALK_S}
        self._push(body | final | {"call_disconnection": "externo"})
        call.acknowledged_at = time.time()
        return call

    def _push(self, body: dict[str, object]) -> None:
        request = urllib.request.Request(  # noqa: S310 (the receiver this script started)
            self.url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "token": TOKEN},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            assert response.status == 200, response.status


@contextmanager
def _dagster_daemon(environ: dict[str, str], log_path: Path) -> Iterator[None]:
    """The daemon in a process group of its own: its run workers outlive it unless told."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PBX55_", "DAGSTER_"))}
    command = [str(Path(sys.executable).parent / "pbx55"), "dagster", "daemon"]
    with log_path.open("wb") as log:
        daemon = subprocess.Popen(
            command,
            env=inherited | environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield
        finally:
            _stop_group(daemon)


def _stop_group(leader: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    os.killpg(leader.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        leader.poll()  # reap the leader, or the group never looks empty
        try:
            os.killpg(leader.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(leader.pid, signal.SIGKILL)
    leader.wait()


def _wait_until_seen(settings: Settings, calls: list[Call], deadline: float) -> None:
    """Poll the BI copy until each call is answered there (or the deadline passes)."""
    pending = {call.call_id: call for call in calls}
    while pending and time.monotonic() < deadline:
        time.sleep(POLL_S)
        if not settings.bi_duckdb_path.exists():
            continue
        now = time.time()
        try:
            with duckdb.connect(str(settings.bi_duckdb_path), read_only=True) as bi:
                rows = bi.execute(
                    "select call_id from marts.fct_calls "
                    "where central_id = ? and outcome = 'answered'",
                    [CENTRAL],
                ).fetchall()
        except duckdb.Error:
            continue  # a copy published before fct_calls had this central's rows
        for (call_id,) in rows:
            call = pending.get(call_id)
            if call is not None and call.acknowledged_at:
                call.seen_at = now
                del pending[call_id]
    if pending:
        raise RuntimeError(f"{len(pending)} calls never reached marts.fct_calls: {list(pending)}")


def _attach_seal_times(settings: Settings, calls: list[Call]) -> None:
    """A sealed file's ctime is its rename, the seal (the receiver writes nothing after it)."""
    by_id = {call.call_id: call for call in calls}
    for landed in sealed_landing_files(settings.landing_dir, settings.pushes_dir):
        sealed_at = landed.path.stat().st_ctime
        for line in landed.path.read_text().splitlines():
            body = json.loads(line).get("body") or {}
            call = by_id.get(body.get("call_id")) if isinstance(body, dict) else None
            if call is not None and body.get("call_status") == "call_attended":
                call.sealed_at = sealed_at


def _run_phases(settings: Settings) -> list[dict[str, float]]:
    """Wall-clock marks of every load run: queued, started, each step's start and end, done."""
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    from dagster import DagsterEventType, DagsterInstance, RunsFilter

    runs = []
    with DagsterInstance.get() as instance:
        for record in instance.get_run_records(RunsFilter(job_name="load_landed_pushes")):
            marks = {"created": record.create_timestamp.timestamp()}
            for entry in instance.all_logs(record.dagster_run.run_id):
                event = entry.dagster_event
                if event is None:
                    continue
                if event.event_type == DagsterEventType.RUN_STARTING:  # taken off the queue
                    marks["launched"] = entry.timestamp
                elif event.event_type == DagsterEventType.RUN_START:
                    marks["started"] = entry.timestamp
                elif event.event_type == DagsterEventType.RUN_SUCCESS:
                    marks["done"] = entry.timestamp
                elif event.step_key in STEPS and event.event_type in (
                    DagsterEventType.STEP_START,
                    DagsterEventType.STEP_SUCCESS,
                ):
                    marks[f"{event.step_key}:{event.event_type.value}"] = entry.timestamp
            if "done" in marks:
                runs.append(marks)
    return sorted(runs, key=lambda marks: marks["created"])


def report(scenario: Scenario) -> None:
    delays = _delays(scenario)
    print(
        f"  final push 200 -> answered in the BI copy: median {statistics.median(delays):.1f} s, "
        f"p90 {_p90(delays):.1f} s, max {max(delays):.1f} s ({len(delays)} calls)"
    )
    seal_waits = [c.sealed_at - c.acknowledged_at for c in scenario.calls if c.sealed_at]
    listed = []  # sealed -> the load step of the first run that started after it
    for call in scenario.calls:
        run = _run_that_listed(scenario.runs, call)
        if run is not None and call.sealed_at is not None:
            listed.append(run["dlt_landed_pushes:STEP_START"] - call.sealed_at)
    print("  where the time goes (medians):")
    _line("waiting for the seal", seal_waits)
    _line("sealed -> a run's load starts", listed)
    phases = [
        ("run waits in the queue", "created", "launched"),
        ("run worker starts (a new process)", "launched", "started"),
        ("run started -> load step", "started", "dlt_landed_pushes:STEP_START"),
        ("load step", "dlt_landed_pushes:STEP_START", "dlt_landed_pushes:STEP_SUCCESS"),
        ("dbt build step", "dbt_models:STEP_START", "dbt_models:STEP_SUCCESS"),
        ("BI copy step", "bi_serving_copy:STEP_START", "bi_serving_copy:STEP_SUCCESS"),
        ("whole run (started -> success)", "started", "done"),
    ]
    for label, begin, end in phases:
        _line(
            label, [run[end] - run[begin] for run in scenario.runs if begin in run and end in run]
        )
    published = [
        call.seen_at - run["done"]
        for call in scenario.calls
        if call.seen_at and (run := _run_that_listed(scenario.runs, call)) is not None
    ]
    _line("run done -> seen by the poll", published)
    print(f"  runs: {len(scenario.runs)}")


def _run_that_listed(runs: list[dict[str, float]], call: Call) -> dict[str, float] | None:
    if call.sealed_at is None:
        return None
    return next(
        (run for run in runs if run.get("dlt_landed_pushes:STEP_START", 0) > call.sealed_at),
        None,
    )


def _delays(scenario: Scenario) -> list[float]:
    return [call.seen_at - call.acknowledged_at for call in scenario.calls if call.seen_at]


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def _line(label: str, values: list[float]) -> None:
    if values:
        print(f"    {label:34} {statistics.median(values):6.1f} s  (p90 {_p90(values):.1f} s)")


if __name__ == "__main__":
    sys.exit(main())
