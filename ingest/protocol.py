"""Uvicorn's httptools protocol with the resource limits it lacks, and the open-file limit.

What uvicorn 0.54 offers, and why it is not enough (measured on the receiver before this
module: 50 connections sending 20 MB of unterminated header each took it from 33 MB to 1.1 GB of
RSS and a legitimate push to 9 s; 1,100 connections that send nothing were never closed):

- `h11_max_incomplete_event_size` bounds the request head, but only in the pure-Python h11
  protocol. With httptools a header value is accumulated (by `bytes +=`) until it ends, without
  bound, and nothing limits the header count.
- `timeout_keep_alive` is armed only after a response, and any byte cancels it: a connection
  that never sends a byte, or sends one every few seconds, stays open forever.
- `limit_concurrency` accepts the connection first, answers 503 without `Retry-After`, and knows
  nothing of the open-file limit, at which every file the receiver opens fails.
- With a WebSocket library installed, an upgrade reaches the app as a `websocket` scope; without
  one, llhttp skips the body of an upgrade request and uvicorn logs two lines per request.

So the receiver runs this subclass. It answers each limit itself, with a JSON reason and
`connection: close`, before the app sees the request:

- request head (request line and headers) over `max_header_bytes`, or more than `max_headers`
  headers: 431. An unterminated head is cut as soon as the bytes received for it pass the limit
  (counted per read, and a read is at most 256 KiB, so that is all a connection ever holds).
- head not complete `header_timeout_s` after its first byte: 408. A deadline, not an inactivity
  timer: a byte now and then does not extend it.
- body not complete `body_timeout_s` after its head: 408 (the timer is armed only when the body
  did not come in the same read as the head, so not for the usual push). Body size is the app's
  limit (413); the app closes the connection after a 401 or 413 rather than read the rest.
- no request begun `idle_timeout_s` after the connection opened or after the last response:
  closed without an answer (nothing was asked; RFC 9112 section 9.8).
- `Connection: upgrade` (WebSocket, h2c) or CONNECT: 400; the app never runs.
- a connection beyond `max_connections`: 503 with `Retry-After` as soon as its head arrives;
  beyond `connection_cap`, where the open files would run out: closed at once, unanswered.
- anything llhttp cannot parse: 400, as uvicorn does, but counted and logged in summary.

After an answer the receiver half-closes and reads (and drops) what the client still sends for a
moment before it closes: closing with unread data would make the kernel reset the connection and
destroy the answer before a client still sending its head could read it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import resource
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from foundation.settings import Settings
from ingest.metrics import ReceiverMetrics

log = logging.getLogger(__name__)

# File descriptors the receiver needs besides connections: the listening socket, the event
# loop's own, stdio and the log, the open landing file and its directory, quarantine writes
# and readiness probes from the executor threads.
FD_RESERVE = 64
# Between `max_connections` and `connection_cap` a connection is answered 503 instead of being
# dropped: a quarter of the limit, at least this many.
MIN_OVERFLOW_CONNECTIONS = 16
REFUSAL_LOG_INTERVAL_S = 10.0
UNLIMITED_FILES = 1 << 20  # what an unlimited RLIMIT_NOFILE counts as
# After a refusal, what the client still sends is read and dropped for this long (or this many
# bytes) before the connection closes: closing with unread data makes the kernel answer with a
# reset, which destroys the refusal before a client still sending its head can read it.
LINGER_S = 2.0
LINGER_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ReceiverLimits:
    max_header_bytes: int
    max_headers: int
    header_timeout_s: float
    body_timeout_s: float
    idle_timeout_s: float
    max_connections: int  # served
    connection_cap: int  # accepted at all; between the two, answered 503

    @classmethod
    def from_settings(cls, settings: Settings, open_files: int) -> ReceiverLimits:
        served, cap = connection_limits(settings.max_connections, open_files)
        return cls(
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
            header_timeout_s=settings.header_timeout_s,
            body_timeout_s=settings.body_timeout_s,
            idle_timeout_s=settings.idle_timeout_s,
            max_connections=served,
            connection_cap=cap,
        )

    @property
    def retry_after_s(self) -> int:
        """What a 503 at the connection limit suggests: by then idle connections have closed."""
        return max(1, math.ceil(self.idle_timeout_s))


def connection_limits(configured: int, open_files: int) -> tuple[int, int]:
    """(served, cap): at most `configured` served, and never more accepted than files allow."""
    budget = open_files - FD_RESERVE
    if budget < 2:
        raise ValueError(
            f"the open-file limit ({open_files}) leaves no room for connections: "
            f"raise it (ulimit -n, LimitNOFILE=) above {FD_RESERVE + 2}"
        )
    served = min(configured, max(1, budget * 4 // 5))
    cap = min(budget, served + max(MIN_OVERFLOW_CONNECTIONS, served // 4))
    return served, cap


def files_needed(configured_connections: int) -> int:
    """The open-file limit at which `configured_connections` is not lowered."""
    served = configured_connections
    return served + max(MIN_OVERFLOW_CONNECTIONS, served // 4) + FD_RESERVE


def open_file_limit() -> int:
    """The soft RLIMIT_NOFILE in force (a large number when unlimited)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return UNLIMITED_FILES if soft == resource.RLIM_INFINITY else soft


