"""Where the cursor is checkpointed: each stream's sync state, one row per organization and stream.

Like the Singer SDK's state helpers, the bookkeeping lives here, apart from the loop:

* the high-water mark (`hwm_updated_at`, `hwm_id`): the largest `(updated_at, id)` a completed
  run stored. The next run asks AgentBuddy for `updated_since` = that mark minus an overlap
  window (`sync_overlap_seconds`), so records committed late with an earlier `updated_at` are
  still seen; a first run, a `full` one, or one after a pause longer than AgentBuddy keeps
  tombstones has no `updated_since` and sweeps everything;
* while a run is in progress: its `updated_since` (`run_since`), the cursor of its next page
  (`run_cursor`) and its own high-water mark so far (`run_hwm_*`). `save()` writes them in the
  same transaction as the page they describe, so a run killed at any point resumes (`begin()`)
  from its last committed page;
* `finish()` promotes the run's mark to the stream's and clears the run.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from common.timestamps import parse_rfc3339
from integration.storage import Database, Tx, format_ts

from . import pass_requests

# AgentBuddy keeps tombstones 90 days; older than this since the last success, sweep everything.
TOMBSTONE_HORIZON = timedelta(days=85)

Mark = tuple[str, str]  # (updated_at as stored, id)


@dataclass(frozen=True)
class Start:
    since: str | None  # `updated_since` of the run (None: a full sweep with tombstones)
    cursor: str | None  # where to continue (None: from the first page)
    resumed: bool


@dataclass(frozen=True)
class Finished:
    full_sweep_started_at: str | None  # a complete full sweep's start (rows not seen since are gone)
    requested: bool  # another pass was asked for meanwhile


def never_synced(db: Database, organization_id: str) -> bool:
    with db.transaction(readonly=True) as tx:
        return not tx.fetchval(
            "SELECT count(*) AS n FROM sync_state WHERE organization_id = ? AND hwm_updated_at IS NOT NULL",
            (organization_id,),
        )


def begin(db: Database, organization_id: str, stream: str, run_id: str, *, full: bool, now: datetime,
          overlap: timedelta) -> Start:
    """Resume the stream's unfinished run, or start a new one from the high-water mark."""
    with db.transaction() as tx:
        row = tx.fetchone("SELECT * FROM sync_state WHERE organization_id = ? AND entity = ?" + tx.lock_rows,
                          (organization_id, stream))
        pass_requests.clear(tx, organization_id, stream)
        if row is not None and row["run_id"] and not (full and row["run_since"] is not None):
            tx.execute("UPDATE sync_state SET last_run_at = ? WHERE organization_id = ? AND entity = ?",
                       (now, organization_id, stream))
            return Start(row["run_since"], row["run_cursor"], True)
        hwm = row["hwm_updated_at"] if row else None
        last_success = row["last_success_at"] if row else None
        if last_success and parse_rfc3339(last_success) < now - TOMBSTONE_HORIZON:
            full = True  # deletions older than AgentBuddy's tombstone retention may be gone
        since = None if full or hwm is None else format_ts(parse_rfc3339(hwm) - overlap)
        tx.execute(
            "INSERT INTO sync_state (organization_id, entity, run_id, run_since, run_cursor, run_hwm_updated_at,"
            " run_hwm_id, run_started_at, last_run_at) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?)"
            " ON CONFLICT (organization_id, entity) DO UPDATE SET run_id = excluded.run_id,"
            " run_since = excluded.run_since, run_cursor = NULL,"
            " run_hwm_updated_at = excluded.run_hwm_updated_at, run_hwm_id = excluded.run_hwm_id,"
            " run_started_at = excluded.run_started_at, last_run_at = excluded.last_run_at",
            (organization_id, stream, run_id, since, hwm, row["hwm_id"] if row else None, now, now),
        )
        return Start(since, None, False)


def save(tx: Tx, organization_id: str, stream: str, next_cursor: str | None, page_mark: Mark | None) -> None:
    """The checkpoint of one page, in the page's own transaction: the cursor of the next page and
    the run's high-water mark so far (never lowered by a page of older records)."""
    row = tx.fetchone("SELECT run_hwm_updated_at, run_hwm_id FROM sync_state WHERE organization_id = ? AND entity = ?",
                      (organization_id, stream))
    current = (row["run_hwm_updated_at"], row["run_hwm_id"]) if row and row["run_hwm_updated_at"] else None
    best = max(filter(None, (current, page_mark)), default=None)
    tx.execute(
        "UPDATE sync_state SET run_cursor = ?, run_hwm_updated_at = ?, run_hwm_id = ?"
        " WHERE organization_id = ? AND entity = ?",
        (next_cursor, best[0] if best else None, best[1] if best else None, organization_id, stream),
    )


def restart_from_mark(db: Database, organization_id: str, stream: str, overlap: timedelta) -> None:
    """AgentBuddy refused the stored cursor: continue from the run's high-water mark instead."""
    with db.transaction() as tx:
        row = tx.fetchone("SELECT run_since, run_hwm_updated_at FROM sync_state WHERE organization_id = ? AND entity = ?",
                          (organization_id, stream))
        since = row["run_since"] if row else None
        if row and row["run_hwm_updated_at"]:
            since = format_ts(parse_rfc3339(row["run_hwm_updated_at"]) - overlap)
        tx.execute("UPDATE sync_state SET run_since = ?, run_cursor = NULL WHERE organization_id = ? AND entity = ?",
                   (since, organization_id, stream))


def finish(tx: Tx, organization_id: str, stream: str, now: datetime) -> Finished:
    """Close the run: its high-water mark becomes the stream's."""
    row = tx.fetchone("SELECT * FROM sync_state WHERE organization_id = ? AND entity = ?" + tx.lock_rows,
                      (organization_id, stream))
    swept = row["run_started_at"] if row["run_id"] and row["run_since"] is None else None
    tx.execute(
        "UPDATE sync_state SET hwm_updated_at = ?, hwm_id = ?, run_id = NULL, run_since = NULL,"
        " run_cursor = NULL, run_hwm_updated_at = NULL, run_hwm_id = NULL, run_started_at = NULL,"
        " last_success_at = ?, last_error = NULL WHERE organization_id = ? AND entity = ?",
        (row["run_hwm_updated_at"] or row["hwm_updated_at"], row["run_hwm_id"] or row["hwm_id"],
         now, organization_id, stream),
    )
    return Finished(swept and format_ts(parse_rfc3339(swept)), pass_requests.pending(tx, organization_id, stream))


def oldest_runs(db: Database) -> dict[str, datetime | None]:
    """Per organization with sync state: when its least recently run stream last ran (None: one
    never has)."""
    with db.transaction(readonly=True) as tx:
        rows = tx.fetchall("SELECT organization_id, MIN(last_run_at) AS oldest FROM sync_state"
                           " GROUP BY organization_id")
    return {row["organization_id"]: parse_rfc3339(row["oldest"]) if row["oldest"] else None for row in rows}
