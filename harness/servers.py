"""Run WSGI apps on free loopback ports in background threads, for the demo, serve and fuzz.

In-process servers keep `make demo` free of set-up: no ports to choose, nothing left running.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from werkzeug.serving import BaseWSGIServer, make_server


@dataclass
class RunningServer:
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
        self.server.server_close()


def start(app, port: int = 0) -> RunningServer:
    """Serve `app` on 127.0.0.1 (port 0 picks a free one), threaded, until `stop()`."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no per-request lines in the demo's output
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"wsgi:{server.server_port}", daemon=True)
    thread.start()
    return RunningServer(server, thread)


@contextmanager
def running(app, port: int = 0) -> Iterator[RunningServer]:
    handle = start(app, port)
    try:
        yield handle
    finally:
        handle.stop()
