"""The transactional outbox: messages for AgentBuddy, written with the change they announce.

Ingest and the re-score write outbox rows inside their own transaction (so a stored event and
its outgoing message exist together or not at all); delivery workers drain it (`claims`,
`delivery`). A row's `id` is the Standard Webhooks `webhook-id` (Option A) or the
`Idempotency-Key` (Option B) and never changes across retries, so AgentBuddy can apply each
message exactly once even though the wire is at-least-once.

States: ``pending`` (waiting for ``next_attempt_at``) -> ``delivering`` (leased by one worker
until ``lease_expires_at``) -> ``delivered`` or back to ``pending`` for a retry, or ``dead``
(dead letter: gave up, replayable). An expired lease is claimable again: that is how a crashed
worker's messages get delivered by another.

Payloads are stored option-neutral (a 5.1 event, a 5.3 propensity, an Appendix B `data`);
`wire` renders them. Whether a new message merges with a waiting one is `coalescing`'s call.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from integration.storage import Tx, format_ts, from_json, in_lists, to_json

KINDS = ("event", "propensity", "batch")
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
    for marks, chunk in in_lists(unique):
        taken.update(r["id"] for r in tx.fetchall(f"SELECT id FROM outbox WHERE id IN ({marks})", chunk))
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


def message_from_row(row: dict[str, Any], attempts: int) -> Message:
    return Message(
        row["id"], row["organization_id"], row["connection_id"], row["kind"], row["contact_id"],
        from_json(row["payload"]), attempts, row["created_at"],
    )



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
