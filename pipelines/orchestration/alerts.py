"""Alerts to one webhook that takes Slack-compatible JSON, and the assets' freshness policies.

Four sensors, each on its own every minute, post `{"text": ...}` to PBX55_ALERT_WEBHOOK_URL
(Slack, Mattermost, Google Chat, Teams through an incoming-webhook connector):

- `failed_run_alerts`: the newest finished run of a job failed; recovers when a later run of
  that job succeeded.
- `no_push_alerts`: a central known to push sent nothing for PBX55_ALERT_NO_PUSH_MINUTES
  minutes of its business hours (alerted only within them); recovers when it pushes again.
- `waiting_files_alerts`: sealed landing files have waited for a load longer than
  PBX55_ALERT_WAITING_MINUTES; recovers when none waits that long.
- `data_quality_alerts`: a check failed with severity WARN (dbt's data-quality tests) in the
  newest successful run; recovers when a later successful run passes it.

Each condition has a key; the cursor (JSON) keeps the keys whose alert was delivered. A tick
sends one message with the conditions that started and those that ended since the last
delivery, and records them only when the webhook answered 2xx: a webhook that is down, slow or
refusing never fails a tick or a run, it is logged in one line and the same news goes out at
the next tick. Why plain sensors over the instance's run records rather than Dagster's
`run_failure_sensor`: that one's cursor belongs to Dagster and moves past a run even when the
alert could not be sent, so a webhook that is down would lose it.

Nothing here opens the warehouse (DuckDB has one writer): pushes are read from the landing
files, loads and checks from the Dagster instance. Messages name jobs, steps, checks, centrals,
wall-clock times in PBX55_TIMEZONE and run ids; error text is cut to its first line and
scrubbed of the configured secrets, of credentials in URLs and of long digit sequences (phone
numbers, documents).
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime.
import datetime as dt
import http.client
import json
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import dagster as dg

from foundation.business_hours import CENTRAL_ID
from foundation.landing.envelope import EnvelopeProblemError, parsed_envelope
from foundation.landing.layout import (
    OPEN_SUFFIX,
    SEALED_SUFFIX,
    hour_bucket_at,
    partition_dir,
    sealed_landing_files,
)
from foundation.settings import Settings
from pipelines.orchestration.dbt_assets import LAYER_GROUPS
from pipelines.orchestration.raw_assets import RAW_PUSHES_KEY

ALERT_INTERVAL_S = 60
WEBHOOK_TIMEOUT_S = 10
ALERTS_OFF = "alerts are off: PBX55_ALERT_WEBHOOK_URL is not set"
# A message lists at most this many conditions; the rest are counted (and sent at later ticks).
MAX_LINES_PER_MESSAGE = 20
# Landing reads per tick of `no_push_alerts`: at most this many bytes of new lines (newest first)
# in the partitions of at most this many hours back; at the first tick, tails of older files.
READ_BUDGET_BYTES = 32 * 1024 * 1024
SCAN_HOURS_MAX = 24
BOOTSTRAP_TAIL_BYTES = 16 * 1024
BOOTSTRAP_BUDGET_BYTES = 16 * 1024 * 1024
# A sender with a valid token could invent central ids: only this many are remembered.
MAX_CENTRALS = 1000

MARTS_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(hours=3), warn_window=dt.timedelta(minutes=90)
)
RAW_PUSHES_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(days=3), warn_window=dt.timedelta(days=1)
)
SERVING_GROUP = "serving"


def with_freshness_policies(assets: Sequence[Any]) -> Sequence[Any]:
    """The assets with the freshness policies the UI judges lateness by.

    The marts and the BI copy are rebuilt every hour (`hourly_refresh`): one missed refresh
    warns, two fail. `pbx55_raw/pushes` is materialised only when files are sealed, so a quiet
    night or weekend is not late: it warns after a day without a load and fails after three;
    within business hours the alerts above judge in minutes.
    """

    def attach(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.key == RAW_PUSHES_KEY:
            return dg.apply_freshness_policy(spec, RAW_PUSHES_FRESHNESS)
        if spec.group_name in (LAYER_GROUPS["marts"], SERVING_GROUP):
            return dg.apply_freshness_policy(spec, MARTS_FRESHNESS)
        return spec

    return dg.map_asset_specs(attach, assets)


# --- delivery --------------------------------------------------------------------------------


def post_to_webhook(url: str, text: str, timeout_s: float = WEBHOOK_TIMEOUT_S) -> str | None:
    """POST `{"text": text}`; None when the webhook answered 2xx, else why not, in a few words."""
    # Settings accepts only http:// and https:// webhook URLs, hence the two noqa.
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "pbx55-alerts"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            response.read(64 * 1024)
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except urllib.error.URLError as error:
        return str(error.reason)
    except (OSError, http.client.HTTPException) as error:  # a timeout, a reset, a bad answer
        return str(error) or type(error).__name__
    return None


def webhook_host(url: str) -> str:
    """What a log may say of the webhook: its host, never the path (which holds the secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


@dataclass
class Changes:
    """What a tick found: conditions that started (key -> line, and what to remember) and
    conditions that ended (key -> line) since the state last delivered."""

    started: dict[str, str] = field(default_factory=dict)
    memos: dict[str, dict[str, Any]] = field(default_factory=dict)
    ended: dict[str, str] = field(default_factory=dict)

    def start(self, key: str, line: str, **memo: Any) -> None:
        self.started[key] = f"[pbx55] ALERT: {line}"
        self.memos[key] = memo

    def end(self, key: str, line: str) -> None:
        self.ended[key] = f"[pbx55] RESOLVED: {line}"


Evaluation = Callable[[dg.DagsterInstance, Settings, dict[str, Any], dt.datetime], Changes]


def alert_tick(
    evaluate: Evaluation,
    context: dg.SensorEvaluationContext,
    settings: Settings,
    now: dt.datetime,
) -> dg.SkipReason:
    """One tick of an alert sensor at `now`: evaluate, deliver what changed, keep the cursor."""
    if settings.alert_webhook_url is None:
        _say_alerts_are_off(context.log)
        return dg.SkipReason(ALERTS_OFF)
    state = _state_of(context.cursor)
    opened: dict[str, Any] = state.setdefault("open", {})
    changes = evaluate(context.instance, settings, state, now)
    lines = [*changes.started.items(), *changes.ended.items()]
    if not lines:
        context.update_cursor(json.dumps(state, sort_keys=True))
        return dg.SkipReason(f"nothing new ({len(opened)} open)")
    sent = lines[:MAX_LINES_PER_MESSAGE]
    text = "\n".join(line for _, line in sent)
    if len(lines) > len(sent):
        text += f"\n[pbx55] ... and {len(lines) - len(sent)} more at the next tick"
    failure = post_to_webhook(settings.alert_webhook_url, text)
    if failure is None:
        for key, _ in sent:
            if key in changes.started:
                opened[key] = changes.memos[key]
            else:
                opened.pop(key, None)
        outcome = f"sent {len(sent)} change(s) to {webhook_host(settings.alert_webhook_url)}"
    else:
        outcome = (
            f"alert not delivered to {webhook_host(settings.alert_webhook_url)} ({failure}); "
            f"{len(lines)} change(s) retried at the next tick"
        )
        context.log.warning(outcome)
    context.update_cursor(json.dumps(state, sort_keys=True))
    return dg.SkipReason(outcome)


_said_alerts_are_off = False


def _say_alerts_are_off(log: logging.Logger) -> None:
    """Once per process: every tick says it in its skip reason anyway."""
    global _said_alerts_are_off
    if not _said_alerts_are_off:
        log.info(f"{ALERTS_OFF}; set it to a Slack-compatible incoming webhook to get alerts")
        _said_alerts_are_off = True


def _state_of(cursor: str | None) -> dict[str, Any]:
    """The cursor's state; a cursor that is not ours (or from an older version) starts afresh."""
    try:
        state = json.loads(cursor) if cursor else {}
    except json.JSONDecodeError:
        return {}
    return state if isinstance(state, dict) else {}


# --- messages --------------------------------------------------------------------------------

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s@]+@", re.IGNORECASE)
# Ten digits or more, maybe separated: phone numbers, CPF/CNPJ (dates and counts stay readable).
_LONG_NUMBER = re.compile(r"\+?\d(?:[\s().\-/]*\d){9,}")
_MAX_ERROR_CHARS = 300


