"""Pull report days from the API and load them into the raw schema, each day as one dlt load.

A pull is the three reports of one central and day. All three are fetched before anything is
written, and a day is one dlt load with its ledger row (`report_pulls`): a failed request, a
time-out or an answer of the wrong shape loads nothing, so a day is never replaced by a partial
pull. Which rows are current is decided the way the push loader decides which files are loaded:
the latest pull of a day whose load dlt recorded as complete in `_dlt_loads`. Rows of older pulls
of the day are deleted right after, so each pull replaces the day whole, also dropping calls the
answer no longer lists; rows of an interrupted load are never current and go with the next pull.

`pull_report_days` (HTTP, then load) is what `pbx55 reconcile` and the Dagster assets call;
`load_report_days` loads answers already fetched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dlt
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from foundation.settings import ConfigurationError, Settings
from pipelines.raw_destination import describe_destination, raw_schema_pipeline
from pipelines.report_api.answers import answer_day_totals, answer_rows, text_row
from pipelines.report_api.client import ReportApiClient, ReportApiError
from pipelines.warehouse_lock import warehouse_writer

log = logging.getLogger(__name__)

PIPELINE_NAME = "pbx55_report_api"
CALLS_TABLE = "report_calls"
DAY_TOTALS_TABLE = "report_day_totals"
AGENT_TIMES_TABLE = "report_agent_times"
PULLS_TABLE = "report_pulls"
ROW_TABLES = (CALLS_TABLE, DAY_TOTALS_TABLE, AGENT_TIMES_TABLE)

_ADDED_COLUMN_TYPES = {
    "central_id": {"data_type": "text"},
    "report_day": {"data_type": "date"},
    "row_number": {"data_type": "bigint"},
    "pulled_at": {"data_type": "timestamp"},
    "nul_replaced_fields": {"data_type": "text"},
}


@dataclass(frozen=True)
class ReportDay:
    """One central's three answers for one local day, as the API sent them (parsed JSON)."""

    central_id: str
    day: date
    day_totals: Mapping[str, Any]
    calls: Sequence[Any]
    agent_times: Sequence[Any]
    pulled_at: datetime
    api_host: str = "test"


@dataclass
class PullSummary:
    loaded: list[ReportDay] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    destination: str = ""

    def __str__(self) -> str:
        lines = [
            f"pulled {day.day} for central {day.central_id}: {len(day.calls)} call rows, "
            f"{len(day.agent_times)} agent rows"
            for day in self.loaded
        ]
        lines.append(
            f"{len(self.loaded)} report days loaded into {self.destination} in "
            f"{self.seconds:.1f} s" + (f", {len(self.failures)} failed" if self.failures else "")
        )
        lines += [f"failed: {failure}" for failure in self.failures]
        return "\n".join(lines)


class ReportPullFailedError(RuntimeError):
    """Some days could not be pulled; the others were loaded. One line per failed day."""

    def __init__(self, summary: PullSummary) -> None:
        super().__init__(
            f"{len(summary.failures)} report days could not be pulled (the others loaded; "
            "a failed day keeps its earlier rows): " + "; ".join(summary.failures)
        )
        self.summary = summary


def days_to_reconcile(settings: Settings, today: date | None = None) -> list[date]:
    """Today and the `PBX55_REPORT_API_LOOKBACK_DAYS` days before it, in `PBX55_TIMEZONE`."""
    today = today or datetime.now(ZoneInfo(settings.timezone)).date()
    return [
        today - timedelta(days=back) for back in range(settings.report_api_lookback_days, -1, -1)
    ]


