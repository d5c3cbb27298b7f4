"""The journal: every /v1 and /oauth request with its operation, status and validation verdict.

Tests and the simulator read it through `/__admin/journal` to assert on what a client did
(how many pages, which retries, which requests the contract rejected).
"""
from __future__ import annotations

import time

from flask import Flask, g, request

from .timeutil import iso_dt

JOURNALED_PREFIXES = ("/v1/", "/oauth/", "/.well-known/")


def journaled(path: str) -> bool:
    return path.startswith(JOURNALED_PREFIXES)


def init_observe(app: Flask, state) -> None:
    @app.before_request
    def start():
        g.started = time.perf_counter()
        g.verdict = None  # set by validation: {"request": ok|failed|skipped, "errors": [...], ...}

    @app.after_request
    def record(response):
        if journaled(request.path):
            verdict = getattr(g, "verdict", None) or {"request": "not_validated"}
            state.journal.append({
                "time": iso_dt(state.clock.now()),
                "method": request.method,
                "path": request.path,
                "query": request.query_string.decode("latin-1"),
                # contract operations by operationId; OAuth and other routes by Flask endpoint
                "operation_id": getattr(g, "operation_id", None) or request.endpoint,
                "status": response.status_code,
                "validation": verdict,
                "fault": getattr(g, "fault", None),
                "account_id": getattr(getattr(g, "grant", None), "account_id", None),
                "client_id": getattr(getattr(g, "grant", None), "client_id", None),
                "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
            })
        return response
