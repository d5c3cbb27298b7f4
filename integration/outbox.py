"""The transactional outbox: messages for AgentBuddy, written with the change they announce.

Ingest and the re-score write outbox rows inside their own transaction (so a stored event and
its outgoing message exist together or not at all); delivery workers drain it. A row's `id` is
the Standard Webhooks `webhook-id` (Option A) or the `Idempotency-Key` (Option B) and never
changes across retries, so AgentBuddy can apply each message exactly once even though the wire
is at-least-once.

States: ``pending`` (waiting for ``next_attempt_at``) -> ``delivering`` (leased by one worker
until ``lease_expires_at``) -> ``delivered`` or back to ``pending`` for a retry, or ``dead``
(dead letter: gave up, replayable). An expired lease is claimable again: that is how a crashed
worker's messages get delivered by another.

Coalescing keeps the queue honest under load:
* a contact has at most one undelivered propensity message: a newer score replaces the payload
  of the pending one instead of queueing a second;
* when many fresh event/propensity messages wait for one connection, a claim folds them into
  ``batch`` messages (one update per contact with its `events` and latest propensity;
  ``merged_into`` links them) so a backlog drains at bulk speed. Only never-attempted messages
  are folded: one that may already have reached AgentBuddy under its own id keeps that id.
"""
from __future__ import annotations

import hashlib
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from integration.storage import Database, Tx, format_ts, from_json, placeholders, to_json
from common.timestamps import parse_rfc3339

KINDS = ("event", "propensity", "batch")
FOLDABLE = ("event", "propensity")  # a backlog of these travels as batch messages
STATUSES = ("pending", "delivering", "delivered", "dead")


#: uuid5 namespace of outbox message ids (fixed: the same inputs give the same ids in every run).
ID_NAMESPACE = uuid.UUID("5b1c3c2e-8f0d-4d55-9c41-2b7a0f6c9e10")


def message_id_for(organization_id: str, kind: str, *key: Any) -> str:
    """A message id derived from what the message carries, not from a random generator.

    `key` is the natural key of the content: the event id for an event; contact id, score time
    and a content hash for a propensity or contact update; the member ids of a folded batch.
    Same inputs, same ids — so a replay with the same seed gives the same retry jitter (which
    derives from the id) and the same wire bytes; different content, a different id, so a later
    update for the same contact is never mistaken for a duplicate by AgentBuddy's dedupe.
    """
    name = "\x1f".join([organization_id, kind, *(str(part) for part in key)])
    return f"msg_{uuid.uuid5(ID_NAMESPACE, name).hex}"


def content_hash(payload: Any) -> str:
    text = payload if isinstance(payload, str) else to_json(payload)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _free_ids(tx: Tx, wanted: list[str]) -> list[str]:
    """`wanted`, with any id already in the outbox (or repeated in `wanted`) given a numbered
    suffix: the same content queued twice at the same instant (A, then B, then A again on a
    frozen clock) is a second message, and stays deterministic."""
    taken: set[str] = set()
    unique = sorted(set(wanted))
    for start in range(0, len(unique), 500):
        chunk = unique[start:start + 500]
        taken.update(r["id"] for r in tx.fetchall(
            f"SELECT id FROM outbox WHERE id IN ({placeholders(len(chunk))})", tuple(chunk)))
    if not taken and len(unique) == len(wanted):
        return wanted
    out = []
    for base in wanted:
        candidate, n = base, 0
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        out.append(candidate)
    return out


def _natural_id(row: dict[str, Any], payload_text: str, now: datetime) -> str:
    org, kind = row["organization_id"], row["kind"]
    payload = row["payload"]
    if kind == "event" and payload.get("event_id"):
        return message_id_for(org, kind, payload["event_id"])
    stamp = payload.get("score_updated_at") or format_ts(now)
    return message_id_for(org, kind, row.get("contact_id") or "", stamp, content_hash(payload_text))


@dataclass(frozen=True)
class Message:
    id: str
    organization_id: str
    connection_id: str
    kind: str
    contact_id: str | None
    payload: dict[str, Any]
    attempts: int  # including the attempt this claim is for
    created_at: str


