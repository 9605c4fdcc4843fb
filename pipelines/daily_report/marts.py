"""What the daily report and the notebook read from the marts, the way the BI tools read them.

DuckDB: the BI serving copy, read-only (never the warehouse, which has a single writer).
Postgres: the `marts` schema of the warehouse (with the schema prefix of `Settings`), in one
read-only repeatable-read transaction. Either way one connection serves the whole report, so all
its figures come from one publication of the marts.

Headline ratios over several centrals are recomputed from the marts' additive counts with the
formulas of docs/kpis.md; for one central they are the marts' own values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from foundation.settings import Settings
from pipelines.bi_copy import PUBLICATION_SCHEMA, SERVED_SCHEMA
from pipelines.dbt_runner import DBT_PROJECT_DIR

# The industry's 80/20 convention: 80% of calls answered within the threshold T (dbt var).
SERVICE_LEVEL_TARGET = 0.80
TREND_DAYS = 28
# The volume-and-service-level plot by interval of the day reads this mart and these columns: the
# one place to change for a finer interval mart. Its rows are day x central x interval.
INTERVAL_MART = "kpi_by_hour"
INTERVAL_COLUMN = "hour_of_day"
INTERVAL_TITLE = "hour of the day (local)"

INTERVAL_COUNTS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandons",
    "answered_within_sl",
    "answered_wait_seconds",
)
WAIT_BOUNDS_S = (15, 20, 30, 60, 120, 300)  # the wait buckets of the leg KPI marts


def interval_label(interval: Any) -> str:
    """How an interval of INTERVAL_MART is printed on the plot's axis."""
    return f"{interval:02d}h"


@cache
def dbt_var(name: str) -> Any:
    """A var of dbt_models/dbt_project.yml (the service-level threshold, the short abandon)."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return project["vars"][name]


def ratio(numerator: float, denominator: float, digits: int = 4) -> float | None:
    """As the marts' `ratio` macro: rounded, and null (None) over an empty denominator."""
    return None if not denominator else round(numerator / denominator, digits)


def service_level(counts: dict[str, float]) -> float | None:
    """A<=T / (answered + abandoned - short abandons), docs/kpis.md."""
    return ratio(
        counts["answered_within_sl"],
        counts["answered"] + counts["abandoned"] - counts["short_abandons"],
    )


class Marts:
    """One read-only connection to the served marts; `rows` runs a query on it."""

    def __init__(
        self,
        connection: Any,
        schema: str,
        parameter_style: str,
        published_at: datetime | None = None,
    ) -> None:
        self._connection = connection
        self._schema = '"' + schema.replace('"', '""') + '"'
        self._parameter_style = parameter_style
        self._schema_name = schema
        # When the BI copy was published; None where BI reads the warehouse itself (Postgres).
        self.published_at = published_at

    def rows(self, sql: str, parameters: Sequence[object] = ()) -> list[dict[str, Any]]:
        """`sql` with `{marts}` for the schema and `?` for parameters; numbers as float/int."""
        text = sql.format(marts=self._schema).replace("?", self._parameter_style)
        cursor = self._connection.cursor()
        try:
            cursor.execute(text, list(parameters))
            names = [column[0] for column in cursor.description]
            return [
                {name: _plain(value) for name, value in zip(names, row, strict=True)}
                for row in cursor.fetchall()
            ]
        finally:
            cursor.close()

    def tables(self) -> set[str]:
        rows = self.rows(
            "select table_name from information_schema.tables where table_schema = ?",
            [self._schema_name],
        )
        return {row["table_name"] for row in rows}


def _plain(value: Any) -> Any:
    """Postgres sums bigint counts as numeric: whole decimals are counts, the others amounts."""
    if isinstance(value, Decimal):
        return int(value) if value.as_tuple().exponent >= 0 else float(value)
    return value


class NoMartsError(LookupError):
    """Nothing is served yet: no BI copy (DuckDB), or no marts built (Postgres)."""


@contextmanager
def open_marts(settings: Settings) -> Iterator[Marts]:
    """The marts BI reads; NoMartsError when there are none yet."""
    if settings.warehouse == "postgres":
        import psycopg2

        connection = psycopg2.connect(settings.postgres_url, application_name="pbx55 report")
        try:
            connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
            yield _served(Marts(connection, settings.schema_prefix + SERVED_SCHEMA, "%s"))
        finally:
            connection.close()
        return
    import duckdb

    if not settings.bi_duckdb_path.exists():
        raise NoMartsError(f"no BI copy at {settings.bi_duckdb_path} yet")
    with duckdb.connect(str(settings.bi_duckdb_path), read_only=True) as connection:
        [(published_at,)] = connection.execute(
            f"select published_at from {PUBLICATION_SCHEMA}.publication"  # noqa: S608
        ).fetchall()
        yield _served(Marts(connection, SERVED_SCHEMA, "?", published_at))


def _served(marts: Marts) -> Marts:
    if "kpi_daily" not in marts.tables():
        raise NoMartsError("no marts built yet")
    return marts


