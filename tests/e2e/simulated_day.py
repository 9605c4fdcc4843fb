"""A simulated day sent through a real `pbx55 serve`, and the models built once it is over."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from foundation.settings import Settings
from pbx55.receiver_process import running_receiver
from pipelines.dbt_runner import build_models
from simulator import SimulationConfig, SimulationReport, run_simulation


def send_day(settings: Settings, config: SimulationConfig, truth_path: Path) -> SimulationReport:
    """Send the day to a receiver landing where `settings` say; SIGTERM seals its files."""
    with running_receiver(settings.as_environment()) as receiver:
        return run_simulation(
            config,
            url=receiver.push_url,
            token=settings.tokens[0],
            truth_path=truth_path,
            concurrency=8,
            progress=False,
        )


def build_models_after_the_day(settings: Settings) -> None:
    """The day was sent in seconds, so its pushes all arrived just now. Build as if three hours
    had passed, so that calls without a final push are past the 2 h grace period."""
    as_of = datetime.now(UTC) + timedelta(hours=3)
    build_models(dataclasses.replace(settings, as_of_utc=as_of.strftime("%Y-%m-%d %H:%M:%S")))