def scrubbed(text: str, settings: Settings) -> str:
    """`text` without the configured secrets, URL credentials or long numbers, on one line."""
    secrets = [*settings.tokens, settings.pii_key, settings.postgres_url]
    secrets.append(settings.alert_webhook_url)
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    text = _LONG_NUMBER.sub("<number>", text)
    line = " ".join(text.strip().splitlines()[:1])
    return line if len(line) <= _MAX_ERROR_CHARS else line[: _MAX_ERROR_CHARS - 1] + "…"


def _local(moment: dt.datetime, settings: Settings) -> str:
    return moment.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%d %H:%M")


def _minutes(seconds: float) -> str:
    return f"{round(seconds / 60)} min"


def _run_reference(run_id: str, settings: Settings) -> str:
    """`run 1a2b3c4d`, and the run's page when PBX55_DAGSTER_UI_URL is set."""
    if settings.dagster_ui_url is None:
        return f"run {run_id[:8]}"
    return f"run {run_id[:8]}: {settings.dagster_ui_url.rstrip('/')}/runs/{run_id}"


# --- failed runs -----------------------------------------------------------------------------

_FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]


def failed_run_changes(job_names: Sequence[str]) -> Evaluation:
    """Per job: the newest finished run (cancelled ones aside) failed, or succeeded again."""

    def evaluate(
        instance: dg.DagsterInstance, settings: Settings, state: dict[str, Any], now: dt.datetime
    ) -> Changes:
        changes = Changes()
        for job in job_names:
            key = f"run_failed:{job}"
            records = instance.get_run_records(
                dg.RunsFilter(job_name=job, statuses=_FINISHED), limit=1
            )
            if not records:
                continue
            run = records[0].dagster_run
            finished = _finished_at(records[0])
            if run.status == dg.DagsterRunStatus.FAILURE and key not in state["open"]:
                changes.start(
                    key,
                    f"job {job} failed at {_local(finished, settings)}, "
                    f"{_failure_of(instance, run.run_id, settings)}\n"
                    f"{_run_reference(run.run_id, settings)}",
                )
            elif run.status == dg.DagsterRunStatus.SUCCESS and key in state["open"]:
                changes.end(
                    key,
                    f"job {job} succeeded again at {_local(finished, settings)} "
                    f"({_run_reference(run.run_id, settings)})",
                )
        return changes

    return evaluate