def local_today(settings: Settings) -> date:
    return datetime.now(ZoneInfo(settings.timezone)).date()


def last_complete_day(marts: Marts, today: date) -> date | None:
    """The latest day with calls before `today` (local): today is still going on."""
    [row] = marts.rows(
        "select max(reported_date) as day from {marts}.kpi_daily where reported_date < ?",
        [today],
    )
    return row["day"]


def days_with_calls(marts: Marts) -> list[date]:
    rows = marts.rows("select distinct reported_date from {marts}.kpi_daily order by 1 desc")
    return [row["reported_date"] for row in rows]


@dataclass(frozen=True)
class Headline:
    """The day's headline figures, all centrals together (or one central)."""

    central_id: str  # "all" for the sum over centrals
    new_inbound_calls: int
    offered: int
    answered: int
    abandoned: int
    short_abandons: int
    abandoned_ivr: int
    answered_within_sl: int
    service_level: float | None
    asa_seconds: float | None
    abandon_rate: float | None
    cost: float

    @property
    def queue_abandons(self) -> int:
        """Abandoned in queue after the short-abandon cut-off."""
        return self.abandoned - self.short_abandons


_INBOUND_COUNTS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandons",
    "abandoned_ivr",
    "answered_within_sl",
)


def headlines(marts: Marts, day: date) -> list[Headline]:
    """One headline per central of the day, from kpi_daily (its own ratios), cost of every kind."""
    rows = marts.rows(
        """
        select
            central_id,
            sum(case when call_kind = 'inbound' then journeys else 0 end) as new_inbound_calls,
            {counts},
            max(case when call_kind = 'inbound' then service_level end) as service_level,
            max(case when call_kind = 'inbound' then asa_seconds end) as asa_seconds,
            max(case when call_kind = 'inbound' then abandon_rate end) as abandon_rate,
            sum(coalesce(voice_cost, 0) + coalesce(sms_cost, 0)) as cost
        from {{marts}}.kpi_daily
        where reported_date = ?
        group by central_id
        order by central_id
        """.format(
            counts=",\n".join(
                f"sum(case when call_kind = 'inbound' then {name} else 0 end) as {name}"
                for name in _INBOUND_COUNTS
            )
        ),
        [day],
    )
    return [Headline(**row) for row in rows]


def combined(centrals: Sequence[Headline]) -> Headline:
    """All centrals together: counts summed, ratios over the sums (ASA weighted by answered)."""
    if len(centrals) == 1:
        return centrals[0]
    counts = {
        name: sum(getattr(central, name) for central in centrals)
        for name in ("new_inbound_calls", *_INBOUND_COUNTS)
    }
    answered_wait = sum((central.asa_seconds or 0) * central.answered for central in centrals)
    return Headline(
        central_id="all",
        **counts,
        service_level=service_level(counts),
        asa_seconds=ratio(answered_wait, counts["answered"], 2),
        abandon_rate=ratio(counts["abandoned"], counts["offered"]),
        cost=round(sum(central.cost for central in centrals), 4),
    )


def by_interval(marts: Marts, day: date) -> list[dict[str, Any]]:
    """Per interval of the day (all centrals): its label, the counts, service level and ASA."""
    sums = ", ".join(f"sum({name}) as {name}" for name in INTERVAL_COUNTS)
    rows = marts.rows(
        f"select {INTERVAL_COLUMN} as interval, {sums} from {{marts}}.{INTERVAL_MART} "  # noqa: S608
        f"where reported_date = ? group by {INTERVAL_COLUMN} order by {INTERVAL_COLUMN}",
        [day],
    )
    for row in rows:
        row["label"] = interval_label(row["interval"])
        row["service_level"] = service_level(row)
        row["asa_seconds"] = ratio(row["answered_wait_seconds"], row["answered"], 2)
    return rows


def wait_buckets(marts: Marts, day: date) -> list[dict[str, Any]]:
    """Answered and abandoned offered legs per wait bucket (<= 15 s, 15-20 s, ..., > 300 s)."""
    columns = [
        f"sum({outcome}_within_{bound}s) as {outcome}_{bound}"
        for outcome in ("answered", "abandoned")
        for bound in WAIT_BOUNDS_S
    ]
    [row] = marts.rows(
        f"select {', '.join(columns)}, sum(answered_after_300s) as answered_after, "  # noqa: S608
        "sum(abandoned_after_300s) as abandoned_after from {marts}.kpi_daily "
        "where reported_date = ? and call_kind = 'inbound'",
        [day],
    )
    # The marts' buckets are cumulative (wait <= N s): each bucket is the difference.
    buckets = []
    below = {"answered": 0, "abandoned": 0}
    for lower, bound in zip((None, *WAIT_BOUNDS_S), WAIT_BOUNDS_S, strict=False):
        within = {outcome: row[f"{outcome}_{bound}"] or 0 for outcome in below}
        buckets.append(
            {
                "bucket": f"<= {bound} s" if lower is None else f"{lower}-{bound} s",
                **{outcome: within[outcome] - below[outcome] for outcome in below},
            }
        )
        below = within
    buckets.append(
        {
            "bucket": f"> {WAIT_BOUNDS_S[-1]} s",
            "answered": row["answered_after"] or 0,
            "abandoned": row["abandoned_after"] or 0,
        }
    )
    return buckets


