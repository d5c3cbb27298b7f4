"""Why did two events become one batch? Every rule by which outbox messages merge is here.

Four rules keep the queue honest under load, and none of them loses news for AgentBuddy:

1. A newer score replaces a waiting one: a contact has at most one never-attempted propensity
   message; a newer score rewrites its payload instead of queueing a second (`queue_propensity`).
2. Metrics wait and gather: a contact's 5.2 metrics / 5.4 campaigns travel as a one-contact
   `engagement.batch_update` that waits a debounce (`queue_update`); while it waits, each new
   state replaces its payload, so the sent/delivered/opened/clicked webhooks of one email make
   one update, not four.
3. The daily re-score supersedes: its batch carries every changed contact's score and metrics,
   so never-attempted propensity messages and waiting one-contact updates about those contacts
   are dropped (`drop_superseded_propensity`, `drop_superseded_updates`).
4. A backlog is folded: when at least `coalesce_threshold` never-attempted event, propensity or
   one-contact update messages wait for one connection, a claim folds them into `batch` messages
   of up to `batch_max_events` (one update per contact with its `events` list and latest fields;
   `merged_into` links each member to its batch, and members settle with it) so a backlog drains
   at bulk speed (`fold_backlog`, `merge_into_batch`).

Only messages never attempted are touched: one that may already have reached AgentBuddy under
its own id keeps that id (AgentBuddy deduplicates on it).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

from integration.storage import Tx, format_ts, from_json, in_lists, to_json

from . import wire
from .queue import Message, enqueue_many, message_id_for

FOLDABLE = ("event", "propensity")  # a backlog of these (and one-contact updates) travels as batch messages


@dataclass(frozen=True)
class FoldPolicy:
    """When a backlog is folded into batches, and how big a batch may grow."""

    coalesce_threshold: int = 20  # fresh event/propensity messages per connection before folding
    batch_max_events: int = 1000  # messages per batch (the contract allows 1000 updates per batch)


def _waiting(tx: Tx, organization_id: str, connection_id: str, contact_ids: list[str], kind: str,
             also: str = "") -> dict[str, str]:
    """The newest never-attempted message of `kind` per contact (one query per 500 contacts)."""
    newest: dict[str, str] = {}
    for marks, chunk in in_lists(sorted(set(contact_ids))):
        for row in tx.fetchall(
            f"SELECT id, contact_id FROM outbox WHERE organization_id = ? AND kind = ? AND status = 'pending'"
            f" AND attempts = 0{also} AND connection_id = ? AND contact_id IN ({marks}) ORDER BY created_at, id",
            (organization_id, kind, connection_id, *chunk),
        ):
            newest[row["contact_id"]] = row["id"]  # ascending: the last one seen is the newest
    return newest


def _replace_or_enqueue(tx: Tx, organization_id: str, connection_id: str, kind: str, payloads: dict[str, dict],
                        now: datetime, *, also: str = "", due: datetime | None = None) -> dict[str, str]:
    """Give each contact's waiting message of `kind` its new payload, queue one for the others;
    {contact id: message id}. Three statements for any number of contacts (ingest groups many)."""
    if not payloads:
        return {}
    waiting = _waiting(tx, organization_id, connection_id, list(payloads), kind, also)
    tx.executemany("UPDATE outbox SET payload = ? WHERE id = ? AND status = 'pending'",
                   [(to_json(payloads[contact_id]), mid) for contact_id, mid in waiting.items()], adapted=True)
    fresh = [contact_id for contact_id in payloads if contact_id not in waiting]
    rows = [{"organization_id": organization_id, "connection_id": connection_id, "kind": kind,
             "contact_id": contact_id, "payload": payloads[contact_id], **({"due": due} if due else {})}
            for contact_id in fresh]
    ids = enqueue_many(tx, rows, now) if rows else []
    return {**waiting, **dict(zip(fresh, ids))}


def queue_propensities(tx: Tx, *, organization_id: str, connection_id: str, payloads: dict[str, dict[str, Any]],
                       now: datetime) -> dict[str, str]:
    """Rule 1 for many contacts: {contact id: its 5.3 payload} -> {contact id: message id}."""
    return _replace_or_enqueue(tx, organization_id, connection_id, "propensity", payloads, now)


def queue_propensity(
    tx: Tx, *, organization_id: str, connection_id: str, contact_id: str, payload: dict[str, Any], now: datetime
) -> str:
    """Rule 1: queue a contact's latest score, replacing a still-waiting one rather than piling up."""
    return queue_propensities(tx, organization_id=organization_id, connection_id=connection_id,
                              payloads={contact_id: payload}, now=now)[contact_id]


