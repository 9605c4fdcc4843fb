"""`pbx55 demo` (what `make demo` runs): a simulated day of a call centre, end to end.

1. Start the real receiver (`python -m pbx55.cli serve`) on a free loopback port.
2. Send it a simulated day through HTTP, the vendor's quirks included, and keep the ground truth;
   from `DEMO_OUTAGE` the receiver is down for 45 minutes, so the pushes of that window are lost.
3. SIGTERM the receiver, which seals its landing files.
4. Run the Dagster job `load_landed_pushes` in-process (dlt load, dbt models and tests, BI copy)
   with DAGSTER_HOME under the data directory, so the runs show up later in `make dev`, and
   print the day's KPIs as the pushes alone tell them.
5. Serve the day's report API from the simulator (`simulator.report_api`) and run the Dagster job
   `reconcile_report_days` for the day: the pull, the models again, the BI copy. Print the
   coverage (how many of the report's calls the pushes had) and the KPIs after reconciliation.
6. Print how far the warehouse agrees with the ground truth, and where everything is.

Re-running adds another day: each run simulates the day before the earliest day a previous demo
simulated (the first run simulates yesterday), so the history, the weekday heatmap and the
repeat-caller numbers grow with every run while nothing already loaded is touched.

Everything the demo writes is under `$PBX55_DATA_DIR/demo` (`demo_settings`): its own landing
files, warehouse, BI copy and Dagster home, with the demo token and PII key, whatever the other
settings name. So simulated days never reach a production warehouse or its landing directory,
even when `make demo` runs on a production server.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from foundation.settings import DEMO_PII_KEY, Settings
from pbx55.receiver_process import running_receiver
from pipelines.daily_report import figures
from pipelines.daily_report.report import report_path
from simulator import Outage, SimulationConfig, run_simulation
from simulator.compare import (
    compare_calls,
    compare_journeys,
    fct_calls_rows,
    fct_journeys_rows,
)
from simulator.model import day_type
from simulator.report_api import running_report_api, simulated_api_keys

# Only ever sent to the receiver this process starts on 127.0.0.1.
DEMO_TOKEN = "pbx55-demo-token-not-secret"  # noqa: S105 - a published demo value, like DEMO_PII_KEY
# A Saturday or a Sunday is a quieter day than the weekday `calls` describes.
DAY_TYPE_VOLUME = {"weekday": 1.0, "saturday": 0.45, "sunday": 0.25}
COVERAGE_HEADER = ["central", "in report", "in pushes", "no push", "no final push", "coverage"]
# Mid-morning, near the peak: the receiver is down and the platform gives up on those pushes.
DEMO_OUTAGE = "10:00-10:45"


DEMO_DIR = "demo"


def demo_settings(settings: Settings) -> Settings:
    """The demo's own data directory under `settings.data_dir`, embedded warehouse and secrets."""
    data_dir = settings.data_dir / DEMO_DIR
    return replace(
        settings,
        data_dir=data_dir,
        landing_dir=data_dir / "landing",
        warehouse="duckdb",
        duckdb_path=data_dir / "warehouse.duckdb",
        postgres_url=None,
        schema_prefix="",
        tokens=(DEMO_TOKEN,),
        pii_key=DEMO_PII_KEY,
        dagster_postgres_url=None,  # its runs stay in its own dagster_home, on SQLite
    )


def _days_file(settings: Settings) -> Path:
    return settings.data_dir / "simulations" / "demo-days.txt"


def next_demo_day(settings: Settings) -> date:
    """Yesterday in São Paulo the first time, then the day before the earliest demo day."""
    from pbx55.simulate import yesterday_in_sao_paulo

    path = _days_file(settings)
    days = [date.fromisoformat(line) for line in path.read_text().split()] if path.exists() else []
    return min(days) - timedelta(days=1) if days else yesterday_in_sao_paulo()


def _record_demo_day(settings: Settings, day: date) -> None:
    path = _days_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(f"{day}\n")


def _run_job(settings: Settings, job_name: str, partition_key: str | None = None) -> None:
    """A job of the project's Definitions, in this process, recorded in DAGSTER_HOME."""
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    import dagster as dg

    from pbx55.dagster_instance import prepare_instance
    from pipelines.dbt_runner import prepare_manifest
    from pipelines.orchestration.definitions import build_definitions

    prepare_instance(settings)
    prepare_manifest(settings)
    # Dagster prints its own console log; without this the root handler prints each line twice.
    logging.getLogger("dagster").propagate = False
    job = build_definitions(settings).resolve_job_def(job_name)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            partition_key=partition_key,
            tags={"pbx55/source": "demo"},
            # step progress, not Dagster's debug events: the full log is in the UI
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
    if not result.success:
        raise RuntimeError(f"the Dagster run of {job_name} failed")