def _finished_at(record: dg.RunRecord) -> dt.datetime:
    if record.end_time is not None:
        return dt.datetime.fromtimestamp(record.end_time, dt.UTC)
    return record.update_timestamp


def _failure_of(instance: dg.DagsterInstance, run_id: str, settings: Settings) -> str:
    """`step <key>: <first line of its error>`, or the run's own failure when no step failed."""
    steps = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    if steps:
        event = steps[0].dagster_event
        error = event.step_failure_data.error if event and event.step_failure_data else None
        step = event.step_key if event else "?"
        return f"step {step}: {scrubbed(_user_message(error), settings)}"
    failures = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    if failures and failures[0].dagster_event:
        event = failures[0].dagster_event
        error = event.job_failure_data.error if event.job_failure_data else None
        message = _user_message(error) if error else (event.message or "")
        return f"before any step failed: {scrubbed(message, settings)}"
    return "without a failure event (see the run's log)"


def _user_message(error: Any) -> str:
    """The message of the error user code raised, not of Dagster's wrapper around it."""
    if error is None:
        return "no error recorded"
    while (error.cls_name or "").startswith("Dagster") and error.cause is not None:
        error = error.cause
    return error.message


# --- data-quality warnings -------------------------------------------------------------------

FAILED_ROW_COUNT = "dagster_dbt/failed_row_count"