@dataclass(frozen=True)
class ClaimPolicy:
    """How much one claim takes, and when a backlog of events is folded into batches."""

    limit: int = 100
    lease: timedelta = timedelta(seconds=30)
    coalesce_threshold: int = 20  # fresh event/propensity messages per connection before folding
    batch_max_events: int = 1000  # messages per batch (the contract allows 1000 updates per batch)
    scan_limit: int = 2000


class Doorbell:
    """Wakes idle delivery workers when something is enqueued in this process."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def ring(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        rang = self._event.wait(timeout)
        self._event.clear()
        return rang


# ----------------------------------------------------------------------------- enqueue

def enqueue(
    tx: Tx,
    *,
    organization_id: str,
    connection_id: str,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    contact_id: str | None = None,
    message_id: str | None = None,
) -> str:
    row = {"organization_id": organization_id, "connection_id": connection_id, "kind": kind,
           "contact_id": contact_id, "payload": payload}
    if message_id:
        row["id"] = message_id
    return enqueue_many(tx, [row], now)[0]


def enqueue_many(tx: Tx, rows: Sequence[dict[str, Any]], now: datetime) -> list[str]:
    """Queue messages (one executemany). Ids come from content (`message_id_for`) unless a row
    names its own `id`; a row's optional `due` delays its first attempt (a debounce)."""
    for row in rows:
        if row["kind"] not in KINDS:
            raise ValueError(f"outbox kind must be one of {KINDS}, not {row['kind']!r}")
    texts = [to_json(r["payload"]) for r in rows]
    ids = _free_ids(tx, [r.get("id") or _natural_id(r, text, now) for r, text in zip(rows, texts)])
    created = format_ts(now)
    tx.executemany(
        "INSERT INTO outbox (id, organization_id, connection_id, kind, contact_id, payload, status,"
        " attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
        [
            (mid, r["organization_id"], r["connection_id"], r["kind"], r.get("contact_id"), text,
             format_ts(r["due"]) if r.get("due") else created, created)
            for mid, r, text in zip(ids, rows, texts)
        ],
        adapted=True,
    )
    return ids


def enqueue_propensity(
    tx: Tx, *, organization_id: str, connection_id: str, contact_id: str, payload: dict[str, Any], now: datetime
) -> str:
    """Queue a contact's latest score, replacing a still-pending one rather than piling up."""
    pending = tx.fetchone(
        "SELECT id FROM outbox WHERE organization_id = ? AND contact_id = ? AND kind = 'propensity'"
        " AND status = 'pending' AND attempts = 0 AND connection_id = ? ORDER BY created_at DESC LIMIT 1",
        (organization_id, contact_id, connection_id),
    )
    if pending is not None:
        tx.execute("UPDATE outbox SET payload = ? WHERE id = ? AND status = 'pending'", (to_json(payload), pending["id"]))
        return pending["id"]
    return enqueue(
        tx, organization_id=organization_id, connection_id=connection_id, kind="propensity",
        payload=payload, now=now, contact_id=contact_id,
    )


def enqueue_update(
    tx: Tx, *, organization_id: str, connection_id: str, contact_id: str, update: dict[str, Any], now: datetime,
    delay: timedelta,
) -> str:
    """Queue a contact's 5.2 metrics / 5.4 campaigns as a one-contact `engagement.batch_update`.

    The first attempt waits `delay` (a debounce): the sent/delivered/opened/clicked webhooks of
    one email arrive seconds to minutes apart, and while the message is still waiting each new
    state replaces its payload, so AgentBuddy gets one update per burst, not one per event.
    Waiting updates of many contacts fall due together and are folded into full batches.
    """
    payload = {"updates": [{"contact_id": contact_id, **update}]}
    pending = tx.fetchone(
        "SELECT id FROM outbox WHERE organization_id = ? AND contact_id = ? AND kind = 'batch'"
        " AND status = 'pending' AND attempts = 0 AND last_error IS NULL AND connection_id = ?"
        " ORDER BY created_at DESC LIMIT 1",
        (organization_id, contact_id, connection_id),
    )
    if pending is not None:
        tx.execute("UPDATE outbox SET payload = ? WHERE id = ? AND status = 'pending'", (to_json(payload), pending["id"]))
        return pending["id"]
    return enqueue_many(tx, [{"organization_id": organization_id, "connection_id": connection_id, "kind": "batch",
                              "contact_id": contact_id, "payload": payload, "due": now + delay}], now)[0]


