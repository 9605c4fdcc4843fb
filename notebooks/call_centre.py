"""What a call-centre manager looks at, from the BI copy of the pbx55 warehouse.

Open it with `.venv/bin/marimo edit notebooks/call_centre.py`, or run it headless with
`.venv/bin/python notebooks/call_centre.py` (CI does, through tests/e2e). It reads the read-only
serving copy (`Settings.bi_duckdb_path`), never the warehouse, so it can stay open while the
pipeline writes. Times are local (PBX55_TIMEZONE, America/Sao_Paulo by default).
"""

import marimo

__generated_with = "0.14.0"
app = marimo.App(width="medium")


@app.cell
def _():
    import duckdb
    import marimo as mo
    import matplotlib.pyplot as plt
    import numpy as np

    from foundation.settings import Settings

    return Settings, duckdb, mo, np, plt


@app.cell
def _(Settings, duckdb, mo):
    settings = Settings.from_env()
    bi_path = settings.bi_duckdb_path
    mo.stop(
        not bi_path.exists(),
        mo.md(
            f"No BI copy at `{bi_path}` yet: materialize `bi_serving_copy` (`pbx55 run`), or "
            "run `make demo` and open this notebook with `PBX55_DATA_DIR=data/demo`."
        ),
    )

    def query(sql, parameters=None):
        """A fresh read-only connection per query: the copy may be swapped between queries."""
        with duckdb.connect(str(bi_path), read_only=True) as connection:
            return connection.execute(sql, parameters or []).df()

    published = query("select published_at from pbx55_meta.publication")["published_at"][0]
    days = query("select distinct reported_date from marts.fct_calls order by 1 desc")
    day_choice = mo.ui.dropdown(
        options=[str(day.date()) for day in days["reported_date"]],
        value=str(days["reported_date"][0].date()),
        label="Day",
    )
    mo.vstack(
        [
            mo.md(f"# Call centre\nBI copy `{bi_path}`, published {published:%Y-%m-%d %H:%M} UTC."),
            day_choice,
        ]
    )
    return day_choice, query, settings


@app.cell
def _(day_choice, mo, query):
    headline = query(
        """
        select
            sum(inbound_calls) as inbound, sum(offered) as offered, sum(answered) as answered,
            sum(abandoned) as abandoned, sum(abandoned_ivr) as abandoned_ivr,
            sum(retained_ivr) as retained_ivr, sum(unmeasured_legs) as unmeasured_legs,
            sum(answered_within_sl)
                / nullif(sum(answered) + sum(abandoned) - sum(short_abandons), 0) as service_level,
            sum(asa_seconds * answered) / nullif(sum(answered), 0) as asa_seconds
        from marts.kpi_daily
        where reported_date = ? and call_kind = 'inbound'
        """,
        [day_choice.value],
    ).iloc[0]
    mo.md(
        f"**{int(headline.inbound)}** inbound calls, **{int(headline.offered)}** reached a queue, "
        f"**{int(headline.answered)}** answered, **{int(headline.abandoned)}** abandoned in queue "
        f"and **{int(headline.abandoned_ivr)}** hung up in the IVR; the IVR itself kept "
        f"**{int(headline.retained_ivr)}** (closed hours, self-service). Service level (20 s): "
        f"**{100 * headline.service_level:.1f}%**, ASA **{headline.asa_seconds:.0f} s**. "
        f"**{int(headline.unmeasured_legs)}** legs have no final state yet: their talk and cost "
        "are unknown and left out."
    )
    return


@app.cell
def _(np, plt, query):
    by_hour = query(
        """
        with days_per_weekday as (
            select isodow(day) as iso_weekday, count(*) as days
            from (select distinct started_at::date as day from marts.fct_calls)
            group by all
        )
        select
            isodow(calls.started_at) as iso_weekday,
            hour(calls.started_at) as hour_of_day,
            count(*) / any_value(days_per_weekday.days) as offered_per_day
        from marts.fct_calls as calls
        join days_per_weekday on isodow(calls.started_at) = days_per_weekday.iso_weekday
        where calls.is_offered
        group by all
        """
    )
    volume = np.full((7, 24), np.nan)  # a weekday with no data stays blank, not zero
    for _weekday in by_hour.iso_weekday.unique():
        volume[int(_weekday) - 1, :] = 0
    for _row in by_hour.itertuples():
        volume[int(_row.iso_weekday) - 1, int(_row.hour_of_day)] = _row.offered_per_day
    heatmap_figure, heatmap_axes = plt.subplots(figsize=(11, 3.6))
    image = heatmap_axes.imshow(volume, aspect="auto", cmap="YlOrRd")
    heatmap_axes.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    heatmap_axes.set_xticks(range(0, 24, 2), [f"{hour:02d}h" for hour in range(0, 24, 2)])
    heatmap_axes.set_title("Calls offered to the queues: average per day, hour × weekday")
    heatmap_figure.colorbar(image, ax=heatmap_axes, label="calls")
    heatmap_figure.tight_layout()
    heatmap_figure  # noqa: B018 - a marimo cell shows its last expression
    return


