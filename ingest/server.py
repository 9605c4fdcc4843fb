"""`pbx55 serve`: the receiver app on uvicorn with httptools and uvloop.

The HTTP protocol is uvicorn's httptools one with the receiver's resource limits added
(ingest/protocol.py): request-head size and header count, head and idle time-outs, and a
connection limit kept below the open-file limit, which is raised at start as far as it needs.

Uvicorn's own SIGTERM handling does the shutdown sequence the contract asks for: it stops
accepting, lets in-flight requests finish (each waits for its fsync), then runs the app's
lifespan shutdown, which commits what is queued and seals the open landing file.
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
from types import FrameType

import uvicorn

from foundation.landing.envelope import new_receiver_id
from foundation.settings import Settings
from ingest.app import ReceiverApp
from ingest.auth import TokenAuth
from ingest.landing_writer import LandingWriter
from ingest.metrics import ReceiverMetrics
from ingest.protocol import (
    ReceiverLimits,
    files_needed,
    open_file_limit,
    raise_open_file_limit,
    receiver_protocol,
)

log = logging.getLogger(__name__)

# In-flight requests get this long to finish on SIGTERM; each needs one fsync at most.
GRACEFUL_SHUTDOWN_S = 30
GIL_SWITCH_INTERVAL_S = 0.0005
GC_YOUNG_THRESHOLD = 50_000


def build_app(settings: Settings, *, insecure_no_auth: bool) -> ReceiverApp:
    if not settings.tokens and not insecure_no_auth:
        raise SystemExit(
            "pbx55 serve: no token configured (PBX55_TOKENS); refusing to accept pushes from "
            "anyone. Set PBX55_TOKENS, or pass --insecure-no-auth for a local experiment."
        )
    if insecure_no_auth:
        log.warning("--insecure-no-auth: pushes without a valid token are accepted")
    metrics = ReceiverMetrics()
    writer = LandingWriter(
        settings.pushes_dir,
        receiver_id=new_receiver_id(),
        seal_max_bytes=settings.seal_max_bytes,
        seal_max_age_s=settings.seal_max_age_s,
        metrics=metrics,
    )
    return ReceiverApp(
        writer=writer,
        auth=TokenAuth(settings.tokens, insecure_no_auth=insecure_no_auth),
        metrics=metrics,
        quarantine_dir=settings.quarantine_dir,
        max_body_bytes=settings.max_body_bytes,
    )


def receiver_limits(settings: Settings) -> ReceiverLimits:
    """Raise the open-file limit as far as the connection limit needs, then fit the limit to it."""
    open_files = raise_open_file_limit(files_needed(settings.max_connections))
    try:
        limits = ReceiverLimits.from_settings(settings, open_files)
    except ValueError as error:
        raise SystemExit(f"pbx55 serve: {error}") from None
    if limits.max_connections < settings.max_connections:
        log.warning(
            "PBX55_MAX_CONNECTIONS=%d lowered to %d to stay below the open-file limit (%d)",
            settings.max_connections,
            limits.max_connections,
            open_files,
        )
    log.info(
        "limits: %d connections (503 beyond, closed beyond %d), request head %d bytes and %d "
        "headers within %g s, idle %g s, body %d bytes within %g s",
        limits.max_connections,
        limits.connection_cap,
        limits.max_header_bytes,
        limits.max_headers,
        limits.header_timeout_s,
        limits.idle_timeout_s,
        settings.max_body_bytes,
        limits.body_timeout_s,
    )
    return limits


def uvicorn_config(
    app: object,
    *,
    host: str,
    port: int,
    limits: ReceiverLimits | None = None,
    metrics: ReceiverMetrics | None = None,
) -> uvicorn.Config:
    """The receiver's uvicorn configuration; without `limits`, the default limits (for tests and
    the benchmark's baseline, which must run the same protocol)."""
    if limits is None:
        limits = ReceiverLimits.from_settings(Settings.from_env({}), open_file_limit())
    if metrics is None:
        metrics = getattr(app, "metrics", None) or ReceiverMetrics()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=receiver_protocol(limits, metrics),
        # No WebSocket protocol: an upgrade request is refused by the HTTP protocol (400).
        ws="none",
        timeout_keep_alive=limits.idle_timeout_s,  # type: ignore[arg-type]
        lifespan="on",
        # The access log would write sender-controlled paths on every request, at a cost.
        access_log=False,
        # Keep the logging that `pbx55` configured instead of uvicorn's own.
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


def serve(settings: Settings, *, host: str, port: int, insecure_no_auth: bool) -> None:
    app = build_app(settings, insecure_no_auth=insecure_no_auth)
    config = uvicorn_config(
        app, host=host, port=port, limits=receiver_limits(settings), metrics=app.metrics
    )
    server = uvicorn.Server(config)
    tune_interpreter_for_serving()
    # Uvicorn shuts down gracefully on SIGTERM/SIGINT, then restores the handlers it found and
    # raises the signal again. Found handlers that exit with status 0 make a completed graceful
    # stop a clean exit, as service managers expect.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _exit_cleanly)
    server.run()
    if not server.started:
        raise SystemExit("pbx55 serve: the receiver did not start (see the log above)")


def tune_interpreter_for_serving() -> None:
    """Interpreter settings for a latency-bound server (the benchmark's baseline uses them too)."""
    # When an fsync returns, the landing thread needs the GIL to hand its batch back; by default
    # a busy event loop would keep it for up to 5 ms, all of it added to every push's latency.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    # Each push allocates short-lived containers and hardly any cycles. With the defaults the
    # collector ran every 700 allocations and, every second or so, a full pass over every object
    # the process holds: pauses of 10-20 ms that went straight into the p99. Freezing what
    # start-up made and collecting the young generation far less often keeps the cycle
    # collector as a safety net without the pauses.
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
