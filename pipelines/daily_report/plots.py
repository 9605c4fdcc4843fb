"""The report's plots as inline SVG: text stays text, nothing refers outside the document.

Built on matplotlib's `Figure` without pyplot, so no GUI backend or global figure state is
involved (the Dagster asset renders in a worker process). Each function takes the rows of
`pipelines.daily_report.marts` and returns SVG markup, or None when there is nothing to plot.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from pipelines.daily_report.figures import sl_target
from pipelines.daily_report.marts import BUSIEST_QUEUES

ANSWERED = "#3182bd"
ABANDONED = "#de2d26"
LEVEL = "#08519c"
COST = "#756bb1"
RETAINED = "#969696"
QUEUE_COLOURS = ("#3182bd", "#e6550d", "#31a354", "#756bb1", "#bdbdbd")
# Text as <text> in the system's sans-serif, not as glyph paths; ids salted for a stable output.
_SVG_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "pbx55-daily-report", "font.size": 9}
# No creation date or tool credits: the same marts give the same file.
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


def _svg(figure: Figure) -> str:
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata=_NO_METADATA)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # the XML declaration and DOCTYPE have no place in HTML


def _figure(width: float = 9.5, height: float = 3.4) -> Figure:
    return Figure(figsize=(width, height))


def _percent_axis(axes: Any) -> None:
    axes.set_ylim(0, 105)
    axes.yaxis.set_major_formatter(PercentFormatter())


def volume_and_service_level(rows: Sequence[dict[str, Any]], threshold_s: int) -> str | None:
    """Offered legs per interval stacked by queue (the busiest `BUSIEST_QUEUES`, the others
    together), and each of those queues' own service level (kpi_by_interval) against the target."""
    if not any(row["offered"] for row in rows):
        return None
    offered_by_queue: dict[str, int] = {}
    for row in rows:
        offered_by_queue[row["queue"]] = offered_by_queue.get(row["queue"], 0) + row["offered"]
    busiest = sorted(offered_by_queue, key=lambda queue: (-offered_by_queue[queue], queue))
    shown, others = busiest[:BUSIEST_QUEUES], busiest[BUSIEST_QUEUES:]
    intervals = sorted({row["interval_start"] for row in rows})
    position = {interval: index for index, interval in enumerate(intervals)}
    with matplotlib.rc_context(_SVG_STYLE):
        figure = _figure(height=3.8)
        volume = figure.subplots()
        level = volume.twinx()
        bottom = [0] * len(intervals)
        for index, queue in enumerate([*shown, *(["other queues"] if others else [])]):
            members = {queue} if queue in shown else set(others)
            offered = [0] * len(intervals)
            for row in rows:
                if row["queue"] in members:
                    offered[position[row["interval_start"]]] += row["offered"]
            colour = QUEUE_COLOURS[index % len(QUEUE_COLOURS)]
            volume.bar(range(len(intervals)), offered, bottom=bottom, color=colour, label=queue)
            bottom = [b + o for b, o in zip(bottom, offered, strict=True)]
            if queue in shown:
                levels = [None] * len(intervals)
                for row in rows:
                    if row["queue"] == queue and row["service_level"] is not None:
                        levels[position[row["interval_start"]]] = 100 * row["service_level"]
                level.plot(range(len(intervals)), levels, color=colour, marker="o",
                           markersize=3, linewidth=1)  # fmt: skip
        level.axhline(100 * sl_target(), color=LEVEL, linestyle=":", linewidth=1,
                      label=f"target ({threshold_s} s)")  # fmt: skip
        # Positions, not the times: every other label, so that 48 half hours stay legible.
        volume.set_xticks(
            range(0, len(intervals), 2),
            [f"{interval:%H:%M}" for interval in intervals[::2]],
            rotation=90,
        )
        volume.set_ylabel("offered legs")
        volume.set_xlabel(f"interval of {rows[0]['interval_minutes']} minutes (local)")
        level.set_ylabel("service level (lines)")
        _percent_axis(level)
        handles = volume.get_legend_handles_labels()
        level_handles = level.get_legend_handles_labels()
        volume.legend(
            handles[0] + level_handles[0],
            handles[1] + level_handles[1],
            loc="upper left",
            fontsize="small",
        )
        return _svg(figure)


def wait_distribution(buckets: Sequence[dict[str, Any]]) -> str | None:
    """Answered and abandoned offered legs per bucket of wait in queue."""
    if not any(bucket["answered"] or bucket["abandoned"] for bucket in buckets):
        return None
    with matplotlib.rc_context(_SVG_STYLE):
        figure = _figure(height=3.0)
        axes = figure.subplots()
        positions = range(len(buckets))
        axes.bar(
            [p - 0.2 for p in positions],
            [b["answered"] for b in buckets],
            width=0.4,
            color=ANSWERED,
            label="answered",
        )
        axes.bar(
            [p + 0.2 for p in positions],
            [b["abandoned"] for b in buckets],
            width=0.4,
            color=ABANDONED,
            label="abandoned in queue",
        )
        axes.set_xticks(list(positions), [bucket["bucket"] for bucket in buckets])
        axes.set_xlabel("wait in queue")
        axes.set_ylabel("offered legs")
        axes.legend()
        return _svg(figure)


