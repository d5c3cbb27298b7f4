"""What a replay saw, in the shape the checks read: snapshots of AgentBuddy's records, the
provider events emitted, Broadcast's sends, and the fake's inbound log digested per contact.

The engine fills it (engine/observe.py); the checks and the result document only read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Observations:
    snapshots: dict[str, list[dict]]          # contact -> [{day, record, events}] at each day's end
    emitted: list[dict]                       # provider events, with the integration's answer
    sends: list[dict]                         # Broadcast's sends and refusals
    broadcast_rows: dict[str, dict | None] = field(default_factory=dict)
    ab_ids: dict[str, str] = field(default_factory=dict)
    # AgentBuddy contact id -> event id -> [accepted requests carrying it, refused as duplicates]
    wire: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    # AgentBuddy contact id -> how the fake judged the requests naming it (see `requests_by_contact`)
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_inbound(self, entries: list[dict]) -> None:
        """What the fake's inbound log says: the events on the wire, the requests per contact."""
        self.wire = wire_counts(entries)
        self.requests = requests_by_contact(entries)

    # -- views --------------------------------------------------------------------------------------
    def at_day(self, contact: str, day: int) -> dict | None:
        best = None
        for snap in self.snapshots.get(contact, []):
            if snap["day"] <= day:
                best = snap
        return best

    def final(self, contact: str) -> dict | None:
        snaps = self.snapshots.get(contact) or []
        return snaps[-1] if snaps else None

    def on_the_wire(self, contact: str) -> dict[str, list[int]]:
        return self.wire.get(self.ab_ids.get(contact, ""), {})

    def requests_for(self, contact: str) -> dict[str, Any]:
        return self.requests.get(self.ab_ids.get(contact, ""), {"requests": 0, "signatures": {}, "statuses": {},
                                                                   "duplicates": 0})

    def received(self, contact: str) -> list[dict]:
        snap = self.final(contact)
        return list(snap["events"]) if snap else []


def _events_in(path: str, payload: object) -> list[dict]:
    """The 5.1 events one inbound request carried (webhook, batch, push or bulk)."""
    if not isinstance(payload, dict):
        return []
    data = payload.get("data") if isinstance(payload.get("data"), dict) else payload
    if path.endswith("/webhooks/broadcast/events"):
        return [data] if data.get("event_id") else []
    found: list[dict] = []
    if path.endswith("/events") and "/contacts/" in path:  # Option B: one event or a list
        items = payload.get("events") if isinstance(payload.get("events"), list) else [payload]
        return [e for e in items if isinstance(e, dict) and e.get("event_id")]
    for update in data.get("updates") or []:
        if isinstance(update, dict):
            for event in update.get("events") or []:
                if isinstance(event, dict) and event.get("event_id"):
                    found.append({**event, "contact_id": event.get("contact_id") or update.get("contact_id")})
    return found


def wire_counts(entries: list[dict]) -> dict[str, dict[str, list[int]]]:
    """How many accepted requests carried each event, and how many were refused as repeats."""
    counts: dict[str, dict[str, list[int]]] = {}
    for entry in entries:
        status = entry.get("status") or 0
        if not 200 <= status < 300:
            continue
        for event in _events_in(entry.get("path") or "", entry.get("payload")):
            row = counts.setdefault(event.get("contact_id") or "", {}).setdefault(event["event_id"], [0, 0])
            row[1 if entry.get("duplicate") else 0] += 1
    return counts


def _contacts_named(entry: dict) -> set[str]:
    """The AgentBuddy contacts one inbound request is about (path, webhook data, batch updates)."""
    named: set[str] = set()
    path = entry.get("path") or ""
    if "/contacts/" in path:
        named.add(path.split("/contacts/", 1)[1].split("/", 1)[0])
    payload = entry.get("payload")
    if isinstance(payload, dict):
        data = payload.get("data") if isinstance(payload.get("data"), dict) else payload
        if isinstance(data.get("contact_id"), str):
            named.add(data["contact_id"])
        for update in data.get("updates") or []:
            if isinstance(update, dict) and isinstance(update.get("contact_id"), str):
                named.add(update["contact_id"])
    return named


def requests_by_contact(entries: list[dict]) -> dict[str, dict[str, Any]]:
    """Per contact: how many requests AgentBuddy received about it, its signature verdicts
    (`valid` means the Standard Webhooks signature verified under the connection's secret),
    HTTP answers, and how many were acknowledged as duplicates."""
    out: dict[str, dict[str, Any]] = {}
    for entry in entries:
        for contact in sorted(_contacts_named(entry)):
            row = out.setdefault(contact, {"requests": 0, "signatures": {}, "statuses": {}, "duplicates": 0})
            row["requests"] += 1
            verdict = str(entry.get("signature") or "none")
            row["signatures"][verdict] = row["signatures"].get(verdict, 0) + 1
            status = str(entry.get("status") or 0)
            row["statuses"][status] = row["statuses"].get(status, 0) + 1
            row["duplicates"] += 1 if entry.get("duplicate") else 0
    for row in out.values():
        row["signatures"] = dict(sorted(row["signatures"].items()))
        row["statuses"] = dict(sorted(row["statuses"].items()))
    return out


def event_type(event: dict) -> str:
    kind = event.get("event_type") or event.get("type") or ""
    return kind.removeprefix("email.")


def is_machine(event: dict) -> bool:
    metadata = event.get("metadata") or {}
    return bool(metadata.get("machine") or event.get("machine"))
