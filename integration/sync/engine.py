"""The sync engine: AgentBuddy streams -> Broadcast tables, restartable page by page.

One generic loop runs every stream (`streams.STREAMS`) in referential order. Per stream:

1. `checkpoints.begin` resumes an unfinished run or starts one from the high-water mark;
2. the pages of `GET <path>?updated_since=…` (or, in a full sweep, `include_deleted=true`) are
   fetched one ahead (`prefetch`) and each is applied with its checkpoint in one transaction
   (`pages`); a cursor AgentBuddy no longer accepts restarts the run from its mark;
3. `checkpoints.finish` promotes the run's mark; after a complete full sweep, rows it did not
   see are soft-deleted (their tombstones were purged);
4. if a change notification asked for another pass meanwhile (`pass_requests`), the stream runs again.

Around the streams: one run per organization at a time (`leases`, renewed with every
checkpoint) and a row in the run log (`runlog`). Records that fail validation are quarantined
and the run goes on.
"""
from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any, Callable

from common.clock import Clock, SystemClock
from integration.agentbuddy import connections, tokens
from integration.agentbuddy.client import AgentBuddyClient
from integration.agentbuddy.errors import NotConnected, NotFound, RequestRejected
from integration.config import IntegrationConfig
from integration.storage import Database, Tx, format_ts

from . import checkpoints, leases, pages, runlog
from .checkpoints import Mark
from .prefetch import prefetched
from .streams import Stream, select
from .summary import EntitySummary, SyncSummary

ANALYZE_AFTER = 10_000  # rows created by one run before PostgreSQL statistics are refreshed
MAX_EXTRA_PASSES = 3

Progress = Callable[[str, int, int | None], None]
# A test hook: called with (stream name, page number, phase) where phase is "fetched" (before the
# page's transaction) or "committed" (after it). Raising from it simulates a crash there.
FaultHook = Callable[[str, int, str], None]


def sync(
    db: Database,
    config: IntegrationConfig,
    organization_id: str,
    *,
    full: bool = False,
    entities: list[str] | tuple[str, ...] | None = None,
    client: AgentBuddyClient | None = None,
    clock: Clock | None = None,
    progress: Progress | None = None,
    fault: FaultHook | None = None,
) -> SyncSummary:
    """Sync the organization's AgentBuddy account into Broadcast's tables."""
    clock = clock or SystemClock()
    own_client = client is None
    client = client or tokens.client_for(db, config, organization_id, clock=clock)
    try:
        return _Run(db, config, organization_id, client, clock, progress, fault).run(select(entities), full)
    finally:
        if own_client:
            client.close()


class _Run:
    """One run: the streams in order, each in passes of pages."""

    def __init__(self, db: Database, config: IntegrationConfig, organization_id: str, client: AgentBuddyClient,
                 clock: Clock, progress: Progress | None, fault: FaultHook | None) -> None:
        self.db = db
        self.config = config
        self.org = organization_id
        self.client = client
        self.clock = clock
        self.progress = progress
        self.fault = fault
        self.owner = uuid.uuid4().hex
        self.overlap = timedelta(seconds=config.sync_overlap_seconds)

    def run(self, chosen: tuple[Stream, ...], full: bool) -> SyncSummary:
        started = time.perf_counter()
        summary = SyncSummary(self.org, self.owner, "full" if full else "incremental", format_ts(self.clock.now()))
        connection = connections.get_connection(self.db, self.org)
        if connection is None:
            raise NotConnected(self.org, None)
        leases.acquire(self.db, self.org, self.owner, self.clock)
        if not full and checkpoints.never_synced(self.db, self.org):
            summary.kind = "initial"
        runlog.started(self.db, summary)
        error: BaseException | None = None
        try:
            for stream in chosen:
                entity = summary.entities.setdefault(stream.name, EntitySummary())
                if connection.scopes and stream.scope not in connection.scopes:
                    entity.skipped = f"scope {stream.scope} not granted"
                    continue
                started_stream = time.perf_counter()
                try:
                    self._sync_stream(stream, full, entity)
                finally:
                    entity.seconds = round(time.perf_counter() - started_stream, 3)
        except BaseException as exc:
            error = exc
            raise
        finally:
            summary.seconds = round(time.perf_counter() - started, 3)
            summary.finished_at = format_ts(self.clock.now())
            runlog.finished(self.db, summary, error)
            leases.release(self.db, self.org, self.owner)
        return summary

    def _sync_stream(self, stream: Stream, full: bool, entity: EntitySummary) -> None:
        for passes in range(MAX_EXTRA_PASSES + 1):
            start = self._begin(stream, full and passes == 0)
            entity.resumed = entity.resumed or start.resumed
            try:
                self._sweep(stream, start, entity)
            except (RequestRejected, NotFound) as exc:
                if not _cursor_refused(exc):
                    raise
                # The stored cursor is no longer accepted: continue from the run's high-water mark.
                checkpoints.restart_from_mark(self.db, self.org, stream.name, self.overlap)
                self._sweep(stream, self._begin(stream, False), entity)
            again = self._finish(stream, entity)
            if self.db.dialect == "postgresql" and entity.created > ANALYZE_AFTER:
                with self.db.transaction() as tx:  # fresh statistics for the queries that follow
                    tx.execute(f"ANALYZE {stream.table}")
            if not again:
                return

    def _begin(self, stream: Stream, full: bool) -> checkpoints.Start:
        return checkpoints.begin(self.db, self.org, stream.name, self.owner, full=full, now=self.clock.now(),
                                 overlap=self.overlap)

    def _sweep(self, stream: Stream, start: checkpoints.Start, entity: EntitySummary) -> None:
        params: dict[str, Any] = {"per_page": self.config.sync_page_size}
        if start.since is None:
            params["include_deleted"] = "true"
        else:
            params["updated_since"] = start.since.replace(".000000Z", "Z")
        done = 0
        for number, page in enumerate(prefetched(self.client.pages(stream.path, params, cursor=start.cursor)),
                                      start=1):
            if self.fault:
                self.fault(stream.name, number, "fetched")
            pages.apply_page(self.db, self.org, stream, page.data, format_ts(self.clock.now()), entity,
                             self._checkpoint(stream, page.next_cursor), touch=start.since is None)
            entity.pages += 1
            done += len(page.data)
            if self.fault:
                self.fault(stream.name, number, "committed")
            if self.progress:
                self.progress(stream.name, done, page.total)

    def _checkpoint(self, stream: Stream, next_cursor: str | None) -> pages.Checkpoint:
        def write(tx: Tx, mark: Mark | None) -> None:
            checkpoints.save(tx, self.org, stream.name, next_cursor, mark)
            leases.renew(tx, self.org, self.owner, self.clock)
        return write

    def _finish(self, stream: Stream, entity: EntitySummary) -> bool:
        """Close the run of the stream; True if another pass was asked for."""
        now = self.clock.now()
        with self.db.transaction() as tx:
            finished = checkpoints.finish(tx, self.org, stream.name, now)
            if finished.full_sweep_started_at is not None:
                entity.deleted += pages.soft_delete_unseen(tx, self.org, stream, finished.full_sweep_started_at,
                                                           format_ts(now))
        return finished.requested


def _cursor_refused(exc: RequestRejected | NotFound) -> bool:
    """AgentBuddy no longer takes the stored cursor: 404 `invalid_cursor` (not a page it issued),
    or 400 naming `query.cursor` (no longer its cursor grammar)."""
    return exc.code == "invalid_cursor" or any(
        isinstance(error, dict) and error.get("field") == "query.cursor" for error in (exc.errors or []))