@app.cell
def _(day_choice, plt, query):
    hourly = query(
        """
        select
            hour(started_at) as hour,
            count(*) filter (where is_answered and wait_seconds <= 20) as answered_in_time,
            count(*) filter (where is_answered) as answered,
            count(*) filter (where outcome = 'abandoned_queue') as abandoned,
            count(*) filter (where outcome = 'abandoned_queue' and is_short_abandon) as short
        from marts.fct_calls
        where call_kind = 'inbound' and is_offered and started_at::date = ?
        group by all
        order by hour
        """,
        [day_choice.value],
    )
    hourly["service_level"] = hourly.answered_in_time / (
        hourly.answered + hourly.abandoned - hourly.short
    ).where(lambda total: total > 0)
    sl_figure, volume_axes = plt.subplots(figsize=(11, 3.6))
    volume_axes.bar(hourly.hour, hourly.answered, color="#9ecae1", label="answered")
    volume_axes.bar(
        hourly.hour, hourly.abandoned, bottom=hourly.answered, color="#fc9272", label="abandoned"
    )
    volume_axes.set_ylabel("calls offered")
    volume_axes.set_xlabel("hour of day (local)")
    sl_axes = volume_axes.twinx()
    sl_axes.plot(hourly.hour, 100 * hourly.service_level, color="#08519c", marker="o", label="SL")
    sl_axes.axhline(80, color="#08519c", linestyle=":", linewidth=1)
    sl_axes.set_ylim(0, 105)
    sl_axes.set_ylabel("service level, % within 20 s")
    volume_axes.legend(loc="upper left")
    volume_axes.set_title(f"Service level through {day_choice.value} (target 80/20 dotted)")
    sl_figure.tight_layout()
    sl_figure  # noqa: B018 - a marimo cell shows its last expression
    return


@app.cell
def _(day_choice, np, plt, query):
    waits = query(
        """
        select outcome, wait_seconds from marts.fct_calls
        where call_kind = 'inbound' and is_offered and started_at::date = ?
          and outcome in ('answered', 'abandoned_queue') and wait_seconds is not null
        """,
        [day_choice.value],
    )
    wait_figure, wait_axes = plt.subplots(figsize=(11, 3.6))
    top = max(60, float(waits.wait_seconds.quantile(0.99))) if len(waits) else 60
    bins = np.linspace(0, top, 40)
    for _outcome, _colour in (("answered", "#3182bd"), ("abandoned_queue", "#de2d26")):
        wait_axes.hist(
            waits.wait_seconds[waits.outcome == _outcome].clip(upper=top),
            bins=bins,
            alpha=0.6,
            color=_colour,
            label=_outcome.replace("_", " "),
        )
    answered_waits = waits.wait_seconds[waits.outcome == "answered"]
    for _label, _quantile in (("p50", 0.5), ("p90", 0.9)):
        if len(answered_waits):
            _value = answered_waits.quantile(_quantile)
            wait_axes.axvline(_value, color="black", linestyle="--", linewidth=1)
            wait_axes.annotate(f"answered {_label} {_value:.0f} s", (_value, 0), rotation=90,
                               xytext=(3, 30), textcoords="offset points")  # fmt: skip
    wait_axes.set_xlabel("wait in queue, seconds (last bin holds the top 1%)")
    wait_axes.set_ylabel("calls")
    wait_axes.legend()
    wait_axes.set_title("Wait distribution")
    wait_figure.tight_layout()
    wait_figure  # noqa: B018 - a marimo cell shows its last expression
    return


@app.cell
def _(day_choice, plt, query):
    by_tariff = query(
        """
        select tariff_class, sum(cost_total)::double as cost, sum(billed_minutes) as minutes
        from marts.kpi_by_tariff_class
        where reported_date = ? and cost_total > 0
        group by all order by cost desc
        """,
        [day_choice.value],
    )
    by_uf = query(
        """
        select coalesce(caller_uf, '?') as uf, sum(cost) as cost
        from marts.fct_calls
        where started_at::date = ? and cost > 0
        group by all order by cost desc limit 15
        """,
        [day_choice.value],
    )
    cost_figure, (tariff_axes, uf_axes) = plt.subplots(1, 2, figsize=(11, 3.8))
    tariff_axes.bar(by_tariff.tariff_class, by_tariff.cost, color="#756bb1")
    for _position, _row in enumerate(by_tariff.itertuples()):
        if _row.minutes:  # SMS are priced per message
            tariff_axes.annotate(f"{_row.minutes:.0f} min", (_position, _row.cost), ha="center",
                                 xytext=(0, 3), textcoords="offset points")  # fmt: skip
    tariff_axes.set_title("Cost by tariff class (R$, billed minutes)")
    uf_axes.barh(by_uf.uf[::-1], by_uf.cost[::-1], color="#31a354")
    uf_axes.set_title("Cost by caller's UF (R$, top 15)")
    cost_figure.tight_layout()
    cost_figure  # noqa: B018 - a marimo cell shows its last expression
    return


if __name__ == "__main__":
    app.run()
