"""Records that failed validation, kept (private fields stripped) with their reasons.

The run goes on without them; a quarantined record that later validates is released (removed
from here) when it is stored. The settings page lists what is held.
"""
from __future__ import annotations

from typing import Any, Iterable

from integration.storage import Database, Tx, in_lists, to_json

from .mapping import public_payload
from .streams import Stream


def hold(tx: Tx, organization_id: str, stream: Stream, record_id: str, errors: Iterable[dict[str, str]],
         record: Any, now: str) -> None:
    tx.execute(
        "INSERT INTO quarantine (organization_id, entity, record_id, reason, payload, first_seen, last_seen,"
        " occurrences) VALUES (?, ?, ?, ?, ?, ?, ?, 1)"
        " ON CONFLICT (organization_id, entity, record_id) DO UPDATE SET reason = excluded.reason,"
        " payload = excluded.payload, last_seen = excluded.last_seen,"
        " occurrences = quarantine.occurrences + 1",
        (organization_id, stream.name, record_id, to_json(list(errors)),
         to_json(public_payload(stream.mapping.schema, record)), now, now),
    )


def release(tx: Tx, organization_id: str, stream: Stream, record_ids: list[str]) -> int:
    """Remove these records (stored valid now) from quarantine; returns how many were held."""
    released = 0
    for marks, ids in in_lists(record_ids):
        released += tx.execute(f"DELETE FROM quarantine WHERE organization_id = ? AND entity = ?"
                               f" AND record_id IN ({marks})", (organization_id, stream.name, *ids))
    return released


def held(db: Database, organization_id: str, limit: int = 50) -> list[dict[str, Any]]:
    with db.transaction(readonly=True) as tx:
        return tx.fetchall("SELECT entity, record_id, reason, first_seen, last_seen, occurrences FROM quarantine"
                           " WHERE organization_id = ? ORDER BY last_seen DESC, record_id LIMIT ?",
                           (organization_id, limit))
