"""Edits Broadcast makes to synced contacts, written so the sync's conflict rules hold.

Broadcast users archive contacts and add tags; provider events (bounces, unsubscribes,
complaints) change a contact's `email_status`. Each edit records when it happened (the
injected clock or the event's own time) so `mapping.merge_contact` can apply last-write-wins,
and none of them is ever undone by a sync (see docs/sync.md).
"""
from __future__ import annotations

import json
from datetime import datetime

from common.clock import Clock
from integration.storage import Database, format_ts, to_json
from .mapping import CONTACT_STATUSES, EMAIL_STATUSES, dedupe_tags, union_tags


class ContactNotFound(LookupError):
    pass


def _contact(tx, organization_id: str, contact_id: str) -> dict:
    lock = " FOR UPDATE" if tx.dialect == "postgresql" else ""
    row = tx.fetchone(
        "SELECT id, ab_tags, local_tags FROM contacts"
        " WHERE organization_id = ? AND id = ?" + lock,
        (organization_id, contact_id),
    )
    if row is None:
        raise ContactNotFound(f"no contact {contact_id!r} in organization {organization_id!r}")
    return row


def set_status(db: Database, organization_id: str, contact_id: str, status: str, clock: Clock) -> None:
    """A Broadcast user archives (or re-activates) a contact: last write wins against AgentBuddy."""
    if status not in CONTACT_STATUSES:
        raise ValueError(f"status must be one of {', '.join(CONTACT_STATUSES)}")
    now = format_ts(clock.now())
    with db.transaction() as tx:
        _contact(tx, organization_id, contact_id)
        tx.execute(
            "UPDATE contacts SET status = ?, status_updated_at = ?, status_source = 'broadcast', local_updated_at = ?"
            " WHERE organization_id = ? AND id = ?",
            (status, now, now, organization_id, contact_id),
        )


def add_tags(db: Database, organization_id: str, contact_id: str, tags: list[str], clock: Clock) -> list[str]:
    """Add Broadcast-side tags; returns the merged tag list (AgentBuddy's ∪ Broadcast's)."""
    return _change_tags(db, organization_id, contact_id, clock, add=tags)


def remove_tags(db: Database, organization_id: str, contact_id: str, tags: list[str], clock: Clock) -> list[str]:
    """Remove Broadcast-side tags. A tag AgentBuddy sends stays until AgentBuddy drops it."""
    return _change_tags(db, organization_id, contact_id, clock, remove=tags)


def _change_tags(db: Database, organization_id: str, contact_id: str, clock: Clock,
                 add: list[str] = (), remove: list[str] = ()) -> list[str]:
    if any(not isinstance(t, str) or not t.strip() or len(t) > 64 for t in [*add, *remove]):
        raise ValueError("tags must be non-empty strings of at most 64 characters")
    now = format_ts(clock.now())
    gone = {t.strip().casefold() for t in remove}
    with db.transaction() as tx:
        row = _contact(tx, organization_id, contact_id)
        local = [t for t in dedupe_tags([*json.loads(row["local_tags"]), *add]) if t.casefold() not in gone]
        merged = union_tags(json.loads(row["ab_tags"]), local)
        tx.execute(
            "UPDATE contacts SET local_tags = ?, tags = ?, local_updated_at = ? WHERE organization_id = ? AND id = ?",
            (to_json(local), to_json(merged), now, organization_id, contact_id),
        )
    return merged


# Suppression only escalates on its own (matches integration/ingest.py): a later "delivered"
# never re-subscribes someone who complained. Re-subscribing is an explicit act (force=True).
STATUS_RANK = {"subscribed": 0, "bounced": 1, "unsubscribed": 2, "complained": 3}


def record_email_status(
    db: Database, organization_id: str, contact_id: str, email_status: str, at: datetime, *, force: bool = False
) -> bool:
    """Set Broadcast's email status from a provider event (or a person, with `force=True`).

    Without `force` the status only moves up subscribed < bounced < unsubscribed < complained.
    Returns whether the status changed.
    """
    if email_status not in EMAIL_STATUSES:
        raise ValueError(f"email_status must be one of {', '.join(EMAIL_STATUSES)}")
    stamp = format_ts(at)
    with db.transaction() as tx:
        _contact(tx, organization_id, contact_id)
        current = tx.fetchval(
            "SELECT email_status FROM contacts WHERE organization_id = ? AND id = ?", (organization_id, contact_id)
        )
        if current == email_status or (not force and STATUS_RANK[email_status] < STATUS_RANK[current]):
            return False
        tx.execute(
            "UPDATE contacts SET email_status = ?, email_status_updated_at = ?, local_updated_at = ?"
            " WHERE organization_id = ? AND id = ?",
            (email_status, stamp, stamp, organization_id, contact_id),
        )
    return True