@contextmanager
def _output_to(log_path: Path) -> Iterator[None]:
    """Everything printed meanwhile (Dagster's and dbt's node-by-node log) goes to `log_path`.

    Both Python's streams and the file descriptors underneath them are redirected: dbt and
    Dagster make their handlers during the run, from whichever of the two they find.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    with log_path.open("a") as log, redirect_stdout(log), redirect_stderr(log):
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            yield
        finally:
            log.flush()
            for descriptor, original in zip((1, 2), saved, strict=True):
                os.dup2(original, descriptor)
                os.close(original)


def _stage(settings: Settings, title: str, job_name: str, partition_key: str | None = None) -> None:
    """One progress line for a Dagster job, its log in the demo's log file; on failure the
    log's last lines and where the rest is."""
    log_path = _log_path(settings)
    print(f"{title} (Dagster job {job_name}) ...", end=" ", flush=True)
    started = time.monotonic()
    try:
        with _output_to(log_path):
            _run_job(settings, job_name, partition_key)
    except Exception:
        print("failed; the end of its log:")
        print("\n".join(log_path.read_text().splitlines()[-25:]))
        print(f"The whole log: {log_path}")
        raise
    print(f"{time.monotonic() - started:.0f} s")


def _log_path(settings: Settings) -> Path:
    path = settings.data_dir / "logs" / "demo.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _query(path: Path, sql: str, parameters: list[object] | None = None) -> list[dict]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as connection:
        cursor = connection.execute(sql, parameters or [])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _table(rows: list[list[str]], header: list[str]) -> str:
    """Columns right-aligned, the first (a name) and a last one headed "" (a legend) left."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    legend = header[-1] == "" and len(header) > 1

    def line(cells: list[str]) -> str:
        aligned = [
            f"{cell:<{width}}"
            if index == 0 or (legend and index == len(cells) - 1)
            else f"{cell:>{width}}"
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(aligned).rstrip()

    lines = [line(header), "  ".join("-" * width for width in widths[: -1 if legend else None])]
    return "\n".join([*lines, *(line([str(cell) for cell in row]) for row in rows)])


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def kpi_summary(settings: Settings, day: date, lenses: tuple[str, ...] = figures.LENSES) -> str:
    """The day's figures of `lenses`, one row per figure and one column per central, each the
    central's own mart value (pipelines.daily_report.figures), with the figure's legend."""
    from pipelines.daily_report import marts

    shown = [figure for figure in figures.headline_figures() if figure.lens in lenses]
    with marts.open_marts(settings) as served:
        values = marts.central_values(served, day, shown)
    blocks = [f"Call centre on {day}, by central"]
    for lens, group in figures.by_lens(shown):
        rows = [
            [figure.label, *(figure.shown(values[central]) for central in values), figure.legend]
            for figure in group
        ]
        blocks.append(_table(rows, [lens[0].upper() + lens[1:], *values, ""]))
    return "\n\n".join(blocks)


def queue_summary(settings: Settings, day: date) -> str:
    """Per central, its queues' callback recovery and forecast accuracy (the marts' rows)."""
    from pipelines.daily_report import marts

    callback = [
        f for f in figures.callback_figures() if f.column in ("called_back", "callback_rate")
    ]
    forecast = [f for f in figures.forecast_figures() if f.column in ("offered", "wape")]
    blocks = []
    with marts.open_marts(settings) as served:
        for central in marts.centrals(served, day):
            rows = {
                row["queue"]: [f.shown(row) for f in forecast]
                for row in marts.per_queue(served, day, central, figures.forecast_figures())
            }
            for row in marts.per_queue(served, day, central, figures.callback_figures()):
                rows.setdefault(row["queue"], ["–"] * len(forecast))
                rows[row["queue"]] = rows[row["queue"]] + [f.shown(row) for f in callback]
            width = len(forecast) + len(callback)
            table_rows = [
                [queue, *cells, *["–"] * (width - len(cells))] for queue, cells in rows.items()
            ]
            header = [
                f"central {central}",
                *(f.label for f in forecast),
                *(f.label for f in callback),
            ]
            blocks.append(_table(table_rows, header))
    legends = [f"  {f.label}: {f.legend}" for f in (*forecast, *callback)]
    return "\n\n".join(blocks) + "\n" + "\n".join(legends)


def coverage_summary(bi_path: Path, day: date) -> str:
    """How many of the report's calls the pushes had, per central (kpi_reconciliation_daily)."""
    rows = _query(
        bi_path,
        "select central_id, sum(calls_in_report) as in_report, sum(calls_in_both) as in_both, "
        "sum(missing_from_pushes_calls) as no_push, "
        "sum(final_push_missing_calls) as no_final_push "
        "from marts.kpi_reconciliation_daily where reported_date = ? "
        "group by central_id order by central_id",
        [day],
    )
    return _table(
        [
            [
                row["central_id"],
                row["in_report"],
                row["in_both"],
                row["no_push"],
                row["no_final_push"],
                _percent(row["in_both"] / row["in_report"] if row["in_report"] else None),
            ]
            for row in rows
        ],
        COVERAGE_HEADER,
    )


