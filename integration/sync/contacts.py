"""Broadcast's copy of the AgentBuddy contacts: reading it, and the edits Broadcast makes to it.

Broadcast users archive contacts and add tags; provider events (bounces, unsubscribes,
complaints) change a contact's `email_status`. Each edit records when it happened (the
injected clock or the event's own time) so `conflicts.merge_contact` can apply last-write-wins,
and none of them is ever undone by a sync (see docs/sync.md).

Reads: `contact_rows` (the stored rows of some contacts, e.g. for the simulator's checks of the
conflict rules) and `export_contacts` (`ab-harness export contacts`: every contact with its
scores and metrics, and whether it may be emailed).
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable

from common.clock import Clock
from integration.storage import Database, format_ts, from_json, in_lists, to_json

from .conflicts import CONTACT_STATUSES, EMAIL_STATUSES, dedupe_tags, is_emailable, union_tags


class ContactNotFound(LookupError):
    pass


def _contact(tx, organization_id: str, contact_id: str) -> dict:
    row = tx.fetchone("SELECT id, ab_tags, local_tags FROM contacts WHERE organization_id = ? AND id = ?" + tx.lock_rows,
                      (organization_id, contact_id))
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


# Suppression only escalates on its own (as ingest applies it): a later "delivered"
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


# ----------------------------------------------------------------------------- reads

def contact_rows(db: Database, organization_id: str, contact_ids: Iterable[str]) -> dict[str, dict[str, Any] | None]:
    """The stored row of each contact (every column), None for one Broadcast does not hold."""
    ids = list(dict.fromkeys(contact_ids))
    found: dict[str, dict[str, Any]] = {}
    with db.transaction(readonly=True) as tx:
        for marks, chunk in in_lists(ids):
            for row in tx.fetchall(f"SELECT * FROM contacts WHERE organization_id = ? AND id IN ({marks})",
                                   (organization_id, *chunk)):
                found[row["id"]] = row
    return {contact_id: found.get(contact_id) for contact_id in ids}


EXPORT_COLUMNS = ("id", "email", "first_name", "last_name", "phone", "contact_type", "office_id", "agent_id",
                  "address_street", "address_city", "address_state", "address_zip", "tags", "local_tags",
                  "status", "email_opt_in", "email_status", "property_ids", "custom_fields",
                  "ab_updated_at", "deleted_at")
_JSON_COLUMNS = ("tags", "local_tags", "property_ids", "custom_fields", "contributing_factors")


def export_contacts(db: Database, organization_id: str, include_deleted: bool = False) -> list[dict[str, Any]]:
    """Broadcast's view of its contacts, with their latest 5.2 metrics and 5.3 score."""
    where = "" if include_deleted else " AND c.deleted_at IS NULL"
    with db.transaction(readonly=True) as tx:
        rows = tx.fetchall(
            f"SELECT {', '.join('c.' + col for col in EXPORT_COLUMNS)}, s.*, m.* FROM contacts c"
            " LEFT JOIN contact_scores s ON s.organization_id = c.organization_id AND s.contact_id = c.id"
            " LEFT JOIN contact_metrics m ON m.organization_id = c.organization_id AND m.contact_id = c.id"
            f" WHERE c.organization_id = ?{where} ORDER BY c.id",
            (organization_id,),
        )
    out = []
    for row in rows:
        row.pop("organization_id", None)
        row.pop("contact_id", None)
        for name in _JSON_COLUMNS:
            if isinstance(row.get(name), str):
                row[name] = from_json(row[name])
        row["email_opt_in"] = bool(row["email_opt_in"])
        row["emailable"] = is_emailable(row)
        out.append(row)
    return out
