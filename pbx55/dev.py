"""`make dev`: the Dagster UI and daemon on a persistent DAGSTER_HOME under PBX55_DATA_DIR.

The daemon runs the sensor and the schedule; the `dagster.yaml` written here makes its run
queue admit one warehouse-writing run at a time (DuckDB has a single writer).

    python -m pbx55.dev [--host 127.0.0.1] [--port 3000]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from foundation.settings import Settings
from pipelines.dbt_runner import prepare_manifest
from pipelines.orchestration.resources import WAREHOUSE_POOL, WAREHOUSE_WRITER_TAG

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = REPO_ROOT / "workspace.yaml"
BIN_DIR = Path(sys.executable).parent


def dagster_yaml() -> str:
    """Instance configuration: queued runs, one warehouse writer, no telemetry."""
    return f"""\
# Written by `python -m pbx55.dev`; edit pbx55/dev.py instead.
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
concurrency:
  runs:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      - key: "{WAREHOUSE_WRITER_TAG}"
        limit: 1
  pools:
    # Ops in pool `{WAREHOUSE_POOL}` (and any other pool) run one at a time, across runs.
    default_limit: 1
    granularity: run
telemetry:
  enabled: false
"""


def write_instance_config(settings: Settings) -> Path:
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    path = settings.dagster_home / "dagster.yaml"
    path.write_text(dagster_yaml())
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    write_instance_config(settings)
    prepare_manifest(settings)
    env = os.environ | {"DAGSTER_HOME": str(settings.dagster_home)}
    workspace = ["-w", str(WORKSPACE)]
    commands = [
        [str(BIN_DIR / "dagster-daemon"), "run", *workspace],
        [
            str(BIN_DIR / "dagster-webserver"),
            *workspace,
            "--host",
            args.host,
            "--port",
            str(args.port),
        ],
    ]
    processes = [subprocess.Popen(command, env=env, cwd=REPO_ROOT) for command in commands]
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={settings.dagster_home})")
    # Stop both on Ctrl-C and on SIGTERM (a background job ignores SIGINT).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    return max((process.returncode or 0) for process in processes)


if __name__ == "__main__":
    sys.exit(main())
