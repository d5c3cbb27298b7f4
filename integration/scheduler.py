"""Scheduled sync: every active connection is synced incrementally once per interval.

The spec asks for changes to show up within 15–60 minutes; `schedule_interval_seconds`
(default 15 min) is the promise. Time comes from the injected clock, so a simulation can run
a day of schedule in a second: `tick()` syncs whatever is due *now* and returns; `run()` calls
it until told to stop. A stream a change notification could not sync right away
(`sync_state.requested_at`) is due at once. One organization failing never stops the others;
`needs_reauth` and `disconnected` connections are skipped until someone reconnects.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from integration.agentbuddy import connections
from integration import sync as sync_engine
from common.clock import Clock, SystemClock
from .config import IntegrationConfig
from integration.storage import Database
from common.timestamps import parse_rfc3339


@dataclass(frozen=True)
class TickResult:
    organization_id: str
    ok: bool
    detail: str
    summary: dict[str, Any] | None = None


SyncFunction = Callable[..., sync_engine.SyncSummary]


class Scheduler:
    def __init__(
        self,
        db: Database,
        config: IntegrationConfig,
        *,
        clock: Clock | None = None,
        sync: SyncFunction = sync_engine.sync,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock or SystemClock()
        self._sync = sync
        self.interval = timedelta(seconds=config.schedule_interval_seconds)

    def due(self) -> list[str]:
        """Active organizations whose last run is older than the interval, or with a request."""
        now = self.clock.now()
        with self.db.transaction(readonly=True) as tx:
            rows = tx.fetchall(
                "SELECT c.organization_id, MIN(s.last_run_at) AS oldest, MAX(s.requested_at) AS requested,"
                " COUNT(s.entity) AS streams"
                " FROM connections c LEFT JOIN sync_state s ON s.organization_id = c.organization_id"
                " WHERE c.status = ? GROUP BY c.organization_id ORDER BY c.organization_id",
                (connections.ACTIVE,),
            )
        return [row["organization_id"] for row in rows if self._is_due(row, now)]

    def _is_due(self, row: dict[str, Any], now: datetime) -> bool:
        if row["requested"] is not None or not row["streams"] or row["oldest"] is None:
            return True
        return parse_rfc3339(row["oldest"]) + self.interval <= now

    def tick(self) -> list[TickResult]:
        results = []
        for organization_id in self.due():
            try:
                summary = self._sync(self.db, self.config, organization_id, clock=self.clock)
            except sync_engine.SyncBusy as exc:
                results.append(TickResult(organization_id, True, f"skipped: {exc}"))
            except Exception as exc:  # one tenant's failure must not stop the others
                results.append(TickResult(organization_id, False, f"{type(exc).__name__}: {exc}"))
            else:
                results.append(TickResult(organization_id, True, "synced", summary.to_dict()))
        return results

    def run(self, stop: threading.Event, poll_seconds: float = 5.0,
            on_tick: Callable[[list[TickResult]], None] | None = None) -> None:
        """Tick until `stop` is set; `poll_seconds` is wall time between checks."""
        while not stop.is_set():
            results = self.tick()
            if on_tick and results:
                on_tick(results)
            stop.wait(poll_seconds)
