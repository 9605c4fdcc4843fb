"""Compare `marts.fct_calls` with the simulator's ground truth, call by call.

Used by the end-to-end test (which requires full agreement) and by the demo (which prints it).
Values the warehouse cannot know must be unknown there: a call whose final push never came has
no talk, duration or cost (null, never 0) and its wait is flagged partial; its wait, balance and
recording are not compared.

Two modes. From pushes alone (the default): what the receiver acknowledged is what the warehouse
can know, so a call whose every push was lost in an outage is absent, one whose final push was
lost there is incomplete, and a transfer link lost there splits the journey. Reconciled
(`reconciled=True`, after the report API's rows are in): every call the report lists is present,
with the simulated outcome, wait and talk, `final_state_source` 'pushes' or 'both' when its final
push was acknowledged and 'report' otherwise, and journeys joined as the report's
`call_id_origin` says. The reconciled mode needs truth written with delivery results.
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
    "has_recording", "caller_ddd", "journey_id", "has_final_push", "is_wait_partial",
    "push_count", "late_push_count",
)  # fmt: skip
RECONCILED_COLUMNS = ("final_state_source",)


def _rows(connection: Any, table: str, columns: Sequence[str], schema: str) -> list[dict]:
    cursor = connection.cursor()
    cursor.execute(f"select {', '.join(columns)} from {schema}.{table}")  # noqa: S608 - constants
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def fct_calls_rows(
    connection: Any, schema: str = "marts", *, reconciled: bool = False
) -> list[dict[str, object]]:
    """The compared columns of every `fct_calls` row, as dicts (a DuckDB or DB-API connection);
    `final_state_source` too when `reconciled`."""
    columns = FCT_CALLS_COLUMNS + (RECONCILED_COLUMNS if reconciled else ())
    return _rows(connection, "fct_calls", columns, schema)


def fct_journeys_rows(connection: Any, schema: str = "marts") -> list[dict[str, object]]:
    """The compared columns of every `fct_journeys` row, as dicts."""
    return _rows(connection, "fct_journeys", FCT_JOURNEYS_COLUMNS, schema)


@dataclass
class Comparison:
    calls_in_truth: int = 0
    calls_in_warehouse: int = 0
    calls_expected_absent: int = 0  # every push lost, and (reconciled) not in the report
    missing_in_warehouse: list[tuple[str, str]] = field(default_factory=list)
    unexpected_in_warehouse: list[tuple[str, str]] = field(default_factory=list)
    present_but_expected_absent: list[tuple[str, str]] = field(default_factory=list)
    mismatches: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    journeys_split_or_merged: list[str] = field(default_factory=list)
    calls_differing: set[tuple[str, str]] = field(default_factory=set)
    reconciled: bool = False

    @property
    def agrees(self) -> bool:
        return not (
            self.missing_in_warehouse
            or self.unexpected_in_warehouse
            or self.present_but_expected_absent
            or self.mismatches
            or self.journeys_split_or_merged
        )

    @property
    def calls_agreeing(self) -> int:
        return (
            self.calls_in_truth
            - len(self.missing_in_warehouse)
            - len(self.calls_differing)
            - len(self.present_but_expected_absent)
        )

    def report(self, examples: int = 5) -> str:
        lines = [
            f"{self.calls_agreeing}/{self.calls_in_truth} calls agree with the ground truth "
            f"({self.calls_in_warehouse} rows in marts.fct_calls)"
        ]
        if self.calls_expected_absent:
            lines.append(
                f"  {self.calls_expected_absent} calls are rightly absent: no push of theirs was "
                "acknowledged" + (", and the report does not list them" if self.reconciled else "")
            )
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
        if self.present_but_expected_absent:
            lines.append(
                f"  present though nothing of theirs reached pbx55: "
                f"{len(self.present_but_expected_absent)}, "
                f"e.g. {self.present_but_expected_absent[:examples]}"
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
    if isinstance(expected, frozenset):  # any of these values
        return actual in expected
    if _blank(actual) or _blank(expected):
        return _blank(actual) and _blank(expected)
    if isinstance(expected, float) or isinstance(actual, float):
        return abs(float(actual) - float(expected)) <= MONEY_TOLERANCE  # type: ignore[arg-type]
    return actual == expected


def _final_known_from_pushes(record: Mapping[str, object]) -> bool:
    return bool(record["has_final_push"]) and not record.get("final_push_lost_in_outage")


def expected_in_warehouse(record: Mapping[str, object], *, reconciled: bool = False) -> bool:
    """False for a call of which nothing reached pbx55: every push lost in the outage and,
    when reconciled, not in the report either."""
    every_push_lost = record.get("pushes_acknowledged") == 0 and bool(
        record.get("pushes_lost_in_outage")
    )
    return not every_push_lost or (reconciled and bool(record["in_report"]))


def expected_values(
    record: Mapping[str, object], *, grace_elapsed: bool = True, reconciled: bool = False
) -> dict[str, object]:
    """The fct_calls columns this truth record pins down, under their warehouse names.

    A call whose final push never came (or was lost in an outage) is `in_progress` until the
    grace period after its last push has passed, `incomplete` after; `grace_elapsed` says which
    applies. `reconciled`: as the warehouse should be once the report API's rows are in (module
    docstring); a set value means any of its members.
    """
    final_known = _final_known_from_pushes(record)
    outcome = str(record["outcome"]) if final_known else "incomplete"
    if outcome == "incomplete" and not grace_elapsed:
        outcome = "in_progress"
    expected: dict[str, object] = {
        "call_kind": record["kind"],
        "outcome": CONTRACT_OUTCOME.get(outcome, outcome),
        "started_at": record["started_at_local"],
        "queue": record["queue"],
        "caller_ddd": record["caller_ddd"],
        "has_final_push": final_known,
    }
    outage_losses = bool(record.get("pushes_lost_in_outage"))
    if outage_losses and not final_known:
        del expected["queue"]  # the pushes that carried it may be the lost ones
    if final_known:
        expected |= {
            "branch_mask": record["branch_mask"],
            "wait_seconds": record["wait_seconds"],
            "talk_seconds": record["talk_seconds"],
            "duration_seconds": record["duration_seconds"],
            "tax_type": record["tax_type"],
            "cost": record["cost"],
            "balance_after": record["balance_after"],
            "has_recording": record["has_recording"],
        }
        if not outage_losses:
            expected["late_push_count"] = record["late_pushes"]
    else:
        # no final state: unknown, not zero (kpis.md, "Definitions changed")
        expected |= {"talk_seconds": None, "duration_seconds": None, "cost": None}
    expected["is_wait_partial"] = not final_known
    if record.get("pushes_acknowledged") == record["pushes_sent"]:
        # staging drops exact duplicates, so each distinct push counts once
        expected["push_count"] = int(record["pushes_sent"]) - int(record["duplicates_sent"])
    if not reconciled:
        return expected
    if record["in_report"]:
        if not record["pushes_acknowledged"]:
            # only the report knows this call: it says nothing of its direction or caller
            expected = {"started_at": record["started_at_local"]}
        elif not final_known:
            del expected["has_final_push"], expected["duration_seconds"]
        reconciled_outcome = str(record["reconciled_outcome"])
        expected |= {
            "outcome": CONTRACT_OUTCOME.get(reconciled_outcome, reconciled_outcome),
            "wait_seconds": record["reconciled_wait_seconds"],
            "talk_seconds": record["reconciled_talk_seconds"],
            "is_wait_partial": False,  # the report gives the final state
        }
    sources = record["final_state_sources"]
    if sources:
        expected["final_state_source"] = frozenset(sources)  # type: ignore[arg-type]
    return expected


def _journey_root(
    record: Mapping[str, object],
    by_call: Mapping[tuple[str, str], Mapping[str, object]],
    *,
    reconciled: bool,
) -> tuple[str, str]:
    """The root the warehouse should give the leg: the report's `call_id_origin` when
    reconciled; from pushes, the first leg up the chain whose link to its predecessor was lost
    in the outage, else the real root."""
    central = str(record["central_id"])
    if reconciled:
        return central, str(record["journey_root_call_id"])
    leg = record
    while leg["transferred_from_call_id"] and not leg.get("transfer_link_lost_in_outage"):
        leg = by_call[(central, str(leg["transferred_from_call_id"]))]
    return central, str(leg["call_id"])


def compare_calls(
    truth: Sequence[Mapping[str, object]],
    warehouse_rows: Iterable[Mapping[str, object]],
    *,
    grace_elapsed: bool = True,
    reconciled: bool = False,
) -> Comparison:
    rows = {(str(row["central_id"]), str(row["call_id"])): row for row in warehouse_rows}
    by_call = {(str(r["central_id"]), str(r["call_id"])): r for r in truth}
    expected_present = [r for r in truth if expected_in_warehouse(r, reconciled=reconciled)]
    present_keys = {(str(r["central_id"]), str(r["call_id"])) for r in expected_present}
    comparison = Comparison(
        calls_in_truth=len(truth),
        calls_in_warehouse=len(rows),
        calls_expected_absent=len(truth) - len(expected_present),
        reconciled=reconciled,
    )
    comparison.unexpected_in_warehouse = sorted(set(rows) - set(by_call))
    comparison.present_but_expected_absent = sorted((set(rows) & set(by_call)) - present_keys)
    journeys_by_root: dict[tuple[str, str], set[object]] = defaultdict(set)
    roots_by_journey: dict[object, set[tuple[str, str]]] = defaultdict(set)
    for record in expected_present:
        key = (str(record["central_id"]), str(record["call_id"]))
        row = rows.get(key)
        if row is None:
            comparison.missing_in_warehouse.append(key)
            continue
        expected = expected_values(record, grace_elapsed=grace_elapsed, reconciled=reconciled)
        for column, value in expected.items():
            actual = row.get(column)
            if column == "started_at" and not _blank(actual):
                actual = str(actual)[:19]
            if not _same(actual, value):
                shown = sorted(value) if isinstance(value, frozenset) else value
                comparison.calls_differing.add(key)
                comparison.mismatches[column].append(
                    f"{key[1]} ({record['kind']} {record['outcome']}): "
                    f"warehouse {actual!r}, truth {shown!r}"
                )
        root = _journey_root(record, by_call, reconciled=reconciled)
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
    truth: Sequence[Mapping[str, object]],
    *,
    grace_elapsed: bool = True,
    reconciled: bool = False,
) -> dict[tuple[str, str], dict]:
    """fct_journeys as the truth sees it, by (central, root call id): QueueMetrics multi-stint
    rules of kpis.md (final outcome from the last leg, wait, talk and cost summed). Where some
    leg has no final state, the total wait (a lower bound) is not compared and the total talk and
    cost are unknown (null); the cost too where the report gave a leg's final state (it has no
    cost)."""
    by_call = {(str(r["central_id"]), str(r["call_id"])): r for r in truth}
    legs_by_root: dict[tuple[str, str], list[Mapping[str, object]]] = defaultdict(list)
    for record in truth:
        if expected_in_warehouse(record, reconciled=reconciled):
            root = _journey_root(record, by_call, reconciled=reconciled)
            legs_by_root[root].append(record)
    expected = {}
    for root, legs in legs_by_root.items():
        legs.sort(key=lambda leg: (str(leg["started_at_local"]), str(leg["call_id"])))
        leg_values = [
            expected_values(leg, grace_elapsed=grace_elapsed, reconciled=reconciled) for leg in legs
        ]
        final_outcome = leg_values[-1]["outcome"]
        journey: dict[str, object] = {
            "legs": len(legs),
            "transfers": len(legs) - 1,
            "final_outcome": final_outcome,
            "is_answered": final_outcome == "answered",
        }
        if all("wait_seconds" in values for values in leg_values):
            journey["total_wait_seconds"] = sum(int(v["wait_seconds"]) for v in leg_values)
        talks = [values["talk_seconds"] for values in leg_values]
        costs = [values.get("cost") for values in leg_values]  # none from the report alone
        journey["total_talk_seconds"] = None if None in talks else sum(map(int, talks))
        journey["total_cost"] = None if None in costs else sum(map(float, costs))
        expected[root] = journey
    return expected


def compare_journeys(
    truth: Sequence[Mapping[str, object]],
    warehouse_rows: Iterable[Mapping[str, object]],
    *,
    grace_elapsed: bool = True,
    reconciled: bool = False,
) -> list[str]:
    """Differences between `marts.fct_journeys` and the truth, one line each (empty: agree)."""
    rows = {(str(row["central_id"]), str(row["journey_id"])): row for row in warehouse_rows}
    expected = expected_journeys(truth, grace_elapsed=grace_elapsed, reconciled=reconciled)
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
