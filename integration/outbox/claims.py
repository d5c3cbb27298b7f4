"""Claiming due messages and settling them: the outbox's side of a delivery attempt.

A claim leases due messages to one worker (no other worker gets them until the lease expires),
folding a backlog into batches on the way (`coalescing`). Settling records the outcome:
delivered, scheduled for a retry, or dead-lettered; a batch's members settle with it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from integration.storage import Database, in_lists

from .coalescing import FoldPolicy, fold_backlog, merge_into_batch
from .queue import Message, message_from_row


@dataclass(frozen=True)
class ClaimPolicy(FoldPolicy):
    """How much one claim takes (and, inherited, when a backlog is folded into batches)."""

    limit: int = 100
    lease: timedelta = timedelta(seconds=30)
    scan_limit: int = 2000


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
        batches, singles = fold_backlog(rows, policy)
        claimed = [merge_into_batch(tx, members, worker_id, now, lease_until) for members in batches]
        singles = singles[: max(policy.limit - len(claimed), 0)]
        for marks, chunk in in_lists([row["id"] for row in singles]):
            tx.execute("UPDATE outbox SET status = 'delivering', attempts = attempts + 1, lease_owner = ?,"
                       f" lease_expires_at = ? WHERE id IN ({marks})", (worker_id, lease_until, *chunk))
        claimed.extend(message_from_row(row, row["attempts"] + 1) for row in singles)
        return claimed


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
        for marks, chunk in in_lists(list(ids)):
            tx.execute(
                "UPDATE outbox SET status = 'pending', attempts = attempts - 1, next_attempt_at = ?,"
                " lease_owner = NULL, lease_expires_at = NULL"
                f" WHERE lease_owner = ? AND status = 'delivering' AND id IN ({marks})",
                (next_attempt_at, worker_id, *chunk),
            )


def renew_lease(db: Database, message_id: str, worker_id: str, until: datetime) -> None:
    with db.transaction() as tx:
        tx.execute(
            "UPDATE outbox SET lease_expires_at = ? WHERE id = ? AND lease_owner = ? AND status = 'delivering'",
            (until, message_id, worker_id),
        )
