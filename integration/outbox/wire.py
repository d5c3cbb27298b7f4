"""How an outbox message looks on the wire: every payload shape Broadcast sends to AgentBuddy.

Outbox payloads are stored option-neutral (a 5.1 event, a 5.3 propensity, an Appendix B
`data`); `batch_data` shapes that Appendix B `data` out of the messages a batch carries, and
`webhook_request` / `push_request` turn any message into (method, path, JSON body) for each
delivery option of spec 7.3. Keeping the shapes here lets `delivery` stay about scheduling and
transport, and lets a connection switch options without rewriting its queue.

Event types: webhooks carry `email.<type>`; the push API and `events` lists inside a batch
carry the bare 5.1 names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .queue import Message

WEBHOOK_KINDS = {"event": "events", "propensity": "propensity", "batch": "batch"}
# The routes without a connection, deprecated in contract 1.2.0 (AgentBuddy tries every secret there);
# used only while AgentBuddy's id for the connection is not known (DECISIONS item 33).
WEBHOOK_PATHS = {kind: f"/webhooks/broadcast/{name}" for kind, name in WEBHOOK_KINDS.items()}


def webhook_path(kind: str, agentbuddy_connection_id: str | None) -> str:
    """The connection's own route (`/webhooks/broadcast/{connection_id}/…`), so AgentBuddy checks one secret."""
    if not agentbuddy_connection_id:
        return WEBHOOK_PATHS[kind]
    return f"/webhooks/broadcast/{quote(agentbuddy_connection_id, safe='')}/{WEBHOOK_KINDS[kind]}"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # relative to the API base (`…/v1`)
    body: dict[str, Any]


def webhook_request(message: Message, agentbuddy_connection_id: str | None = None) -> Request:
    """Option A: Standard Webhooks envelopes (`event_type`, `timestamp`, `data`), to the connection's route."""
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
    return Request("POST", webhook_path(message.kind, agentbuddy_connection_id), body)


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


def batch_data(messages: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Appendix B `data`: one update per contact carrying its events (the contract's `events`
    list) and its latest propensity fields, in the order the messages were queued."""
    updates: dict[str, dict[str, Any]] = {}
    for kind, payload in messages:
        for part in payload["updates"] if kind == "batch" else [payload]:
            contact_id = part["contact_id"]
            update = updates.setdefault(contact_id, {"contact_id": contact_id})
            body = {k: v for k, v in part.items() if k != "contact_id"}
            if kind == "event":
                update.setdefault("events", []).append(body)
            else:
                update.update(body)
    return {"updates": list(updates.values())}


def batch_of_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return batch_data([("event", event) for event in events])
