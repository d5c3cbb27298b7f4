"""How an outbox message looks on the wire, for each delivery option of spec 7.3.

Outbox payloads are stored option-neutral (a 5.1 event, a 5.3 propensity, an Appendix B
`data`); this module turns one into (method, path, JSON body). Keeping the rendering here lets
`delivery` stay about scheduling and transport, and lets a connection switch options without
rewriting its queue.

Event types: webhooks carry `email.<type>`; the push API and `events` lists inside a batch
carry the bare 5.1 names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from integration.outbox import Message

WEBHOOK_PATHS = {
    "event": "/webhooks/broadcast/events",
    "propensity": "/webhooks/broadcast/propensity",
    "batch": "/webhooks/broadcast/batch",
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # relative to the API base (`…/v1`)
    body: dict[str, Any]


def webhook_request(message: Message) -> Request:
    """Option A: Standard Webhooks envelopes (`event_type`, `timestamp`, `data`)."""
    payload = message.payload
    if message.kind == "event":
        data = {k: v for k, v in payload.items() if k not in ("event_type", "timestamp")}
        body = {"event_type": f"email.{payload['event_type']}", "timestamp": payload["timestamp"], "data": data}
    elif message.kind == "propensity":
        body = {"event_type": "propensity.updated", "timestamp": payload["score_updated_at"], "data": payload}
    else:
        body = {
            "webhook_id": message.id,
            "event_type": "engagement.batch_update",
            "timestamp": message.created_at,
            "data": payload,
        }
    return Request("POST", WEBHOOK_PATHS[message.kind], body)


def push_request(message: Message) -> Request:
    """Option B: the write API, one resource per contact or the bulk endpoint."""
    payload = message.payload
    if message.kind == "event":
        body = {k: v for k, v in payload.items() if k != "contact_id"}
        return Request("POST", f"/contacts/{payload['contact_id']}/events", body)
    if message.kind == "propensity":
        body = {k: v for k, v in payload.items() if k != "contact_id"}
        return Request("PATCH", f"/contacts/{payload['contact_id']}/propensity", body)
    return Request("POST", "/engagement/bulk", payload)

