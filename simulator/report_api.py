"""An emulator of 55pbx's report API over real HTTP, answering docs/contracts.md "Report API".

    with running_report_api([day], {"1020": "key-of-1020"}) as api:
        api.base_url      # what PBX55_REPORT_API_URL would be; the client appends the path
        api.now = moment  # calls not ended by then are absent
        api.fail_next(2, 503)

It serves `simulator.report.VendorReports` of the given days on a free 127.0.0.1 port, on a
thread of its own with its own event loop (so a test or the demo runs it in-process), over HTTPS
when given an `ssl.SSLContext`. Each key sees only its central's calls.

Answers, checked in this order: an injected status (`fail_next`) to anything; 405 to a method
other than GET; 401 `{"status": "error", ...}` for a missing or unknown `key`; 404 for a path not
of the contract's shape or an unknown report; 400 for a start, end or `tz` it cannot read (ISO
8601 with an offset, or a JavaScript date string), or an end before the start; else 200.

Faults for the client's tests, each a method: the next N answers with a given status, every
answer (or the next N) delayed, the next N 200 answers cut in half (not JSON), a field dropped,
renamed or given a value in every row (report_01's object counts as a row), and report_01
wrapped as the client must also accept. `requests` logs what came in: the path, whether a key
was sent and whether it matched, the central it named and the status; never the key itself.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import random
import re
import ssl
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import web

from simulator.model import SAO_PAULO, SimulatedDay
from simulator.report import VendorReports

REPORTS = ("report_01", "report_02", "report_03")
PATH_PREFIX = ("api", "pbx", "reports", "metrics")
ALL_FILTERS = ("all_queues", "all_numbers", "all_agent")
REPORT_01_SHAPES = ("object", "list", "data_report01")
START_TIMEOUT_S = 10
STOP_TIMEOUT_S = 10
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# `Tue May 12 2026 00:00:00 GMT-0300`, as JavaScript's Date.toString() writes it (the zone's
# name in parentheses after it is optional)
_JS_DATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<month>[A-Z][a-z]{2}) (?P<day>\d{1,2}) (?P<year>\d{4}) "
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2}) GMT(?P<offset>[+-]\d{4})(?: \(.*\))?"
)


@dataclass(frozen=True)
class ReportRequest:
    """One request the emulator received (never the key it carried)."""

    method: str
    path: str  # without the query string
    report: str | None  # the report segment, when the path had the contract's shape
    key_sent: bool
    key_matched: bool
    central_id: str | None  # the central whose key matched
    status: int


def local_day_range(day: date) -> tuple[datetime, datetime]:
    """The Brasília day's first and last millisecond, as pbx55 asks for a day."""
    start = datetime.combine(day, time.min, tzinfo=SAO_PAULO)
    return start, start + timedelta(days=1) - timedelta(milliseconds=1)


def report_path(report: str, day: date, *, js_dates: bool = False) -> str:
    """The contract's path for one Brasília day of `report`, dates URL-encoded."""
    start, end = local_day_range(day)
    offset_hours = int(start.utcoffset().total_seconds() // 3600)  # type: ignore[union-attr]

    def spelled(moment: datetime) -> str:
        if js_dates:
            offset = moment.strftime("%z")
            text = (
                f"{_DAYS[moment.weekday()]} {_MONTHS[moment.month - 1]} {moment.day:02d} "
                f"{moment.year} {moment:%H:%M:%S} GMT{offset}"
            )
        else:
            text = moment.isoformat(timespec="milliseconds")
        return quote(text, safe="")

    return "/" + "/".join(
        (
            *PATH_PREFIX, spelled(start), spelled(end), *ALL_FILTERS, report,
            "undefined", "undefined", str(offset_hours),
        )
    )  # fmt: skip


def parse_report_date(text: str, tz_hours: int) -> datetime | None:
    """A start or end as the API accepts it, aware; None when it cannot be read.

    ISO 8601 (an ISO date without an offset is in the `tz` segment's offset) or a JavaScript
    date string.
    """
    match = _JS_DATE.fullmatch(text)
    if match:
        if match["month"] not in _MONTHS:
            return None
        offset = match["offset"]
        sign = -1 if offset[0] == "-" else 1
        try:
            zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:])))
            return datetime(
                int(match["year"]), _MONTHS.index(match["month"]) + 1, int(match["day"]),
                int(match["hour"]), int(match["minute"]), int(match["second"]), tzinfo=zone,
            )  # fmt: skip
        except ValueError:
            return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone(timedelta(hours=tz_hours)))
    return moment


