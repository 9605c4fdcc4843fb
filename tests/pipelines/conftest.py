"""Fixtures of the loader tests: sealed landing files under the test's data dir."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from foundation.settings import Settings
from tests.pipelines.landing_writer import RECEIVER_ID, envelope

LandFile = Callable[..., Path]


@pytest.fixture
def land_file(settings: Settings) -> LandFile:
    """Write a sealed (or, with `sealed=False`, still open) landing file; return its path."""
    counter = itertools.count(1)

    def write(
        bodies: Sequence[dict[str, Any]] = ({"call_id": "1"},),
        *,
        received_at: dt.datetime | None = None,
        lines: Sequence[dict[str, Any]] | None = None,
        sealed: bool = True,
    ) -> Path:
        received_at = received_at or dt.datetime.now(dt.UTC)
        lines = lines or [envelope(body, received_at=received_at) for body in bodies]
        directory = settings.pushes_dir / received_at.strftime("date=%Y-%m-%d/hour=%H")
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{RECEIVER_ID}-{next(counter):08d}.jsonl" + ("" if sealed else ".open")
        path = directory / name
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        return path

    return write
