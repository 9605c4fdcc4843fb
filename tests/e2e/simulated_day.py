"""A simulated day sent through a real `pbx55 serve`, and the models built once it is over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pbx55.demo import running_receiver, settings_environment
from pbx55.settings import Settings
from pbx55.simulation import SimulationConfig, SimulationReport, run_simulation
from pipelines.transform import build_models


def send_day(settings: Settings, config: SimulationConfig, truth_path: Path) -> SimulationReport:
    """Send the day to a receiver landing where `settings` say; SIGTERM seals its files."""
    with running_receiver(settings_environment(settings)) as receiver:
        return run_simulation(
            config,
            url=receiver.push_url,
            token=settings.tokens[0],
            truth_path=truth_path,
            concurrency=8,
            progress=False,
        )


def build_models_after_the_day(settings: Settings, **build_arguments: Any) -> None:
    """The day was sent in seconds, so its pushes all arrived just now. Build as if three hours
    had passed, so that calls without a final push are past the 2 h grace period."""
    with pytest.MonkeyPatch.context() as patch:
        as_of = datetime.now(UTC) + timedelta(hours=3)
        patch.setenv("PBX55_AS_OF_UTC", as_of.strftime("%Y-%m-%d %H:%M:%S"))
        build_models(settings, **build_arguments)
