"""The supervisor's daily report: one self-contained HTML file per day, written after each refresh.

`write_daily_report(settings, day=None)` reads the served marts (`marts.py`), renders the
template `daily_report.html.j2` (Jinja2, autoescaped) with the plots inline as SVG (`plots.py`)
and writes `$PBX55_DATA_DIR/reports/daily-YYYY-MM-DD.html`, and `daily-latest.html` when the
day is the last complete one, each atomically (a temporary file, fsync, `os.replace`), so a
browser or a mail job never reads half a file. The file needs nothing else: no script, style
sheet, font or image from anywhere. No marts yet, no complete day or a day without calls give a
report that says so.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import jinja2

from foundation.landing.durable import fsync_path
from foundation.settings import Settings
from pipelines.daily_report import marts as served
from pipelines.daily_report import plots
from pipelines.daily_report.figures import (
    Figure,
    by_lens,
    callback_figures,
    count,
    forecast_figures,
    headline_figures,
    minutes,
    money,
    percent,
    queue_figures,
    seconds,
    sl_target,
    staffing_figures,
)

REPORTS_DIR = "reports"
LATEST_NAME = "daily-latest.html"
TEMPLATE = "daily_report.html.j2"


def reports_dir(settings: Settings) -> Path:
    return settings.data_dir / REPORTS_DIR


def report_path(settings: Settings, day: date) -> Path:
    return reports_dir(settings) / f"daily-{day.isoformat()}.html"


@dataclass(frozen=True)
class Shown:
    """A figure as printed: its key (the mart column), label, value and legend."""

    key: str
    label: str
    value: str
    legend: str


def shown(figures: Sequence[Figure], values: dict[str, Any]) -> list[Shown]:
    return [Shown(f.column, f.label, f.shown(values), f.legend) for f in figures]


def summary_line(day: date, central: str, figures: Sequence[Shown]) -> str:
    """A central's headline on one line, as the notebook prints it when run headless."""
    values = ", ".join(f"{figure.label} {figure.value}" for figure in figures)
    return f"Call centre on {day.isoformat()}: {values} (central {central})"


@dataclass(frozen=True)
class Table:
    """A table of mart rows: a text column first (queue, interval), then one per figure, and the
    figures' legends under it."""

    key: str
    first: str
    header: list[str]
    rows: list[list[str]]
    legends: list[tuple[str, str]]


def table(
    key: str, first: str, figures: Sequence[Figure], rows: Sequence[dict[str, Any]], name: Any
) -> Table:
    return Table(
        key=key,
        first=first,
        header=[figure.label for figure in figures],
        rows=[[name(row), *(figure.shown(row) for figure in figures)] for row in rows],
        legends=[(figure.label, figure.legend) for figure in figures],
    )


def _agent_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [row["branch_mask"], count(row["answered_legs"]), count(row["answered"]),
         count(row["outbound_calls"]), seconds(row["talk_mean_seconds"]),
         percent(row["transfer_rate"]), percent(row["agent_hung_up_first_rate"])]
        for row in rows
    ]  # fmt: skip


def _tariff_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [row["tariff_class"], count(row["legs"]), minutes(row["billed_minutes"]),
         money(row["cost"])]
        for row in rows
    ]  # fmt: skip


def _central(marts: served.Marts, day: date, central: str, values: dict[str, Any]) -> dict:
    """One central's section: its figures by lens, plots and tables, all its marts' values."""
    threshold_s = served.dbt_var("sl_threshold_s")
    level = values.get("service_level")
    tariffs = served.cost_by_tariff_class(marts, day, central)
    queue = itemgetter("queue")
    return {
        "central_id": central,
        "lenses": [(lens, shown(group, values)) for lens, group in by_lens(headline_figures())],
        "sl_met": level is not None and level >= sl_target(),
        "plots": {
            "intervals": plots.volume_and_service_level(
                served.by_interval(marts, day, central), threshold_s
            ),
            "waits": plots.wait_distribution(served.wait_buckets(marts, day, central)),
            "abandons": plots.abandons_by_type(values, served.dbt_var("short_abandon_s")),
            "costs": plots.costs(tariffs, served.cost_by_uf(marts, day, central)),
            "trend": plots.trend(served.trend(marts, day, central), day, served.TREND_DAYS),
        },
        "staffing": table(
            f"staffing-{central}", "interval, queue", staffing_figures(),
            served.staffing(marts, day, central, staffing_figures()),
            lambda row: f"{row['interval_start']:%H:%M} {row['queue']}",
        ),
        "tables": [
            table(f"queues-{central}", "queue", queue_figures(),
                  served.per_queue(marts, day, central, queue_figures()), queue),
            table(f"callbacks-{central}", "first queue", callback_figures(),
                  served.per_queue(marts, day, central, callback_figures()), queue),
            table(f"forecast-{central}", "queue", forecast_figures(),
                  served.per_queue(marts, day, central, forecast_figures()), queue),
        ],
        "agents": _agent_rows(served.agents(marts, day, central)),
        "tariffs": _tariff_rows(tariffs),
    }  # fmt: skip


def _context(marts: served.Marts, day: date) -> dict[str, Any]:
    values = served.central_values(marts, day, headline_figures())
    return {
        "has_calls": bool(values),
        "centrals": [_central(marts, day, central, row) for central, row in values.items()],
        "threshold_s": served.dbt_var("sl_threshold_s"),
        "target": percent(sl_target()),
        "trend_days": served.TREND_DAYS,
    }


@dataclass(frozen=True)
class RenderedReport:
    day: date | None  # None when there is no day to report on
    html: str
    is_latest: bool  # the last complete day: also daily-latest.html


def render_daily_report(settings: Settings, day: date | None = None) -> RenderedReport:
    """The report of `day`, or of the last complete day in PBX55_TIMEZONE."""
    generated_at = datetime.now(UTC)
    context: dict[str, Any] = {"day": day, "notice": None, "published_at": None}
    is_latest = False
    try:
        with served.open_marts(settings) as marts:
            latest = served.last_complete_day(marts, served.local_today(settings))
            day = day or latest
            is_latest = day == latest
            context |= {"day": day, "published_at": marts.published_at}
            if day is None:
                context["notice"] = "The marts hold no complete day yet."
            else:
                context |= _context(marts, day)
                if not context["has_calls"]:
                    context["notice"] = f"The marts hold no calls on {day.isoformat()}."
    except served.NoMartsError as error:
        context["notice"] = f"Nothing to report: {error}. It appears after the first refresh."
        is_latest = day is None
    html = _template().render(
        **context,
        generated_at=generated_at,
        warehouse=settings.warehouse,
        timezone=settings.timezone,
    )
    return RenderedReport(day=day, html=html, is_latest=is_latest)


def write_daily_report(settings: Settings, day: date | None = None) -> Path:
    """Write the report of `day` (default: the last complete day); returns its path."""
    report = render_daily_report(settings, day)
    directory = reports_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    targets = [report_path(settings, report.day)] if report.day else []
    if report.is_latest:
        targets.append(directory / LATEST_NAME)
    for target in targets:
        _write_atomically(target, report.html)
    return targets[0]


def _write_atomically(target: Path, text: str) -> None:
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        fsync_path(partial)
        os.replace(partial, target)
        fsync_path(target.parent)
    finally:
        partial.unlink(missing_ok=True)


def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template(TEMPLATE)
