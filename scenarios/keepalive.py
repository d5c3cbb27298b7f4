"""A small threaded HTTP/1.1 WSGI server that keeps connections open, for replays.

Werkzeug's development server closes every connection after one response (it cannot tell where
a request body it did not read ends), so each of a replay's thousands of requests paid for a TCP
connect, a new server thread and a close. Here every request body is bounded by its
Content-Length and drained after the response, so a connection can carry the next request; the
response is buffered and sent with a Content-Length. Anything this server cannot frame safely
(a chunked request body, a client asking to close) is answered and the connection closed.
It serves loopback replays only: no TLS, no streaming, no reloader.
"""
from __future__ import annotations

import threading
import socket
import socketserver
import sys
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote

from werkzeug.wsgi import LimitedStream


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "replay"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline or len(self.raw_requestline) > 65536:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._run()
        except (ConnectionError, socket.timeout):
            self.close_connection = True

    def _environ(self, body) -> dict:
        path, _, query = self.path.partition("?")
        environ = {
            "REQUEST_METHOD": self.command, "SCRIPT_NAME": "", "PATH_INFO": unquote(path, "latin-1"),
            "QUERY_STRING": query, "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]), "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0], "REMOTE_PORT": self.client_address[1],
            "REQUEST_URI": self.path, "RAW_URI": self.path,
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": body, "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        for key, value in self.headers.items():
            name = key.upper().replace("-", "_")
            if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[name] = value
            else:
                key = f"HTTP_{name}"
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _run(self) -> None:
        if self.headers.get("Transfer-Encoding"):  # chunked upload: we can't bound it, so don't try
            self.close_connection = True
            self._answer("411 Length Required", [("Content-Type", "text/plain")], [b"Content-Length required\n"])
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = LimitedStream(self.rfile, length)
        environ = self._environ(body)
        state: dict = {}

        def start_response(status, headers, exc_info=None):
            if exc_info and state.get("sent"):
                raise exc_info[1].with_traceback(exc_info[2])
            state["status"], state["headers"] = status, headers
            return lambda data: state.setdefault("early", []).append(data)

        iterable = self.server.app(environ, start_response)
        try:
            chunks = state.get("early", []) + [bytes(chunk) for chunk in iterable]
        finally:
            if hasattr(iterable, "close"):
                iterable.close()
        body.exhaust()  # whatever the app left unread must not be taken for the next request
        self._answer(state["status"], state["headers"], chunks)

    def _answer(self, status: str, headers: list[tuple[str, str]], chunks: list[bytes]) -> None:
        payload = b"".join(chunks)
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for key, value in headers:
            if key.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        if self.command != "HEAD":  # head and body leave in one write: one segment, one wake-up
            self._headers_buffer.append(b"\r\n" + payload)
        else:
            self._headers_buffer.append(b"\r\n")
        self.flush_headers()


class KeepAliveServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, host: str, port: int, app) -> None:
        self.app = app
        self.open: set[socket.socket] = set()
        self.open_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def process_request(self, request, client_address) -> None:
        with self.open_lock:
            self.open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self.open_lock:
            self.open.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        """Also end the idle keep-alive connections, so no handler thread outlives the server."""
        super().server_close()
        with self.open_lock:
            sockets, self.open = list(self.open), set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def server_port(self) -> int:
        return self.server_address[1]


def make_server(host: str, port: int, app) -> KeepAliveServer:
    return KeepAliveServer(host, port, app)

