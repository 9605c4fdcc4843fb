"""Receiver counters rendered in the Prometheus text format.

Plain integers updated on the event loop (and, for landing counters, by the single landing
thread, which is their only writer), so no client library and no locking on the hot path.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter

# Request latency buckets in seconds: most pushes land in well under 10 ms.
LATENCY_BUCKETS_S = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class ReceiverMetrics:
    def __init__(self) -> None:
        self.accepted_by_parse: Counter[str] = Counter()
        self.rejected_by_reason: Counter[str] = Counter()
        self.body_bytes_accepted = 0
        self.landed_bytes = 0
        self.fsync_batches = 0
        self.fsync_batch_pushes = 0
        self.sealed_files = 0
        self.storage_failures = 0
        self.quarantined = 0
        self.connections_open = 0
        self.connections_closed: Counter[str] = Counter()  # closed without an answer, by reason
        self._latency_counts = [0] * (len(LATENCY_BUCKETS_S) + 1)
        self._latency_sum_s = 0.0

    def observe_latency(self, seconds: float) -> None:
        self._latency_counts[bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        self._latency_sum_s += seconds

    def render(self) -> str:
        lines = [
            "# HELP pbx55_pushes_accepted_total Pushes landed durably and answered 200.",
            "# TYPE pbx55_pushes_accepted_total counter",
        ]
        for mode, count in sorted(self.accepted_by_parse.items()):
            lines.append(f'pbx55_pushes_accepted_total{{parse="{mode}"}} {count}')
        lines += [
            "# HELP pbx55_requests_rejected_total Requests answered with an error, by reason.",
            "# TYPE pbx55_requests_rejected_total counter",
        ]
        for reason, count in sorted(self.rejected_by_reason.items()):
            lines.append(f'pbx55_requests_rejected_total{{reason="{reason}"}} {count}')
        lines += _counter(
            "pbx55_body_bytes_accepted_total",
            "Request body bytes of accepted pushes.",
            self.body_bytes_accepted,
        )
        lines += _counter(
            "pbx55_landed_bytes_total", "Envelope bytes written and fsynced.", self.landed_bytes
        )
        lines += _counter(
            "pbx55_fsync_batches_total",
            "Group commits: one fsync covering every push written before it.",
            self.fsync_batches,
        )
        lines += _counter(
            "pbx55_fsync_batch_pushes_total",
            "Pushes made durable by group commits (divide by batches for the mean batch).",
            self.fsync_batch_pushes,
        )
        lines += _counter(
            "pbx55_files_sealed_total", "Landing files sealed to .jsonl.", self.sealed_files
        )
        lines += _counter(
            "pbx55_storage_failures_total",
            "Failed landing writes or fsyncs (each answered 503).",
            self.storage_failures,
        )
        lines += _counter(
            "pbx55_quarantined_total",
            "Bodies kept in quarantine and answered 400.",
            self.quarantined,
        )
        lines += [
            "# HELP pbx55_connections_open Client connections open now.",
            "# TYPE pbx55_connections_open gauge",
            f"pbx55_connections_open {self.connections_open}",
            "# HELP pbx55_connections_closed_total Connections closed without an answer "
            "(idle past the time-out, or beyond the connection cap), by reason.",
            "# TYPE pbx55_connections_closed_total counter",
        ]
        for reason, count in sorted(self.connections_closed.items()):
            lines.append(f'pbx55_connections_closed_total{{reason="{reason}"}} {count}')
        lines += [
            "# HELP pbx55_request_duration_seconds Time from request start to response.",
            "# TYPE pbx55_request_duration_seconds histogram",
        ]
        cumulative = 0
        for bound, count in zip(LATENCY_BUCKETS_S, self._latency_counts, strict=False):
            cumulative += count
            lines.append(f'pbx55_request_duration_seconds_bucket{{le="{bound}"}} {cumulative}')
        cumulative += self._latency_counts[-1]
        lines.append(f'pbx55_request_duration_seconds_bucket{{le="+Inf"}} {cumulative}')
        lines.append(f"pbx55_request_duration_seconds_sum {self._latency_sum_s:.6f}")
        lines.append(f"pbx55_request_duration_seconds_count {cumulative}")
        return "\n".join(lines) + "\n"


def _counter(name: str, help_text: str, value: int) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name} {value}"]