def days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included; a message if they are the wrong way."""
    if last < first:
        raise ConfigurationError(f"the last day {last} is before the first day {first}")
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def pull_report_days(settings: Settings, days: Sequence[date]) -> PullSummary:
    """Fetch and load every configured central's reports for `days`.

    Raises `ReportPullFailedError` after loading the days that could be pulled, when some could
    not: each failed day keeps its earlier rows and is pulled again by the next run.
    """
    if not settings.report_api_url:
        raise ConfigurationError(
            "the report API is not configured: set PBX55_REPORT_API_URL and PBX55_REPORT_API_KEYS"
        )
    started = time.perf_counter()
    fetched: list[ReportDay] = []
    failures: list[str] = []
    for central_id, api_key in settings.report_api_keys:
        client = ReportApiClient(settings, central_id, api_key)
        for day in days:
            try:
                fetched.append(fetch_report_day(client, day))
            except ReportApiError as error:
                log.warning("%s", error)
                failures.append(str(error))
    summary = load_report_days(settings, fetched)
    summary.failures = failures
    summary.seconds = time.perf_counter() - started
    if failures:
        raise ReportPullFailedError(summary)
    return summary


def fetch_report_day(client: ReportApiClient, day: date) -> ReportDay:
    """The three answers of one day, or `ReportApiError` for the first that fails."""
    answers = {report: client.fetch(report, day) for report in ("report_02", "report_03")}
    day_totals = answer_day_totals(client.fetch("report_01", day))
    return ReportDay(
        central_id=client.central_id,
        day=day,
        day_totals=day_totals,
        calls=answer_rows("report_02", answers["report_02"]),
        agent_times=answer_rows("report_03", answers["report_03"]),
        pulled_at=datetime.now(UTC),
        api_host=client.api_host,
    )


def load_report_days(settings: Settings, days: Sequence[ReportDay]) -> PullSummary:
    """Load each report day as its own dlt load, then delete the day's superseded rows."""
    started = time.perf_counter()
    with warehouse_writer(settings, "pbx55 reconcile"):
        pipeline = raw_schema_pipeline(settings, PIPELINE_NAME)
        if pipeline.has_pending_data:
            log.warning("an earlier report load was interrupted: its rows are never read")
            pipeline.abort_packages()
        for report_day in days:
            load_info = pipeline.run(report_day_source(report_day))
            _delete_superseded_rows(pipeline, report_day, load_info.loads_ids[-1])
    return PullSummary(
        loaded=list(days),
        seconds=time.perf_counter() - started,
        destination=describe_destination(settings),
    )


@dlt.source(name="report_api", max_table_nesting=0)
def report_day_source(report_day: ReportDay) -> Iterator[dlt.sources.DltResource]:
    """The rows of one pull: the three reports, every field as text, and the pull's ledger row."""
    # "...T14:03:22.000Z" is Brasília wall time (the API's quirk), not UTC: no type guessing.
    dlt.current.source_schema().remove_type_detection("iso_timestamp")
    for table, rows in (
        (CALLS_TABLE, report_day.calls),
        (DAY_TOTALS_TABLE, [report_day.day_totals]),
        (AGENT_TIMES_TABLE, report_day.agent_times),
    ):
        yield dlt.resource(
            _rows_of(report_day, rows),
            name=table,
            write_disposition="append",
            columns=_ADDED_COLUMN_TYPES,
        )
    yield dlt.resource(
        [
            {
                "central_id": report_day.central_id,
                "report_day": report_day.day,
                "pulled_at": report_day.pulled_at,
                "call_rows": len(report_day.calls),
                "agent_rows": len(report_day.agent_times),
                "api_host": report_day.api_host,
            }
        ],
        name=PULLS_TABLE,
        write_disposition="append",
        columns={name: _ADDED_COLUMN_TYPES[name] for name in ("central_id", "report_day")},
    )


def _rows_of(report_day: ReportDay, rows: Sequence[Any]) -> Iterator[dict[str, Any]]:
    for row_number, fields in enumerate(rows, start=1):
        yield {
            **text_row(fields),
            "central_id": report_day.central_id,
            "report_day": report_day.day,
            "row_number": row_number,
            "pulled_at": report_day.pulled_at,
        }


def _delete_superseded_rows(pipeline: dlt.Pipeline, report_day: ReportDay, load_id: str) -> None:
    with pipeline.sql_client() as client:
        for table in ROW_TABLES:
            qualified = client.make_qualified_table_name(table)
            try:
                client.execute_sql(
                    f"DELETE FROM {qualified} WHERE central_id = %s AND report_day = %s "  # noqa: S608
                    "AND _dlt_load_id <> %s",
                    report_day.central_id,
                    report_day.day,
                    load_id,
                )
            except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
                continue  # no pull has had rows for this table yet


def delete_report_days_before(settings: Settings, cutoff: date) -> int:
    """Retention (PBX55_RAW_RETENTION_DAYS): delete report rows and pulls of days before `cutoff`.

    The rows hold callers' numbers and documents as the API sent them, so they expire with the
    raw pushes; returns how many rows went.
    """
    deleted = 0
    with (
        warehouse_writer(settings, "raw retention"),
        raw_schema_pipeline(settings, PIPELINE_NAME).sql_client() as client,
    ):
        for table in (*ROW_TABLES, PULLS_TABLE):
            qualified = client.make_qualified_table_name(table)
            try:
                with client.begin_transaction():
                    counted = client.execute_sql(
                        f"SELECT count(*) FROM {qualified} WHERE report_day < %s",  # noqa: S608
                        cutoff,
                    )
                    client.execute_sql(
                        f"DELETE FROM {qualified} WHERE report_day < %s",  # noqa: S608
                        cutoff,
                    )
            except (DatabaseUndefinedRelation, DestinationUndefinedEntity):
                continue  # the report API was never pulled into this table
            deleted += int(counted[0][0])
    return deleted
