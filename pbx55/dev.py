"""`make dev`: the Dagster UI and daemon on a persistent DAGSTER_HOME under PBX55_DATA_DIR.

The daemon runs the sensor and the schedule, on the instance configuration production uses
(`pbx55.dagster_instance`: SQLite storage unless PBX55_DAGSTER_POSTGRES_URL is set).

    python -m pbx55.dev [--host 127.0.0.1] [--port 3000]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

from foundation.settings import Settings
from pbx55.dagster_instance import REPO_ROOT, dagster_process, prepare_instance
from pipelines.dbt_runner import prepare_manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    prepare_instance(settings)
    prepare_manifest(settings)
    commands = [
        dagster_process(settings, "daemon"),
        dagster_process(settings, "webserver", ["--host", args.host, "--port", str(args.port)]),
    ]
    processes = [
        subprocess.Popen(command, env=environ, cwd=REPO_ROOT) for command, environ in commands
    ]
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
