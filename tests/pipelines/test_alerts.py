"""Alerts: real Dagster runs on an ephemeral instance, real landing files, a real webhook server.

The webhook is a stdlib HTTP server in a thread that records every JSON body it receives and
answers with the status a test sets. Sensors are evaluated tick by tick with their cursor
carried over, as the daemon does; `alert_tick` takes the tick's time where business hours
matter, the sensor definitions themselves run on the clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import itertools
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from foundation.landing.layout import OPEN_SUFFIX, SEALED_SUFFIX, hour_bucket_at
from foundation.settings import Settings
from pipelines.orchestration import alerts
from pipelines.orchestration.dbt_assets import build_dbt_assets
from pipelines.orchestration.definitions import build_definitions
from pipelines.orchestration.raw_assets import LOAD_JOB, RAW_PUSHES_KEY, raw_pushes
from pipelines.orchestration.resources import build_resources
from tests.conftest import TEST_PII_KEY, TEST_TOKEN
from tests.landing_files import write_landing_file
from tests.pipelines.landing_writer import envelope

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
WEBHOOK_SECRET_PATH = "/services/T000/B000/webhook-secret-part"


class RecordingWebhook:
    """A Slack-style incoming webhook on 127.0.0.1 that keeps what it was sent."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[dict[str, Any]] = []  # every body, whatever was answered
        webhook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                webhook.received.append(
                    {"json": json.loads(body), "type": self.headers["Content-Type"]}
                )
                self.send_response(webhook.status)
                self.end_headers()
                self.wfile.write(b"ok" if webhook.status == 200 else b"error")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{WEBHOOK_SECRET_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def texts(self) -> list[str]:
        """The messages delivered: bodies answered 200 by this server."""
        return [body["json"]["text"] for body in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[RecordingWebhook]:
    server = RecordingWebhook()
    yield server
    server.close()


@pytest.fixture
def alert_settings(settings: Settings, webhook: RecordingWebhook) -> Settings:
    return dataclasses.replace(
        settings,
        alert_webhook_url=webhook.url,
        dagster_ui_url="http://dagster.example:3000/",
    )


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


class Ticks:
    """Evaluates one alert sensor tick after tick, carrying its cursor like the daemon."""

    def __init__(
        self, sensor: dg.SensorDefinition, settings: Settings, instance: dg.DagsterInstance
    ) -> None:
        self.sensor, self.settings, self.instance = sensor, settings, instance
        self.cursor: str | None = None

    def _context(self) -> dg.SensorEvaluationContext:
        return dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources=build_resources(self.settings)
        )

    def tick(self) -> str:
        """One tick of the sensor definition as the daemon runs it; its skip message."""
        result = self.sensor.evaluate_tick(self._context())
        assert not result.run_requests
        self.cursor = result.cursor
        return result.skip_message or ""

    def tick_at(self, evaluate: alerts.Evaluation, now: dt.datetime) -> str:
        """One tick of `evaluate` at the time `now`."""
        context = self._context()
        skip = alerts.alert_tick(evaluate, context, self.settings, now)
        self.cursor = context.cursor
        return skip.skip_message or ""


def sensor_named(name: str) -> dg.SensorDefinition:
    [sensor] = [s for s in alerts.build_alert_sensors([LOAD_JOB]) if s.name == name]
    return sensor


def run_job(
    instance: dg.DagsterInstance, settings: Settings, assets: list[Any]
) -> dg.ExecuteInProcessResult:
    """A run of the job `load_landed_pushes` over `assets`, recorded on `instance`."""
    job = dg.define_asset_job(LOAD_JOB, selection=dg.AssetSelection.assets(*assets))
    definitions = dg.Definitions(assets=assets, jobs=[job], resources=build_resources(settings))
    return definitions.resolve_job_def(LOAD_JOB).execute_in_process(
        instance=instance, raise_on_error=False
    )


# --- run failures ------------------------------------------------------------------------------


def test_a_failed_run_alerts_once_with_job_step_error_and_link_then_recovers_once(
    alert_settings: Settings,
    instance: dg.DagsterInstance,
    webhook: RecordingWebhook,
    land_file: Callable[..., Path],
) -> None:
    land_file([{"central_id": "1001", "call_id": "1"}])
    ticks = Ticks(sensor_named("failed_run_alerts"), alert_settings, instance)
    without_key = dataclasses.replace(alert_settings, pii_key=None)

    failed = run_job(instance, without_key, [raw_pushes])
    assert not failed.success
    ticks.tick()

    [alert] = webhook.texts
    assert alert.startswith("[pbx55] ALERT: job load_landed_pushes failed")
    assert "step dlt_landed_pushes: " in alert and "PBX55_PII_KEY" in alert
    assert f"run {failed.run_id[:8]}" in alert
    assert f"http://dagster.example:3000/runs/{failed.run_id}" in alert
    assert "Traceback" not in alert

    ticks.tick()
    assert not run_job(instance, without_key, [raw_pushes]).success  # still failing
    ticks.tick()
    assert len(webhook.texts) == 1

    succeeded = run_job(instance, alert_settings, [raw_pushes])
    assert succeeded.success
    ticks.tick()
    ticks.tick()
    assert len(webhook.texts) == 2
    assert webhook.texts[1].startswith("[pbx55] RESOLVED: job load_landed_pushes succeeded again")
    assert f"run {succeeded.run_id[:8]}" in webhook.texts[1]
    assert all(body["type"] == "application/json" for body in webhook.received)


def test_alerts_carry_no_secret_and_no_personal_data(
    alert_settings: Settings, instance: dg.DagsterInstance, webhook: RecordingWebhook
) -> None:
    settings = dataclasses.replace(
        alert_settings, postgres_url="postgresql://pbx55:hunter2-secret@db.internal/pbx55"
    )

    @dg.asset(key=RAW_PUSHES_KEY)
    def leaky() -> None:
        raise RuntimeError(
            f"token {TEST_TOKEN} key {TEST_PII_KEY} caller +55 (11) 98765-4321 "
            f"CPF 123.456.789-09 at {settings.postgres_url} via {settings.alert_webhook_url}\n"
            "second line with more detail"
        )

    assert not run_job(instance, settings, [leaky]).success
    Ticks(sensor_named("failed_run_alerts"), settings, instance).tick()

    [alert] = webhook.texts
    for secret in (TEST_TOKEN, TEST_PII_KEY, "hunter2", WEBHOOK_SECRET_PATH, "98765", "456.789"):
        assert secret not in alert
    assert "second line" not in alert
    assert (
        "step pbx55_raw__pushes: RuntimeError: token *** key *** caller <number> CPF <number>"
        in alert
    )


# --- delivery ----------------------------------------------------------------------------------


def test_a_webhook_answering_500_or_not_listening_fails_no_tick_and_gets_the_alert_later(
    alert_settings: Settings,
    instance: dg.DagsterInstance,
    webhook: RecordingWebhook,
    land_file: Callable[..., Path],
) -> None:
    land_file([{"central_id": "1001", "call_id": "1"}])
    without_key = dataclasses.replace(alert_settings, pii_key=None)
    assert not run_job(instance, without_key, [raw_pushes]).success
    ticks = Ticks(sensor_named("failed_run_alerts"), alert_settings, instance)

    webhook.status = 500
    skipped = ticks.tick()
    assert "not delivered to http://127.0.0.1" in skipped and "HTTP 500" in skipped
    assert WEBHOOK_SECRET_PATH not in skipped
    assert len(webhook.received) == 1  # it was tried

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{unused.getsockname()[1]}/hook"
    ticks.settings = dataclasses.replace(alert_settings, alert_webhook_url=nobody)
    assert "not delivered" in ticks.tick()
    ticks.settings = dataclasses.replace(alert_settings, alert_webhook_url="http://pbx55.invalid/h")
    assert "not delivered" in ticks.tick()

    webhook.status = 200
    ticks.settings = alert_settings
    assert "sent 1" in ticks.tick()
    ticks.tick()
    assert len(webhook.received) == 2
    assert webhook.received[0]["json"] == webhook.received[1]["json"]


def test_without_a_webhook_url_the_sensors_skip_and_say_why(
    settings: Settings, instance: dg.DagsterInstance, land_file: Callable[..., Path]
) -> None:
    assert settings.alert_webhook_url is None
    land_file([{"central_id": "1001", "call_id": "1"}])
    assert not run_job(instance, dataclasses.replace(settings, pii_key=None), [raw_pushes]).success

    for sensor in alerts.build_alert_sensors([LOAD_JOB]):
        ticks = Ticks(sensor, settings, instance)
        assert ticks.tick() == alerts.ALERTS_OFF
        assert ticks.cursor is None


# --- data-quality warnings ---------------------------------------------------------------------


def test_data_quality_warnings_of_a_dbt_build_alert_once_and_recover_once(
    alert_settings: Settings,
    instance: dg.DagsterInstance,
    webhook: RecordingWebhook,
    land_file: Callable[..., Path],
    dbt_manifest: Path,
) -> None:
    """A push without central_id fails dbt's WARN test `not_null` on it: the run succeeds."""
    settings = dataclasses.replace(alert_settings, as_of_utc="2026-11-20 21:00:00+00")
    load_and_build = [raw_pushes, build_dbt_assets()]
    ticks = Ticks(sensor_named("data_quality_alerts"), settings, instance)
    land_file([{"central_id": "1001", "call_id": "1"}, {"call_id": "2"}])

    first = run_job(instance, settings, load_and_build)
    assert first.success
    ticks.tick()
    ticks.tick()

    [alert] = webhook.texts
    assert alert.startswith("[pbx55] ALERT: data-quality warning")
    assert (
        "not_null_stg_pbx55__pushes_central_id on staging/stg_pbx55__pushes: 1 failing rows"
        in alert
    )
    assert f"load_landed_pushes, run {first.run_id[:8]}" in alert
    assert len(alert.splitlines()) == 1  # the only warning of that build

    land_file([{"central_id": "1001", "call_id": "3"}])
    assert run_job(instance, settings, load_and_build).success
    ticks.tick()
    ticks.tick()
    assert len(webhook.texts) == 2
    assert webhook.texts[1].startswith(
        "[pbx55] RESOLVED: data-quality check not_null_stg_pbx55__pushes_central_id"
    )


def test_a_check_the_newest_run_did_not_evaluate_keeps_its_alert(
    alert_settings: Settings, instance: dg.DagsterInstance, webhook: RecordingWebhook
) -> None:
    passes = {"value": False}

    @dg.asset(check_specs=[dg.AssetCheckSpec("calls_have_a_queue", asset="calls")])
    def calls() -> Iterator[Any]:
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(
            passed=passes["value"], severity=dg.AssetCheckSeverity.WARN, metadata={}
        )

    @dg.asset
    def other() -> None:
        pass

    ticks = Ticks(sensor_named("data_quality_alerts"), alert_settings, instance)
    assert run_job(instance, alert_settings, [calls]).success
    ticks.tick()
    [alert] = webhook.texts
    assert alert.startswith(
        "[pbx55] ALERT: data-quality warning calls_have_a_queue on calls (load_landed_pushes, run "
    )

    assert run_job(instance, alert_settings, [other]).success  # the check did not run
    ticks.tick()
    assert len(webhook.texts) == 1

    passes["value"] = True
    assert run_job(instance, alert_settings, [calls]).success
    ticks.tick()
    assert webhook.texts[1].startswith("[pbx55] RESOLVED: data-quality check calls_have_a_queue")


# --- sealed files waiting ----------------------------------------------------------------------


def test_sealed_files_waiting_for_a_load_alert_once_and_recover_after_a_load(
    alert_settings: Settings,
    instance: dg.DagsterInstance,
    webhook: RecordingWebhook,
    land_file: Callable[..., Path],
) -> None:
    ticks = Ticks(sensor_named("waiting_files_alerts"), alert_settings, instance)
    wait = dt.timedelta(minutes=alert_settings.alert_waiting_minutes + 1)
    land_file([{"central_id": "1001", "call_id": "1"}])
    land_file([{"central_id": "1001", "call_id": "2"}])

    assert "nothing new" in ticks.tick_at(alerts.waiting_files_changes, dt.datetime.now(dt.UTC))
    ticks.tick_at(alerts.waiting_files_changes, dt.datetime.now(dt.UTC) + wait)
    ticks.tick_at(alerts.waiting_files_changes, dt.datetime.now(dt.UTC) + wait)
    [alert] = webhook.texts
    assert alert.startswith(
        "[pbx55] ALERT: 2 sealed landing file(s) waiting for a load longer than 15 min"
    )
    assert "no load has succeeded yet" in alert

    assert run_job(instance, alert_settings, [raw_pushes]).success
    land_file([{"central_id": "1001", "call_id": "3"}])  # sealed after the load, but just now
    ticks.tick_at(alerts.waiting_files_changes, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    ticks.tick_at(alerts.waiting_files_changes, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    assert len(webhook.texts) == 2
    assert webhook.texts[1].startswith(
        "[pbx55] RESOLVED: no sealed landing file waits longer than 15 min; "
        "the last successful load started at"
    )


# --- centrals that stop pushing ----------------------------------------------------------------


# Monday 2026-11-23 and Friday 2026-11-20 in São Paulo (UTC-3 all year).
def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SAO_PAULO)


_file_numbers = itertools.count(1)


def push(
    settings: Settings, central: str | int, at: dt.datetime, *, sealed: bool = True, also=()
) -> Path:
    """A landing file holding a push of `central` received at `at` (then one for each central
    in `also`, at the same time), as the receiver lands it."""
    lines = [
        envelope({"central_id": each, "call_id": "x"}, received_at=at) for each in (central, *also)
    ]
    return write_landing_file(
        settings.pushes_dir,
        hour_bucket_at(at),
        "alerttst",
        next(_file_numbers),
        b"".join(lines),
        sealed=sealed,
    )


def test_a_central_silent_for_n_minutes_of_business_hours_alerts_once_and_recovers_once(
    alert_settings: Settings, instance: dg.DagsterInstance, webhook: RecordingWebhook
) -> None:
    ticks = Ticks(sensor_named("no_push_alerts"), alert_settings, instance)

    def tick(at: dt.datetime) -> None:
        ticks.tick_at(alerts.no_push_changes, at)

    push(alert_settings, "1001", local(23, 10, 0))
    push(alert_settings, "2002", local(23, 10, 20))
    tick(local(23, 10, 25))
    assert webhook.texts == []

    tick(local(23, 10, 31))
    tick(local(23, 10, 40))
    assert webhook.texts == [
        "[pbx55] ALERT: no push from central 1001 for 31 min of business hours "
        "(the last received 2026-11-23 10:00)"
    ]

    push(alert_settings, "1001", local(23, 10, 45), sealed=False)  # still being written
    tick(local(23, 10, 46))
    tick(local(23, 10, 47))
    assert webhook.texts[1:] == [
        "[pbx55] RESOLVED: central 1001 pushes again (received 2026-11-23 10:45; "
        "silent since 2026-11-23 10:00)"
    ]

    tick(local(23, 10, 51))
    assert webhook.texts[2].startswith("[pbx55] ALERT: no push from central 2002 for 31 min")
    assert len(webhook.texts) == 3


def test_no_alert_outside_business_hours_and_only_their_minutes_count(
    alert_settings: Settings, instance: dg.DagsterInstance, webhook: RecordingWebhook
) -> None:
    """Default hours mon-fri 08:00-18:00: a Friday 17:50 push is 10 minutes old on Monday 08:00."""
    ticks = Ticks(sensor_named("no_push_alerts"), alert_settings, instance)
    push(alert_settings, "1001", local(20, 17, 50))

    for at in (local(20, 17, 55), local(20, 23, 0), local(21, 12, 0), local(23, 8, 15)):
        ticks.tick_at(alerts.no_push_changes, at)
    assert webhook.texts == []

    ticks.tick_at(alerts.no_push_changes, local(23, 8, 21))
    assert webhook.texts == [
        "[pbx55] ALERT: no push from central 1001 for 31 min of business hours "
        "(the last received 2026-11-20 17:50)"
    ]


def test_a_central_with_its_own_hours_and_a_cursor_learning_from_older_files(
    alert_settings: Settings, instance: dg.DagsterInstance, webhook: RecordingWebhook
) -> None:
    settings = Settings.from_env(
        alert_settings.as_environment()
        | {"PBX55_BUSINESS_HOURS": "never", "PBX55_BUSINESS_HOURS_BY_CENTRAL": "1001=always"}
    )
    push(settings, "2002", local(20, 8, 0))
    push(settings, "1001", local(20, 9, 0), also=["2002"])  # the day before the first tick

    Ticks(sensor_named("no_push_alerts"), settings, instance).tick_at(
        alerts.no_push_changes, local(21, 3, 0)
    )
    [alert] = webhook.texts
    assert alert.startswith("[pbx55] ALERT: no push from central 1001 for 1080 min")


def test_the_no_push_sensor_reads_only_what_landed_since_its_last_tick(
    alert_settings: Settings, instance: dg.DagsterInstance, webhook: RecordingWebhook
) -> None:
    """An open file that grows is read from where the last tick stopped, a torn last line
    waits for its end, and a file sealed meanwhile keeps its place."""
    ticks = Ticks(sensor_named("no_push_alerts"), alert_settings, instance)
    growing = push(alert_settings, "1001", local(23, 10, 0), sealed=False)
    ticks.tick_at(alerts.no_push_changes, local(23, 10, 5))

    later = envelope({"central_id": "1001", "call_id": "y"}, received_at=local(23, 10, 40))
    with growing.open("ab") as file:
        file.write(later[:20])  # half a line, being written
    ticks.tick_at(alerts.no_push_changes, local(23, 10, 41))
    assert webhook.texts[0].startswith("[pbx55] ALERT: no push from central 1001 for 41 min")

    with growing.open("ab") as file:
        file.write(later[20:])
    growing.rename(growing.with_name(growing.name.removesuffix(OPEN_SUFFIX) + SEALED_SUFFIX))
    ticks.tick_at(alerts.no_push_changes, local(23, 10, 42))
    assert webhook.texts[1].startswith(
        "[pbx55] RESOLVED: central 1001 pushes again (received 2026-11-23 10:40"
    )
    state = json.loads(ticks.cursor or "{}")
    assert state["last_push"] == {"1001": local(23, 10, 40).astimezone(dt.UTC).isoformat()}
    assert sum(len(files) for files in state["read"].values()) == 1


def test_the_no_push_sensor_ignores_central_ids_that_are_not_ids(
    alert_settings: Settings, instance: dg.DagsterInstance, webhook: RecordingWebhook
) -> None:
    for odd in ("", "a central with spaces", "x" * 65, "1001\n[pbx55] RESOLVED: fake"):
        push(alert_settings, odd, local(23, 9, 0))
    push(alert_settings, 1001, local(23, 9, 0))  # a number, as 55pbx may send it
    Ticks(sensor_named("no_push_alerts"), alert_settings, instance).tick_at(
        alerts.no_push_changes, local(23, 10, 0)
    )
    [alert] = webhook.texts
    assert alert.count("[pbx55]") == 1 and "central 1001 " in alert


# --- settings and definitions ------------------------------------------------------------------


def test_business_hours_and_webhook_settings_are_validated_with_one_line(env: dict) -> None:
    for name, value, expected in (
        ("PBX55_BUSINESS_HOURS", "mon-fri 8h-18h", "entry 1 ('mon-fri 8h-18h')"),
        ("PBX55_BUSINESS_HOURS", "mon-fri 08:00-18:00,sun 12:00-09:00", "entry 2"),
        ("PBX55_BUSINESS_HOURS", "seg-sex 08:00-18:00", "names a day"),
        ("PBX55_BUSINESS_HOURS_BY_CENTRAL", "1001:always", "entry 1 is not"),
        ("PBX55_ALERT_WEBHOOK_URL", "hooks.slack.com/services/SECRET", "http:// or https://"),
        ("PBX55_ALERT_NO_PUSH_MINUTES", "0", "positive"),
    ):
        with pytest.raises(ValueError, match=name) as error:
            Settings.from_env(env | {name: value})
        assert expected in str(error.value) and "\n" not in str(error.value)
        assert "SECRET" not in str(error.value)

    custom = Settings.from_env(
        env
        | {
            "PBX55_BUSINESS_HOURS": "Mon-Fri 08:00-18:00, sat-sun 09:00-13:00",
            "PBX55_BUSINESS_HOURS_BY_CENTRAL": "1001=always; 2002=fri-mon 00:00-24:00",
            "PBX55_ALERT_WEBHOOK_URL": "https://hooks.example/services/SECRET",
        }
    )
    assert Settings.from_env(custom.as_environment()) == custom
    assert "SECRET" not in repr(custom)
    assert str(custom.business_hours_of("2002")) == "fri-mon 00:00-24:00"
    assert str(custom.business_hours_of("3003")) == "mon-fri 08:00-18:00,sat-sun 09:00-13:00"
    assert custom.business_hours_of("2002").is_open(local(23, 3), custom.timezone)  # Monday
    assert not custom.business_hours_of("2002").is_open(local(24, 3), custom.timezone)


@pytest.mark.usefixtures("dbt_manifest")
def test_the_definitions_hold_the_alert_sensors_and_freshness_policies(settings: Settings) -> None:
    definitions = build_definitions(settings)
    for name in ("failed_run_alerts", "no_push_alerts", "waiting_files_alerts"):
        sensor = definitions.resolve_sensor_def(name)
        assert sensor.minimum_interval_seconds == alerts.ALERT_INTERVAL_S
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    specs = {spec.key: spec for spec in definitions.resolve_all_asset_specs()}
    assert specs[RAW_PUSHES_KEY].freshness_policy == alerts.RAW_PUSHES_FRESHNESS
    assert specs[dg.AssetKey(["marts", "fct_calls"])].freshness_policy == alerts.MARTS_FRESHNESS
    assert specs[dg.AssetKey("bi_serving_copy")].freshness_policy == alerts.MARTS_FRESHNESS
    assert specs[dg.AssetKey(["staging", "stg_pbx55__pushes"])].freshness_policy is None
