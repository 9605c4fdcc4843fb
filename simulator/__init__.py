"""Realistic 55pbx traffic: simulate a day of calls, send its pushes, write the ground truth.

model.py       the call centre (arrivals, IVR, FIFO queues, agents, transfers, tariffs, balance)
pushes.py      each call's pushes as the vendor spells and delivers them
sender.py      HTTP delivery to one receiver URL with retries, a rate limit, a progress bar and
               an optional outage (the receiver down for a window: its pushes are lost)
report.py      the vendor's report API data of the same days (report_01, _02, _03)
report_api.py  that API over HTTP, with faults to inject (`running_report_api`)
truth.py       one JSON line per call id: what the warehouse should say about it
compare.py     the warehouse against the truth, from pushes alone or reconciled with the report
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simulator.model import SimulatedDay, SimulationConfig, simulate_day
from simulator.pushes import RenderedDay, render_pushes
from simulator.sender import DeliveryReport, Outage, deliver
from simulator.truth import read_truth, truth_records, write_truth

__all__ = [
    "Outage",
    "SimulationConfig",
    "SimulationReport",
    "plan_day",
    "read_truth",
    "run_simulation",
]


@dataclass(frozen=True)
class SimulationReport:
    day: SimulatedDay
    rendered: RenderedDay
    delivery: DeliveryReport
    truth: list[dict[str, object]]
    truth_path: Path | None

    @property
    def acknowledged(self) -> int:
        return sum(1 for result in self.delivery.results if result.acknowledged)

    @property
    def rejected(self) -> int:
        """Pushes not acknowledged, those the outage took excepted."""
        return sum(1 for r in self.delivery.results if not r.acknowledged and not r.lost_in_outage)

    @property
    def lost_in_outage(self) -> int:
        return self.delivery.lost_in_outage

    def summary(self) -> str:
        pushes = self.rendered.pushes
        outcomes = Counter((record["kind"], record["outcome"]) for record in self.truth)
        encodings = Counter(push.encoding for push in pushes if push.encoding != "json")
        elapsed = self.delivery.elapsed_s
        lines = [
            f"day {self.day.config.day} (America/Sao_Paulo), seed {self.day.config.seed}: "
            f"{len(self.truth)} call ids in {len(self.day.centrals)} central(s)",
            "  "
            + ", ".join(
                f"{kind} {outcome}: {n}" for (kind, outcome), n in sorted(outcomes.items())
            ),
            f"  transfer legs: {sum(1 for leg in self.day.legs if leg.transferred_from)}, "
            f"final pushes never sent: {sum(1 for leg in self.day.legs if leg.final_push_lost)}",
            f"pushes sent: {len(pushes)} (duplicates {sum(p.is_duplicate for p in pushes)}, "
            f"late start pushes {sum(p.is_late for p in pushes)}, "
            f"malformed {sum(encodings.values())}: "
            + ", ".join(f"{name} {n}" for name, n in sorted(encodings.items()))
            + ")",
            f"acknowledged (200): {self.acknowledged}, rejected or unanswered: {self.rejected}; "
            f"responses {self.delivery.status_counts}, retries {self.delivery.retries}",
        ]
        if self.delivery.outage is not None:
            lines.append(self._outage_summary(self.delivery.outage))
        lines.append(
            f"elapsed {elapsed:.1f} s ({len(pushes) / elapsed if elapsed else 0:.0f} pushes/s)"
        )
        first_error = next(
            (r.error for r in self.delivery.results if r.error and not r.lost_in_outage), None
        )
        if first_error:
            lines.append(f"first refusal: {first_error}")
        if self.truth_path:
            lines.append(f"ground truth: {self.truth_path}")
        return "\n".join(lines)

    def _outage_summary(self, outage: Outage) -> str:
        touched = [record for record in self.truth if record["pushes_lost_in_outage"]]
        without_push = sum(1 for record in touched if not record["pushes_acknowledged"])
        final_lost = sum(1 for record in touched if record["final_push_lost_in_outage"])
        return (
            f"outage {outage} (receiver down): {self.lost_in_outage} pushes lost, of "
            f"{len(touched)} calls; {without_push} calls with no push acknowledged, "
            f"{final_lost} whose final push was lost"
        )


def plan_day(config: SimulationConfig) -> tuple[SimulatedDay, RenderedDay]:
    """The day and its pushes, without sending anything: deterministic for a seed."""
    day = simulate_day(config)
    return day, render_pushes(day)


def run_simulation(
    config: SimulationConfig,
    *,
    url: str,
    token: str,
    truth_path: Path | None = None,
    rate: float | None = None,
    concurrency: int = 16,
    progress: bool = True,
    outage: Outage | None = None,
    take_down: Callable[[], object] | None = None,
    bring_up: Callable[[], object] | None = None,
) -> SimulationReport:
    """Simulate the day, deliver its pushes (losing those of the `outage`, see
    `simulator.sender`) and keep the ground truth, written to `truth_path` when given."""
    day, rendered = plan_day(config)
    delivery = deliver(
        url,
        token,
        rendered.pushes,
        rate=rate,
        concurrency=concurrency,
        progress=progress,
        outage=outage,
        take_down=take_down,
        bring_up=bring_up,
    )
    truth = truth_records(day, rendered, delivery.results)
    if truth_path is not None:
        write_truth(truth_path, truth)
    return SimulationReport(
        day=day, rendered=rendered, delivery=delivery, truth=truth, truth_path=truth_path
    )