def data_quality_changes(job_names: Sequence[str]) -> Evaluation:
    """Per asset check: failed with severity WARN in the newest successful run of the jobs, or
    evaluated and not failing in a later one. Checks a run did not evaluate keep their state."""

    def evaluate(
        instance: dg.DagsterInstance, settings: Settings, state: dict[str, Any], now: dt.datetime
    ) -> Changes:
        changes = Changes()
        successes = [
            record
            for job in job_names
            for record in instance.get_run_records(
                dg.RunsFilter(job_name=job, statuses=[dg.DagsterRunStatus.SUCCESS]), limit=1
            )
        ]
        if not successes:
            return changes
        run = max(successes, key=_finished_at).dagster_run
        reference = f"{run.job_name}, {_run_reference(run.run_id, settings)}"
        entries = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        for entry in entries:
            check = entry.dagster_event.asset_check_evaluation_data if entry.dagster_event else None
            if check is None:
                continue
            name = f"{check.check_name} on {check.asset_key.to_user_string()}"
            key = f"check:{check.asset_key.to_user_string()}:{check.check_name}"
            warns = not check.passed and check.severity == dg.AssetCheckSeverity.WARN
            if warns and key not in state["open"]:
                rows = check.metadata.get(FAILED_ROW_COUNT)
                count = "" if rows is None else f": {rows.value} failing rows"
                changes.start(key, f"data-quality warning {name}{count} ({reference})")
            elif not warns and key in state["open"]:
                changes.end(key, f"data-quality check {name} passes again ({reference})")
        return changes

    return evaluate


# --- sealed files waiting for a load ---------------------------------------------------------


def waiting_files_changes(
    instance: dg.DagsterInstance, settings: Settings, state: dict[str, Any], now: dt.datetime
) -> Changes:
    """Sealed files that no successful load can have seen, sealed over N minutes ago.

    A load lists the sealed files after its run started, and the asset `pbx55_raw/pushes` is
    materialised only when that load succeeded: so every file sealed before the start of the
    run of its newest materialisation is loaded. A file's seal time is its last status change
    (the rename that sealed it; a restore from a backup counts as a new seal, and the next load
    settles it), read only in partitions whose directory changed since that start.
    """
    changes = Changes()
    key = "files_waiting"
    loaded_through, last_load = _last_successful_load(instance, settings)
    limit = now.timestamp() - settings.alert_waiting_minutes * 60
    sealed_at = _seal_times_after(settings, loaded_through)
    overdue = sorted(moment for moment in sealed_at if moment <= limit)
    if overdue and key not in state["open"]:
        oldest = dt.datetime.fromtimestamp(overdue[0], dt.UTC)
        changes.start(
            key,
            f"{len(overdue)} sealed landing file(s) waiting for a load longer than "
            f"{settings.alert_waiting_minutes} min (the oldest sealed at "
            f"{_local(oldest, settings)}, {_minutes(now.timestamp() - overdue[0])} ago); "
            f"{last_load}",
        )
    elif not overdue and key in state["open"]:
        changes.end(
            key,
            f"no sealed landing file waits longer than {settings.alert_waiting_minutes} min; "
            f"{last_load}",
        )
    return changes


def _last_successful_load(instance: dg.DagsterInstance, settings: Settings) -> tuple[float, str]:
    """(start of the run of the newest `pbx55_raw/pushes` materialisation, a sentence on it)."""
    event = instance.get_latest_materialization_event(RAW_PUSHES_KEY)
    record = instance.get_run_record_by_id(event.run_id) if event else None
    if event is None or record is None:
        return 0.0, "no load has succeeded yet"
    started = record.start_time or record.create_timestamp.timestamp()
    moment = dt.datetime.fromtimestamp(started, dt.UTC)
    return started, (
        f"the last successful load started at {_local(moment, settings)} "
        f"({_run_reference(event.run_id, settings)})"
    )


def _seal_times_after(settings: Settings, after: float) -> list[float]:
    """Seal times (epoch seconds) of the sealed files sealed after `after`."""
    by_directory: dict[Path, list[Path]] = {}
    for landed in sealed_landing_files(settings.landing_dir, settings.pushes_dir):
        by_directory.setdefault(landed.path.parent, []).append(landed.path)
    times = []
    for directory, paths in by_directory.items():
        # A rename into a directory updates its modification time (POSIX), so a directory
        # unchanged since `after` holds no file sealed since.
        if _changed_at(directory) <= after:
            continue
        for path in paths:
            sealed = _changed_at(path)
            if sealed > after:
                times.append(sealed)
    return times


def _changed_at(path: Path) -> float:
    try:
        status = path.stat()
    except FileNotFoundError:  # purged by retention meanwhile
        return 0.0
    return max(status.st_mtime, status.st_ctime)


