"""One sync per organization at a time, across processes: a lease in `sync_leases`.

A run takes the lease before its first page and renews it with every page's checkpoint (in the
same transaction), so a run that died leaves a lease that simply expires; a run that is alive
never loses it. `SyncBusy` tells a second run to go away (a change notification then asks the
running one for another pass instead: `pass_requests`).
"""
from __future__ import annotations

from datetime import timedelta

from common.clock import Clock
from common.timestamps import parse_rfc3339
from integration.storage import Database, Tx

LEASE = timedelta(minutes=10)


class SyncBusy(RuntimeError):
    """Another sync of this organization holds the lease."""


def acquire(db: Database, organization_id: str, owner: str, clock: Clock) -> None:
    now = clock.now()
    with db.transaction() as tx:
        row = tx.fetchone("SELECT * FROM sync_leases WHERE organization_id = ?" + tx.lock_rows, (organization_id,))
        if row is not None and row["owner"] != owner and parse_rfc3339(row["expires_at"]) > now:
            raise SyncBusy(f"a sync of organization {organization_id!r} is already running"
                           f" (lease until {row['expires_at']})")
        tx.execute(
            "INSERT INTO sync_leases (organization_id, owner, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT (organization_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at",
            (organization_id, owner, now + LEASE),
        )


def renew(tx: Tx, organization_id: str, owner: str, clock: Clock) -> None:
    tx.execute("UPDATE sync_leases SET expires_at = ? WHERE organization_id = ? AND owner = ?",
               (clock.now() + LEASE, organization_id, owner))


def release(db: Database, organization_id: str, owner: str) -> None:
    with db.transaction() as tx:
        tx.execute("DELETE FROM sync_leases WHERE organization_id = ? AND owner = ?", (organization_id, owner))
