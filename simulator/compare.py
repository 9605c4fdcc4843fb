"""Compare `marts.fct_calls` with the simulator's ground truth, call by call.

Used by the end-to-end test (which requires full agreement) and by the demo (which prints it).
Values the warehouse cannot know are not compared: the durations, cost and recording of a call
whose final push never came.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# architecture.md's outcome vocabulary has no value for an SMS; the models report `unknown`.
CONTRACT_OUTCOME = {"sms": "unknown"}
MONEY_TOLERANCE = 0.005

FCT_JOURNEYS_COLUMNS = (
    "central_id", "journey_id", "legs", "transfers", "final_outcome", "is_answered",
    "total_wait_seconds", "total_talk_seconds", "total_cost",
)  # fmt: skip
FCT_CALLS_COLUMNS = (
    "central_id", "call_id", "call_kind", "outcome", "started_at", "queue", "branch_mask",
    "wait_seconds", "talk_seconds", "duration_seconds", "tax_type", "cost", "balance_after",
    "has_recording", "caller_ddd", "journey_id", "has_final_push", "push_count",
    "late_push_count",
)  # fmt: skip


def _rows(connection: Any, table: str, columns: Sequence[str], schema: str) -> list[dict]:
    cursor = connection.cursor()
    cursor.execute(f"select {', '.join(columns)} from {schema}.{table}")  # noqa: S608 - constants
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def fct_calls_rows(connection: Any, schema: str = "marts") -> list[dict[str, object]]:
    """The compared columns of every `fct_calls` row, as dicts (a DuckDB or DB-API connection)."""
    return _rows(connection, "fct_calls", FCT_CALLS_COLUMNS, schema)


def fct_journeys_rows(connection: Any, schema: str = "marts") -> list[dict[str, object]]:
    """The compared columns of every `fct_journeys` row, as dicts."""
    return _rows(connection, "fct_journeys", FCT_JOURNEYS_COLUMNS, schema)


@dataclass
class Comparison:
    calls_in_truth: int = 0
    calls_in_warehouse: int = 0
    missing_in_warehouse: list[tuple[str, str]] = field(default_factory=list)
    unexpected_in_warehouse: list[tuple[str, str]] = field(default_factory=list)
    mismatches: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    journeys_split_or_merged: list[str] = field(default_factory=list)
    calls_differing: set[tuple[str, str]] = field(default_factory=set)

    @property
    def agrees(self) -> bool:
        return not (
            self.missing_in_warehouse
            or self.unexpected_in_warehouse
            or self.mismatches
            or self.journeys_split_or_merged
        )

    @property
    def calls_agreeing(self) -> int:
        return self.calls_in_truth - len(self.missing_in_warehouse) - len(self.calls_differing)

    def report(self, examples: int = 5) -> str:
        lines = [
            f"{self.calls_agreeing}/{self.calls_in_truth} calls agree with the ground truth "
            f"({self.calls_in_warehouse} rows in marts.fct_calls)"
        ]
        if self.missing_in_warehouse:
            lines.append(
                f"  missing: {len(self.missing_in_warehouse)}, "
                f"e.g. {self.missing_in_warehouse[:examples]}"
            )
        if self.unexpected_in_warehouse:
            lines.append(
                f"  not in the truth: {len(self.unexpected_in_warehouse)}, "
                f"e.g. {self.unexpected_in_warehouse[:examples]}"
            )
        for column, found in sorted(self.mismatches.items()):
            lines.append(f"  {column}: {len(found)} differ, e.g. " + "; ".join(found[:examples]))
        if self.journeys_split_or_merged:
            lines.append(
                f"  journeys: {len(self.journeys_split_or_merged)} differ, e.g. "
                + "; ".join(self.journeys_split_or_merged[:examples])
            )
        return "\n".join(lines)


def _blank(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _same(actual: object, expected: object) -> bool:
    if _blank(actual) or _blank(expected):
        return _blank(actual) and _blank(expected)
    if isinstance(expected, float) or isinstance(actual, float):
        return abs(float(actual) - float(expected)) <= MONEY_TOLERANCE  # type: ignore[arg-type]
    return actual == expected


def expected_values(
    record: Mapping[str, object], *, grace_elapsed: bool = True
) -> dict[str, object]:
    """The fct_calls columns this truth record pins down, under their warehouse names.

    A call whose final push never came is `in_progress` until the grace period after its last
    push has passed, `incomplete` after; `grace_elapsed` says which applies.
    """
    outcome = str(record["outcome"])
    if outcome == "incomplete" and not grace_elapsed:
        outcome = "in_progress"
    expected: dict[str, object] = {
        "call_kind": record["kind"],
        "outcome": CONTRACT_OUTCOME.get(outcome, outcome),
        "started_at": record["started_at_local"],
        "queue": record["queue"],
        "caller_ddd": record["caller_ddd"],
        "has_final_push": record["has_final_push"],
    }
    if record["has_final_push"]:
        expected |= {
            "branch_mask": record["branch_mask"],
            "wait_seconds": record["wait_seconds"],
            "talk_seconds": record["talk_seconds"],
            "duration_seconds": record["duration_seconds"],
            "tax_type": record["tax_type"],
            "cost": record["cost"],
            "balance_after": record["balance_after"],
            "has_recording": record["has_recording"],
            "late_push_count": record["late_pushes"],
        }
    if record.get("pushes_acknowledged") == record["pushes_sent"]:
        # staging drops exact duplicates, so each distinct push counts once
        expected["push_count"] = int(record["pushes_sent"]) - int(record["duplicates_sent"])
    return expected


def compare_calls(
    truth: Sequence[Mapping[str, object]],
    warehouse_rows: Iterable[Mapping[str, object]],
    *,
    grace_elapsed: bool = True,
) -> Comparison:
    rows = {(str(row["central_id"]), str(row["call_id"])): row for row in warehouse_rows}
    comparison = Comparison(calls_in_truth=len(truth), calls_in_warehouse=len(rows))
    truth_keys = {(str(r["central_id"]), str(r["call_id"])) for r in truth}
    comparison.unexpected_in_warehouse = sorted(set(rows) - truth_keys)
    journeys_by_root: dict[tuple[str, str], set[object]] = defaultdict(set)
    roots_by_journey: dict[object, set[tuple[str, str]]] = defaultdict(set)
    for record in truth:
        key = (str(record["central_id"]), str(record["call_id"]))
        row = rows.get(key)
        if row is None:
            comparison.missing_in_warehouse.append(key)
            continue
        for column, expected in expected_values(record, grace_elapsed=grace_elapsed).items():
            actual = row.get(column)
            if column == "started_at" and not _blank(actual):
                actual = str(actual)[:19]
            if not _same(actual, expected):
                comparison.calls_differing.add(key)
                comparison.mismatches[column].append(
                    f"{key[1]} ({record['kind']} {record['outcome']}): "
                    f"warehouse {actual!r}, truth {expected!r}"
                )
        root = (key[0], str(record["journey_root_call_id"]))
        journeys_by_root[root].add(row.get("journey_id"))
        roots_by_journey[(key[0], row.get("journey_id"))].add(root)
    for root, journey_ids in journeys_by_root.items():
        if len(journey_ids) != 1:
            comparison.journeys_split_or_merged.append(
                f"legs of {root[1]} in journeys {sorted(map(str, journey_ids))}"
            )
    for journey, roots in roots_by_journey.items():
        if len(roots) != 1:
            comparison.journeys_split_or_merged.append(
                f"journey {journey[1]} joins {sorted(r[1] for r in roots)}"
            )
    comparison.mismatches = dict(comparison.mismatches)
    return comparison


def expected_journeys(
    truth: Sequence[Mapping[str, object]], *, grace_elapsed: bool = True
) -> dict[tuple[str, str], dict]:
    """fct_journeys as the truth sees it, by (central, root call id): QueueMetrics multi-stint
    rules of kpis.md (final outcome from the last leg, wait, talk and cost summed). Sums are
    left out when a leg never got its final push, since the warehouse cannot know them."""
    legs_by_root: dict[tuple[str, str], list[Mapping[str, object]]] = defaultdict(list)
    for record in truth:
        legs_by_root[(str(record["central_id"]), str(record["journey_root_call_id"]))].append(
            record
        )
    expected = {}
    for root, legs in legs_by_root.items():
        legs.sort(key=lambda leg: (str(leg["started_at_local"]), str(leg["call_id"])))
        last_outcome = str(legs[-1]["outcome"])
        if last_outcome == "incomplete" and not grace_elapsed:
            last_outcome = "in_progress"
        journey: dict[str, object] = {
            "legs": len(legs),
            "transfers": len(legs) - 1,
            "final_outcome": CONTRACT_OUTCOME.get(last_outcome, last_outcome),
            "is_answered": last_outcome == "answered",
        }
        if all(leg["has_final_push"] for leg in legs):
            journey |= {
                "total_wait_seconds": sum(int(leg["wait_seconds"]) for leg in legs),
                "total_talk_seconds": sum(int(leg["talk_seconds"]) for leg in legs),
                "total_cost": sum(float(leg["cost"]) for leg in legs),
            }
        expected[root] = journey
    return expected


def compare_journeys(
    truth: Sequence[Mapping[str, object]],
    warehouse_rows: Iterable[Mapping[str, object]],
    *,
    grace_elapsed: bool = True,
) -> list[str]:
    """Differences between `marts.fct_journeys` and the truth, one line each (empty: agree)."""
    rows = {(str(row["central_id"]), str(row["journey_id"])): row for row in warehouse_rows}
    expected = expected_journeys(truth, grace_elapsed=grace_elapsed)
    differences = [f"journey {root[1]} missing" for root in sorted(set(expected) - set(rows))]
    differences += [
        f"journey {root[1]} not in the truth" for root in sorted(set(rows) - set(expected))
    ]
    for root, columns in expected.items():
        row = rows.get(root)
        if row is None:
            continue
        for column, value in columns.items():
            if not _same(row.get(column), value):
                differences.append(
                    f"journey {root[1]} {column}: warehouse {row.get(column)!r}, truth {value!r}"
                )
    return differences
