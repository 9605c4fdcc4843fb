"""`pbx55 serve`: the receiver app on uvicorn with httptools and uvloop.

The HTTP protocol is uvicorn's httptools one with the receiver's resource limits added
(ingest/protocol.py): request-head size and header count, head and idle time-outs, and a
connection limit kept below the open-file limit, which is raised at start as far as it needs.

Before anything starts, what a user can get wrong is checked and refused with one line naming
the setting or flag (`ConfigurationError`): the token, the TLS files, the landing directory and
the address to listen on. The receiver binds its socket itself so that a port in use is such a
line, not uvicorn's exit after the app has started.

With PBX55_TLS_CERT_FILE and PBX55_TLS_KEY_FILE the receiver serves HTTPS (TLS 1.2 or later,
Python's defaults); the limits apply to what arrives inside TLS, and a handshake gets the head
time-out. With PBX55_TRUSTED_PROXIES, uvicorn's proxy-headers middleware takes the client
address (X-Forwarded-For) and scheme (X-Forwarded-Proto) from requests of those addresses only.

Uvicorn's own SIGTERM handling does the shutdown sequence the contract asks for: it stops
accepting, lets in-flight requests finish (each waits for its fsync), then runs the app's
lifespan shutdown, which commits what is queued and seals the open landing file.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import io
import logging
import signal
import socket
import ssl
import sys
import threading
from types import FrameType
from typing import Any, ClassVar

import uvicorn
import uvloop

from foundation.landing.durable import probe_writable
from foundation.landing.envelope import new_receiver_id
from foundation.settings import ConfigurationError, Settings
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
# How long closing a TLS connection waits for the client's close_notify (see _TlsLoop).
TLS_SHUTDOWN_TIMEOUT_S = 2.0
GC_YOUNG_THRESHOLD = 50_000


def build_app(settings: Settings, *, insecure_no_auth: bool) -> ReceiverApp:
    if not settings.tokens and not insecure_no_auth:
        raise ConfigurationError(
            "no token configured (PBX55_TOKENS); refusing to accept pushes from anyone. "
            "Set PBX55_TOKENS, or pass --insecure-no-auth for a local experiment."
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
        raise ConfigurationError(str(error)) from None
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
    tls: ssl.SSLContext | None = None,
    trusted_proxies: tuple[str, ...] = (),
) -> uvicorn.Config:
    """The receiver's uvicorn configuration; without `limits`, the default limits (for tests and
    the benchmark's baseline, which must run the same protocol)."""
    if limits is None:
        limits = ReceiverLimits.from_settings(Settings.from_env({}), open_file_limit())
    if metrics is None:
        metrics = getattr(app, "metrics", None) or ReceiverMetrics()
    tls_options: dict[str, Any] = {}
    loop: Any = "uvloop"
    if tls is not None:
        tls_options["ssl_context_factory"] = lambda config, default_factory: tls
        loop = tls_loop_factory(handshake_timeout_s=limits.header_timeout_s)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=loop,
        http=receiver_protocol(limits, metrics),
        # No WebSocket protocol: an upgrade request is refused by the HTTP protocol (400).
        ws="none",
        timeout_keep_alive=limits.idle_timeout_s,  # type: ignore[arg-type]
        lifespan="on",
        # Uvicorn's access log would write query strings, which may hold a token; the app
        # writes its own (ingest.access).
        access_log=False,
        # Forwarding headers only from the configured proxies (uvicorn's default would trust
        # 127.0.0.1, where anything on the machine can connect from).
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=list(trusted_proxies),
        # Keep the logging that `pbx55` configured instead of uvicorn's own.
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        **tls_options,
    )


def serve(settings: Settings, *, host: str, port: int, insecure_no_auth: bool) -> None:
    app = build_app(settings, insecure_no_auth=insecure_no_auth)
    tls = tls_context(settings)
    check_landing_directory(settings)
    listener = listening_socket(host, port)
    config = uvicorn_config(
        app,
        host=host,
        port=port,
        limits=receiver_limits(settings),
        metrics=app.metrics,
        tls=tls,
        trusted_proxies=settings.trusted_proxies,
    )
    server = _ReceiverServer(config)
    tune_interpreter_for_serving()
    # Uvicorn shuts down gracefully on SIGTERM/SIGINT, then restores the handlers it found and
    # raises the signal again. Found handlers that exit with status 0 make a completed graceful
    # stop a clean exit, as service managers expect.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _exit_cleanly)
    address, bound_port = listener.getsockname()[:2]
    log.info(
        "listening on %s://%s:%d%s",
        "https" if tls else "http",
        f"[{address}]" if ":" in address else address,
        bound_port,
        f"; forwarding headers trusted from {', '.join(settings.trusted_proxies)}"
        if settings.trusted_proxies
        else "",
    )
    server.run(sockets=[listener])
    if not server.started:
        raise SystemExit("pbx55 serve: the receiver did not start (see the log above)")


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The server's TLS context from PBX55_TLS_CERT_FILE and PBX55_TLS_KEY_FILE, or None."""
    cert_file, key_file = settings.tls_cert_file, settings.tls_key_file
    if cert_file is None or key_file is None:
        return None
    # Read first, so that the message names the file at fault; OpenSSL's would not.
    for name, path, marker, what in (
        ("PBX55_TLS_CERT_FILE", cert_file, b"-----BEGIN CERTIFICATE-----", "PEM certificate"),
        ("PBX55_TLS_KEY_FILE", key_file, b"PRIVATE KEY-----", "PEM private key"),
    ):
        try:
            content = path.read_bytes()
        except OSError as error:
            raise ConfigurationError(f"{name}: cannot read {path}: {error.strerror}") from None
        if marker not in content:
            raise ConfigurationError(f"{name}: {path} holds no {what}")
    # Python's server defaults: TLS 1.2 or later, its cipher list; no client certificates.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert_file, key_file, password=_refuse_encrypted_key)
    except ssl.SSLError as error:
        problem = (
            "the key does not belong to the certificate (the first one in the file)"
            if error.reason == "KEY_VALUES_MISMATCH"
            else f"OpenSSL cannot use them ({error.reason or error})"
        )
        raise ConfigurationError(
            f"PBX55_TLS_CERT_FILE {cert_file} and PBX55_TLS_KEY_FILE {key_file}: {problem}"
        ) from None
    return context


