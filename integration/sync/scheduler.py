"""Scheduled sync: every active connection is synced incrementally once per interval.

The spec asks for changes to show up within 15–60 minutes; `schedule_interval_seconds`
(default 15 min) is the promise. Time comes from the injected clock, so a simulation can run
a day of schedule in a second: `tick()` syncs whatever is due *now* and returns; `run()` calls
it until told to stop. A stream a change notification could not sync right away
(`pass_requests`) is due at once. One organization failing never stops the others;
`needs_reauth` and `disconnected` connections are skipped until someone reconnects.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from common.clock import Clock, SystemClock
from integration.agentbuddy import connections
from integration.config import IntegrationConfig
from integration.storage import Database

from . import checkpoints, pass_requests
from .engine import sync as run_sync
from .leases import SyncBusy
from .summary import SyncSummary


@dataclass(frozen=True)
class TickResult:
    organization_id: str
    ok: bool
    detail: str
    summary: dict[str, Any] | None = None


SyncFunction = Callable[..., SyncSummary]


class Scheduler:
    def __init__(
        self,
        db: Database,
        config: IntegrationConfig,
        *,
        clock: Clock | None = None,
        sync: SyncFunction = run_sync,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock or SystemClock()
        self._sync = sync
        self.interval = timedelta(seconds=config.schedule_interval_seconds)

    def due(self) -> list[str]:
        """Active organizations whose least recently run stream is older than the interval, that
        never ran, or that have a requested pass."""
        now = self.clock.now()
        oldest = checkpoints.oldest_runs(self.db)
        asked = pass_requests.requested_organizations(self.db)
        return [c.organization_id for c in connections.list_connections(self.db, connections.ACTIVE)
                if c.organization_id in asked or self._is_due(oldest.get(c.organization_id), now)]

    def _is_due(self, oldest: datetime | None, now: datetime) -> bool:
        return oldest is None or oldest + self.interval <= now

    def tick(self) -> list[TickResult]:
        results = []
        for organization_id in self.due():
            try:
                summary = self._sync(self.db, self.config, organization_id, clock=self.clock)
            except SyncBusy as exc:
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
