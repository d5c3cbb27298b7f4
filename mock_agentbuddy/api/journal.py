"""The journal: every /v1 and /oauth request with its operation, status and validation verdict.

Tests and the simulator read it through `/__admin/journal` to assert on what a client did
(how many pages, which retries, which requests the contract rejected), and the verdict
(`..verdict`) judges the client from it. For that, an entry also keeps what the client was told
and could have acted on — the RateLimit it had left, a `Retry-After`, the `next_cursor` of a
page — and who asked: the rate-limit key (`caller`, a hash, never the token), why a bearer
token was refused (`refused`) and, for the token endpoint, the grant type, the token family and
whether a spent code or refresh token was presented again (`token_request`).
"""
from __future__ import annotations

import time

from flask import Flask, g, request

from ..state import current_state

JOURNALED_PREFIXES = ("/v1/", "/oauth/", "/.well-known/")
TOKEN_PATH = "/oauth/token"


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
            "caller": g.get("caller"),
            "ratelimit": g.get("ratelimit"),
            "retry_after": response.headers.get("Retry-After"),
            "next_cursor": g.get("next_cursor"),
            "refused": g.get("refused"),
            "token_request": _token_request() if request.path == TOKEN_PATH else None,
        })
    return response


def _token_request() -> dict:
    """The token endpoint's request, without its secrets: grant type and client, plus what the
    OAuth server noted (`oauth.server.note_token_request`)."""
    auth = request.authorization
    client_id = request.form.get("client_id") or (auth.username if auth and auth.type == "basic" else None)
    return {"grant_type": request.form.get("grant_type"), "client_id": client_id, **g.get("token_request", {})}


def init_journal(app: Flask) -> None:
    app.before_request(start)
    app.after_request(record)