def queues(marts: Marts, day: date) -> list[dict[str, Any]]:
    return marts.rows(
        """
        select central_id, queue, offered, answered, abandoned, short_abandons, service_level,
            asa_seconds, answered_wait_p90_seconds, abandon_rate, talk_mean_seconds
        from {marts}.kpi_by_queue
        where reported_date = ?
        order by offered desc, central_id, queue
        """,
        [day],
    )


def agents(marts: Marts, day: date) -> list[dict[str, Any]]:
    return marts.rows(
        """
        select central_id, branch_mask, answered_legs, answered, outbound_calls,
            talk_mean_seconds, transfer_rate, agent_hung_up_first_rate
        from {marts}.kpi_by_agent
        where reported_date = ?
        order by answered_legs desc, central_id, branch_mask
        """,
        [day],
    )


def cost_by_tariff_class(marts: Marts, day: date) -> list[dict[str, Any]]:
    return marts.rows(
        """
        select tariff_class, sum(legs) as legs, sum(billed_minutes) as billed_minutes,
            sum(cost_total) as cost
        from {marts}.kpi_by_tariff_class
        where reported_date = ?
        group by tariff_class
        having sum(cost_total) > 0
        order by cost desc, tariff_class
        """,
        [day],
    )


def cost_by_uf(marts: Marts, day: date, top: int = 15) -> list[dict[str, Any]]:
    return marts.rows(
        """
        select caller_uf, sum(billed_minutes) as billed_minutes,
            sum(coalesce(voice_cost, 0) + coalesce(sms_cost, 0)) as cost
        from {marts}.kpi_by_caller_area
        where reported_date = ?
        group by caller_uf
        having sum(coalesce(voice_cost, 0) + coalesce(sms_cost, 0)) > 0
        order by cost desc, caller_uf
        limit ?
        """,
        [day, top],
    )


def trend(marts: Marts, day: date, days: int = TREND_DAYS) -> list[dict[str, Any]]:
    """Inbound volume, service level and abandon rate per day, the `days` ending on `day`."""
    rows = marts.rows(
        """
        select reported_date, sum(journeys) as new_inbound_calls, sum(offered) as offered,
            sum(answered) as answered, sum(abandoned) as abandoned,
            sum(short_abandons) as short_abandons, sum(answered_within_sl) as answered_within_sl
        from {marts}.kpi_daily
        where call_kind = 'inbound' and reported_date > ? and reported_date <= ?
        group by reported_date
        order by reported_date
        """,
        [day - timedelta(days=days), day],
    )
    for row in rows:
        row["service_level"] = service_level(row)
        row["abandon_rate"] = ratio(row["abandoned"], row["offered"])
    return rows


def offered_waits(marts: Marts, day: date) -> list[dict[str, Any]]:
    """The wait of every offered inbound leg answered or abandoned in queue (fct_calls)."""
    return marts.rows(
        """
        select outcome, wait_seconds
        from {marts}.fct_calls
        where reported_date = ? and call_kind = 'inbound' and is_offered
            and outcome in ('answered', 'abandoned_queue') and wait_seconds is not null
        """,
        [day],
    )


def offered_by_weekday_hour(marts: Marts) -> list[dict[str, Any]]:
    """Offered legs per ISO weekday and local hour over every day (kpi_hourly_weekday)."""
    return marts.rows(
        """
        select iso_weekday, hour_of_day, sum(offered) as offered
        from {marts}.kpi_hourly_weekday
        group by iso_weekday, hour_of_day
        """
    )


DIMENSION_MARTS = {"queue": "kpi_by_queue", "branch_mask": "kpi_by_agent"}


def dimension_trend(
    marts: Marts, dimension: str, day: date, days: int = TREND_DAYS
) -> list[dict[str, Any]]:
    """Per day of the `days` ending on `day` and per queue (or agent, `branch_mask`), all
    centrals together: offered and answered legs, service level, answered legs of any kind."""
    mart = DIMENSION_MARTS[dimension]
    rows = marts.rows(
        f"""
        select reported_date, {dimension} as name, sum(offered) as offered,
            sum(answered) as answered, sum(abandoned) as abandoned,
            sum(short_abandons) as short_abandons, sum(answered_within_sl) as answered_within_sl,
            sum(answered_legs) as answered_legs
        from {{marts}}.{mart}
        where reported_date > ? and reported_date <= ?
        group by reported_date, {dimension}
        order by reported_date, {dimension}
        """,  # noqa: S608 - the mart and column come from DIMENSION_MARTS
        [day - timedelta(days=days), day],
    )
    for row in rows:
        row["service_level"] = service_level(row)
    return rows
