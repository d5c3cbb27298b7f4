"""Asking a sync for one more pass of a stream: where change notifications meet the sync engine.

A change notification that finds a sync already running (or AgentBuddy unavailable) cannot sync
now, so it leaves a request on the stream (`sync_state.requested_at`). The running sync checks
for one when it finishes a stream and makes another pass; otherwise the scheduler finds the
request on its next tick and syncs that organization at once. This module is the only one that
reads or writes that column.
"""
from __future__ import annotations

from common.clock import Clock
from integration.storage import Database, Tx


def request_pass(db: Database, organization_id: str, stream_name: str, clock: Clock) -> None:
    """Ask for one more (incremental) pass of a stream as soon as possible."""
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO sync_state (organization_id, entity, requested_at) VALUES (?, ?, ?)"
            " ON CONFLICT (organization_id, entity) DO UPDATE SET requested_at = excluded.requested_at",
            (organization_id, stream_name, clock.now()),
        )


def clear(tx: Tx, organization_id: str, stream_name: str) -> None:
    """A pass of the stream begins: it serves every request made so far."""
    tx.execute("UPDATE sync_state SET requested_at = NULL WHERE organization_id = ? AND entity = ?"
               " AND requested_at IS NOT NULL", (organization_id, stream_name))


def pending(tx: Tx, organization_id: str, stream_name: str) -> bool:
    """Whether a pass was requested since the stream's current pass began (it stays requested
    until a pass begins, so a run that stops making passes leaves it for the scheduler)."""
    return tx.fetchval("SELECT requested_at FROM sync_state WHERE organization_id = ? AND entity = ?",
                       (organization_id, stream_name)) is not None


def requested_organizations(db: Database) -> set[str]:
    """Organizations with at least one stream waiting for a requested pass."""
    with db.transaction(readonly=True) as tx:
        rows = tx.fetchall("SELECT DISTINCT organization_id FROM sync_state WHERE requested_at IS NOT NULL")
    return {row["organization_id"] for row in rows}