def abandons_by_type(values: dict[str, Any], short_abandon_s: int) -> str | None:
    """A central's abandons in queue (after the short-abandon cut-off), short abandons and
    hang-ups in the IVR; the calls the IVR retained apart, as no abandon."""
    kinds = [
        ("in queue", (values["abandoned"] or 0) - (values["short_abandons"] or 0), ABANDONED),
        (f"short (< {short_abandon_s} s in queue)", values["short_abandons"] or 0, ABANDONED),
        ("hung up in the IVR", values["abandoned_ivr"] or 0, ABANDONED),
        ("retained in the IVR (no abandon)", values["retained_ivr"] or 0, RETAINED),
    ]
    if not any(count for _, count, _ in kinds):
        return None
    with matplotlib.rc_context(_SVG_STYLE):
        figure = _figure(width=6.5, height=2.5)
        axes = figure.subplots()
        kinds.reverse()  # the first at the top
        axes.barh(range(len(kinds)), [n for _, n, _ in kinds], color=[c for _, _, c in kinds])
        axes.set_yticks(range(len(kinds)), [label for label, _, _ in kinds])
        for position, (_, count, _) in enumerate(kinds):
            axes.annotate(
                str(count),
                (count, position),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
            )
        axes.set_xlabel("legs")
        return _svg(figure)


def costs(by_tariff: Sequence[dict[str, Any]], by_uf: Sequence[dict[str, Any]]) -> str | None:
    """Cost by Anatel tariff class (with billed minutes) and by the UF of the other party."""
    if not by_tariff and not by_uf:
        return None
    with matplotlib.rc_context(_SVG_STYLE):
        figure = _figure(height=3.2)
        tariff_axes, uf_axes = figure.subplots(1, 2)
        tariff_axes.bar(range(len(by_tariff)), [row["cost"] for row in by_tariff], color=COST)
        tariff_axes.set_xticks(range(len(by_tariff)), [row["tariff_class"] for row in by_tariff])
        for position, row in enumerate(by_tariff):
            if row["billed_minutes"]:  # an SMS is priced per message
                tariff_axes.annotate(
                    f"{row['billed_minutes']:.0f} min",
                    (position, row["cost"]),
                    ha="center",
                    xytext=(0, 2),
                    textcoords="offset points",
                )
        tariff_axes.set_title("by tariff class (R$; billed minutes)")
        top_down = list(reversed(by_uf))
        uf_axes.barh(range(len(top_down)), [row["cost"] for row in top_down], color=COST)
        uf_axes.set_yticks(range(len(top_down)), [row["caller_uf"] for row in top_down])
        uf_axes.set_title("by UF of the other party's number (R$)")
        return _svg(figure)


def trend(rows: Sequence[dict[str, Any]], last_day: date, days: int) -> str | None:
    """New inbound calls per day of the `days` ending on `last_day`, with the service level and
    the abandon rate; a day the marts do not hold is a gap, not a zero."""
    if not rows:
        return None
    window = [last_day - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    by_day = {row["reported_date"]: row for row in rows}
    with matplotlib.rc_context(_SVG_STYLE):
        figure = _figure(height=3.2)
        volume = figure.subplots()
        positions = range(len(window))
        volume.bar(
            list(positions),
            [by_day[day]["new_inbound_calls"] if day in by_day else 0 for day in window],
            color="#c6dbef",
            label="new inbound calls",
        )
        volume.set_xticks(list(positions), [f"{day:%d/%m}" for day in window], rotation=90)
        volume.set_ylabel("calls")
        rates = volume.twinx()
        for name, colour, label in (
            ("service_level", LEVEL, "service level"),
            ("abandon_rate", ABANDONED, "abandon rate"),
        ):
            values = [
                100 * by_day[day][name] if by_day.get(day, {}).get(name) is not None else None
                for day in window
            ]
            rates.plot(list(positions), values, color=colour, marker="o", label=label)
        rates.axhline(100 * sl_target(), color=LEVEL, linestyle=":", linewidth=1)
        _percent_axis(rates)
        handles = volume.get_legend_handles_labels()
        rate_handles = rates.get_legend_handles_labels()
        volume.legend(handles[0] + rate_handles[0], handles[1] + rate_handles[1], loc="upper left")
        return _svg(figure)