# --- centrals that stopped pushing -----------------------------------------------------------


def no_push_changes(
    instance: dg.DagsterInstance, settings: Settings, state: dict[str, Any], now: dt.datetime
) -> Changes:
    """Per known central: no push for N minutes of its business hours, alerted within them."""
    last_push = _scan_landing(settings, state, now)
    changes = Changes()
    for key in [key for key in state["open"] if key.removeprefix("no_push:") not in last_push]:
        del state["open"][key]  # forgotten after the retention period: nothing left to say
    window = settings.alert_no_push_minutes * 60
    for central, last in sorted(last_push.items()):
        key = f"no_push:{central}"
        hours = settings.business_hours_of(central)
        opened = state["open"].get(key)
        if opened is not None:
            silent_since = dt.datetime.fromisoformat(opened["last_push"])
            if last > silent_since:
                changes.end(
                    key,
                    f"central {central} pushes again (received {_local(last, settings)}; "
                    f"silent since {_local(silent_since, settings)})",
                )
            continue
        if not hours.is_open(now, settings.timezone):
            continue
        silent = hours.open_seconds_between(last, now, settings.timezone)
        if silent >= window:
            changes.start(
                key,
                f"no push from central {central} for {_minutes(silent)} of business hours "
                f"(the last received {_local(last, settings)})",
                last_push=last.isoformat(),
            )
    return changes