def queue_updates(tx: Tx, *, organization_id: str, connection_id: str, updates: dict[str, dict[str, Any]],
                  now: datetime, delay: timedelta) -> dict[str, str]:
    """Rule 2 for many contacts: {contact id: its update fields} -> {contact id: message id}."""
    payloads = {contact_id: wire.batch_data([("batch", {"updates": [{"contact_id": contact_id, **update}]})])
                for contact_id, update in updates.items()}
    return _replace_or_enqueue(tx, organization_id, connection_id, "batch", payloads, now,
                               also=" AND last_error IS NULL", due=now + delay)


def queue_update(
    tx: Tx, *, organization_id: str, connection_id: str, contact_id: str, update: dict[str, Any], now: datetime,
    delay: timedelta,
) -> str:
    """Rule 2: queue a contact's 5.2 metrics / 5.4 campaigns as a one-contact batch whose first
    attempt waits `delay`; a waiting one takes the new state instead. Waiting updates of many
    contacts fall due together and are folded into full batches (rule 4)."""
    return queue_updates(tx, organization_id=organization_id, connection_id=connection_id,
                         updates={contact_id: update}, now=now, delay=delay)[contact_id]


def drop_superseded_updates(tx: Tx, organization_id: str, contact_ids: Iterable[str]) -> None:
    """Rule 3: a re-score batch carrying a contact's metrics makes its waiting one-contact update redundant."""
    _drop_unsent(tx, organization_id, contact_ids, "kind = 'batch' AND last_error IS NULL")


def drop_superseded_propensity(tx: Tx, organization_id: str, contact_ids: Iterable[str]) -> None:
    """Rule 3: a batch carrying newer scores makes never-attempted propensity messages redundant."""
    _drop_unsent(tx, organization_id, contact_ids, "kind = 'propensity'")


def _drop_unsent(tx: Tx, organization_id: str, contact_ids: Iterable[str], which: str) -> None:
    """Delete never-attempted messages about these contacts: nothing of them can have reached AgentBuddy."""
    for marks, chunk in in_lists(list(contact_ids)):
        tx.execute(f"DELETE FROM outbox WHERE organization_id = ? AND {which} AND status = 'pending' AND attempts = 0"
                   f" AND contact_id IN ({marks})", (organization_id, *chunk))


def fold_backlog(rows: list[dict[str, Any]], policy: FoldPolicy) -> tuple[list[list[dict]], list[dict]]:
    """Rule 4: the due rows a claim found, split into groups to fold into batches and the rest."""
    fresh: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        never_sent = row["attempts"] == 0 and row["last_error"] is None
        foldable = row["kind"] in FOLDABLE or (row["kind"] == "batch" and row["contact_id"] is not None)
        if foldable and never_sent and row["status"] == "pending":
            fresh[row["connection_id"]].append(row)
    folded: set[str] = set()
    batches: list[list[dict]] = []
    for waiting in fresh.values():
        if len(waiting) < policy.coalesce_threshold:
            continue
        for start in range(0, len(waiting), policy.batch_max_events):
            chunk = waiting[start:start + policy.batch_max_events]
            batches.append(chunk)
            folded.update(row["id"] for row in chunk)
    return batches, [row for row in rows if row["id"] not in folded]


def merge_into_batch(tx: Tx, members: list[dict], worker_id: str, now: datetime, lease_until: datetime) -> Message:
    """Rule 4: write the batch message of `members` (leased to the claiming worker) and link them to it."""
    first = members[0]
    # Canonical JSON both in the row and in hand: a retry must send the very same bytes (an
    # Idempotency-Key reused with a different body is an error).
    stored = to_json(wire.batch_data([(row["kind"], from_json(row["payload"])) for row in members]))
    batch_id = message_id_for(first["organization_id"], "batch", "folded", *(row["id"] for row in members))
    tx.execute(
        "INSERT INTO outbox (id, organization_id, connection_id, kind, contact_id, payload, status, attempts,"
        " next_attempt_at, created_at, lease_owner, lease_expires_at)"
        " VALUES (?, ?, ?, 'batch', NULL, ?, 'delivering', 1, ?, ?, ?, ?)",
        (batch_id, first["organization_id"], first["connection_id"], stored, now, now, worker_id, lease_until),
    )
    for marks, chunk in in_lists([row["id"] for row in members]):
        tx.execute(f"UPDATE outbox SET status = 'delivering', merged_into = ? WHERE id IN ({marks})", (batch_id, *chunk))
    return Message(batch_id, first["organization_id"], first["connection_id"], "batch", None, from_json(stored), 1,
                   format_ts(now))
