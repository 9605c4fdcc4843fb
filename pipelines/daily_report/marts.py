"""What the daily report and the notebook read from the marts, the way the BI tools read them.

DuckDB: the BI serving copy, read-only (never the warehouse, which has a single writer).
Postgres: the `marts` schema of the warehouse (with the schema prefix of `Settings`), in one
read-only repeatable-read transaction. Either way one connection serves the whole report, so all
its figures come from one publication of the marts.

Every read is of one central (one 55pbx account, one floor), and every rate is the mart's own
value: the formulas live in dbt (dbt_models/macros/kpi_columns.sql), never here. Only additive
counts and amounts are summed (a central's kinds, queues or tariff classes).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import yaml

from foundation.settings import Settings
from pipelines.bi_copy import PUBLICATION_SCHEMA, SERVED_SCHEMA
from pipelines.dbt_runner import DBT_PROJECT_DIR

if TYPE_CHECKING:
    from pipelines.daily_report.figures import Figure

TREND_DAYS = 28
WAIT_BOUNDS_S = (15, 20, 30, 60, 120, 300)  # the wait buckets of the leg KPI marts
# The interval plot shows this many of a central's busiest queues; the others are summed.
BUSIEST_QUEUES = 4
# The staffing table shows the intervals x queues with the most offered legs.
BUSY_INTERVALS = 10


@cache
def dbt_var(name: str) -> Any:
    """A var of dbt_models/dbt_project.yml (the service-level threshold and target, ...)."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return project["vars"][name]


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


def centrals(marts: Marts, day: date) -> list[str]:
    """The centrals with calls on `day`."""
    rows = marts.rows(
        "select distinct central_id from {marts}.kpi_daily where reported_date = ? order by 1",
        [day],
    )
    return [row["central_id"] for row in rows]


def central_values(marts: Marts, day: date, figures: Sequence[Figure]) -> dict[str, dict[str, Any]]:
    """Per central of `day`, each figure's value by its column: the central's own row of the
    figure's mart, or the sum of its rows (counts and amounts only) where `call_kind` is None.
    A central without rows in a mart has no value (None) for its figures."""
    values: dict[str, dict[str, Any]] = {central: {} for central in centrals(marts, day)}
    sources: dict[tuple[str, str | None], list[str]] = {}
    for figure in figures:
        sources.setdefault((figure.mart, figure.call_kind), []).append(figure.column)
    for (mart, call_kind), columns in sources.items():
        if call_kind is None:
            selected = ", ".join(f"sum({column}) as {column}" for column in columns)
            rows = marts.rows(
                f"select central_id, {selected} from {{marts}}.{mart} "  # noqa: S608
                "where reported_date = ? group by central_id",
                [day],
            )
        else:
            rows = marts.rows(
                f"select central_id, {', '.join(columns)} from {{marts}}.{mart} "  # noqa: S608
                "where reported_date = ? and call_kind = ?",
                [day, call_kind],
            )
        for row in rows:
            values.setdefault(row.pop("central_id"), {}).update(row)
    return values


def by_interval(marts: Marts, day: date, central: str) -> list[dict[str, Any]]:
    """The central's queues per interval of `day` (kpi_by_interval): offered legs and the
    queue's own service level."""
    return marts.rows(
        """
        select interval_start, interval_minutes, queue, offered, service_level
        from {marts}.kpi_by_interval
        where reported_date = ? and central_id = ? and is_queue
        order by interval_start, queue
        """,
        [day, central],
    )


def staffing(
    marts: Marts, day: date, central: str, figures: Sequence[Figure], busiest: int = BUSY_INTERVALS
) -> list[dict[str, Any]]:
    """The central's busiest intervals x queues of `day` with Erlang C's staffing
    (kpi_staffing_by_interval), in the order of the day."""
    columns = ", ".join(figure.column for figure in figures)
    return marts.rows(
        f"""
        select * from (
            select interval_start, queue, {columns}
            from {{marts}}.kpi_staffing_by_interval
            where reported_date = ? and central_id = ?
            order by offered desc, interval_start, queue
            limit ?
        ) as busiest
        order by interval_start, queue
        """,  # noqa: S608 - the columns come from the figure list
        [day, central, busiest],
    )


def wait_buckets(marts: Marts, day: date, central: str) -> list[dict[str, Any]]:
    """The central's answered and abandoned offered legs per wait bucket (<= 15 s, 15-20 s,
    ..., > 300 s), from its inbound row of kpi_daily."""
    columns = [
        f"{outcome}_within_{bound}s as {outcome}_{bound}"
        for outcome in ("answered", "abandoned")
        for bound in WAIT_BOUNDS_S
    ]
    rows = marts.rows(
        f"select {', '.join(columns)}, answered_after_300s as answered_after, "  # noqa: S608
        "abandoned_after_300s as abandoned_after from {marts}.kpi_daily "
        "where reported_date = ? and central_id = ? and call_kind = 'inbound'",
        [day, central],
    )
    if not rows:
        return []
    [row] = rows
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


