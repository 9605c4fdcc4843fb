"""The result matrix of the fault tests (scenario x warehouse), printed at the end of the run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.faults.fault_warehouse import Observation


@dataclass
class MatrixRow:
    scenario: str
    warehouse: str
    landed: int | None = None  # distinct push ids in the sealed files
    rows: int | None = None
    duplicates: int | None = None
    missing: int | None = None
    ledger: str = ""  # ledger rows / sealed files
    after_fault: str = "-"  # what the warehouse held right after the fault (kill tests)
    unfinished: int | None = None  # pushes rows of loads without a _dlt_loads row
    build: str = "-"
    result: str = "not run"
    symptom: str = ""

    def record(self, seen: Observation) -> None:
        self.landed = seen.landed_ids
        self.rows = seen.rows
        self.duplicates = seen.duplicates
        self.missing = len(seen.missing)
        self.ledger = f"{seen.ledger_rows}/{seen.sealed_files}"
        self.unfinished = seen.rows_of_unfinished_loads

    def record_after_fault(self, seen: Observation) -> None:
        self.after_fault = f"{seen.rows} rows, {seen.ledger_rows} ledger"


ROWS: dict[str, MatrixRow] = {}  # by test node id, in the order the tests ran
OUTPUT: list[Path] = []  # where the table is written (under pytest's base temp dir)

HEADER = (
    "scenario",
    "warehouse",
    "after the fault",
    "pushes landed",
    "rows",
    "duplicates",
    "missing",
    "ledger/sealed",
    "rows of unfinished loads",
    "build",
    "result",
    "symptom (or note)",
)


def _cell(value: object) -> str:
    return "-" if value is None else str(value).replace("|", "/").replace("\n", " ")


def table() -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    first_seen: dict[str, int] = {}
    for row in ROWS.values():
        first_seen.setdefault(row.scenario, len(first_seen))
    for row in sorted(ROWS.values(), key=lambda r: (first_seen[r.scenario], r.warehouse)):
        cells = (
            row.scenario,
            row.warehouse,
            row.after_fault,
            row.landed,
            row.rows,
            row.duplicates,
            row.missing,
            row.ledger or None,
            row.unfinished,
            row.build,
            row.result,
            row.symptom[:160],
        )
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"
