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
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jinja2

from foundation.landing.durable import fsync_path
from foundation.settings import Settings
from pipelines.daily_report import marts as served
from pipelines.daily_report import plots

REPORTS_DIR = "reports"
LATEST_NAME = "daily-latest.html"
TEMPLATE = "daily_report.html.j2"


def reports_dir(settings: Settings) -> Path:
    return settings.data_dir / REPORTS_DIR


def report_path(settings: Settings, day: date) -> Path:
    return reports_dir(settings) / f"daily-{day.isoformat()}.html"


@dataclass(frozen=True)
class Figure:
    """One headline figure as printed, with the one line saying what it counts."""

    key: str
    label: str
    value: str
    legend: str


def count(value: float | None) -> str:
    return "–" if value is None else f"{int(value):,}"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} s"


def money(value: float | None) -> str:
    return "–" if value is None else f"R$ {value:,.2f}"


def headline_figures(headline: served.Headline, threshold_s: int) -> list[Figure]:
    target = percent(served.SERVICE_LEVEL_TARGET)
    return [
        Figure("new_inbound_calls", "New inbound calls", count(headline.new_inbound_calls),
               "Inbound journeys: a caller's call, its transfers counted once."),
        Figure("offered", "Offered legs", count(headline.offered),
               "Inbound legs that reached a queue; a transfer to another queue is another leg."),
        Figure("answered", "Answered", count(headline.answered),
               "Offered legs an agent answered."),
        Figure("abandoned", "Abandoned in queue", count(headline.abandoned),
               "Offered legs whose caller hung up before an answer, short abandons included."),
        Figure("service_level", "Service level", percent(headline.service_level),
               f"Answered within {threshold_s} s / (answered + abandoned − short abandons); "
               f"target {target}."),
        Figure("asa_seconds", "ASA", seconds(headline.asa_seconds),
               "Average speed of answer: mean wait in queue of the answered legs."),
        Figure("abandon_rate", "Abandon rate", percent(headline.abandon_rate),
               "Abandoned in queue / offered legs."),
        Figure("cost", "Cost", money(headline.cost),
               "Billed voice minutes and SMS of every kind of call; inbound legs are free."),
    ]  # fmt: skip


def summary_line(day: date, figures: list[Figure]) -> str:
    """The headline on one line, as the notebook prints it when run headless."""
    values = ", ".join(f"{figure.label} {figure.value}" for figure in figures)
    return f"Call centre on {day.isoformat()}: {values}"


def _queue_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [row["central_id"], row["queue"], count(row["offered"]), count(row["answered"]),
         count(row["abandoned"]), percent(row["service_level"]), seconds(row["asa_seconds"]),
         seconds(row["answered_wait_p90_seconds"]), percent(row["abandon_rate"]),
         seconds(row["talk_mean_seconds"])]
        for row in rows
    ]  # fmt: skip


def _agent_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [row["central_id"], row["branch_mask"], count(row["answered_legs"]),
         count(row["answered"]), count(row["outbound_calls"]), seconds(row["talk_mean_seconds"]),
         percent(row["transfer_rate"]), percent(row["agent_hung_up_first_rate"])]
        for row in rows
    ]  # fmt: skip


def _tariff_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [row["tariff_class"], count(row["legs"]), f"{row['billed_minutes'] or 0:.1f}",
         money(row["cost"])]
        for row in rows
    ]  # fmt: skip


def _context(marts: served.Marts, day: date) -> dict[str, Any]:
    threshold_s = served.dbt_var("sl_threshold_s")
    centrals = served.headlines(marts, day)
    headline = served.combined(centrals)
    tariffs = served.cost_by_tariff_class(marts, day)
    return {
        "has_calls": bool(centrals),
        "figures": headline_figures(headline, threshold_s),
        "centrals": [(c.central_id, headline_figures(c, threshold_s)) for c in centrals]
        if len(centrals) > 1
        else [],
        "threshold_s": threshold_s,
        "target": percent(served.SERVICE_LEVEL_TARGET),
        "sl_met": headline.service_level is not None
        and headline.service_level >= served.SERVICE_LEVEL_TARGET,
        "plots": {
            "intervals": plots.volume_and_service_level(
                served.by_interval(marts, day), threshold_s
            ),
            "waits": plots.wait_distribution(served.wait_buckets(marts, day)),
            "abandons": plots.abandons_by_type(headline, served.dbt_var("short_abandon_s")),
            "costs": plots.costs(tariffs, served.cost_by_uf(marts, day)),
            "trend": plots.trend(served.trend(marts, day), day, served.TREND_DAYS),
        },
        "trend_days": served.TREND_DAYS,
        "queues": _queue_rows(served.queues(marts, day)),
        "agents": _agent_rows(served.agents(marts, day)),
        "tariffs": _tariff_rows(tariffs),
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
