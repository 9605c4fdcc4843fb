"""Expected failures of the loader, dbt and the BI copy: one line naming what to fix, a status.

A missing or changed PII key, an unreachable Postgres, a failed dbt build or a report API that
does not answer is no bug of pbx55: `pbx55` prints one line for it (the traceback only with `-v`)
and exits with a status a supervisor can tell apart (README, "Commands"). An error matched here
may sit anywhere in the chain of causes: dlt and dbt wrap what they raise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from foundation.settings import Settings

EXIT_CONFIGURATION = 2
EXIT_WAREHOUSE_UNREACHABLE = 4
EXIT_BUILD_FAILED = 5
EXIT_REPORT_API_FAILED = 6


@dataclass(frozen=True)
class ExpectedFailure:
    message: str  # one line
    exit_status: int


def expected_failure(error: BaseException, settings: Settings) -> ExpectedFailure | None:
    """What to print and how to exit for `error`, or None if it is unexpected (a traceback)."""
    import psycopg2

    from pbx55.dagster_instance import DagsterStorageUnreachableError
    from pbx55.rebuild import NothingToRebuildFromError
    from pipelines.bi_copy import UnknownStorageVersionError
    from pipelines.dbt_runner import DbtRunError
    from pipelines.loader.personal_data import MissingPiiKeyError
    from pipelines.loader.pii_key_record import PiiKeyMismatchError
    from pipelines.report_api.pull import ReportPullFailedError

    chain = list(_causes(error))
    for cause in chain:
        if isinstance(cause, DagsterStorageUnreachableError):
            return ExpectedFailure(str(cause), EXIT_WAREHOUSE_UNREACHABLE)
    # Unreachable first: dbt or dlt failing because the server is down is that, not a dbt bug.
    for cause in chain:
        if isinstance(cause, psycopg2.OperationalError):
            return ExpectedFailure(
                f"cannot reach the Postgres warehouse: {_redacted(cause, settings)} — fix "
                "PBX55_POSTGRES_URL, or start the server",
                EXIT_WAREHOUSE_UNREACHABLE,
            )
    for cause in chain:
        if isinstance(
            cause,
            MissingPiiKeyError
            | PiiKeyMismatchError
            | UnknownStorageVersionError
            | NothingToRebuildFromError,
        ):
            return ExpectedFailure(str(cause), EXIT_CONFIGURATION)
        if isinstance(cause, DbtRunError):
            return ExpectedFailure(str(cause), EXIT_BUILD_FAILED)
        if isinstance(cause, ReportPullFailedError):
            return ExpectedFailure(str(cause), EXIT_REPORT_API_FAILED)
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _redacted(error: BaseException, settings: Settings) -> str:
    """The driver's message on one line, without the password should it quote the URL."""
    message = " ".join(str(error).split())
    password = urlsplit(settings.postgres_url or "").password
    return message.replace(password, "***") if password else message