class _Faults:
    """What the tests asked the emulator to get wrong; guarded by one lock (two threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.statuses: list[int] = []
        self.delay_s = 0.0
        self.delayed_answers: int | None = None  # None: every answer
        self.broken_bodies = 0
        self.dropped: set[str] = set()
        self.renamed: dict[str, str] = {}
        self.values: dict[str, object] = {}
        self.report_01_shape = "object"

    def rows(self, rows: list[dict[str, object]]) -> list[dict[str, object]]:
        changed = []
        for row in rows:
            row = {name: value for name, value in row.items() if name not in self.dropped}
            for name, value in self.values.items():
                if name in row:
                    row[name] = value
            changed.append({self.renamed.get(name, name): value for name, value in row.items()})
        return changed


class ReportApi:
    """The running emulator: its URL, its clock, its faults and its request log."""

    def __init__(
        self,
        reports: VendorReports,
        keys: Mapping[str, str],
        *,
        now: datetime | None = None,
    ) -> None:
        if len(set(keys.values())) != len(keys):
            raise ValueError("every central needs a key of its own")
        self.reports = reports
        self._keys = dict(keys)
        self._faults = _Faults()
        self._log: list[ReportRequest] = []
        self._log_lock = threading.Lock()
        self.now = now
        self.base_url = ""
        self._stopping: asyncio.Event | None = None

    # ---- the clock ----------------------------------------------------------------------------

    @property
    def now(self) -> datetime | None:
        """Calls that had not ended by this moment are absent (None: every call has ended)."""
        return self._now

    @now.setter
    def now(self, moment: datetime | None) -> None:
        if moment is not None and moment.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        self._now = moment

    # ---- faults -------------------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next `count` requests with `status` and a JSON error, whatever they ask."""
        with self._faults.lock:
            self._faults.statuses.extend([status] * count)

    def delay_answers(self, seconds: float, count: int | None = None) -> None:
        """Hold every answer (or the next `count`) for `seconds`; 0 stops delaying."""
        with self._faults.lock:
            self._faults.delay_s = seconds
            self._faults.delayed_answers = count

    def answer_not_json(self, count: int = 1) -> None:
        """Cut the body of the next `count` 200 answers in half: still 200, no longer JSON."""
        with self._faults.lock:
            self._faults.broken_bodies += count

    def drop_field(self, name: str) -> None:
        """Leave `name` out of every row."""
        with self._faults.lock:
            self._faults.dropped.add(name)

    def rename_field(self, name: str, new_name: str) -> None:
        """Send `name` as `new_name` in every row."""
        with self._faults.lock:
            self._faults.renamed[name] = new_name

    def set_field(self, name: str, value: object) -> None:
        """Send `value` (e.g. "abc" for a duration) as `name` in every row that has the field."""
        with self._faults.lock:
            self._faults.values[name] = value

    def wrap_report_01(self, shape: str) -> None:
        """Send report_01 as an `object` (the default), a one-element `list` or under
        `data_report01`: pbx55 accepts all three."""
        if shape not in REPORT_01_SHAPES:
            raise ValueError(f"report_01 shape must be one of {', '.join(REPORT_01_SHAPES)}")
        with self._faults.lock:
            self._faults.report_01_shape = shape

    def clear_faults(self) -> None:
        with self._faults.lock:
            self._faults.clear()

    # ---- what it received and what it answers ---------------------------------------------

    @property
    def requests(self) -> list[ReportRequest]:
        with self._log_lock:
            return list(self._log)

    def answer(
        self, report: str, central_id: str, start: datetime, end: datetime
    ) -> dict[str, object] | list[dict[str, object]]:
        """The JSON a 200 answer carries now, field faults included."""
        now = self.now
        with self._faults.lock:
            if report == "report_01":
                totals = self._faults.rows([self.reports.report_01(central_id, start, end, now)])
                shape = self._faults.report_01_shape
                if shape == "list":
                    return totals
                return totals[0] if shape == "object" else {"data_report01": totals[0]}
            listed = (self.reports.report_02 if report == "report_02" else self.reports.report_03)(
                central_id, start, end, now
            )
            return {name: self._faults.rows(rows) for name, rows in listed.items()}

    def _central_of(self, key: str | None) -> str | None:
        if key is None:
            return None
        matched = None
        for central_id, configured in self._keys.items():
            # every key is compared, in constant time, as the receiver compares tokens
            if hmac.compare_digest(key.encode(), configured.encode()):
                matched = central_id
        return matched

    def _decide(self, request: web.Request) -> tuple[int, Any, ReportRequest]:
        """The status and JSON of the answer, and the log entry of the request."""
        key = request.headers.get("key")
        central_id = self._central_of(key)
        segments = [unquote(part) for part in request.rel_url.raw_path.split("/")[1:]]
        shaped = (
            len(segments) == 13
            and tuple(segments[:4]) == PATH_PREFIX
            and tuple(segments[6:9]) == ALL_FILTERS
            and segments[10:12] == ["undefined", "undefined"]
        )
        report = segments[9] if shaped else None

        def entry(status: int) -> ReportRequest:
            return ReportRequest(
                method=request.method,
                path=request.rel_url.raw_path,
                report=report,
                key_sent=key is not None,
                key_matched=central_id is not None,
                central_id=central_id,
                status=status,
            )

        def error(status: int, message: str) -> tuple[int, Any, ReportRequest]:
            return status, {"status": "error", "message": message}, entry(status)

        with self._faults.lock:
            injected = self._faults.statuses.pop(0) if self._faults.statuses else None
        if injected is not None:
            return error(injected, "injected failure")
        if request.method != "GET":
            return error(405, "method not allowed")
        if central_id is None:
            return error(401, "missing key" if key is None else "unknown key")
        if not shaped or report not in REPORTS:
            return error(404, "not found")
        try:
            tz_hours = int(segments[12])
        except ValueError:
            return error(400, "unreadable tz")
        if not -14 <= tz_hours <= 14:
            return error(400, "unreadable tz")
        start = parse_report_date(segments[4], tz_hours)
        end = parse_report_date(segments[5], tz_hours)
        if start is None or end is None:
            return error(400, "unreadable date")
        if end < start:
            return error(400, "end before start")
        return 200, self.answer(report, central_id, start, end), entry(200)

    async def _handle(self, request: web.Request) -> web.Response:
        status, answer, logged = self._decide(request)
        with self._log_lock:
            self._log.append(logged)
        body = json.dumps(answer, ensure_ascii=False).encode()
        with self._faults.lock:
            if status == 200 and self._faults.broken_bodies:
                self._faults.broken_bodies -= 1
                body = body[: len(body) // 2]
            delay = self._faults.delay_s
            if delay and self._faults.delayed_answers is not None:
                self._faults.delayed_answers -= 1
                if self._faults.delayed_answers <= 0:
                    self._faults.delay_s, self._faults.delayed_answers = 0.0, None
        if delay and self._stopping is not None:
            # a stopping emulator answers at once instead of keeping its shutdown waiting
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        headers = {"Allow": "GET"} if status == 405 else None
        return web.Response(
            body=body, status=status, content_type="application/json", headers=headers
        )

    async def _serve(self, ssl_context: ssl.SSLContext | None, started: threading.Event) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            scheme = "https" if ssl_context is not None else "http"
            self.base_url = f"{scheme}://127.0.0.1:{port}"
            started.set()
            await self._stopping.wait()
        finally:
            await runner.cleanup()


def simulated_api_keys(days: Sequence[SimulatedDay]) -> dict[str, str]:
    """One key per central of the days, shaped like the vendor's (`<uuid>-<13 digits>`) and
    the same for the same seeds. A simulation's keys: never a real account's."""
    keys = {}
    for day in days:
        for central in day.centrals:
            rng = random.Random(f"pbx55-simulator:{day.config.seed}:api-key:{central.central_id}")
            keys.setdefault(
                central.central_id,
                f"{uuid.UUID(int=rng.getrandbits(128), version=4)}-{rng.randrange(10**12, 10**13)}",
            )
    return keys


@contextmanager
def running_report_api(
    days: Sequence[SimulatedDay],
    keys: Mapping[str, str],
    *,
    now: datetime | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Iterator[ReportApi]:
    """The emulator of `days`, serving on 127.0.0.1 until the block ends.

    `keys`: central id -> API key (`simulated_api_keys(days)` makes some). `now`: see
    `ReportApi.now`. `ssl_context`: a server context (certificate loaded) for HTTPS.
    """
    api = ReportApi(VendorReports(days), keys, now=now)
    started = threading.Event()
    loop = asyncio.new_event_loop()
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            loop.run_until_complete(api._serve(ssl_context, started))
        except BaseException as error:  # handed to the caller's thread below
            failure.append(error)
            started.set()
        finally:
            loop.close()

    thread = threading.Thread(target=serve, name="report-api-emulator", daemon=True)
    thread.start()
    if not started.wait(START_TIMEOUT_S) or failure:
        raise RuntimeError("the report API emulator did not start") from (
            failure[0] if failure else None
        )
    try:
        yield api
    finally:
        stopping = api._stopping
        if stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        thread.join(STOP_TIMEOUT_S)
