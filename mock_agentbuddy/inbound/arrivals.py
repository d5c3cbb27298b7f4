"""What both inbound doors share: every arrival is written to the inbound log, accepted or
not, with what was decided about it (signature verdict, duplicate, applied), and the contact an
arrival names must be live in the sender's account.

Views note their decisions with `note(...)`; `begin` and `record` are the blueprints'
before/after-request hooks, so an arrival refused early (413, 401, 429, a fault) is logged too.
"""
from __future__ import annotations

import json

from flask import g, request

from ..responses import problem
from ..state import current_state
from .landing import live_contact


def begin() -> None:
    g.inbound = _blank("not_applicable")


def note(**decided) -> None:
    """Record what was decided about this arrival (signature, connection_id, duplicate, applied)."""
    g.inbound.update(decided)


def record(response):
    state = current_state()
    info = g.get("inbound") or _blank("not_checked")
    grant = g.get("grant")
    body = request.get_data(cache=True)
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        payload = body[:2000].decode("utf-8", "replace")
    state.inbound.append({
        "time": state.now_text(), "method": request.method, "path": request.path,
        "operation_id": g.get("operation_id"), "status": response.status_code, "fault": g.get("fault"),
        **info, "connection_id": info.get("connection_id") or (grant.connection_id if grant else None),
        "payload": payload,
    })
    return response


def contact_or_404(account_id: str, contact_id: str):
    """(the live contact, None), or (None, a 404 problem naming `/data/contact_id`)."""
    contact = live_contact(current_state(), account_id, contact_id)
    if contact is None:
        return None, problem(404, "not_found", "Not found",
                             f"No contact '{contact_id}' in this connection's account (unknown or deleted).",
                             [{"field": "/data/contact_id", "message": "unknown contact"}])
    return contact, None


def _blank(signature: str) -> dict:
    return {"webhook_id": request.headers.get("webhook-id"), "connection_id": None, "signature": signature,
            "duplicate": False, "applied": False, "idempotency_key": request.headers.get("Idempotency-Key")}
