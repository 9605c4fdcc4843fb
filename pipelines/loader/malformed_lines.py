"""Set aside landing lines the loader cannot type, so one damaged file never stops the warehouse.

The receiver writes only whole envelopes and drops a torn last line on recovery, so a malformed
line in a sealed file means damage from outside (a disk fault, a hand edit, a half-restored
backup). The loader then loads every good line of the file, with its original line number, and
keeps each bad line in `landing/quarantine/date=<file's date>/` for a human, named after the
file. Logs name the file, the line numbers and the problem, never the line's content (it holds
personal data).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from foundation.landing.durable import write_quarantine_file
from foundation.landing.envelope import EnvelopeProblemError, parsed_envelope
from foundation.landing.layout import LandedFile

log = logging.getLogger(__name__)

# A repaired copy keeps each good line's number in the file it came from under this key.
LINE_NUMBER_KEY = "source_line"


@dataclass(frozen=True)
class MalformedLine:
    line_number: int
    problem: str
    text: str


@dataclass(frozen=True)
class RepairedBatch:
    files: list[LandedFile]  # the batch, with damaged files replaced by copies of their good lines
    malformed_counts: dict[str, int]  # source_file -> lines set aside


def set_aside_malformed_lines(
    files: Sequence[LandedFile], *, quarantine_dir: Path, repair_dir: Path, load_id: str
) -> RepairedBatch:
    """Quarantine the bad lines of `files`; copy the good lines of damaged files to `repair_dir`."""
    repaired: list[LandedFile] = []
    counts: dict[str, int] = {}
    for landed in files:
        good, bad = _split_lines(landed.path)
        if not bad:
            repaired.append(landed)
            continue
        counts[landed.source_file] = len(bad)
        _quarantine(landed, bad, quarantine_dir, load_id)
        copy = repair_dir / f"{len(repaired):06d}.jsonl"
        copy.write_text("".join(good), encoding="utf-8")
        repaired.append(LandedFile(landed.source_file, copy, copy.stat().st_size))
        log.error(
            "%s: %d malformed lines set aside in quarantine (lines %s: %s); its %d good lines "
            "are loaded",
            landed.source_file,
            len(bad),
            ", ".join(str(line.line_number) for line in bad[:20]),
            "; ".join(sorted({line.problem for line in bad})),
            len(good),
        )
    return RepairedBatch(repaired, counts)


def set_aside_line_count(quarantine_dir: Path, load_id: str) -> int:
    """How many lines the load `load_id` set aside."""
    return sum(
        len(path.read_bytes().splitlines())
        for path in quarantine_dir.glob(f"date=*/*{_quarantine_suffix(load_id)}")
    )


def _quarantine_suffix(load_id: str) -> str:
    return f".{load_id}.malformed-lines.jsonl"


def _split_lines(path: Path) -> tuple[list[str], list[MalformedLine]]:
    good: list[str] = []
    bad: list[MalformedLine] = []
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            try:
                text = raw.decode("utf-8").rstrip("\n")
            except UnicodeDecodeError:
                # Kept with its bytes escaped (\xNN), so nothing of it is lost.
                text = raw.decode("utf-8", errors="backslashreplace").rstrip("\n")
                bad.append(MalformedLine(number, "not UTF-8", text))
                continue
            if not text.strip():
                continue  # a blank line holds no push
            try:
                envelope = parsed_envelope(text)
            except EnvelopeProblemError as problem:
                bad.append(MalformedLine(number, str(problem), text))
                continue
            envelope[LINE_NUMBER_KEY] = number
            good.append(json.dumps(envelope) + "\n")
    return good, bad


def _quarantine(
    landed: LandedFile, bad: list[MalformedLine], quarantine_dir: Path, load_id: str
) -> None:
    date = landed.partition_date or dt.datetime.now(dt.UTC).date()
    content = "".join(
        json.dumps(
            {
                "source_file": landed.source_file,
                "line_number": line.line_number,
                "problem": line.problem,
                "line": line.text,
            },
            ensure_ascii=False,
        )
        + "\n"
        for line in bad
    )
    write_quarantine_file(
        quarantine_dir,
        date.isoformat(),
        landed.path.name + _quarantine_suffix(load_id),
        content.encode(),
    )
