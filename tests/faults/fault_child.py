"""One `pbx55 load` in a child process that SIGKILLs itself at a named point of the load.

Run by the fault tests as `python fault_child.py --markers DIR [--kill-at POINT]` with the
PBX55_* settings in the environment (on Postgres a PBX55_SCHEMA_PREFIX of the test's own). It
installs hooks into dlt's extract, normalize and load steps, then runs the real command line
(`pbx55.cli.main(["load"])`).

Every hook first writes a marker file into DIR, so the test learns what the child reached
without timing anything:
  `started`               the hooks are installed and the load begins
  `first-batch`           the first batch of pushes was handed to dlt's extract storage
  `killed-<point>`        written just before the SIGKILL at <point>
  `batch-knob-missing`    `--batch-bytes` was asked for but the loader has no BATCH_BYTES

With `--pause-at-first-batch RELEASE`, the child waits after `first-batch` until the file
RELEASE exists (the concurrency test holds one load in the middle of its extract this way).

The hook points, in the order a load passes them (dlt 1.31):
  extract-first-batch       right after the first `pushes` batch was written by the extractor
  before-normalize          entering `Pipeline.normalize` after pushes were extracted
  before-load               entering `Pipeline.load` after that normalize returned
  ledger-committed          every job of `loaded_files` completed (for a merge table: its
                            followup SQL merge job, which writes the final table), none of `pushes`
  pushes-committed          every job of `pushes` completed, none of `loaded_files`
  before-complete-load      all jobs completed, before dlt inserts the `_dlt_loads` row
  before-package-complete   the `_dlt_loads` row is written, before dlt moves the package to its
                            loaded folder (`LoadStorage.complete_load_package`)

For the two "committed" points the other table's jobs are held back (not started) while any job
of the first table is new or running: with parallel load jobs that is the only way the order is
always the same, and it works whether a table is append (one copy job commits it) or merge (a
copy job into the staging dataset, then the merge job). The point is reached in a package only
if that package has jobs of the first table before any job of the second completed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

PUSHES = "pushes"
LEDGER = "loaded_files"
COMMIT_ORDER = {"ledger-committed": (LEDGER, PUSHES), "pushes-committed": (PUSHES, LEDGER)}
KILL_POINTS = (
    "extract-first-batch",
    "before-normalize",
    "before-load",
    "ledger-committed",
    "pushes-committed",
    "before-complete-load",
    "before-package-complete",
)
PAUSE_TIMEOUT_S = 120


class Hooks:
    def __init__(self, markers: Path, kill_at: str | None, release: Path | None) -> None:
        self.markers = markers
        self.kill_at = kill_at
        self.release = release
        self.pushes_batches = 0
        self.normalized_after_extract = False
        self.completed: dict[str, Counter[str]] = {}  # load id -> table -> completed jobs

    def mark(self, name: str, detail: str = "") -> None:
        (self.markers / name).write_text(detail + "\n")

    def maybe_kill(self, point: str, detail: str = "") -> None:
        if point == self.kill_at:
            self.mark(f"killed-{point}", detail)
            os.kill(os.getpid(), signal.SIGKILL)

    def install(self) -> None:
        import dlt
        import dlt.load.load as dlt_load
        from dlt.common.storages.load_package import ParsedLoadJobFileName
        from dlt.common.storages.load_storage import LoadStorage
        from dlt.extract.extractors import Extractor

        hooks = self

        write_item = Extractor._write_item

        def _write_item(self: Any, table_name: str, *args: Any, **kwargs: Any) -> None:
            write_item(self, table_name, *args, **kwargs)
            if table_name == PUSHES:
                hooks.pushes_batches += 1
                if hooks.pushes_batches == 1:
                    hooks.mark("first-batch")
                    hooks.maybe_kill("extract-first-batch")
                    hooks.wait_for_release()

        Extractor._write_item = _write_item  # type: ignore[method-assign]

        normalize = dlt.Pipeline.normalize
        load = dlt.Pipeline.load

        def _normalize(self: Any, *args: Any, **kwargs: Any) -> Any:
            extracted = hooks.pushes_batches > 0
            if extracted:
                hooks.maybe_kill("before-normalize")
            info = normalize(self, *args, **kwargs)
            hooks.normalized_after_extract = hooks.normalized_after_extract or extracted
            return info

        def _load(self: Any, *args: Any, **kwargs: Any) -> Any:
            if hooks.normalized_after_extract:
                hooks.maybe_kill("before-load")
            return load(self, *args, **kwargs)

        dlt.Pipeline.normalize = _normalize  # type: ignore[method-assign]
        dlt.Pipeline.load = _load  # type: ignore[method-assign]

        def table_of(job_or_path: Any) -> str:
            if isinstance(job_or_path, str):
                return ParsedLoadJobFileName.parse(job_or_path).table_name
            return job_or_path.job_file_info().table_name

        order = COMMIT_ORDER.get(self.kill_at or "")
        if order:
            first, second = order
            filter_new_jobs = dlt_load.filter_new_jobs

            def _filter_new_jobs(file_names: Any, capabilities: Any, config: Any, running: Any, *a):
                names = list(file_names)
                pending = [table_of(f) for f in names] + [table_of(j) for j in running]
                if first in pending:
                    names = [f for f in names if table_of(f) != second]
                return filter_new_jobs(names, capabilities, config, running, *a)

            dlt_load.filter_new_jobs = _filter_new_jobs

            complete_jobs = dlt_load.Load.complete_jobs
            kill_point = self.kill_at

            def _complete_jobs(self: Any, load_id: str, jobs: Any, schema: Any) -> Any:
                result = complete_jobs(self, load_id, jobs, schema)
                remaining, finalized, _ = result
                done = hooks.completed.setdefault(load_id, Counter())
                done.update(table_of(j) for j in finalized if j.state() == "completed")
                pending = [table_of(f) for f in self.load_storage.list_new_jobs(load_id)]
                pending += [table_of(j) for j in remaining]
                if done[first] and not done[second] and first not in pending:
                    hooks.maybe_kill(kill_point, f"load {load_id}: {dict(done)}")
                return result

            dlt_load.Load.complete_jobs = _complete_jobs  # type: ignore[method-assign]

        def package_has_pushes(load: Any, load_id: str) -> bool:
            jobs = load.load_storage.normalized_packages.get_load_package_jobs(load_id)
            return any(job.table_name == PUSHES for job in jobs.get("completed_jobs", []))

        complete_package = dlt_load.Load.complete_package
        complete_load_package = LoadStorage.complete_load_package
        completing: dict[str, bool] = {}

        def _complete_package(self: Any, load_id: str, schema: Any, aborted: bool = False) -> None:
            completing[load_id] = not aborted and package_has_pushes(self, load_id)
            if completing[load_id]:
                hooks.maybe_kill("before-complete-load", f"load {load_id}")
            complete_package(self, load_id, schema, aborted)

        def _complete_load_package(self: Any, load_id: str, aborted: bool) -> None:
            if not aborted and completing.get(load_id):
                hooks.maybe_kill("before-package-complete", f"load {load_id}")
            complete_load_package(self, load_id, aborted)

        dlt_load.Load.complete_package = _complete_package  # type: ignore[method-assign]
        LoadStorage.complete_load_package = _complete_load_package  # type: ignore[method-assign]

    def wait_for_release(self) -> None:
        if self.release is None:
            return
        self.mark("paused")
        deadline = time.monotonic() + PAUSE_TIMEOUT_S
        while not self.release.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.release} did not appear in {PAUSE_TIMEOUT_S} s")
            time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markers", type=Path, required=True)
    parser.add_argument("--kill-at", choices=KILL_POINTS)
    parser.add_argument("--pause-at-first-batch", type=Path, metavar="RELEASE")
    parser.add_argument(
        "--batch-bytes", type=int, help="monkeypatch pipelines.loader.load.BATCH_BYTES"
    )
    args = parser.parse_args()

    import pipelines.loader.load
    from pbx55.cli import main as pbx55_main

    if args.batch_bytes is not None:
        if hasattr(pipelines.loader.load, "BATCH_BYTES"):
            pipelines.loader.load.BATCH_BYTES = args.batch_bytes
        else:
            (args.markers / "batch-knob-missing").write_text("\n")
    hooks = Hooks(args.markers, args.kill_at, args.pause_at_first_batch)
    hooks.install()
    hooks.mark("started", str(os.getpid()))
    return pbx55_main(["load"])


if __name__ == "__main__":
    sys.exit(main())
