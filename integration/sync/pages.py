"""One page of records into one stream's table, in one transaction with its checkpoint.

The page's records are mapped and validated (`mapping`); when a record appears twice in a
page the newest version counts. Existing rows are read with one query per page, merged by the
stream's conflict rules (`Stream.merge`), and written with one bulk upsert; rows that did not
change are not written. Invalid records go to quarantine, records that validate again leave it,
and the caller's `checkpoint(tx, mark)` is written last, in the same transaction — so what is
stored and where the run will resume can never disagree.
"""
from __future__ import annotations

from typing import Any, Callable

from integration.storage import Database, Tx, in_lists

from . import quarantine
from .checkpoints import Mark
from .mapping import map_record
from .streams import Stream
from .summary import EntitySummary

Checkpoint = Callable[[Tx, Mark | None], None]


def apply_page(db: Database, organization_id: str, stream: Stream, records: list[Any], now: str,
               entity: EntitySummary, checkpoint: Checkpoint, *, touch: bool = False) -> None:
    """`touch`: in a full sweep, stamp `synced_at` on rows seen unchanged too (see
    `soft_delete_unseen`)."""
    latest, bad, mark = _latest_versions(stream, records, entity)
    entity.records += len(records)
    with db.transaction() as tx:
        existing = _existing(tx, organization_id, stream, list(latest))
        writes = []
        seen_unchanged = list(bad)
        for record_id, row in latest.items():
            old = existing.get(record_id)
            if old is not None and old["ab_updated_at"] > row["ab_updated_at"]:
                entity.unchanged += 1  # an older version than what we hold: ignore
                seen_unchanged.append(record_id)
                continue
            merged = stream.merge(old, row)
            if old is not None and stream.values(old) == stream.values(merged):
                entity.unchanged += 1
                seen_unchanged.append(record_id)
                continue
            if merged["deleted_at"] is not None and (old is None or old["deleted_at"] is None):
                entity.deleted += 1
            elif old is None:
                entity.created += 1
            else:
                entity.updated += 1
            merged["organization_id"] = organization_id
            merged["synced_at"] = now
            writes.append(merged)
        _upsert(tx, stream, writes)
        if touch and seen_unchanged:
            _touch(tx, organization_id, stream, seen_unchanged, now)
        entity.released += quarantine.release(tx, organization_id, stream, list(latest))
        for record_id, (errors, record) in bad.items():
            quarantine.hold(tx, organization_id, stream, record_id, errors, record, now)
            entity.quarantined += 1
        checkpoint(tx, mark)


def _latest_versions(stream: Stream, records: list[Any], entity: EntitySummary) -> tuple[
        dict[str, dict[str, Any]], dict[str, tuple[tuple[dict[str, str], ...], Any]], Mark | None]:
    """The page mapped: the newest valid row per id, the invalid records, the page's mark."""
    latest: dict[str, dict[str, Any]] = {}
    bad: dict[str, tuple[tuple[dict[str, str], ...], Any]] = {}
    mark: Mark | None = None
    for record in records:
        mapped = map_record(stream.mapping, record)
        record_id = mapped.row.get("id") or (record.get("id") if isinstance(record, dict) else None)
        if not isinstance(record_id, str) or not record_id:
            entity.quarantined += 1  # no id: nothing to key it by; counted, not stored
            continue
        updated = mapped.row.get("ab_updated_at")
        if updated is not None and (mark is None or (updated, record_id) > mark):
            mark = (updated, record_id)
        if not mapped.valid:
            bad[record_id] = (mapped.errors, record)
            latest.pop(record_id, None)
            continue
        bad.pop(record_id, None)
        previous = latest.get(record_id)
        if previous is None or mapped.row["ab_updated_at"] >= previous["ab_updated_at"]:
            latest[record_id] = mapped.row
    return latest, bad, mark


def _existing(tx: Tx, organization_id: str, stream: Stream, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    if tx.dialect == "postgresql":
        # A join on the primary key keeps this an index lookup per id; with an IN list the
        # planner, working from the statistics of a still-empty table, may scan the whole
        # organization per page (quadratic during an initial sync).
        rows = tx.fetchall(
            f"SELECT t.* FROM unnest(?::text[]) AS k(id)"
            f" JOIN {stream.table} t ON t.organization_id = ? AND t.id = k.id FOR UPDATE OF t",
            (ids, organization_id),
        )
    else:
        rows = []
        for marks, chunk in in_lists(ids):
            rows += tx.fetchall(f"SELECT * FROM {stream.table} WHERE organization_id = ? AND id IN ({marks})",
                                (organization_id, *chunk))
    return {row["id"]: row for row in rows}


def _upsert(tx: Tx, stream: Stream, writes: list[dict[str, Any]]) -> None:
    columns = ("organization_id", *stream.columns, "synced_at")
    update = [c for c in columns
              if c not in ("organization_id", stream.primary_key) and c not in stream.protected_columns]
    tx.bulk_upsert(stream.table, columns, [tuple(w[c] for c in columns) for w in writes],
                   key=("organization_id", stream.primary_key), update=update)


def _touch(tx: Tx, organization_id: str, stream: Stream, ids: list[str], now: str) -> None:
    if tx.dialect == "postgresql":  # primary-key join, as in _existing
        tx.execute(f"UPDATE {stream.table} t SET synced_at = ? FROM unnest(?::text[]) AS k(id)"
                   " WHERE t.organization_id = ? AND t.id = k.id", (now, ids, organization_id))
        return
    for marks, chunk in in_lists(ids):
        tx.execute(f"UPDATE {stream.table} SET synced_at = ? WHERE organization_id = ? AND id IN ({marks})",
                   (now, organization_id, *chunk))


def soft_delete_unseen(tx: Tx, organization_id: str, stream: Stream, swept_since: str, now: str) -> int:
    """After a complete full sweep, a stored row the sweep did not see (its `synced_at` is older
    than the sweep's start) no longer exists at AgentBuddy, not even as a tombstone (they are
    purged after 90 days): it is soft-deleted. Nothing is ever hard-deleted by a sync."""
    return tx.execute(
        f"UPDATE {stream.table} SET deleted_at = ?, synced_at = ? WHERE organization_id = ?"
        " AND deleted_at IS NULL AND synced_at < ?",
        (now, now, organization_id, swept_since),
    )
