"""The figures the daily report, the notebook and the demo show, each defined once: its label,
the mart column it is read from, its format, its lens and the one line saying what it counts
(every rate names its denominator; the thresholds are the dbt vars).

A figure is a mart's own value for one central: a central is one 55pbx account, one floor. No
rate is computed here or by a reader: a figure is either a column of the central's own row
(`call_kind` names the `kpi_daily` row) or, for counts and amounts only, the sum of the
central's rows of the day (`call_kind` None: the kinds of `kpi_daily`, the queues of
`kpi_callback_recovery_daily`, the tariff classes of `kpi_by_tariff_class`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from pipelines.daily_report.marts import dbt_var

CUSTOMERS = "customers (journeys)"
LEGS = "queue work (legs)"
COST = "cost"
LENSES = (CUSTOMERS, LEGS, COST)


def count(value: float | None) -> str:
    return "–" if value is None else f"{int(value):,}"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} s"


def money(value: float | None) -> str:
    return "–" if value is None else f"R$ {value:,.2f}"


def minutes(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f} min"


def agents(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def erlangs(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


@dataclass(frozen=True)
class Figure:
    """One figure: `column` of `mart` (also the key the report and its tests know it by)."""

    column: str
    label: str
    lens: str
    format: Callable[[Any], str]
    legend: str
    mart: str = "kpi_daily"
    # The kpi_daily row the value is read from; None: the central's rows of the day summed.
    call_kind: str | None = "inbound"

    def shown(self, values: dict[str, Any]) -> str:
        return self.format(values.get(self.column))


def sl_target() -> float:
    """The service-level target (dbt var `sl_target`), which Erlang C staffing aims for too."""
    return float(dbt_var("sl_target"))


def _service_level_legend() -> str:
    return (
        f"Answered within {dbt_var('sl_threshold_s')} s / (answered + abandoned − short "
        f"abandons) of offered legs; target {percent(sl_target())}."
    )


@cache
def headline_figures() -> tuple[Figure, ...]:
    """A central's figures of the day, by lens."""
    short_s = dbt_var("short_abandon_s")
    window_h = dbt_var("callback_window_hours")
    return (
        Figure("journeys", "New inbound calls", CUSTOMERS, count,
               "Inbound journeys: a caller's call, its transfers counted once."),
        Figure("journeys_answered", "Customers answered", CUSTOMERS, count,
               "Inbound journeys whose last leg an agent answered."),
        Figure("journey_abandon_rate", "Journey abandon rate", CUSTOMERS, percent,
               "Journeys whose last leg was abandoned (in queue or the IVR; not retained, none "
               "unfinished) / inbound journeys."),
        Figure("journey_wait_mean_seconds", "Wait per customer", CUSTOMERS, seconds,
               "A journey's waits in queue summed, mean over inbound journeys."),
        Figure("abandoned_with_caller", "Abandoned, caller known", CUSTOMERS, count,
               "Abandoned inbound journeys whose caller's number is known: they can be called "
               "back.", mart="kpi_callback_recovery_daily", call_kind=None),
        Figure("called_back", "Called back", CUSTOMERS, count,
               f"Of those, called back within {window_h} h; the callback rate of each queue "
               "(called back / abandoned, caller known) is in its table.",
               mart="kpi_callback_recovery_daily", call_kind=None),
        Figure("offered", "Offered legs", LEGS, count,
               "Inbound legs that reached a queue; a transfer to another queue is another leg."),
        Figure("answered", "Answered", LEGS, count, "Offered legs an agent answered."),
        Figure("service_level", "Service level", LEGS, percent, _service_level_legend()),
        Figure("asa_seconds", "ASA", LEGS, seconds,
               "Wait in queue of the answered legs / answered legs."),
        Figure("abandoned", "Abandoned in queue", LEGS, count,
               "Offered legs whose caller hung up before an answer, short abandons included."),
        Figure("abandon_rate", "Abandon rate", LEGS, percent,
               "Abandoned in queue / offered legs."),
        Figure("short_abandons", "Short abandons", LEGS, count,
               f"Abandoned in queue within {short_s} s: left out of the service level."),
        Figure("abandoned_ivr", "Hung up in the IVR", LEGS, count,
               "Inbound legs whose caller hung up before reaching a queue: an abandon."),
        Figure("retained_ivr", "Retained in the IVR", LEGS, count,
               "Inbound legs the IVR kept (closed-hours message, self-service): not an abandon."),
        Figure("unmeasured_legs", "Unmeasured legs", LEGS, count,
               "Legs without a final state, of every kind: their talk and cost are unknown, "
               "left out of averages.", call_kind=None),
        Figure("calls_from_report", "Completed by the report", LEGS, count,
               "Legs of every kind whose final state the report API gave, the pushes lacking "
               "it.", call_kind=None),
        Figure("cost_total", "Cost", COST, money,
               "Voice minutes of every kind of call and SMS; inbound legs are free.",
               mart="kpi_by_tariff_class", call_kind=None),
        Figure("billed_minutes", "Billed minutes", COST, minutes,
               "Voice minutes billed, of every kind of call.", call_kind=None),
        Figure("cost_per_billed_minute", "Cost per minute", COST, money,
               "Voice cost / billed minutes of the outbound legs whose cost is known.",
               call_kind="outbound"),
    )  # fmt: skip


