"""What Broadcast sends back lands on the contact: engagement (5.2), propensity (5.3), campaign
participation (5.4) and the event history (5.1), whichever way it arrives (webhook or push).

Rules a real CRM would need and the integration must cope with:
- propensity is last-writer-wins by `score_updated_at` (or the webhook's `timestamp`): an older
  score that arrives late never overwrites a newer one;
- an event is applied once per `event_id` in an account, however often it is delivered;
- a campaign's status only moves forward (sent < delivered < opened < clicked), and bounced,
  unsubscribed and complained are terminal;
- none of this touches the contact's `updated_at`: it is Broadcast's data, not a CRM edit, so
  it triggers no change notification back to Broadcast.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from common.timestamps import format_us, parse_rfc3339, to_us

PROPENSITY_FIELDS = ("propensity_score", "propensity_category", "seller_likelihood", "buyer_activity_score",
                     "recommended_action", "score_updated_at", "contributing_factors")
ENGAGEMENT_TIMES = ("last_email_sent_at", "last_opened_at", "last_clicked_at")
STATUS_RANK = {"sent": 0, "delivered": 1, "opened": 2, "clicked": 3}
TERMINAL = ("bounced", "unsubscribed", "complained")
MAX_CAMPAIGNS = 1000
MAX_EVENTS_PER_CONTACT = 1000


def normalise_time(value):
    """Any RFC 3339 offset in, UTC with `Z` out (what AgentBuddy always sends)."""
    return None if value is None else _normalised(value)


@functools.lru_cache(maxsize=65_536)
def _normalised(value: str) -> str:
    """Remembered: a batch repeats the same few stamps (score time, envelope time) per update."""
    return format_us(to_us(parse_rfc3339(value)))


def live_contact(state, account_id: str, contact_id: str) -> dict | None:
    contact = state.world.collection(account_id, "contacts").get(contact_id)
    return contact if contact is not None and contact.get("deleted_at") is None else None


def apply_engagement(state, contact: dict, metrics: dict, replace: bool) -> dict:
    stored = {} if replace or contact.get("engagement") is None else dict(contact["engagement"])
    for name, value in metrics.items():
        stored[name] = normalise_time(value) if name in ENGAGEMENT_TIMES else value
    stored["contact_id"] = contact["id"]
    stored["updated_at"] = state.now_text()
    contact["engagement"] = stored
    return stored


def apply_propensity(state, contact: dict, fields: dict, replace: bool, as_of: str | None = None) -> tuple[dict, bool]:
    """Returns (what is stored, whether this update was applied). `as_of` is the envelope's
    time, used when the update carries no `score_updated_at` of its own."""
    current = contact.get("propensity")
    incoming_time = fields.get("score_updated_at") or as_of
    incoming_us = to_us(parse_rfc3339(incoming_time)) if incoming_time else None
    if current and current.get("score_updated_at") and incoming_us is not None:
        if incoming_us < to_us(parse_rfc3339(current["score_updated_at"])):
            return current, False
    stored = {} if replace or current is None else dict(current)
    stored.update({name: value for name, value in fields.items() if name in PROPENSITY_FIELDS})
    if incoming_time:
        stored["score_updated_at"] = normalise_time(incoming_time)
    stored.setdefault("contributing_factors", [])
    stored["contact_id"] = contact["id"]
    stored["updated_at"] = state.now_text()
    contact["propensity"] = stored
    return stored, True


def apply_campaign(contact: dict, campaign_id: str, status: str, sent_at: str, name: str | None = None) -> None:
    campaigns: list[dict] = contact.setdefault("campaigns", [])
    entry = next((c for c in campaigns if c["id"] == campaign_id), None)
    if entry is None:
        entry = {"id": campaign_id, "name": name, "sent_at": normalise_time(sent_at), "status": status}
        campaigns.append(entry)
    else:
        if name:
            entry["name"] = name
        if _moves_forward(entry["status"], status):
            entry["status"] = status
        entry["sent_at"] = min(entry["sent_at"], normalise_time(sent_at))
    campaigns.sort(key=lambda c: (c["sent_at"], c["id"]), reverse=True)  # newest first
    del campaigns[MAX_CAMPAIGNS:]


def _moves_forward(old: str, new: str) -> bool:
    if old in TERMINAL:
        return False
    if new in TERMINAL:
        return True
    return STATUS_RANK[new] > STATUS_RANK[old]


@dataclass(frozen=True)
class EventOutcome:
    stored: dict
    duplicate: bool


def apply_event(state, account_id: str, contact: dict, event: dict) -> EventOutcome:
    """Store one 5.1 event (bare event type) once per (account, event_id)."""
    key = (account_id, event["event_id"])
    history = state.received.events.setdefault(contact["id"], [])
    if key in state.received.event_ids:
        stored = next((e for e in history if e["event_id"] == event["event_id"]), None)
        return EventOutcome(stored or {**_stored(state, contact, event)}, True)
    stored = _stored(state, contact, event)
    state.received.event_ids.add(key)
    history.append(stored)
    del history[:-MAX_EVENTS_PER_CONTACT]
    if event.get("campaign_id"):  # an unsubscribe from a preference centre belongs to no campaign
        apply_campaign(contact, event["campaign_id"], event["event_type"], event["timestamp"],
                       event.get("campaign_name"))
    return EventOutcome(stored, False)


def _stored(state, contact: dict, event: dict) -> dict:
    return {
        "event_id": event["event_id"], "contact_id": contact["id"], "event_type": event["event_type"],
        "campaign_id": event.get("campaign_id"), "campaign_name": event.get("campaign_name"),
        "timestamp": normalise_time(event["timestamp"]), "metadata": event.get("metadata"),
        "received_at": state.now_text(),
    }


def synthetic_event_id(webhook_id: str) -> str:
    """An event webhook without `data.event_id` is identified by its delivery id (a valid Id)."""
    return "wh_" + hashlib.sha256(webhook_id.encode()).hexdigest()[:24]


def apply_batch_update(state, account_id: str, index: int, update: dict, as_of: str | None) -> dict:
    """One entry of `updates` (BatchUpdate): every present part merged; a BulkItemResult back."""
    contact = live_contact(state, account_id, update["contact_id"])
    result = {"index": index, "contact_id": update["contact_id"]}
    if contact is None:
        return {**result, "status": "failed", "code": "not_found",
                "detail": f"No contact '{update['contact_id']}' in this account (unknown or deleted)."}
    notes = []
    fields = {name: update[name] for name in PROPENSITY_FIELDS if name in update}
    if fields:
        _, applied = apply_propensity(state, contact, fields, replace=False, as_of=as_of)
        if not applied:
            notes.append("propensity older than the stored score; kept the newer one")
    if "engagement_metrics" in update:
        apply_engagement(state, contact, update["engagement_metrics"], replace=False)
    for campaign in update.get("campaigns", []):
        apply_campaign(contact, campaign["id"], campaign["status"], campaign["sent_at"], campaign.get("name"))
    duplicates = sum(apply_event(state, account_id, contact, event).duplicate for event in update.get("events", []))
    if duplicates:
        notes.append(f"{duplicates} duplicate event(s) ignored")
    return {**result, "status": "applied", **({"detail": "; ".join(notes)} if notes else {})}


def apply_batch(state, account_id: str, updates: list[dict], as_of: str | None) -> dict:
    results = [apply_batch_update(state, account_id, index, update, as_of) for index, update in enumerate(updates)]
    applied = sum(r["status"] == "applied" for r in results)
    return {"received": len(results), "applied": applied, "failed": len(results) - applied, "results": results}
