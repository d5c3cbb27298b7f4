"""The operator's view of the outbox: how much is queued, retrying, delivered or dead; when the
next message falls due; the dead letters, and sending them again."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from common.timestamps import parse_rfc3339
from integration.storage import Database


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
