"""The report API over HTTP, through dlt's REST client, one report of one day per request.

Every failure an operator can meet (unreachable, refused key, wrong URL, the vendor's 5xx, a
time-out, a body that is not JSON) becomes a `ReportApiError` whose message is one line naming
the central, the report, the day and what to check; never the key, which only ever travels in the
`key` header. Time-outs, refused connections, 429 and 5xx are retried with exponential back-off
(`PBX55_REPORT_API_RETRIES`, `PBX55_REPORT_API_BACKOFF_S`); 400, 401 and 404 are not: asking again
cannot fix them.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import requests
import simplejson
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import APIKeyAuth

from foundation.settings import Settings

log = logging.getLogger(__name__)

METRICS_PATH = "/api/pbx/reports/metrics"
_RETRIED_STATUSES = (429, *range(500, 600))
_HINTS = {
    400: "the API could not read the request's dates",
    401: "the API refused the key: check this central's key in PBX55_REPORT_API_KEYS",
    403: "the API refused the key: check this central's key in PBX55_REPORT_API_KEYS",
    404: "no such report path: check PBX55_REPORT_API_URL (scheme, host and port only)",
}


class ReportApiError(RuntimeError):
    """An expected failure of a pull: its message is one line, with no secret in it."""


def report_path(report: str, day: date, timezone: str) -> str:
    """The metrics path of `report` for the local `day` (docs/contracts.md, Report API)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day, time(23, 59, 59, 999000), tzinfo=zone)
    offset_hours = start.utcoffset() / timedelta(hours=1)
    tz = f"{offset_hours:g}"
    return "/".join(
        [
            METRICS_PATH,
            _encoded(start),
            _encoded(end),
            "all_queues",
            "all_numbers",
            "all_agent",
            report,
            "undefined",
            "undefined",
            tz,
        ]
    )


def _encoded(moment: datetime) -> str:
    return quote(moment.isoformat(timespec="milliseconds"), safe="")


class ReportApiClient:
    """One account's client: `fetch(report, day)` is the answer's JSON, numbers kept exactly."""

    def __init__(self, settings: Settings, central_id: str, api_key: str) -> None:
        self.central_id = central_id
        self._timezone = settings.timezone
        self._timeout_s = settings.report_api_timeout_s
        self._host = urlsplit(settings.report_api_url or "").hostname or ""
        if settings.report_api_verify_tls is False:
            log.warning(
                "PBX55_REPORT_API_VERIFY_TLS=false: the report API's TLS certificate is not "
                "verified for %s (prefer a CA bundle path)",
                self._host,
            )
        # Given with every request: requests lets REQUESTS_CA_BUNDLE override a session's own.
        verify = settings.report_api_verify_tls
        self._verify: bool | str = verify if isinstance(verify, bool) else str(verify)
        http = Client(
            request_timeout=settings.report_api_timeout_s,
            raise_for_status=False,
            status_codes=_RETRIED_STATUSES,
            request_max_attempts=settings.report_api_retries + 1,
            request_backoff_factor=settings.report_api_backoff_s,
            request_max_retry_delay=max(60.0, settings.report_api_backoff_s),
        )
        self._rest = RESTClient(
            base_url=(settings.report_api_url or "").rstrip("/"),
            auth=APIKeyAuth(name="key", api_key=api_key, location="header"),
            session=http.session,
        )

    @property
    def api_host(self) -> str:
        return self._host

    def fetch(self, report: str, day: date) -> Any:
        where = f"report API {report} of {day} for central {self.central_id} ({self._host})"
        try:
            response = self._rest.get(report_path(report, day, self._timezone), verify=self._verify)
        except requests.exceptions.SSLError:
            raise ReportApiError(
                f"{where}: its TLS certificate does not verify; give the CA bundle in "
                "PBX55_REPORT_API_VERIFY_TLS (or set it to false, logged)"
            ) from None
        except requests.exceptions.Timeout:
            raise ReportApiError(
                f"{where}: no answer within {self._timeout_s:g} s after every retry; raise "
                "PBX55_REPORT_API_TIMEOUT_S if the API is just slow"
            ) from None
        except requests.exceptions.ConnectionError:
            raise ReportApiError(
                f"{where}: cannot connect after every retry; check PBX55_REPORT_API_URL and the "
                "network"
            ) from None
        if response.status_code != 200:
            hint = _HINTS.get(response.status_code) or (
                "the vendor's side failed after every retry; it is pulled again later"
                if response.status_code >= 500 or response.status_code == 429
                else "unexpected answer"
            )
            raise ReportApiError(f"{where}: HTTP {response.status_code}: {hint}")
        try:
            return simplejson.loads(response.content.decode("utf-8"), use_decimal=True)
        except (UnicodeDecodeError, simplejson.JSONDecodeError):
            kind = response.headers.get("content-type", "no content type")
            raise ReportApiError(
                f"{where}: the answer is not JSON ({kind}, {len(response.content)} bytes); "
                "nothing of the day was replaced"
            ) from None
