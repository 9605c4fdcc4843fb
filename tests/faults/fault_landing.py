"""Sealed landing files for the fault tests, written the way the receiver writes them.

Bodies come from the traffic simulator (a few dozen calls, fixed seed), each turned into its
landed line by the receiver's own parser and envelope code, so the lines are exactly what
`pbx55 serve` would land. What the loader must keep is read back from the files themselves:
every line's `push_id`, and every sealed file's name.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from foundation.landing.envelope import PushIds, now_us, parsed_envelope
from foundation.landing.layout import (
    US_PER_HOUR,
    hour_bucket_of,
    open_file_name,
    sealed_path,
    source_file_name,
)
from foundation.landing.parsing import PushBodyError, parse_push_body
from foundation.settings import Settings
from pbx55.simulate import yesterday_in_sao_paulo
from simulator import SimulationConfig, plan_day
from tests.landing_files import epoch_us, landed_line, write_landing_file
from tests.landing_files import sealed_files as sealed_paths

RECEIVER_ID = "faults01"
SIMULATED_CALLS = 100  # about 300 pushes
FILES = 4


@functools.cache
def simulated_bodies() -> tuple[tuple[bytes, str, str], ...]:
    """(raw body, content type, method) of every push of a small simulated day the receiver
    would accept, in sending order."""
    config = SimulationConfig(
        day=yesterday_in_sao_paulo() - dt.timedelta(days=5), calls=SIMULATED_CALLS, seed=5505
    )
    _, rendered = plan_day(config)
    accepted = []
    for push in rendered.pushes:
        try:
            parse_push_body(push.body, push.content_type)
        except PushBodyError:
            continue  # answered 400 by the receiver: never landed
        accepted.append((push.body, push.content_type, push.method))
    return tuple(accepted)


class Landing:
    """Writes sealed files under the settings' landing dir: new push ids for every line."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ids = PushIds(RECEIVER_ID)
        self._received_us = now_us() - US_PER_HOUR  # an hour ago, a millisecond per push
        self._file_sequence = 0

    def line(self, raw: bytes, content_type: str = "application/json", method: str = "POST"):
        """The landed line of one push body, as the receiver writes it."""
        self._received_us += 1000
        return landed_line(
            self._ids, raw, received_us=self._received_us, content_type=content_type, method=method
        )

    def line_for_body(self, body: dict[str, Any]) -> bytes:
        return self.line(json.dumps(body).encode())

    def simulated_lines(self) -> list[bytes]:
        return [
            self.line(raw, content_type, method) for raw, content_type, method in simulated_bodies()
        ]

    def seal(self, lines: Sequence[bytes]) -> Path:
        """One sealed file holding `lines`, in the hour partition of its first line."""
        received_at = parsed_envelope(lines[0].decode())["received_at"] if lines else None
        received_us = (
            epoch_us(dt.datetime.fromisoformat(received_at)) if received_at else self._received_us
        )
        self._file_sequence += 1
        return write_landing_file(
            self.settings.pushes_dir,
            hour_bucket_of(received_us),
            RECEIVER_ID,
            self._file_sequence,
            b"".join(lines),
        )

    def seal_in_files(self, lines: Sequence[bytes], files: int = FILES) -> list[Path]:
        """`lines` spread over `files` sealed files of about the same size, in order."""
        size = -(-len(lines) // files)
        return [self.seal(lines[start : start + size]) for start in range(0, len(lines), size)]

    def copy_under_new_name(self, sealed: Path) -> Path:
        """A second sealed file with the same lines (same push ids) under the next file name."""
        self._file_sequence += 1
        copy = sealed_path(sealed.with_name(open_file_name(RECEIVER_ID, self._file_sequence)))
        copy.write_bytes(sealed.read_bytes())
        return copy


def mixed_in(normal: Sequence[bytes], odd: Sequence[bytes]) -> list[bytes]:
    """`odd` lines spread evenly among `normal` ones."""
    mixed = list(normal)
    step = max(1, len(mixed) // (len(odd) + 1))
    for index, line in enumerate(odd):
        mixed.insert((index + 1) * step + index, line)
    return mixed


def sealed_files(settings: Settings) -> dict[str, Path]:
    """Every sealed file by its name relative to the landing dir (found here, not by the loader)."""
    return {
        source_file_name(settings.landing_dir, path): path
        for path in sealed_paths(settings.pushes_dir)
        if path.is_file()
    }


def landed_push_ids(settings: Settings) -> Counter[str]:
    """How often each push id occurs in the sealed landing files, read line by line."""
    ids: Counter[str] = Counter()
    for path in sealed_files(settings).values():
        ids.update(_push_ids(path.read_bytes().splitlines()))
    return ids


def _push_ids(lines: Iterable[bytes]) -> Iterable[str]:
    for line in lines:
        if line.strip():
            yield parsed_envelope(line.decode())["push_id"]
