"""What a call-centre manager looks at, from the marts BI reads.

Open it with `.venv/bin/marimo edit notebooks/call_centre.py`, or run it headless with
`.venv/bin/python notebooks/call_centre.py`, which prints the first central's headline of the
day on one line (CI does, through tests/e2e). It reads what BI reads
(`pipelines/daily_report/marts.py`, shared with the daily report): the read-only serving copy on
DuckDB (`Settings.bi_duckdb_path`), never the warehouse, so it can stay open while the pipeline
writes; the `marts` schema on Postgres. It opens on the last complete day and its first central:
a central is one 55pbx account, one floor, and every figure is that central's own mart value (no
rate is computed here; the figures and their legends are `pipelines/daily_report/figures.py`).
Times are local (PBX55_TIMEZONE, America/Sao_Paulo by default).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import marimo as mo
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from foundation.settings import Settings
    from pipelines.daily_report import figures, marts, plots, report

    return Settings, figures, marts, mo, np, pd, plots, plt, report


@app.cell
def _(Settings, marts, mo):
    settings = Settings.from_env()

    def read(query, *arguments):
        """A fresh read-only connection per query: the copy may be swapped between queries."""
        with marts.open_marts(settings) as served:
            return query(served, *arguments)

    try:
        days = read(marts.days_with_calls)
        last_complete = read(marts.last_complete_day, marts.local_today(settings))
        published_at = read(lambda served: served.published_at)
    except marts.NoMartsError as error:
        mo.stop(
            True,
            mo.md(
                f"Nothing to show yet: {error}. Run `pbx55 run` (or materialize "
                "`bi_serving_copy`), or `make demo` and open this notebook with "
                "`PBX55_DATA_DIR=data/demo`."
            ),
        )
    mo.stop(not days, mo.md("The marts hold no calls yet."))
    # Today is still going on: open on the last complete day, or on today when it is all there is.
    default_day = last_complete or days[0]
    day_choice = mo.ui.dropdown(
        options=[day.isoformat() for day in days], value=default_day.isoformat(), label="Day"
    )
    source = (
        f"BI copy `{settings.bi_duckdb_path}`, published {published_at:%Y-%m-%d %H:%M} UTC"
        if published_at
        else f"the `{settings.schema_prefix}marts` schema of the Postgres warehouse"
    )
    mo.vstack([mo.md(f"# Call centre\nFrom {source}."), day_choice])
    return day_choice, read


@app.cell
def _(day_choice, marts, mo, read):
    from datetime import date

    day = date.fromisoformat(day_choice.value)
    # A central is one 55pbx account, one floor: the notebook shows one at a time.
    centrals = read(marts.centrals, day)
    central_choice = mo.ui.dropdown(options=centrals, value=centrals[0], label="Central")
    central_choice  # noqa: B018 - a marimo cell shows its last expression
    return central_choice, day


@app.cell
def _(central_choice, day, figures, marts, mo, read, report):
    central = central_choice.value
    threshold_s = marts.dbt_var("sl_threshold_s")
    values = read(marts.central_values, day, figures.headline_figures())[central]
    shown = report.shown(figures.headline_figures(), values)
    print(report.summary_line(day, central, shown))
    mo.vstack(
        [
            item
            for lens, group in figures.by_lens(figures.headline_figures())
            for item in (
                mo.md(f"### {lens.capitalize()}"),
                mo.hstack(
                    [
                        mo.stat(f.value, label=f.label, caption=f.legend)
                        for f in report.shown(group, values)
                    ],
                    wrap=True,
                ),
            )
        ]
    )
    return central, threshold_s, values


@app.cell
def _(central, day, figures, marts, mo, pd, plots, read, threshold_s):
    def _frame(rows, figure_list):
        """The rows as the figure list prints them."""
        return pd.DataFrame(
            [
                {
                    "interval": f"{row['interval_start']:%H:%M}",
                    "queue": row["queue"],
                    **{f.label: f.shown(row) for f in figure_list},
                }
                for row in rows
            ]
        )

    mo.vstack(
        [
            mo.md(f"## Volume and service level by interval ({threshold_s} s, target dotted)"),
            mo.Html(
                plots.volume_and_service_level(read(marts.by_interval, day, central), threshold_s)
                or "<p>No offered legs on this day.</p>"
            ),
            mo.md("## Staffing in the busiest intervals (Erlang C beside the agents seen)"),
            mo.ui.table(
                _frame(
                    read(marts.staffing, day, central, figures.staffing_figures()),
                    figures.staffing_figures(),
                ),
                label="kpi_staffing_by_interval",
            ),
            mo.md("\n".join(f"- **{f.label}**: {f.legend}" for f in figures.staffing_figures())),
        ]
    )
    return


@app.cell
def _(central, day, marts, np, plt, read):
    waits = read(marts.offered_waits, day, central)
    wait_figure, wait_axes = plt.subplots(figsize=(11, 3.6))
    answered_waits = [row["wait_seconds"] for row in waits if row["outcome"] == "answered"]
    all_waits = [row["wait_seconds"] for row in waits]
    top = max(60.0, float(np.quantile(all_waits, 0.99))) if all_waits else 60.0
    bins = np.linspace(0, top, 40)
    for _outcome, _colour in (("answered", "#3182bd"), ("abandoned_queue", "#de2d26")):
        wait_axes.hist(
            np.clip([row["wait_seconds"] for row in waits if row["outcome"] == _outcome], 0, top),
            bins=bins,
            alpha=0.6,
            color=_colour,
            label=_outcome.replace("_", " "),
        )
    for _label, _quantile in (("p50", 0.5), ("p90", 0.9)):
        if answered_waits:
            _value = float(np.quantile(answered_waits, _quantile))
            wait_axes.axvline(_value, color="black", linestyle="--", linewidth=1)
            wait_axes.annotate(f"answered {_label} {_value:.0f} s", (_value, 0), rotation=90,
                               xytext=(3, 30), textcoords="offset points")  # fmt: skip
    wait_axes.set_xlabel("wait in queue, seconds (last bin holds the top 1%)")
    wait_axes.set_ylabel("offered legs")
    wait_axes.legend()
    wait_axes.set_title("Wait distribution")
    wait_figure.tight_layout()
    wait_figure  # noqa: B018 - a marimo cell shows its last expression
    return


@app.cell
def _(marts, mo, plots, values):
    mo.vstack(
        [
            mo.md("## Abandons by type (retained in the IVR apart: no abandon)"),
            mo.Html(
                plots.abandons_by_type(values, marts.dbt_var("short_abandon_s"))
                or "<p>No abandons on this day.</p>"
            ),
        ]
    )
    return


@app.cell
def _(central, day, figures, marts, mo, pd, read):
    def _queue_table(figure_list, label):
        rows = read(marts.per_queue, day, central, figure_list)
        table = pd.DataFrame(
            [
                {"queue": row["queue"], **{f.label: f.shown(row) for f in figure_list}}
                for row in rows
            ]
        )
        legends = "\n".join(f"- **{f.label}**: {f.legend}" for f in figure_list)
        return mo.vstack([mo.ui.table(table, label=label), mo.md(legends)])

    mo.vstack(
        [
            mo.md("## Queues and agents of the day"),
            _queue_table(figures.queue_figures(), "Queues (kpi_by_queue)"),
            _queue_table(figures.callback_figures(), "Callback recovery by first queue"),
            _queue_table(figures.forecast_figures(), "Forecast accuracy"),
            mo.ui.table(
                pd.DataFrame(read(marts.agents, day, central)), label="Agents (kpi_by_agent)"
            ),
        ]
    )
    return


@app.cell
def _(central, day, marts, mo, pd, plt, read):
    def dimension_trend(dimension, value, title):
        """Service level (queues) or answered legs (agents) per day and name, over the trend."""
        rows = pd.DataFrame(read(marts.dimension_trend, dimension, day, central))
        figure, axes = plt.subplots(figsize=(11, 3.2))
        if len(rows):
            table = rows.pivot_table(index="reported_date", columns="name", values=value)
            (100 * table if value == "service_level" else table).plot(ax=axes, marker="o")
            axes.legend(fontsize="small", ncols=2)
        axes.set_title(title)
        axes.set_xlabel("")
        figure.tight_layout()
        return figure

    mo.vstack(
        [
            mo.md(f"## Queues and agents over the last {marts.TREND_DAYS} days"),
            dimension_trend("queue", "service_level", "Service level by queue, %"),
            dimension_trend("branch_mask", "answered_legs", "Answered legs by extension"),
        ]
    )
    return


@app.cell
def _(central, day, marts, mo, plots, read):
    mo.vstack(
        [
            mo.md(f"## The last {marts.TREND_DAYS} days"),
            mo.Html(
                plots.trend(read(marts.trend, day, central), day, marts.TREND_DAYS)
                or "<p>No inbound calls in these days.</p>"
            ),
        ]
    )
    return


@app.cell
def _(central, marts, np, plt, read):
    # The mart's offered legs of each weekday and hour, summed over the days it observed.
    volume = np.full((7, 24), np.nan)  # a weekday with no data stays blank, not zero
    observed = {}
    for _row in read(marts.offered_by_weekday_hour, central):
        volume[_row["iso_weekday"] - 1, _row["hour_of_day"]] = _row["offered"]
        observed[_row["iso_weekday"]] = _row["days_observed"]
    heatmap_figure, heatmap_axes = plt.subplots(figsize=(11, 3.6))
    image = heatmap_axes.imshow(volume, aspect="auto", cmap="YlOrRd")
    heatmap_axes.set_yticks(
        range(7),
        [
            f"{name} ({observed.get(number, 0)} d)"
            for number, name in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], 1)
        ],
    )
    heatmap_axes.set_xticks(range(0, 24, 2), [f"{hour:02d}h" for hour in range(0, 24, 2)])
    heatmap_axes.set_title("Legs offered to the queues, hour × weekday, over the days observed (d)")
    heatmap_figure.colorbar(image, ax=heatmap_axes, label="offered legs")
    heatmap_figure.tight_layout()
    heatmap_figure  # noqa: B018 - a marimo cell shows its last expression
    return


@app.cell
def _(central, day, marts, mo, plots, read):
    mo.vstack(
        [
            mo.md("## Cost"),
            mo.Html(
                plots.costs(
                    read(marts.cost_by_tariff_class, day, central),
                    read(marts.cost_by_uf, day, central),
                )
                or "<p>Nothing billed on this day.</p>"
            ),
        ]
    )
    return


if __name__ == "__main__":
    app.run()
