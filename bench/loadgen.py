"""A keep-alive HTTP load generator built from the standard library, run in its own process(es).

Why not wrk or hey: `make bench` must run from the project's own dependencies on a fresh clone.
Why not `requests` in threads: at ~150 µs of client CPU per request it would measure itself on
a 2-core machine. This client is a closed loop over raw sockets: each of `connections`
keep-alive connections sends one request, reads the whole response (Content-Length framing,
which every server of the project uses) and sends the next; one `selectors` loop per process
drives its share of the connections, so the client spends a few tens of µs per request.

Latency is measured per request (send to last byte), so p50/p99 are what a client sees under
that concurrency. A warm-up period is run and discarded before the measured one.

Run: `.venv/bin/python -m bench.loadgen URL PATH --token T [--connections 4] [--seconds 8]`.
"""
from __future__ import annotations

import json
import multiprocessing
import selectors
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

TOOL = "bench.loadgen (stdlib sockets, closed loop, HTTP/1.1 keep-alive)"


class ProtocolError(RuntimeError):
    """The server answered in a way this client does not read (no Content-Length, closed early)."""


@dataclass
class _Conn:
    sock: socket.socket
    buffer: bytearray
    sent_at: float = 0.0
    need: int = -1  # bytes of the whole response once its headers are read; -1 while unknown
    status: int = 0


def _request_bytes(host: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _parse_head(conn: _Conn) -> None:
    end = conn.buffer.find(b"\r\n\r\n")
    if end < 0:
        return
    head = bytes(conn.buffer[:end]).decode("latin-1").split("\r\n")
    conn.status = int(head[0].split(" ", 2)[1])
    length = None
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection" and value.strip().lower() == "close":
            raise ProtocolError("the server closes the connection after each response (no keep-alive)")
    if length is None:
        raise ProtocolError("response without Content-Length (chunked bodies are not read by this client)")
    conn.need = end + 4 + length


def _worker(url: str, path: str, headers: dict[str, str], connections: int, warmup: float, seconds: float,
            queue) -> None:
    """One process: drive `connections` keep-alive connections; put (latencies, statuses) on `queue`."""
    parts = urlsplit(url)
    request = _request_bytes(parts.netloc, path, headers)
    selector = selectors.DefaultSelector()
    conns = []
    for _ in range(connections):
        sock = socket.create_connection((parts.hostname, parts.port or 80))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        conn = _Conn(sock, bytearray())
        selector.register(sock, selectors.EVENT_READ, conn)
        conns.append(conn)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    now = time.perf_counter()
    measure_from, stop_at = now + warmup, now + warmup + seconds
    for conn in conns:
        conn.sent_at = time.perf_counter()
        conn.sock.sendall(request)
    while True:
        for key, _ in selector.select(timeout=1.0):
            conn = key.data
            chunk = conn.sock.recv(1 << 20)
            if not chunk:
                raise ProtocolError("the server closed a keep-alive connection")
            conn.buffer += chunk
            if conn.need < 0:
                _parse_head(conn)
            if conn.need < 0 or len(conn.buffer) < conn.need:
                continue
            if len(conn.buffer) > conn.need:
                raise ProtocolError("more bytes than one response (the client never pipelines)")
            done = time.perf_counter()
            if done >= measure_from:
                latencies.append(done - conn.sent_at)
                statuses[conn.status] = statuses.get(conn.status, 0) + 1
            conn.buffer.clear()
            conn.need = -1
            if done < stop_at:
                conn.sent_at = time.perf_counter()
                conn.sock.sendall(request)
            else:
                selector.unregister(conn.sock)
                conn.sock.close()
        if not selector.get_map():
            break
    queue.put((latencies, statuses))


def load(url: str, path: str, *, token: str | None = None, connections: int = 4, seconds: float = 8.0,
         warmup: float = 1.0, processes: int = 1) -> dict[str, Any]:
    """Hammer `url + path` with GETs on `connections` keep-alive connections spread over
    `processes` client processes; req/s and latency percentiles of the measured period."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    processes = max(1, min(processes, connections))
    context = multiprocessing.get_context("spawn")  # never a fork of a process holding servers and threads
    queue = context.Queue()
    shares = [connections // processes + (1 if i < connections % processes else 0) for i in range(processes)]
    workers = [context.Process(target=_worker, args=(url, path, headers, share, warmup, seconds, queue))
               for share in shares]
    for worker in workers:
        worker.start()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    for _ in workers:
        got, counted = queue.get(timeout=warmup + seconds + 120)
        latencies += got
        for status, count in counted.items():
            statuses[status] = statuses.get(status, 0) + count
    for worker in workers:
        worker.join(30)
        if worker.exitcode:
            raise RuntimeError(f"a load generator process failed (exit code {worker.exitcode})")
    latencies.sort()

    def ms(share: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000, 2) if latencies else None

    return {
        "tool": TOOL,
        "connections": connections,
        "client_processes": processes,
        "seconds": seconds,
        "requests": len(latencies),
        "req_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": ms(0.50),
        "p99_ms": ms(0.99),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("path")
    parser.add_argument("--token")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    print(json.dumps(load(args.url, args.path, token=args.token, connections=args.connections,
                          seconds=args.seconds, warmup=args.warmup, processes=args.processes), indent=2))