def _scan_landing(settings: Settings, state: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """Every known central's newest receive time, after reading what landed since last tick.

    The cursor keeps, per landing file of the partitions scanned, the bytes already read
    (`read`: hour bucket -> file stem -> offset; a file keeps its stem when sealed), so a tick
    reads only lines new since the previous one, newest partitions first, within
    READ_BUDGET_BYTES (beyond it, only the newest bytes of each file, and the log says so).
    Without a cursor, the tails of the newest files of the older partitions on disk tell which
    centrals pushed before (within BOOTSTRAP_BUDGET_BYTES). Centrals silent for longer than the
    retention period are forgotten.
    """
    known = {
        central: dt.datetime.fromisoformat(moment)
        for central, moment in state.get("last_push", {}).items()
    }
    current = hour_bucket_at(now)
    first_tick = "scan_floor" not in state
    floor = max(int(state.get("scan_floor", current - 1)), current - SCAN_HOURS_MAX)
    read = {
        int(bucket): offsets
        for bucket, offsets in state.get("read", {}).items()
        if int(bucket) >= floor
    }
    budget = READ_BUDGET_BYTES
    skipped = 0
    for bucket in range(current, floor - 1, -1):
        offsets = read.setdefault(bucket, {})
        for stem, path, size in _landing_files_in(partition_dir(settings.pushes_dir, bucket)):
            done = offsets.get(stem, 0)
            if size <= done:
                continue
            start = max(done, size - budget)
            skipped += start - done
            data = _read_range(path, start, size)
            if data is None:
                continue
            lines_end = data.rfind(b"\n") + 1
            _note_pushes(data[:lines_end] if start == done else _whole_lines(data), known)
            offsets[stem] = start + lines_end
            budget -= len(data)
    if skipped:
        dg.get_dagster_logger().warning(
            f"no_push_alerts: skipped {skipped // 1024} KiB of older landing lines "
            f"(more than {READ_BUDGET_BYTES // (1024 * 1024)} MiB landed since the last tick)"
        )
    if first_tick:
        _note_older_centrals(settings, floor, now, known)
    forget_before = now - dt.timedelta(days=settings.retention_days)
    newest = sorted(
        ((moment, central) for central, moment in known.items() if moment >= forget_before),
        reverse=True,
    )[:MAX_CENTRALS]
    state["last_push"] = {central: moment.isoformat() for moment, central in newest}
    state["read"] = {str(bucket): offsets for bucket, offsets in read.items() if offsets}
    state["scan_floor"] = current - 1  # the previous hour's files may still be open
    return {central: moment for moment, central in newest}


def _landing_files_in(directory: Path) -> list[tuple[str, Path, int]]:
    """(stem, path, size) of the sealed and open files of one hour partition, by name."""
    found = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                for suffix in (SEALED_SUFFIX, OPEN_SUFFIX):
                    if entry.name.endswith(suffix):
                        try:
                            size = entry.stat().st_size
                        except FileNotFoundError:  # sealed (renamed) meanwhile: next tick
                            break
                        found.append((entry.name.removesuffix(suffix), Path(entry.path), size))
                        break
    except FileNotFoundError:
        return []
    return sorted(found)


def _read_range(path: Path, start: int, end: int) -> bytes | None:
    try:
        with path.open("rb") as file:
            file.seek(start)
            return file.read(end - start)
    except FileNotFoundError:  # sealed (renamed) or purged meanwhile
        return None


def _whole_lines(tail: bytes) -> bytes:
    """The complete lines of a file's tail: without the line it starts inside of."""
    return tail[tail.find(b"\n") + 1 : tail.rfind(b"\n") + 1]


def _note_pushes(lines: bytes, known: dict[str, dt.datetime]) -> None:
    """Raise each central's newest receive time to those of these envelope lines."""
    for line in lines.splitlines():
        try:
            envelope = parsed_envelope(line.decode("utf-8"))
        except (EnvelopeProblemError, UnicodeDecodeError):
            continue  # not a push: the loader sets such lines aside
        central = envelope["body"].get("central_id")
        if isinstance(central, bool) or not isinstance(central, (str, int)):
            continue
        central = str(central).strip()
        if not CENTRAL_ID.fullmatch(central):
            continue
        received = dt.datetime.fromisoformat(envelope["received_at"])
        if received.tzinfo is None:
            received = received.replace(tzinfo=dt.UTC)
        if central not in known or received > known[central]:
            known[central] = received


def _note_older_centrals(
    settings: Settings, floor: int, now: dt.datetime, known: dict[str, dt.datetime]
) -> None:
    """The tails of every partition before `floor`, newest first: of each receiver's newest file
    there (names are `<receiver_id>-<sequence>`, so the last by name)."""
    oldest = hour_bucket_at(now - dt.timedelta(days=settings.retention_days))
    budget = BOOTSTRAP_BUDGET_BYTES
    for bucket in range(floor - 1, oldest - 1, -1):
        newest_by_receiver = {
            stem.partition("-")[0]: (path, size)
            for stem, path, size in _landing_files_in(partition_dir(settings.pushes_dir, bucket))
        }
        for path, size in newest_by_receiver.values():
            if budget <= 0:
                return
            tail = _read_range(path, max(size - BOOTSTRAP_TAIL_BYTES, 0), size)
            if tail:
                _note_pushes(tail if size <= BOOTSTRAP_TAIL_BYTES else _whole_lines(tail), known)
                budget -= len(tail)


# --- the sensors -----------------------------------------------------------------------------


def _alert_sensor(name: str, description: str, evaluate: Evaluation) -> dg.SensorDefinition:
    @dg.sensor(
        name=name,
        minimum_interval_seconds=ALERT_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def alert_sensor(
        context: dg.SensorEvaluationContext, pbx55_settings: dg.ResourceParam[Settings]
    ) -> dg.SkipReason:
        return alert_tick(evaluate, context, pbx55_settings, dt.datetime.now(dt.UTC))

    return alert_sensor


def build_alert_sensors(job_names: Iterable[str]) -> list[dg.SensorDefinition]:
    """The four alert sensors, the run ones watching `job_names`."""
    jobs = sorted(job_names)
    return [
        _alert_sensor(
            "failed_run_alerts",
            f"Alerts when the newest run of {', '.join(jobs)} failed, and when it succeeds again.",
            failed_run_changes(jobs),
        ),
        _alert_sensor(
            "no_push_alerts",
            "Alerts when a central sends no push for PBX55_ALERT_NO_PUSH_MINUTES of its business "
            "hours (read from the landing files), and when it pushes again.",
            no_push_changes,
        ),
        _alert_sensor(
            "waiting_files_alerts",
            "Alerts when sealed landing files wait for a load longer than "
            "PBX55_ALERT_WAITING_MINUTES, and when none does any more.",
            waiting_files_changes,
        ),
        _alert_sensor(
            "data_quality_alerts",
            "Alerts on data-quality checks (severity WARN) failing in the newest successful run, "
            "and when they pass again.",
            data_quality_changes(jobs),
        ),
    ]
