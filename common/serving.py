"""Serve a WSGI app with the project's one production server: waitress.

Every server the project starts — the fake AgentBuddy, Broadcast's web app and ingest server,
replays, `make serve` and the tests — goes through `serve()` (in a background thread, on a free
loopback port by default) or `run()` (in the foreground, for the command line).

Why waitress: it is a maintained, pure-Python production server with HTTP/1.1 keep-alive that
can run inside the process that owns the app (the fake keeps its world in memory; tests and
replays reach into it and inject clocks). Measured on this project's 2-core machine with a
keep-alive load generator (4 connections, a Flask app returning a fixed 1.4 kB body): waitress
~2,550 req/s, cheroot ~2,080, Werkzeug's development server ~1,330 (it closes every
connection). Granian (Rust) served ~9,700 but cannot embed a WSGI app in-process ("WSGI is not
supported in embedded mode"), so the tests and replays could not share the app's state. See
`bench/` for the figures on the real apps.
"""
from __future__ import annotations

import logging
import signal
import socket
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from waitress.server import create_server

DEFAULT_THREADS = 8

# waitress warns "Task queue depth is N" whenever a burst outruns its threads: expected under
# load tests and bursts of webhooks, and not something a person watching the demo can act on.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port that was free a moment ago, for a server in *another* process (a server in
    this one asks `serve(port=0)`, which cannot race). Also a port nothing listens on, for tests
    of "cannot connect"."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class ServedApp:
    """A running server: its `url`, and `stop()` (also as a context manager)."""

    host: str
    port: int
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        if not self._thread.is_alive():
            return
        trigger = self._server.trigger
        try:
            trigger.pull_trigger(lambda: _close_all(self._server))  # runs on the loop's thread
        except OSError:
            # A worker that just answered pulled the trigger too: the loop woke for its byte, ran our
            # thunk and closed the trigger before our own byte went in. That is the stop we asked for.
            if not trigger._closed:
                raise
        self._thread.join(timeout)
        self._server.task_dispatcher.shutdown(timeout=timeout)

    def __enter__(self) -> "ServedApp":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(app: Callable, *, host: str = "127.0.0.1", port: int = 0, threads: int = DEFAULT_THREADS,
          name: str = "wsgi") -> ServedApp:
    """Serve `app` on `host:port` (0 picks a free port) from a daemon thread until `stop()`."""
    server = _create(app, host, port, threads)
    thread = threading.Thread(target=server.run, name=f"{name}:{server.effective_port}", daemon=True)
    thread.start()
    return ServedApp(host, int(server.effective_port), server, thread)


def run(app: Callable, *, host: str = "127.0.0.1", port: int = 0, threads: int = DEFAULT_THREADS,
        on_ready: Callable[[str], None] | None = None) -> None:
    """Serve `app` in the foreground until Ctrl-C or SIGTERM; `on_ready(url)` once it listens."""
    served = serve(app, host=host, port=port, threads=threads)
    stopping = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        if on_ready is not None:
            on_ready(served.url)
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        served.stop()


def _create(app: Callable, host: str, port: int, threads: int):
    # ident=None: no `Server` header advertising the implementation; clear_untrusted_proxy_headers
    # so an `X-Forwarded-*` header from a client cannot change what the app believes its URL is.
    return create_server(app, host=host, port=port, threads=threads, ident=None,
                         clear_untrusted_proxy_headers=True, asyncore_use_poll=True,
                         expose_tracebacks=False, channel_timeout=120)


def _close_all(server) -> None:
    """Close the listening socket and every connection; the loop ends when nothing is left."""
    for dispatcher in list(server._map.values()):
        dispatcher.close()