def _warehouse_agreement(settings: Settings, truth: list[dict[str, object]]) -> str:
    import duckdb

    with duckdb.connect(str(settings.bi_duckdb_path), read_only=True) as connection:
        calls = fct_calls_rows(connection, reconciled=True)
        journeys = fct_journeys_rows(connection)
    # earlier demo days are in the warehouse too; compare this day's calls and journeys
    day_calls = {(str(r["central_id"]), str(r["call_id"])) for r in truth}
    calls = [row for row in calls if (row["central_id"], row["call_id"]) in day_calls]
    journeys = [row for row in journeys if (row["central_id"], row["journey_id"]) in day_calls]
    journey_differences = compare_journeys(truth, journeys, grace_elapsed=False, reconciled=True)
    lines = [compare_calls(truth, calls, grace_elapsed=False, reconciled=True).report()]
    lines.append(
        f"{len(journeys)} journeys: "
        + ("all agree" if not journey_differences else f"{len(journey_differences)} differ")
    )
    lines += [f"  {difference}" for difference in journey_differences[:5]]
    return "\n".join(lines)


def _daily_report(settings: Settings, day: date) -> Path:
    """The day's report: the Dagster jobs write the last complete day's, which an earlier
    demo day (a re-run) is not; then it is written here."""
    path = report_path(settings, day)
    if not path.exists():
        from pipelines.daily_report import write_daily_report

        path = write_daily_report(settings, day)
    return path


def run_demo(settings: Settings, calls: int = 2000) -> int:
    """The demo in `demo_settings(settings)`; returns the exit status."""
    started = time.monotonic()
    settings = demo_settings(settings)
    day = next_demo_day(settings)
    config = SimulationConfig(
        day=day, calls=round(calls * DAY_TYPE_VOLUME[day_type(day)]), seed=day.toordinal()
    )
    truth_path = settings.data_dir / "simulations" / f"truth-{day}.jsonl"
    print(f"pbx55 demo: data directory {settings.data_dir}")
    print(
        f"1/5 starting the receiver and simulating {day:%A %Y-%m-%d} ({config.calls} contacts); "
        f"the receiver is down {DEMO_OUTAGE}"
    )
    with running_receiver(settings.as_environment()) as receiver:
        report = run_simulation(
            config,
            url=receiver.push_url,
            token=settings.tokens[0],
            truth_path=truth_path,
            outage=Outage.parse(DEMO_OUTAGE),
            take_down=receiver.stop,
            bring_up=receiver.start,
        )
    print(report.summary())
    if report.rejected:
        print(f"pbx55 demo: the receiver refused {report.rejected} pushes; stopping here")
        return 1
    _record_demo_day(settings, day)

    _stage(
        settings, "2/5 loading the landed pushes, the models and the BI copy", "load_landed_pushes"
    )
    print("\nThe day from the pushes alone (the outage's calls missing or unfinished)\n")
    print(kpi_summary(settings, day, lenses=(figures.LEGS,)))

    keys = simulated_api_keys([report.day])
    with running_report_api([report.day], keys) as api:
        reconciling = replace(
            settings, report_api_url=api.base_url, report_api_keys=tuple(keys.items())
        )
        _stage(
            reconciling,
            f"\n3/5 pulling the day from the report API (simulated at {api.base_url})",
            "reconcile_report_days",
            partition_key=day.isoformat(),
        )
    print("\nCoverage: the report's calls that the pushes had (in report = finished calls)")
    print(coverage_summary(settings.bi_duckdb_path, day))
    print("\n4/5 the day after reconciliation (from the BI copy)\n")
    print(kpi_summary(settings, day))
    print("\nQueues: the baseline forecast and callbacks of abandoned callers\n")
    print(queue_summary(settings, day))
    print("\n5/5 warehouse against the simulator's ground truth")
    print(_warehouse_agreement(settings, report.truth))
    in_demo = f"PBX55_DATA_DIR={settings.data_dir}"
    print(
        f"""
Warehouse (DuckDB, one writer):   {settings.duckdb_path}
BI copy (read-only, for Metabase): {settings.bi_duckdb_path}
Ground truth of the day:          {truth_path}
Daily report of the day (HTML):   {_daily_report(settings, day)}
Log of the Dagster and dbt runs:  {_log_path(settings)}
Dagster UI with these runs:       {in_demo} make dev, then http://127.0.0.1:3000
Notebook (reads the BI copy):      {in_demo} .venv/bin/marimo edit notebooks/call_centre.py
Another day:                       make demo again (it adds the day before {day})
The demo keeps to {settings.data_dir}; its caller tokens use the demo PII key
(PBX55_PII_KEY={DEMO_PII_KEY} with {in_demo} loads more into it)."""
    )
    print(f"Done in {time.monotonic() - started:.0f} s.")
    return 0
