"""The kit's own loopback listeners: the OAuth redirect catcher (interactive authorization) and
the change-notification inbox a subscription points at.

Both are tiny WSGI apps served on a free 127.0.0.1 port by `common.serving`.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

from werkzeug.wrappers import Request, Response

from common.serving import serve

INBOX_PATH = "/ab-kit-notifications"


class CallbackCatcher:
    """Answers the OAuth redirect (`GET <path>?code=…&state=…`) and hands its URL to the kit."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._arrivals: queue.Queue[str] = queue.Queue()
        self._server = serve(self._app)

    @property
    def port(self) -> int:
        return self._server.port

    def _app(self, environ, start_response):
        request = Request(environ)
        if request.path != self.path:
            return Response("Not the redirect URI.", 404)(environ, start_response)
        query = request.query_string.decode("ascii", "replace")
        self._arrivals.put(f"http://127.0.0.1:{self.port}{request.path}?{query}")
        page = "<!doctype html><title>Done</title><p>Authorization received by the conformance kit. You can close this tab."
        return Response(page, 200, content_type="text/html; charset=utf-8")(environ, start_response)

    def expect(self) -> None:
        """Forget redirects that arrived before the next authorization starts."""
        while not self._arrivals.empty():
            self._arrivals.get_nowait()

    def wait(self, timeout: float) -> str | None:
        try:
            return self._arrivals.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._server.stop()


@dataclass(frozen=True)
class Delivery:
    """One POST the server made to the inbox, exactly as it arrived."""

    headers: dict[str, str]  # lower-case names
    body: bytes
    received_at: float  # the kit's wall clock (time.time())
    answered: int


@dataclass
class NotificationInbox:
    """Where a subscription sends change notifications; can answer 503 to the first `fail_first`."""

    fail_first: int = 0
    public_url: str | None = None  # a tunnel's base URL, when the server cannot reach our loopback
    port: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self._server = serve(self._app, port=self.port)

    @property
    def url(self) -> str:
        return f"{(self.public_url or self._server.url).rstrip('/')}{INBOX_PATH}"

    def _app(self, environ, start_response):
        request = Request(environ)
        if request.method != "POST" or request.path != INBOX_PATH:
            return Response("", 404)(environ, start_response)
        body = request.get_data()
        with self._changed:
            status = 503 if len(self.deliveries) < self.fail_first else 204
            self.deliveries.append(Delivery({k.lower(): v for k, v in request.headers.items()}, body,
                                            time.time(), status))
            self._changed.notify_all()
        return Response("" if status == 204 else "down for the kit's retry check", status)(environ, start_response)

    def wait_for(self, count: int, timeout: float) -> list[Delivery]:
        """The deliveries once at least `count` arrived, or whatever came within `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.deliveries) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return list(self.deliveries)

    def close(self) -> None:
        self._server.stop()