def raise_open_file_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE toward `wanted`, never past the hard limit; the soft limit now.

    Many systems start services with a soft limit of 1024 and a much higher hard limit; an
    unprivileged process may raise its soft limit up to the hard one.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinite = resource.RLIM_INFINITY
    if soft == infinite:
        return UNLIMITED_FILES
    target = wanted if hard == infinite else min(wanted, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as error:
            log.warning(
                "could not raise the open-file limit from %d to %d: %s", soft, target, error
            )
            return soft
        log.info("raised the soft open-file limit from %d to %d (hard: %s)", soft, target, hard)
        return target
    return soft


class RefusalLog:
    """At most one warning per interval, summarising what was refused: a flood of bad requests
    must not become a flood of log lines. Never logs anything the client sent."""

    def __init__(self, interval_s: float = REFUSAL_LOG_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._counts: Counter[str] = Counter()
        self._logged_at = -math.inf

    def note(self, label: str) -> None:
        self._counts[label] += 1
        now = time.monotonic()
        if now - self._logged_at < self.interval_s:
            return
        summary = ", ".join(f"{label} {count}" for label, count in sorted(self._counts.items()))
        log.warning("refused since the last report: %s", summary)
        self._counts.clear()
        self._logged_at = now


class _StopParsing(Exception):
    """Raised from a parser callback to stop llhttp; the refusal to send is on the protocol."""


class ReceiverHttpProtocol(HttpToolsProtocol):
    """See the module docstring. Built per server by `receiver_protocol` (uvicorn instantiates
    the class itself, so the limits travel as class attributes)."""

    limits: ClassVar[ReceiverLimits]
    metrics: ClassVar[ReceiverMetrics]
    refusals: ClassVar[RefusalLog]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_started_at: float | None = None  # first byte of a head that is not complete
        self._head_bytes = 0  # bytes received for that head in earlier reads
        self._read_bytes = 0  # bytes of the read being parsed
        self._header_count = 0
        self._messages_completed = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str, str, bytes] | None = None
        self._over_limit = False
        self._finished = False  # refused or dropped: whatever else arrives is dropped
        self._linger_budget = LINGER_MAX_BYTES
        self._linger_timer: asyncio.TimerHandle | None = None

    # -- connection ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.metrics.connections_open += 1
        count = len(self.connections)
        if count > self.limits.connection_cap:
            self._drop("over_capacity")
            return
        self._over_limit = count > self.limits.max_connections
        # Uvicorn arms its keep-alive timer only after a response: a connection that never
        # sends a byte would otherwise stay open forever. The first byte of a request cancels it
        # (on_message_begin); the head deadline takes over from there.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.metrics.connections_open -= 1
        self._cancel_timers()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        self._unset_keepalive_if_required()
        super().connection_lost(exc)

    def timeout_keep_alive_handler(self) -> None:
        if not self.transport.is_closing():
            self.metrics.connections_closed["idle"] += 1
        super().timeout_keep_alive_handler()

    def data_received(self, data: bytes) -> None:
        if self._finished:
            self._linger_budget -= len(data)
            if self._linger_budget < 0:
                self.transport.close()
            return
        completed_before = self._messages_completed
        self._read_bytes = len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # pragma: no cover - upgrades stop at the head
            self._refuse(400, "upgrade_refused", "protocol upgrades are not supported")
            return
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(*self._refusal)
            else:
                self._refuse(400, "invalid_http", "invalid HTTP request")
            return
        if self._head_started_at is None:
            cycle = self.cycle
            if cycle is not None and cycle.more_body and self._body_timer is None:
                # The body did not come with the head (the usual push does: no timer for it).
                self._body_timer = self.loop.call_later(
                    self.limits.body_timeout_s, self._body_timed_out
                )
            return
        # A head is still incomplete. Its bytes are counted per read; when the previous request
        # ended inside this read, the new head's share of it is unknown and left uncounted (at
        # most one read), so a pipelining sender is never refused for its previous body.
        if self._messages_completed == completed_before:
            self._head_bytes += len(data)
        if self._head_bytes > self.limits.max_header_bytes:
            self._refuse(*self._head_too_large())
        elif self._head_timer is None:
            self._head_timer = self.loop.call_at(
                self._head_started_at + self.limits.header_timeout_s, self._head_timed_out
            )

    # -- parser callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        # A request has begun: the idle timer gives way to the head deadline. (Uvicorn cancels
        # it on any byte instead, so a CRLF now and then, which llhttp skips between requests,
        # would keep an idle connection open forever.)
        self._unset_keepalive_if_required()
        super().on_message_begin()
        self._head_started_at = self.loop.time()
        self._head_bytes = self._header_count = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            limit = self.limits.max_headers
            self._stop(431, "too_many_headers", f"more than {limit} request headers")
        # Uvicorn's own on_header, inlined: it runs for every header of every push.
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._head_started_at = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        # A head that ended within the limit's worth of reads fits; otherwise measure it.
        limit = self.limits.max_header_bytes
        if self._head_bytes + self._read_bytes > limit and self._head_size() > limit:
            self._stop(*self._head_too_large())
        if self.parser.should_upgrade():
            self._stop(400, "upgrade_refused", "protocol upgrades are not supported")
        if self._over_limit:
            retry_after = b"retry-after: %d\r\n" % self.limits.retry_after_s
            self._stop(503, "connection_limit", "too many connections, retry later", retry_after)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._messages_completed += 1
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def _head_size(self) -> int:
        """Request line and headers as sent, give or take the separators' whitespace."""
        return len(self.url) + 14 + sum(len(name) + len(value) + 4 for name, value in self.headers)

    # -- refusals -----------------------------------------------------------------------------

    def _head_too_large(self) -> tuple[int, str, str]:
        limit = self.limits.max_header_bytes
        return 431, "header_too_large", f"request head over {limit} bytes"

    def _body_timed_out(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if self._finished or cycle is None or not cycle.more_body or cycle.response_complete:
            return
        timeout = self.limits.body_timeout_s
        self._refuse(408, "body_timeout", f"body not complete within {timeout:g} s")

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._head_started_at is not None and not self._finished:
            timeout = self.limits.header_timeout_s
            self._refuse(408, "header_timeout", f"request head not complete within {timeout:g} s")

    def _stop(self, status: int, label: str, reason: str, extra_headers: bytes = b"") -> None:
        """From a parser callback: remember the answer and stop llhttp (see data_received)."""
        self._refusal = (status, label, reason, extra_headers)
        raise _StopParsing(label)

    def _refuse(self, status: int, label: str, reason: str, extra_headers: bytes = b"") -> None:
        """Answer `status` with a JSON reason and close; nothing the client sent is echoed."""
        self._finished = True
        self._cancel_timers()
        self.metrics.rejected_by_reason[label] += 1
        self.refusals.note(label)
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if cycle.response_started or not cycle.more_body:
                # The app is answering the request before this one: end the connection after.
                cycle.keep_alive = False
                return
            # The app waits for a body that will not be parsed now: answer in its place (what
            # it sends from now on is dropped) instead of leaving it to the body time-out.
            cycle.disconnected = True
            cycle.message_event.set()
        payload = json.dumps({"status": "Error", "reason": reason}, separators=(",", ":"))
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(payload),
            b"connection: close\r\n",
            extra_headers,
            b"\r\n",
            payload.encode(),
        ]
        self.transport.write(b"".join(head))
        # Lingering close: the answer (and a FIN, where the transport can send one: TLS cannot
        # without ending the session) now, the socket once the client closes its side (uvicorn's
        # eof_received closes it then), or after LINGER_S at most.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._linger_timer = self.loop.call_later(LINGER_S, self.transport.close)

    def _drop(self, label: str) -> None:
        """Close without an answer: there is no file to spare for reading a request."""
        self._finished = True
        self.metrics.connections_closed[label] += 1
        self.refusals.note(label)
        self.transport.close()

    def _cancel_timers(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None


def receiver_protocol(limits: ReceiverLimits, metrics: ReceiverMetrics) -> type[HttpToolsProtocol]:
    """The protocol class for one server, carrying its limits and metrics."""
    attributes = {"limits": limits, "metrics": metrics, "refusals": RefusalLog()}
    return type("ReceiverHttpProtocol", (ReceiverHttpProtocol,), attributes)
