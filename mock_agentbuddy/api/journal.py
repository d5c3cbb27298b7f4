"""The journal: every /v1 and /oauth request with its operation, status and validation verdict.

Tests and the simulator read it through `/__admin/journal` to assert on what a client did
(how many pages, which retries, which requests the contract rejected).
"""
from __future__ import annotations

import time

from flask import Flask, g, request

from ..state import current_state

JOURNALED_PREFIXES = ("/v1/", "/oauth/", "/.well-known/")


def journaled(path: str) -> bool:
    return path.startswith(JOURNALED_PREFIXES)


def start():
    """before_request (the first): the clock for `duration_ms`, and no verdict yet."""
    g.started = time.perf_counter()
    g.verdict = None  # set by validation: {"request": ok|failed|not_in_contract, "errors": [...], ...}


def record(response):
    """after_request (the last to run): the response exactly as the client gets it."""
    if journaled(request.path):
        state = current_state()
        verdict = getattr(g, "verdict", None) or {"request": "not_validated"}
        grant = getattr(g, "grant", None)
        state.journal.append({
            "time": state.now_text(),
            "method": request.method,
            "path": request.path,
            "query": request.query_string.decode("latin-1"),
            # contract operations by operationId; OAuth and other routes by Flask endpoint
            "operation_id": getattr(g, "operation_id", None) or request.endpoint,
            "status": response.status_code,
            "validation": verdict,
            "fault": getattr(g, "fault", None),
            "account_id": getattr(grant, "account_id", None),
            "client_id": getattr(grant, "client_id", None),
            "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
        })
    return response


def init_journal(app: Flask) -> None:
    app.before_request(start)
    app.after_request(record)
