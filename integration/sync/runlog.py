"""The run log (`sync_runs`): one row per sync run — kind, status, timing, summary, error — for
the settings page and for whoever asks "did last night's sync work?"."""
from __future__ import annotations

import json
from typing import Any

from integration.storage import Database, from_json

from .summary import SyncSummary


def started(db: Database, summary: SyncSummary) -> None:
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO sync_runs (organization_id, run_id, kind, status, started_at) VALUES (?, ?, ?, 'running', ?)",
            (summary.organization_id, summary.run_id, summary.kind, summary.started_at),
        )


def finished(db: Database, summary: SyncSummary, error: BaseException | None) -> None:
    """Close the run's row; a failure is also noted on the streams it left unfinished."""
    message = None if error is None else f"{type(error).__name__}: {error}"[:2000]
    with db.transaction() as tx:
        tx.execute(
            "UPDATE sync_runs SET status = ?, finished_at = ?, summary = ?, error = ?"
            " WHERE organization_id = ? AND run_id = ?",
            ("failed" if error else "succeeded", summary.finished_at, json.dumps(summary.to_dict()),
             message, summary.organization_id, summary.run_id),
        )
        if message:
            tx.execute("UPDATE sync_state SET last_error = ? WHERE organization_id = ? AND run_id IS NOT NULL",
                       (message, summary.organization_id))


def recent(db: Database, organization_id: str, limit: int = 5) -> list[dict[str, Any]]:
    """The newest runs first, their summaries decoded."""
    with db.transaction(readonly=True) as tx:
        rows = tx.fetchall("SELECT * FROM sync_runs WHERE organization_id = ? ORDER BY started_at DESC, run_id DESC"
                           " LIMIT ?", (organization_id, limit))
    for row in rows:
        row["summary"] = from_json(row.get("summary"), None)
    return rows
