"""Conflict rules (spec section 8): what the stored contact becomes when a synced one meets it.

1. AgentBuddy wins for demographics and CRM facts: name, email, phone, address, contact_type,
   office/agent, properties, custom_fields, and consent (`email_opt_in`).
2. Broadcast wins for email engagement: `email_status` (subscribed/unsubscribed/bounced/
   complained, set from provider events) is never written by a sync. A contact is emailable
   only if `email_opt_in` is true AND `email_status` is `subscribed` AND it is neither deleted
   nor archived (`is_emailable`).
3. Last write wins for fields both sides edit: `status` (active/archived) — Broadcast users can
   archive a contact, AgentBuddy can too. The stored `status_updated_at` is when the winning
   value was written. AgentBuddy's value is taken only when AgentBuddy changed it (it differs
   from `ab_status`, the last value AgentBuddy sent) and its record `updated_at` is not older
   than `status_updated_at`; an AgentBuddy edit of some other field does not undo a newer
   Broadcast archive.
4. Tags are merged as a union: `tags` = AgentBuddy's tags, then Broadcast-added `local_tags` not
   already present (case-insensitive), so neither side's tags are lost.

Offices, agents and properties have no rules: AgentBuddy owns every column (`replace`).
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from integration.storage import to_json

CONTACT_STATUSES = ("active", "archived")
EMAIL_STATUSES = ("subscribed", "unsubscribed", "bounced", "complained")
# After these the email channel is closed for good: never emailed, nothing more pushed about it.
SUPPRESSED_STATUSES = frozenset({"unsubscribed", "bounced", "complained"})
# Columns a sync never writes on an existing contact: Broadcast owns them.
BROADCAST_OWNED = ("email_status", "email_status_updated_at", "local_tags", "local_updated_at")
# Columns derived by merge_contact (both sides contribute).
MERGED = ("tags", "status", "status_updated_at", "status_source")


def replace(existing: dict[str, Any] | None, incoming: dict[str, Any]) -> dict[str, Any]:
    """AgentBuddy owns every column of offices, agents and properties."""
    return incoming


def dedupe_tags(tags: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for tag in tags:
        key = tag.strip().casefold()
        if key and key not in seen:
            seen.add(key)
            out.append(tag.strip())
    return out


def union_tags(ab_tags: list[str], local_tags: list[str]) -> list[str]:
    return dedupe_tags([*ab_tags, *local_tags])


def merge_contact(existing: dict[str, Any] | None, incoming: dict[str, Any]) -> dict[str, Any]:
    """The stored contact after a sync brings `incoming` (a mapped row); see the module rules."""
    merged = dict(incoming)
    ab_tags = json.loads(incoming["ab_tags"])
    if existing is None:
        merged.update(
            email_status="subscribed", email_status_updated_at=None, local_tags="[]", local_updated_at=None,
            tags=to_json(ab_tags), status=incoming["ab_status"],
            status_updated_at=incoming["ab_updated_at"] if incoming["ab_status"] is not None else None,
            status_source="agentbuddy" if incoming["ab_status"] is not None else None,
        )
        return merged
    for column in BROADCAST_OWNED:
        merged[column] = existing[column]
    merged["tags"] = to_json(union_tags(ab_tags, json.loads(existing["local_tags"] or "[]")))
    ab_changed = incoming["ab_status"] != existing["ab_status"]
    written_at = existing["status_updated_at"]
    if ab_changed and (written_at is None or incoming["ab_updated_at"] >= written_at):
        merged["status"] = incoming["ab_status"]
        merged["status_updated_at"] = incoming["ab_updated_at"]
        merged["status_source"] = "agentbuddy"
    else:
        merged["status"] = existing["status"]
        merged["status_updated_at"] = existing["status_updated_at"]
        merged["status_source"] = existing["status_source"]
    return merged


def is_emailable(contact: dict[str, Any]) -> bool:
    """Rule 2: consent from AgentBuddy AND a clean email status from Broadcast AND live."""
    return (
        bool(contact.get("email_opt_in"))
        and contact.get("email_status") == "subscribed"
        and contact.get("deleted_at") is None
        and contact.get("status") != "archived"
        and bool(contact.get("email"))
    )
