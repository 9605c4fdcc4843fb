"""Loader throughput: `pbx55 load` against DuckDB's own `read_json` of the same landed files.

Writes N pushes as sealed landing files in the receiver's envelope format, then, in one run:
1. times `load_landed_pushes` into a fresh DuckDB file (typing, tokens, dlt, everything);
2. times DuckDB reading the same files into a table of a second fresh file (the ceiling);
3. prints rows/s of both and their ratio (issue 14's target: at least 0.6, aim 0.8);
   steps 1-3 repeat (`--rounds`, alternating, so drift hits both); the ratios' min, median and
   max are printed, the median counts;
4. times a second load with nothing new (target: under 5 s).

    .venv/bin/python benchmarks/loader.py [--pushes 1000000] [--per-file 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from foundation.landing.layout import (
    PUSHES_DIR,
    SEALED_GLOB,
    hour_bucket_at,
    open_file_name,
    partition_dir,
    sealed_path,
)
from foundation.settings import Settings
from pipelines.loader.load import load_landed_pushes

RECEIVER_ID = "bench001"
STATUSES = ("new_call", "call_waiting", "new_call", "")
QUEUES = ("4961-CREDITO_P1", "4962-COBRANCA", "4963-SAC", "")


def write_landing_files(landing_dir: Path, pushes: int, per_file: int, seed: int = 55) -> int:
    """Sealed `.jsonl` files with realistic pushes: 4 per call, mixed types, some raw bodies."""
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 26, 8, tzinfo=dt.UTC)
    files = 0
    handle = None
    for index in range(pushes):
        if index % per_file == 0:
            if handle:
                handle.close()
            received = start + dt.timedelta(seconds=index // 20)
            directory = partition_dir(landing_dir / PUSHES_DIR, hour_bucket_at(received))
            directory.mkdir(parents=True, exist_ok=True)
            files += 1
            handle = sealed_path(directory / open_file_name(RECEIVER_ID, files)).open("w")
        received = start + dt.timedelta(microseconds=index * 50_000)
        handle.write(json.dumps(_envelope(rng, index, received), ensure_ascii=False) + "\n")
    if handle:
        handle.close()
    return files


def _envelope(rng: random.Random, index: int, received: dt.datetime) -> dict:
    call = index // 4
    step = index % 4
    final = step == 3
    caller = random.Random(call)  # every push of a call carries the same caller
    body = {
        "central_id": str(1000 + call % 7),
        "call_id": f"{1716824410 + call}.{rng.randrange(10_000):04d}",
        "branch_mask": str(200 + call % 40) if step >= 2 else "",
        "branch_email": f"agent{call % 40}@example.com.br" if step >= 2 else "",
        "call_terminal": "551130030000",
        "call_type": rng.choice(("receptive", "receptivo", "active")),
        "call_number": f"{caller.choice((11, 21, 31, 51))}9{caller.randrange(10**8):08d}",
        "call_area_code": "11",
        "call_document": f"{caller.randrange(10**11):011d}" if call % 3 == 0 else "",
        "call_ura": "Opcao - 1",
        "call_queue": rng.choice(QUEUES),
        "call_status": "call_attended" if final else STATUSES[step],
        "call_disconnection": "externo" if final else "",
        "call_url_audio": f"https://rec.example/{call}.mp3" if final else "",
        "call_transfer_id": "",
        "call_tax_type": "VC2",
        "call_date": (received - dt.timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S"),
        "call_time": rng.randrange(1, 900) if final else 0,
        "call_duration": f"0:{rng.randrange(60):02d}:{rng.randrange(60):02d}" if final else "0",
        "call_time_waiting": str(rng.randrange(0, 120)),
        "call_tax": "0,58",
        "call_cost": round(rng.random() * 3, 2) if final else 0,
        "call_balance": round(1000 - rng.random() * 100, 2),
    }
    text = json.dumps(body)
    envelope = {
        "push_id": f"{int(received.timestamp() * 1e6):016x}-{RECEIVER_ID}-{index:08x}",
        "received_at": received.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "receiver_id": RECEIVER_ID,
        "method": "POST",
        "path": "/pushes",
        "auth": "token-0-0badc0de",
        "parse": "json",
        "body_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "body": body,
    }
    if index % 100 == 0:  # a sender whose numbers would lose digits: the receiver kept raw text
        envelope["raw_body"] = text
    return envelope


def duckdb_read_json_seconds(landing_dir: Path, database: Path) -> tuple[int, float]:
    database.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            "CREATE TABLE pushes AS SELECT * FROM read_json(?, format = 'newline_delimited')",
            [str(landing_dir / PUSHES_DIR / SEALED_GLOB)],
        )
        rows = connection.execute("SELECT count(*) FROM pushes").fetchone()[0]
    return rows, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=1_000_000)
    parser.add_argument("--per-file", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3, help="pipeline/read_json pairs")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="pbx55-bench-loader-"))
    try:
        landing_dir = work / "landing"
        started = time.perf_counter()
        files = write_landing_files(landing_dir, args.pushes, args.per_file)
        os.sync()  # the write-back of these files must not land inside the first timing
        print(
            f"wrote {args.pushes:,} pushes in {files} files ({time.perf_counter() - started:.1f} s)"
        )
        ratios = []
        for round_number in range(1, args.rounds + 1):
            # Fresh warehouse and dlt state each round; the same landing files.
            settings = Settings.from_env(
                {
                    "PBX55_DATA_DIR": str(work / f"round{round_number}"),
                    "PBX55_LANDING_DIR": str(landing_dir),
                    "PBX55_PII_KEY": "benchmark-key",
                }
            )
            summary = load_landed_pushes(settings)
            rows, seconds = duckdb_read_json_seconds(
                landing_dir, work / f"round{round_number}" / "read_json.duckdb"
            )
            pipeline_rate = summary.rows / summary.seconds
            duckdb_rate = rows / seconds
            ratios.append(pipeline_rate / duckdb_rate)
            print(
                f"round {round_number}: pipeline {pipeline_rate:>9,.0f} rows/s "
                f"({summary.seconds:.1f} s), duckdb read_json {duckdb_rate:>9,.0f} rows/s "
                f"({seconds:.1f} s), ratio {ratios[-1]:.2f}"
            )
            if summary.rows != args.pushes or rows != args.pushes:
                print("error: row counts do not match", file=sys.stderr)
                return 1
        print(
            f"ratio min/median/max of {len(ratios)}: {min(ratios):.2f} / "
            f"{statistics.median(ratios):.2f} / {max(ratios):.2f} (target >= 0.6, aim 0.8)"
        )

        nothing_new = load_landed_pushes(settings)
        print(f"nothing new        {nothing_new.seconds:>6.2f} s (target < 5 s)")
        if nothing_new.rows:
            print("error: a second load added rows", file=sys.stderr)
            return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