def per_queue(
    marts: Marts, day: date, central: str, figures: Sequence[Figure]
) -> list[dict[str, Any]]:
    """The central's rows of `day` in the figures' mart (one per queue), the busiest first."""
    [mart] = {figure.mart for figure in figures}
    columns = ", ".join(figure.column for figure in figures)
    order = "offered desc, " if any(f.column == "offered" for f in figures) else ""
    return marts.rows(
        f"select queue, {columns} from {{marts}}.{mart} "  # noqa: S608
        f"where reported_date = ? and central_id = ? order by {order}queue",
        [day, central],
    )


def agents(marts: Marts, day: date, central: str) -> list[dict[str, Any]]:
    return marts.rows(
        """
        select branch_mask, answered_legs, answered, outbound_calls,
            talk_mean_seconds, transfer_rate, agent_hung_up_first_rate
        from {marts}.kpi_by_agent
        where reported_date = ? and central_id = ?
        order by answered_legs desc, branch_mask
        """,
        [day, central],
    )


def cost_by_tariff_class(marts: Marts, day: date, central: str) -> list[dict[str, Any]]:
    return marts.rows(
        """
        select tariff_class, legs, billed_minutes, cost_total as cost
        from {marts}.kpi_by_tariff_class
        where reported_date = ? and central_id = ? and cost_total > 0
        order by cost desc, tariff_class
        """,
        [day, central],
    )


def cost_by_uf(marts: Marts, day: date, central: str, top: int = 15) -> list[dict[str, Any]]:
    """Cost by the UF of the other party's number: the UF's rows of every kind summed."""
    return marts.rows(
        """
        select caller_uf, sum(billed_minutes) as billed_minutes,
            sum(coalesce(voice_cost, 0) + coalesce(sms_cost, 0)) as cost
        from {marts}.kpi_by_caller_area
        where reported_date = ? and central_id = ?
        group by caller_uf
        having sum(coalesce(voice_cost, 0) + coalesce(sms_cost, 0)) > 0
        order by cost desc, caller_uf
        limit ?
        """,
        [day, central, top],
    )


def trend(marts: Marts, day: date, central: str, days: int = TREND_DAYS) -> list[dict[str, Any]]:
    """The central's inbound row of kpi_daily per day of the `days` ending on `day`: new
    inbound calls (journeys), service level and abandon rate."""
    return marts.rows(
        """
        select reported_date, journeys as new_inbound_calls, service_level, abandon_rate
        from {marts}.kpi_daily
        where central_id = ? and call_kind = 'inbound' and reported_date > ?
            and reported_date <= ?
        order by reported_date
        """,
        [central, day - timedelta(days=days), day],
    )


def offered_waits(marts: Marts, day: date, central: str) -> list[dict[str, Any]]:
    """The wait of every offered inbound leg answered or abandoned in queue (fct_calls)."""
    return marts.rows(
        """
        select outcome, wait_seconds
        from {marts}.fct_calls
        where reported_date = ? and central_id = ? and call_kind = 'inbound' and is_offered
            and outcome in ('answered', 'abandoned_queue') and wait_seconds is not null
        """,
        [day, central],
    )


def offered_by_weekday_hour(marts: Marts, central: str) -> list[dict[str, Any]]:
    """The central's offered legs per ISO weekday and local hour over every day observed
    (kpi_hourly_weekday), with the days observed."""
    return marts.rows(
        """
        select iso_weekday, hour_of_day, offered, days_observed
        from {marts}.kpi_hourly_weekday
        where central_id = ?
        """,
        [central],
    )


DIMENSION_MARTS = {"queue": "kpi_by_queue", "branch_mask": "kpi_by_agent"}


def dimension_trend(
    marts: Marts, dimension: str, day: date, central: str, days: int = TREND_DAYS
) -> list[dict[str, Any]]:
    """The central's rows per day of the `days` ending on `day` and per queue (or agent,
    `branch_mask`): the mart's service level and answered legs of any kind."""
    mart = DIMENSION_MARTS[dimension]
    return marts.rows(
        f"""
        select reported_date, {dimension} as name, service_level, answered_legs
        from {{marts}}.{mart}
        where central_id = ? and reported_date > ? and reported_date <= ?
        order by reported_date, {dimension}
        """,  # noqa: S608 - the mart and column come from DIMENSION_MARTS
        [central, day - timedelta(days=days), day],
    )
