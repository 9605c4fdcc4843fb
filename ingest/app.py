"""The receiver as a raw ASGI app: the HTTP contract of docs/contracts.md, nothing more.

Why raw ASGI on uvicorn + httptools + uvloop: it is the most used ASGI server, its C parser and
event loop are the fast path of the Python stack, and five paths need no framework. Starlette
or FastAPI would add routing, request objects and validation on every push for nothing the
contract asks; benchmarks/receiver.py measures what the durable path costs over the bare stack.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

from foundation.landing.durable import probe_writable, write_quarantine_file
from foundation.landing.envelope import (
    PushIds,
    Receipt,
    envelope_line,
    now_us,
    quarantined_body_record,
    utc_text,
)
from foundation.landing.layout import hour_bucket_of
from foundation.landing.parsing import MAX_NESTING_DEPTH, PushBodyError, parse_push_body
from ingest.auth import TokenAuth
from ingest.landing_writer import LandingWriter, StorageError
from ingest.metrics import ReceiverMetrics

log = logging.getLogger(__name__)
# One line per request at INFO (the README's "What the receiver logs"), under its own name so a
# journal can be searched for it. It costs about 6 us of CPU per push, most of it in `logging`;
# `serve` flushes it once per loop iteration (ingest/server.py), not once per line.
access_log = logging.getLogger("ingest.access")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PUSH_PATHS = ("/pushes", "/")
PUSH_METHODS = ("POST", "PUT")
PROBE_PATHS = ("/healthz", "/readyz", "/metrics")
PROBE_METHODS = ("GET", "HEAD")
UNAUTHORIZED_LOG_INTERVAL_S = 10.0
PROMETHEUS_CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
CLOSING_STATUSES = frozenset((401, 413))
KNOWN_PATHS = frozenset(PUSH_PATHS + PROBE_PATHS)


class Answer(NamedTuple):
    status: int
    payload: bytes
    reason: str  # "ok", or why not: the pbx55_requests_rejected_total label (/readyz: its own)


class ReceiverApp:
    def __init__(
        self,
        *,
        writer: LandingWriter,
        auth: TokenAuth,
        metrics: ReceiverMetrics,
        quarantine_dir: Path,
        max_body_bytes: int,
    ) -> None:
        self.writer = writer
        self.auth = auth
        self.metrics = metrics
        self.quarantine_dir = quarantine_dir
        self.max_body_bytes = max_body_bytes
        self.push_ids = PushIds(writer.receiver_id)
        self._unauthorized_since_log = 0
        self._unauthorized_logged_at = -UNAUTHORIZED_LOG_INTERVAL_S

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":
            # The server runs without a WebSocket protocol and refuses upgrades itself; should
            # one be configured, close before accepting (the server answers the handshake 403).
            await receive()
            self.metrics.rejected_by_reason["upgrade_refused"] += 1
            await send({"type": "websocket.close", "code": 1008})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.writer.start()
                except Exception as error:
                    log.exception("receiver could not start")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                log.info(
                    "receiver %s landing in %s", self.writer.receiver_id, self.writer.pushes_dir
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.writer.close()
                log.info("receiver %s stopped; open files sealed", self.writer.receiver_id)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path = scope["path"]
        method = scope["method"]
        body_bytes = 0
        if path in PUSH_PATHS:
            if method in PUSH_METHODS:
                answer, body_bytes = await self._push(scope, receive, path, method)
                # After a refusal that left the body unread (401, 413), end the connection
                # instead of reading and discarding whatever the client still sends.
                await _respond(send, answer, close=answer.status in CLOSING_STATUSES)
            else:
                answer = self._reject(405, "method_not_allowed", "use POST or PUT")
                await _respond(send, answer, allow=", ".join(PUSH_METHODS))
        elif path in PROBE_PATHS:
            if method not in PROBE_METHODS:
                answer = self._reject(405, "method_not_allowed", "use GET")
                await _respond(send, answer, allow=", ".join(PROBE_METHODS))
            elif path == "/metrics":
                metrics_text = self.metrics.render().encode()
                answer = Answer(200, metrics_text, "ok")
                await _respond(send, answer, content_type=PROMETHEUS_CONTENT_TYPE)
            elif path == "/readyz":
                answer = await self._ready()
                await _respond(send, answer)
            else:
                answer = Answer(200, b'{"status":"ok"}', "ok")
                await _respond(send, answer)
        else:
            answer = self._reject(404, "not_found", "no such path")
            await _respond(send, answer)
        elapsed_s = time.perf_counter() - started
        if path in PUSH_PATHS:
            self.metrics.observe_latency(elapsed_s)
        self._log_access(scope, answer, body_bytes, elapsed_s)

    def _log_access(self, scope: Scope, answer: Answer, body_bytes: int, elapsed_s: float) -> None:
        """The request's access line: never its query string, headers or body, so never a token
        (a token in the query string is ignored, and a path holding one is logged without it)."""
        if not access_log.isEnabledFor(logging.INFO):
            return
        path = scope["path"]
        if path not in KNOWN_PATHS:
            path = loggable(self.auth.redact(path))
        client = scope.get("client")
        access_log.info(
            "%s %s %d %s body=%dB %.1fms client=%s scheme=%s",
            scope["method"],
            path,
            answer.status,
            answer.reason,
            body_bytes,
            elapsed_s * 1000,
            loggable(str(client[0])) if client else "-",
            scope.get("scheme", "http"),
        )

    async def _push(
        self, scope: Scope, receive: Receive, path: str, method: str
    ) -> tuple[Answer, int]:
        """The answer to a push, and how many body bytes were read for it."""
        token = authorization = content_type = content_length = None
        for name, value in scope["headers"]:
            if name == b"token":
                token = value
            elif name == b"authorization":
                authorization = value
            elif name == b"content-type":
                content_type = value
            elif name == b"content-length":
                content_length = value
        auth_label = self.auth.identify(token, authorization)
        if auth_label is None:
            self._log_unauthorized(scope)
            return self._reject(401, "unauthorized", "missing or unknown token"), 0
        if content_length is not None:
            try:
                declared = int(content_length)
            except ValueError:
                return self._reject(400, "bad_request", "invalid Content-Length"), 0
            if declared > self.max_body_bytes:
                return self._too_large(), 0

        # A body that does not arrive in time is answered 408 by the HTTP protocol (the app
        # then sees a disconnect).
        chunks = []
        size = 0
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                answer = self._reject(400, "client_disconnected", "request body incomplete")
                return answer, size
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return self._too_large(), size
            chunks.append(chunk)
            more_body = message.get("more_body", False)
        raw = b"".join(chunks)

        received_us = now_us()
        receipt = Receipt(
            push_id=self.push_ids.next(received_us),
            received_us=received_us,
            receiver_id=self.writer.receiver_id,
            method=method,
            path=path,
            auth=auth_label,
        )
        content_type_text = content_type.decode("latin-1") if content_type else None
        try:
            parsed = parse_push_body(raw, content_type_text, max_depth=MAX_NESTING_DEPTH)
        except PushBodyError as error:
            answer = await self._quarantine(raw, error, receipt, content_type_text)
            return answer, size
        except Exception as error:
            # A parser bug must not become a 500 that the sender retries forever: keep the
            # body like any other that could not be parsed, and say so in the log.
            log.error("the body parser failed (%s); quarantining the body", type(error).__name__)
            failure = PushBodyError("body could not be parsed", "parser_failure")
            answer = await self._quarantine(raw, failure, receipt, content_type_text)
            return answer, size

        line = envelope_line(receipt, parsed, raw)
        try:
            await self.writer.land(line, hour_bucket_of(received_us))
        except StorageError:
            answer = self._reject(503, "storage_unavailable", "storage unavailable, retry later")
            return answer, size
        self.metrics.accepted_by_parse[parsed.mode] += 1
        self.metrics.body_bytes_accepted += size
        payload = b'{"status":"Success","push_id":"' + receipt.push_id.encode() + b'"}'
        return Answer(200, payload, "ok"), size

    async def _quarantine(
        self,
        raw: bytes,
        error: PushBodyError,
        receipt: Receipt,
        content_type: str | None,
    ) -> Answer:
        """Keep a body that is not an object (nothing to keep when empty), then answer 400."""
        if raw.strip():
            content = quarantined_body_record(
                receipt, reason=error.reason, content_type=content_type, raw=raw
            )
            date = utc_text(receipt.received_us)[:10]
            try:
                await asyncio.get_running_loop().run_in_executor(
                    None,
                    write_quarantine_file,
                    self.quarantine_dir,
                    date,
                    f"{receipt.push_id}.json",
                    content,
                )
            except OSError as storage_error:
                # Unkept, the body would be lost: let the sender retry instead.
                log.error("quarantine write failed, answering 503: %s", storage_error)
                return self._reject(503, "storage_unavailable", "storage unavailable, retry later")
            self.metrics.quarantined += 1
        return self._reject(400, error.label, error.reason)

    def _log_unauthorized(self, scope: Scope) -> None:
        """One line per interval at most: a misconfigured panel or a scan must not flood the log."""
        self._unauthorized_since_log += 1
        now = time.monotonic()
        if now - self._unauthorized_logged_at < UNAUTHORIZED_LOG_INTERVAL_S:
            return
        client = scope.get("client") or ("?", 0)
        log.warning(
            "401: %d request(s) without a valid token since the last report, latest from %s",
            self._unauthorized_since_log,
            loggable(str(client[0])),
        )
        self._unauthorized_since_log = 0
        self._unauthorized_logged_at = now

    def _too_large(self) -> Answer:
        return self._reject(413, "too_large", f"body over {self.max_body_bytes} bytes")

    def _reject(self, status: int, label: str, reason: str) -> Answer:
        self.metrics.rejected_by_reason[label] += 1
        payload = json.dumps({"status": "Error", "reason": reason}, separators=(",", ":"))
        return Answer(status, payload.encode(), label)

    async def _ready(self) -> Answer:
        if self.writer.is_closing():
            return Answer(503, b'{"status":"Error","reason":"shutting down"}', "shutting_down")
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, probe_writable, self.writer.pushes_dir
            )
        except OSError:
            payload = b'{"status":"Error","reason":"landing directory not writable"}'
            return Answer(503, payload, "not_writable")
        return Answer(200, b'{"status":"ok"}', "ok")


async def _respond(
    send: Send,
    answer: Answer,
    *,
    content_type: bytes = b"application/json",
    allow: str | None = None,
    close: bool = False,
) -> None:
    payload = answer.payload
    headers = [(b"content-type", content_type), (b"content-length", str(len(payload)).encode())]
    if allow is not None:
        headers.append((b"allow", allow.encode()))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def loggable(value: str | bytes, limit: int = 64) -> str:
    """A sender-controlled value made safe for one log line: escaped and truncated."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    escaped = value[:limit].encode("unicode_escape").decode("ascii")
    return escaped + ("…" if len(value) > limit else "")
