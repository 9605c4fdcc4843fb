"""`pbx55 serve`: the receiver app on uvicorn with httptools and uvloop.

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

from ingest.app import ReceiverApp
from ingest.auth import TokenAuth
from ingest.envelope import new_receiver_id
from ingest.landing import LandingWriter
from ingest.metrics import ReceiverMetrics
from pbx55.settings import Settings

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


def uvicorn_config(app: object, *, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
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
    server = uvicorn.Server(uvicorn_config(app, host=host, port=port))
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