@cache
def queue_figures() -> tuple[Figure, ...]:
    """A queue's figures of the day (kpi_by_queue), the columns of the report's queue table."""
    return (
        Figure("offered", "offered", LEGS, count, "Offered legs.", mart="kpi_by_queue"),
        Figure("answered", "answered", LEGS, count, "Offered legs answered.", mart="kpi_by_queue"),
        Figure("abandoned", "abandoned", LEGS, count,
               "Abandoned in queue, short abandons included.", mart="kpi_by_queue"),
        Figure("service_level", "service level", LEGS, percent, _service_level_legend(),
               mart="kpi_by_queue"),
        Figure("asa_seconds", "ASA", LEGS, seconds,
               "Wait of the answered legs / answered legs.", mart="kpi_by_queue"),
        Figure("answered_wait_p90_seconds", "p90 wait", LEGS, seconds,
               "90th percentile of the wait of answered legs.", mart="kpi_by_queue"),
        Figure("abandon_rate", "abandon rate", LEGS, percent,
               "Abandoned in queue / offered legs.", mart="kpi_by_queue"),
        Figure("talk_mean_seconds", "mean talk", LEGS, seconds,
               "Talk of the answered legs whose talk is known / those legs.",
               mart="kpi_by_queue"),
    )  # fmt: skip


@cache
def callback_figures() -> tuple[Figure, ...]:
    """Callback recovery of a first queue (kpi_callback_recovery_daily)."""
    mart = "kpi_callback_recovery_daily"
    window_h = dbt_var("callback_window_hours")
    return (
        Figure("abandoned_journeys", "abandoned journeys", CUSTOMERS, count,
               "Abandoned inbound journeys whose first queue this was ((ivr): none).", mart=mart),
        Figure("abandoned_with_caller", "caller known", CUSTOMERS, count,
               "Those whose caller's number is known.", mart=mart),
        Figure("called_back", "called back", CUSTOMERS, count,
               f"Those called back within {window_h} h.", mart=mart),
        Figure("callback_rate", "callback rate", CUSTOMERS, percent,
               "Called back / abandoned journeys whose caller is known.", mart=mart),
        Figure("callback_p50_seconds", "median time to callback", CUSTOMERS, seconds,
               "From the journey's start to the callback, median over those called back.",
               mart=mart),
    )  # fmt: skip


@cache
def forecast_figures() -> tuple[Figure, ...]:
    """The baseline forecast's accuracy for a queue (kpi_forecast_accuracy_daily)."""
    mart = "kpi_forecast_accuracy_daily"
    weeks = dbt_var("forecast_weeks")
    return (
        Figure("offered", "offered", LEGS, count, "Offered legs of the day.", mart=mart),
        Figure("forecast_offered", "forecast", LEGS, erlangs,
               f"The mean offered of the same weekday and interval over the {weeks} weeks "
               "before, summed over the intervals that have one.", mart=mart),
        Figure("wape", "WAPE", LEGS, percent,
               "Sum |forecast − offered| / offered legs, over the intervals with a forecast.",
               mart=mart),
        Figure("forecast_bias", "bias", LEGS, percent,
               "Sum (forecast − offered) / offered legs, over the same intervals: positive when "
               "the forecast ran high.", mart=mart),
    )  # fmt: skip


@cache
def staffing_figures() -> tuple[Figure, ...]:
    """An interval's Erlang C staffing beside what was seen (kpi_staffing_by_interval)."""
    mart = "kpi_staffing_by_interval"
    return (
        Figure("offered", "offered", LEGS, count, "Offered legs of the interval.", mart=mart),
        Figure("handle_mean_seconds", "AHT", LEGS, seconds,
               "Talk of the answered legs / answered legs (no wrap-up is measured).", mart=mart),
        Figure("traffic_erlangs", "load (erlangs)", LEGS, erlangs,
               "Offered × AHT / interval length.", mart=mart),
        Figure("agents_required", "agents needed", LEGS, agents,
               f"The fewest agents whose Erlang C service level reaches "
               f"{percent(sl_target())} within {dbt_var('sl_threshold_s')} s.", mart=mart),
        Figure("agents_answering", "agents seen", LEGS, agents,
               "Extensions that answered a leg of the interval and queue.", mart=mart),
        Figure("agents_short_of_required", "seen − needed", LEGS, agents,
               "Negative: fewer agents seen than Erlang C asks for.", mart=mart),
        Figure("expected_service_level", "expected SL", LEGS, percent,
               "Erlang C's service level with the agents needed.", mart=mart),
        Figure("service_level", "measured SL", LEGS, percent, _service_level_legend(),
               mart=mart),
    )  # fmt: skip


def by_lens(figures: Sequence[Figure]) -> list[tuple[str, list[Figure]]]:
    """The figures grouped by lens, in the order of LENSES."""
    return [
        (lens, [figure for figure in figures if figure.lens == lens])
        for lens in LENSES
        if any(figure.lens == lens for figure in figures)
    ]