def _refuse_encrypted_key() -> str:
    # Without a password callback OpenSSL would prompt on the terminal, and a service has none.
    raise ConfigurationError(
        "PBX55_TLS_KEY_FILE is encrypted: give the key unencrypted, readable by the receiver's "
        "user only"
    )


def check_landing_directory(settings: Settings) -> None:
    """Refuse to start where no push could land: each would be answered 503."""
    for directory in (settings.pushes_dir, settings.quarantine_dir):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            probe_writable(directory)
        except OSError as error:
            raise ConfigurationError(
                f"the landing directory {settings.landing_dir} is not writable ({directory}: "
                f"{error.strerror}); set PBX55_LANDING_DIR or PBX55_DATA_DIR, or give the "
                f"receiver's user write access"
            ) from None


def listening_socket(host: str, port: int) -> socket.socket:
    """The bound server socket (uvicorn listens on it), or one line saying why not."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as error:
        raise ConfigurationError(f"--host {host}: not an address to listen on ({error})") from None
    listener = socket.socket(family, kind, protocol)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
    except OSError as error:
        listener.close()
        hint = {
            errno.EADDRINUSE: "another process listens there: stop it or choose another --port",
            errno.EACCES: "ports below 1024 need privileges: use --port 8055 behind Caddy",
            errno.EADDRNOTAVAIL: "not an address of this machine: check --host",
        }.get(error.errno or 0, "check --host and --port")
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {(error.strerror or str(error)).lower()} ({hint})"
        ) from None
    return listener


class _TlsLoop(uvloop.Loop):  # type: ignore[misc]
    """uvloop with TLS deadlines uvicorn does not set. Handshake: uvloop's default is 60 s, and a
    connection still in its handshake is not yet seen by the protocol's time-outs and limits.
    Shutdown: closing a TLS connection waits for the client's close_notify, 30 s by default, so
    one idle keep-alive client that never answers it held every SIGTERM for 30 s."""

    handshake_timeout_s: ClassVar[float]

    async def create_server(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("ssl_handshake_timeout", self.handshake_timeout_s)
        kwargs.setdefault("ssl_shutdown_timeout", TLS_SHUTDOWN_TIMEOUT_S)
        return await super().create_server(*args, **kwargs)


def tls_loop_factory(*, handshake_timeout_s: float) -> type[uvloop.Loop]:
    """The event loop class of a server with TLS (uvicorn calls it to make the loop)."""
    return type("TlsLoop", (_TlsLoop,), {"handshake_timeout_s": handshake_timeout_s})


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
    # The journal line holds no thread, process or source location (cli's format): do not
    # collect them for every record (the logging HOWTO's "Optimization").
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None


class _ReceiverServer(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        flush_logs_once_per_iteration(asyncio.get_running_loop())
        await super().startup(sockets)


class LoopFlushedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that flushes once per event-loop iteration, not once per record.

    The access log writes a line per push, and each flush is a `write` system call; a system
    call releases the GIL, which lets the landing thread take it and the loop then wait for it
    back. Records of one iteration (the answers to one group commit, say) now leave in one
    write, at the end of it. Off the loop's thread, or once the loop has stopped, a flush is
    immediate.
    """

    def __init__(self, stream: io.TextIOBase, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(stream)
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._flush_scheduled = False

    def flush(self) -> None:
        if threading.get_ident() == self._loop_thread and self._loop.is_running():
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._loop.call_soon(self._flush_now)
        else:
            self._flush_now()

    def _flush_now(self) -> None:
        self._flush_scheduled = False
        super().flush()


def flush_logs_once_per_iteration(loop: asyncio.AbstractEventLoop) -> None:
    """Put a `LoopFlushedStreamHandler` in place of each root handler writing to stderr.

    Its stream is block-buffered: Python's stderr is line-buffered, so every line would still be
    a system call of its own.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if type(handler) is not logging.StreamHandler or handler.stream is not sys.stderr:
            continue
        stream = io.TextIOWrapper(
            open(sys.stderr.fileno(), "wb", closefd=False),  # noqa: SIM115 - the handler owns it
            encoding=sys.stderr.encoding,
            errors="backslashreplace",
        )
        replacement = LoopFlushedStreamHandler(stream, loop)
        replacement.setLevel(handler.level)
        replacement.setFormatter(handler.formatter)
        root.removeHandler(handler)
        root.addHandler(replacement)


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