def drop_superseded_updates(tx: Tx, organization_id: str, contact_ids: Iterable[str]) -> None:
    """A re-score batch carrying a contact's metrics makes its waiting one-contact update redundant."""
    _drop_unsent(tx, organization_id, contact_ids, "kind = 'batch' AND last_error IS NULL")


def drop_superseded_propensity(tx: Tx, organization_id: str, contact_ids: Iterable[str]) -> None:
    """A batch carrying newer scores makes never-attempted propensity messages redundant."""
    _drop_unsent(tx, organization_id, contact_ids, "kind = 'propensity'")


def _drop_unsent(tx: Tx, organization_id: str, contact_ids: Iterable[str], which: str) -> None:
    """Delete never-attempted messages about these contacts: nothing of them can have reached AgentBuddy."""
    ids = list(contact_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        tx.execute(
            f"DELETE FROM outbox WHERE organization_id = ? AND {which} AND status = 'pending' AND attempts = 0"
            f" AND contact_id IN ({placeholders(len(chunk))})",
            (organization_id, *chunk),
        )


# ----------------------------------------------------------------------------- claim

_DUE = (
    "merged_into IS NULL AND ((status = 'pending' AND next_attempt_at <= ?)"
    " OR (status = 'delivering' AND lease_expires_at <= ?))"
)


def claim(db: Database, worker_id: str, now: datetime, policy: ClaimPolicy = ClaimPolicy()) -> list[Message]:
    """Lease due messages to `worker_id`; no other worker gets them until the lease expires.

    PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent claims take disjoint rows. SQLite: the
    transaction is `BEGIN IMMEDIATE` (single writer), so claims are serialised.
    """
    lock = " FOR UPDATE SKIP LOCKED" if db.dialect == "postgresql" else ""
    lease_until = now + policy.lease
    with db.transaction() as tx:
        rows = tx.fetchall(
            "SELECT id, organization_id, connection_id, kind, contact_id, payload, attempts, status, created_at,"
            " last_error"
            f" FROM outbox WHERE {_DUE} ORDER BY next_attempt_at, attempts, created_at, id LIMIT ?{lock}",
            (now, now, policy.scan_limit),
        )
        if not rows:
            return []
        batches, singles = _fold_backlog(rows, policy)
        claimed: list[Message] = []
        for members in batches:
            claimed.append(_merge_into_batch(tx, members, worker_id, now, lease_until))
        singles = singles[: max(policy.limit - len(claimed), 0)]
        if singles:
            ids = [row["id"] for row in singles]
            tx.execute(
                "UPDATE outbox SET status = 'delivering', attempts = attempts + 1, lease_owner = ?,"
                f" lease_expires_at = ? WHERE id IN ({placeholders(len(ids))})",
                (worker_id, lease_until, *ids),
            )
            claimed.extend(_message(row, row["attempts"] + 1) for row in singles)
        return claimed


def _fold_backlog(rows: list[dict[str, Any]], policy: ClaimPolicy) -> tuple[list[list[dict]], list[dict]]:
    fresh: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        never_sent = row["attempts"] == 0 and row["last_error"] is None
        foldable = row["kind"] in FOLDABLE or (row["kind"] == "batch" and row["contact_id"] is not None)
        if foldable and never_sent and row["status"] == "pending":
            fresh[row["connection_id"]].append(row)
    folded: set[str] = set()
    batches: list[list[dict]] = []
    for events in fresh.values():
        if len(events) < policy.coalesce_threshold:
            continue
        for start in range(0, len(events), policy.batch_max_events):
            chunk = events[start:start + policy.batch_max_events]
            batches.append(chunk)
            folded.update(row["id"] for row in chunk)
    return batches, [row for row in rows if row["id"] not in folded]


def _merge_into_batch(tx: Tx, members: list[dict], worker_id: str, now: datetime, lease_until: datetime) -> Message:
    first = members[0]
    # Canonical JSON both in the row and in hand: a retry must send the very same bytes (an
    # Idempotency-Key reused with a different body is an error).
    stored = to_json(batch_of([(row["kind"], from_json(row["payload"])) for row in members]))
    payload = from_json(stored)
    batch_id = message_id_for(first["organization_id"], "batch", "folded", *(row["id"] for row in members))
    tx.execute(
        "INSERT INTO outbox (id, organization_id, connection_id, kind, contact_id, payload, status, attempts,"
        " next_attempt_at, created_at, lease_owner, lease_expires_at)"
        " VALUES (?, ?, ?, 'batch', NULL, ?, 'delivering', 1, ?, ?, ?, ?)",
        (batch_id, first["organization_id"], first["connection_id"], stored, now, now, worker_id, lease_until),
    )
    ids = [row["id"] for row in members]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        tx.execute(
            f"UPDATE outbox SET status = 'delivering', merged_into = ? WHERE id IN ({placeholders(len(chunk))})",
            (batch_id, *chunk),
        )
    return Message(batch_id, first["organization_id"], first["connection_id"], "batch", None, payload, 1, format_ts(now))


def batch_of(messages: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
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
    return batch_of([("event", event) for event in events])


def _message(row: dict[str, Any], attempts: int) -> Message:
    return Message(
        row["id"], row["organization_id"], row["connection_id"], row["kind"], row["contact_id"],
        from_json(row["payload"]), attempts, row["created_at"],
    )


# ----------------------------------------------------------------------------- settle

def mark_delivered(db: Database, results: Sequence[tuple[str, int]], worker_id: str, now: datetime) -> None:
    """Settle delivered messages (and the events folded into them) in one transaction.

    A worker whose lease expired no longer owns its messages; its late success still counts
    (the receiver has the message), so the guard is only that a dead/delivered row stays put.
    """
    if not results:
        return
    with db.transaction() as tx:
        tx.executemany(
            "UPDATE outbox SET status = 'delivered', delivered_at = ?, last_status = ?, last_error = NULL,"
            " lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND status IN ('delivering', 'pending')",
            [(now, status, message_id) for message_id, status in results],
        )
        tx.executemany(
            "UPDATE outbox SET status = 'delivered', delivered_at = ?, lease_owner = NULL, lease_expires_at = NULL"
            " WHERE merged_into = ? AND status = 'delivering'",
            [(now, message_id) for message_id, _ in results],
        )


def mark_failed(
    db: Database,
    message: Message,
    worker_id: str,
    now: datetime,
    *,
    status: int | None,
    error: str,
    next_attempt_at: datetime | None,
    refund_attempt: bool = False,
) -> str:
    """Schedule a retry, or dead-letter the message when `next_attempt_at` is None.

    `refund_attempt`: the try does not count against the attempt budget (throttling).
    """
    new_status = "dead" if next_attempt_at is None else "pending"
    with db.transaction() as tx:
        changed = tx.execute(
            "UPDATE outbox SET status = ?, next_attempt_at = COALESCE(?, next_attempt_at), last_status = ?,"
            " last_error = ?, lease_owner = NULL, lease_expires_at = NULL, attempts = attempts - ?"
            " WHERE id = ? AND status = 'delivering' AND lease_owner = ?",
            (new_status, next_attempt_at, status, error[:2000], 1 if refund_attempt else 0, message.id, worker_id),
        )
        if changed and new_status == "dead":
            tx.execute("UPDATE outbox SET status = 'dead' WHERE merged_into = ?", (message.id,))
    return new_status


def release(db: Database, ids: Sequence[str], worker_id: str, next_attempt_at: datetime) -> None:
    """Hand claimed-but-unsent messages back (not counted as an attempt)."""
    if not ids:
        return
    with db.transaction() as tx:
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            tx.execute(
                "UPDATE outbox SET status = 'pending', attempts = attempts - 1, next_attempt_at = ?,"
                " lease_owner = NULL, lease_expires_at = NULL"
                f" WHERE lease_owner = ? AND status = 'delivering' AND id IN ({placeholders(len(chunk))})",
                (next_attempt_at, worker_id, *chunk),
            )


def renew_lease(db: Database, message_id: str, worker_id: str, until: datetime) -> None:
    with db.transaction() as tx:
        tx.execute(
            "UPDATE outbox SET lease_expires_at = ? WHERE id = ? AND lease_owner = ? AND status = 'delivering'",
            (until, message_id, worker_id),
        )


# ----------------------------------------------------------------------------- operate

def counts(db: Database, organization_id: str | None = None) -> dict[str, int]:
    """Messages by state: queued / retrying / delivering / delivered / dead, plus `folded`
    (event messages that travel inside a batch message and settle with it)."""
    where, params = ("AND organization_id = ?", (organization_id,)) if organization_id else ("", ())
    with db.transaction(readonly=True) as tx:
        rows = tx.fetchall(
            "SELECT status, CASE WHEN attempts > 0 THEN 1 ELSE 0 END AS tried, COUNT(*) AS n"
            f" FROM outbox WHERE merged_into IS NULL {where} GROUP BY status, CASE WHEN attempts > 0 THEN 1 ELSE 0 END",
            params,
        )
        folded = tx.fetchval(f"SELECT COUNT(*) AS n FROM outbox WHERE merged_into IS NOT NULL {where}", params)
    out = {"queued": 0, "retrying": 0, "delivering": 0, "delivered": 0, "dead": 0, "folded": int(folded or 0)}
    for row in rows:
        if row["status"] == "pending":
            out["retrying" if row["tried"] else "queued"] += row["n"]
        else:
            out[row["status"]] += row["n"]
    return out


def next_due(db: Database, organization_id: str | None = None) -> datetime | None:
    """When the next pending message or expiring lease falls due (simulations skip ahead to it)."""
    where, params = ("AND organization_id = ?", (organization_id,)) if organization_id else ("", ())
    with db.transaction(readonly=True) as tx:
        pending = tx.fetchval(f"SELECT MIN(next_attempt_at) AS t FROM outbox WHERE status = 'pending' {where}", params)
        leased = tx.fetchval(
            "SELECT MIN(lease_expires_at) AS t FROM outbox WHERE status = 'delivering' AND merged_into IS NULL"
            f" {where}", params)
    times = [parse_rfc3339(t) for t in (pending, leased) if t]
    return min(times) if times else None


def dead_letters(db: Database, organization_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    where, params = ("AND organization_id = ?", (organization_id,)) if organization_id else ("", ())
    with db.transaction(readonly=True) as tx:
        return tx.fetchall(
            "SELECT id, organization_id, connection_id, kind, contact_id, attempts, last_status, last_error,"
            f" created_at, next_attempt_at FROM outbox WHERE status = 'dead' AND merged_into IS NULL {where}"
            " ORDER BY created_at, id LIMIT ?",
            (*params, limit),
        )


def replay(db: Database, now: datetime, ids: Sequence[str] | None = None) -> int:
    """Send dead letters again (all of them when `ids` is None), with a fresh attempt budget.

    The message id is kept, so a message that did reach AgentBuddy before it was given up on is
    recognised there as a duplicate rather than applied twice; `last_error` is kept too, which
    also stops a replayed event from being folded into a batch under a new id.
    """
    with db.transaction() as tx:
        if ids is None:
            changed = tx.execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?"
                " WHERE status = 'dead' AND merged_into IS NULL",
                (now,),
            )
            tx.execute("UPDATE outbox SET status = 'delivering' WHERE status = 'dead' AND merged_into IS NOT NULL")
            return changed
        changed = 0
        for message_id in ids:
            changed += tx.execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?"
                " WHERE id = ? AND status = 'dead' AND merged_into IS NULL",
                (now, message_id),
            )
            tx.execute("UPDATE outbox SET status = 'delivering' WHERE merged_into = ? AND status = 'dead'", (message_id,))
        return changed
