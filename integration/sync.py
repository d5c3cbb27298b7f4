"""The sync engine: AgentBuddy streams -> Broadcast tables, restartable page by page.

One generic loop runs every stream (`streams.STREAMS`) in referential order:

* A run starts from the stream's high-water mark (the largest `(updated_at, id)` stored) minus
  an overlap window (`sync_overlap_seconds`) as `updated_since` — records committed late at
  AgentBuddy with an earlier `updated_at` are still seen; the overlap's repeats are recognised
  as unchanged. A first run (or `full=True`) has no `updated_since` and asks for tombstones
  with `include_deleted=true`.
* Each page is applied in ONE transaction together with its checkpoint (the cursor of the next
  page and the run's high-water mark so far): existing rows are read with one query per page,
  merged by the stream's conflict rules, and written with one `executemany` upsert. A run
  killed at any point resumes from its last committed page and converges to the same tables
  as a clean run.
* Records that fail validation go to `quarantine` with their reasons (private fields
  stripped) and the run continues; a quarantined record that later validates leaves it.
* Tombstones soft-delete (`deleted_at`); nothing is ever hard-deleted by a sync. A complete
  full sweep also soft-deletes stored rows it did not see (their tombstones were purged).
* One sync per organization at a time, across processes (a lease renewed at every page). A
  change notification arriving meanwhile sets `requested_at`, and the running sync makes one
  more pass of that stream before it finishes.
"""
from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, Callable, Iterator, TypeVar

from integration.agentbuddy import connections, tokens
from integration.agentbuddy.client import AgentBuddyClient
from integration.agentbuddy.errors import NotFound, RequestRejected
from common.clock import Clock, SystemClock
from .config import IntegrationConfig
from integration.storage import Database, Tx, format_ts, placeholders, to_json
from common.timestamps import parse_rfc3339
from .mapping import map_record, public_payload
from .streams import Stream, select

LEASE = timedelta(minutes=10)
# AgentBuddy keeps tombstones 90 days; older than this since the last success, sweep everything.
TOMBSTONE_HORIZON = timedelta(days=85)
ANALYZE_AFTER = 10_000  # rows created by one run before PostgreSQL statistics are refreshed
T = TypeVar("T")
MAX_EXTRA_PASSES = 3

Progress = Callable[[str, int, int | None], None]
# A test hook: called with (stream name, page number, phase) where phase is "fetched" (before the
# page's transaction) or "committed" (after it). Raising from it simulates a crash there.
FaultHook = Callable[[str, int, str], None]


class SyncBusy(RuntimeError):
    """Another sync of this organization holds the lease."""


@dataclass
class EntitySummary:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    quarantined: int = 0
    released: int = 0  # left quarantine because they validate now
    pages: int = 0
    records: int = 0
    seconds: float = 0.0
    resumed: bool = False
    skipped: str | None = None  # why the stream was not synced (e.g. scope not granted)


@dataclass
class SyncSummary:
    organization_id: str
    run_id: str
    kind: str  # "initial" (nothing synced before), "full" (asked for) or "incremental"
    started_at: str
    finished_at: str | None = None
    seconds: float = 0.0
    entities: dict[str, EntitySummary] = field(default_factory=dict)

    @property
    def totals(self) -> EntitySummary:
        total = EntitySummary()
        for summary in self.entities.values():
            for name in ("created", "updated", "deleted", "unchanged", "quarantined", "released", "pages", "records",
                         "seconds"):
                setattr(total, name, getattr(total, name) + getattr(summary, name))
        return total

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["totals"] = asdict(self.totals)
        del data["totals"]["resumed"], data["totals"]["skipped"]
        data["records_per_second"] = round(self.totals.records / self.seconds, 1) if self.seconds else None
        return data


# ----------------------------------------------------------------------------- entry point

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


def request_sync(db: Database, organization_id: str, stream_name: str, clock: Clock) -> None:
    """Ask for one more pass of a stream (used when a notification meets a running sync)."""
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO sync_state (organization_id, entity, requested_at) VALUES (?, ?, ?)"
            " ON CONFLICT (organization_id, entity) DO UPDATE SET requested_at = excluded.requested_at",
            (organization_id, stream_name, clock.now()),
        )


# ----------------------------------------------------------------------------- one run

class _Run:
    def __init__(
        self, db: Database, config: IntegrationConfig, organization_id: str, client: AgentBuddyClient,
        clock: Clock, progress: Progress | None, fault: FaultHook | None,
    ) -> None:
        self.db = db
        self.config = config
        self.org = organization_id
        self.client = client
        self.clock = clock
        self.progress = progress
        self.fault = fault
        self.owner = uuid.uuid4().hex
        self.lock_clause = " FOR UPDATE" if db.dialect == "postgresql" else ""

    def run(self, chosen: tuple[Stream, ...], full: bool) -> SyncSummary:
        started = time.perf_counter()
        now = self.clock.now()
        summary = SyncSummary(self.org, self.owner, "full" if full else "incremental", format_ts(now))
        connection = connections.get_connection(self.db, self.org)
        if connection is None:
            raise connections.NotConnected(self.org, None)
        self._acquire_lease()
        if not full and self._all_new(chosen):
            summary.kind = "initial"
        self._record_run_start(summary)
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
            self._record_run_end(summary, error)
            self._release_lease()
        return summary

    def _all_new(self, chosen: tuple[Stream, ...]) -> bool:
        with self.db.transaction(readonly=True) as tx:
            synced = tx.fetchval(
                "SELECT count(*) AS n FROM sync_state WHERE organization_id = ? AND hwm_updated_at IS NOT NULL",
                (self.org,),
            )
        return not synced

    # -- one stream

    def _sync_stream(self, stream: Stream, full: bool, entity: EntitySummary) -> None:
        passes = 0
        while True:
            since, cursor, resumed = self._begin(stream, full and passes == 0)
            entity.resumed = entity.resumed or resumed
            try:
                self._sweep(stream, since, cursor, entity)
            except (RequestRejected, NotFound) as exc:
                if not _cursor_refused(exc):
                    raise
                # The stored cursor is no longer accepted: continue from the run's high-water mark.
                self._restart_from_hwm(stream)
                since, cursor, _ = self._begin(stream, False)
                self._sweep(stream, since, cursor, entity)
            again = self._finish(stream, entity)
            if self.db.dialect == "postgresql" and entity.created > ANALYZE_AFTER:
                with self.db.transaction() as tx:  # fresh statistics for the queries that follow
                    tx.execute(f"ANALYZE {stream.table}")
            passes += 1
            if not again or passes > MAX_EXTRA_PASSES:
                return
            full = False

    def _sweep(self, stream: Stream, since: str | None, cursor: str | None, entity: EntitySummary) -> None:
        params: dict[str, Any] = {"per_page": self.config.sync_page_size}
        if since is None:
            params["include_deleted"] = "true"
        else:
            params["updated_since"] = since.replace(".000000Z", "Z")
        done = 0
        pages = prefetched(self.client.pages(stream.path, params, cursor=cursor))
        for number, page in enumerate(pages, start=1):
            if self.fault:
                self.fault(stream.name, number, "fetched")
            self._apply_page(stream, page.data, page.next_cursor, entity, touch=since is None)
            entity.pages += 1
            done += len(page.data)
            if self.fault:
                self.fault(stream.name, number, "committed")
            if self.progress:
                self.progress(stream.name, done, page.total)

    def _apply_page(self, stream: Stream, records: list[Any], next_cursor: str | None, entity: EntitySummary,
                    touch: bool = False) -> None:
        """`touch`: in a full sweep, stamp `synced_at` on rows seen unchanged too (see `_finish`)."""
        now = format_ts(self.clock.now())
        latest: dict[str, tuple[dict[str, Any], Any]] = {}
        bad: dict[str, tuple[tuple[dict[str, str], ...], Any]] = {}
        hwm: tuple[str, str] | None = None
        for record in records:
            mapped = map_record(stream.mapping, record)
            record_id = mapped.row.get("id") or (record.get("id") if isinstance(record, dict) else None)
            if not isinstance(record_id, str) or not record_id:
                entity.quarantined += 1  # no id: nothing to key it by; counted, not stored
                continue
            updated = mapped.row.get("ab_updated_at")
            if updated is not None and (hwm is None or (updated, record_id) > hwm):
                hwm = (updated, record_id)
            if not mapped.valid:
                bad[record_id] = (mapped.errors, record)
                latest.pop(record_id, None)
                continue
            bad.pop(record_id, None)
            previous = latest.get(record_id)
            if previous is None or mapped.row["ab_updated_at"] >= previous[0]["ab_updated_at"]:
                latest[record_id] = (mapped.row, record)
        entity.records += len(records)

        with self.db.transaction() as tx:
            existing = self._existing(tx, stream, list(latest))
            writes = []
            seen_unchanged = list(bad)
            for record_id, (row, _record) in latest.items():
                old = existing.get(record_id)
                if old is not None and old["ab_updated_at"] > row["ab_updated_at"]:
                    entity.unchanged += 1  # an older version than what we hold: ignore
                    seen_unchanged.append(record_id)
                    continue
                merged = stream.merge(old, row)
                if old is not None and all(old[c] == merged[c] for c in stream.columns):
                    entity.unchanged += 1
                    seen_unchanged.append(record_id)
                    continue
                if merged["deleted_at"] is not None and (old is None or old["deleted_at"] is None):
                    entity.deleted += 1
                elif old is None:
                    entity.created += 1
                else:
                    entity.updated += 1
                merged["organization_id"] = self.org
                merged["synced_at"] = now
                writes.append(merged)
            if writes:
                _upsert(tx, stream, writes)
            if touch and seen_unchanged:
                if tx.dialect == "postgresql":  # primary-key join, as in _existing
                    tx.execute(
                        f"UPDATE {stream.table} t SET synced_at = ? FROM unnest(?::text[]) AS k(id)"
                        " WHERE t.organization_id = ? AND t.id = k.id",
                        (now, seen_unchanged, self.org),
                    )
                else:
                    tx.execute(
                        f"UPDATE {stream.table} SET synced_at = ? WHERE organization_id = ?"
                        f" AND id IN ({placeholders(len(seen_unchanged))})",
                        (now, self.org, *seen_unchanged),
                    )
            if latest:
                entity.released += tx.execute(
                    f"DELETE FROM quarantine WHERE organization_id = ? AND entity = ?"
                    f" AND record_id IN ({placeholders(len(latest))})",
                    (self.org, stream.name, *latest),
                )
            for record_id, (errors, record) in bad.items():
                self._quarantine(tx, stream, record_id, errors, record, now)
                entity.quarantined += 1
            self._checkpoint(tx, stream, next_cursor, hwm)

    def _existing(self, tx: Tx, stream: Stream, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        if tx.dialect == "postgresql":
            # A join on the primary key keeps this an index lookup per id; with an IN list the
            # planner, working from the statistics of a still-empty table, may scan the whole
            # organization per page (quadratic during an initial sync).
            rows = tx.fetchall(
                f"SELECT t.* FROM unnest(?::text[]) AS k(id)"
                f" JOIN {stream.table} t ON t.organization_id = ? AND t.id = k.id FOR UPDATE OF t",
                (list(ids), self.org),
            )
        else:
            rows = tx.fetchall(
                f"SELECT * FROM {stream.table} WHERE organization_id = ? AND id IN ({placeholders(len(ids))})",
                (self.org, *ids),
            )
        return {row["id"]: row for row in rows}

    def _quarantine(self, tx: Tx, stream: Stream, record_id: str, errors: Any, record: Any, now: str) -> None:
        tx.execute(
            "INSERT INTO quarantine (organization_id, entity, record_id, reason, payload, first_seen, last_seen,"
            " occurrences) VALUES (?, ?, ?, ?, ?, ?, ?, 1)"
            " ON CONFLICT (organization_id, entity, record_id) DO UPDATE SET reason = excluded.reason,"
            " payload = excluded.payload, last_seen = excluded.last_seen,"
            " occurrences = quarantine.occurrences + 1",
            (self.org, stream.name, record_id, to_json(list(errors)),
             to_json(public_payload(stream.mapping.schema, record)), now, now),
        )

    # -- sync_state bookkeeping (each step commits with the data it describes)

    def _begin(self, stream: Stream, full: bool) -> tuple[str | None, str | None, bool]:
        """Resume the stream's in-progress run, or start one. Returns (since, cursor, resumed)."""
        now = self.clock.now()
        with self.db.transaction() as tx:
            row = tx.fetchone(
                "SELECT * FROM sync_state WHERE organization_id = ? AND entity = ?" + self.lock_clause,
                (self.org, stream.name),
            )
            if row is not None and row["run_id"] and not (full and row["run_since"] is not None):
                tx.execute(
                    "UPDATE sync_state SET requested_at = NULL, last_run_at = ? WHERE organization_id = ? AND entity = ?",
                    (now, self.org, stream.name),
                )
                return row["run_since"], row["run_cursor"], True
            hwm = row["hwm_updated_at"] if row else None
            since = None
            last_success = row["last_success_at"] if row else None
            if last_success and parse_rfc3339(last_success) < now - TOMBSTONE_HORIZON:
                full = True  # deletions older than AgentBuddy's tombstone retention may be gone
            if not full and hwm is not None:
                since = format_ts(parse_rfc3339(hwm) - timedelta(seconds=self.config.sync_overlap_seconds))
            tx.execute(
                "INSERT INTO sync_state (organization_id, entity, run_id, run_since, run_cursor, run_hwm_updated_at,"
                " run_hwm_id, run_started_at, last_run_at, requested_at)"
                " VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, NULL)"
                " ON CONFLICT (organization_id, entity) DO UPDATE SET run_id = excluded.run_id,"
                " run_since = excluded.run_since, run_cursor = NULL,"
                " run_hwm_updated_at = excluded.run_hwm_updated_at, run_hwm_id = excluded.run_hwm_id,"
                " run_started_at = excluded.run_started_at, last_run_at = excluded.last_run_at, requested_at = NULL",
                (self.org, stream.name, self.owner, since, hwm, row["hwm_id"] if row else None, now, now),
            )
            return since, None, False

    def _checkpoint(self, tx: Tx, stream: Stream, next_cursor: str | None, hwm: tuple[str, str] | None) -> None:
        row = tx.fetchone(
            "SELECT run_hwm_updated_at, run_hwm_id FROM sync_state WHERE organization_id = ? AND entity = ?",
            (self.org, stream.name),
        )
        current = (row["run_hwm_updated_at"], row["run_hwm_id"]) if row and row["run_hwm_updated_at"] else None
        best = max(filter(None, (current, hwm)), default=None)
        tx.execute(
            "UPDATE sync_state SET run_cursor = ?, run_hwm_updated_at = ?, run_hwm_id = ?"
            " WHERE organization_id = ? AND entity = ?",
            (next_cursor, best[0] if best else None, best[1] if best else None, self.org, stream.name),
        )
        self._renew_lease(tx)

    def _restart_from_hwm(self, stream: Stream) -> None:
        with self.db.transaction() as tx:
            row = tx.fetchone(
                "SELECT run_since, run_hwm_updated_at FROM sync_state WHERE organization_id = ? AND entity = ?",
                (self.org, stream.name),
            )
            since = row["run_since"] if row else None
            if row and row["run_hwm_updated_at"]:
                since = format_ts(parse_rfc3339(row["run_hwm_updated_at"]) - timedelta(seconds=self.config.sync_overlap_seconds))
            tx.execute(
                "UPDATE sync_state SET run_since = ?, run_cursor = NULL WHERE organization_id = ? AND entity = ?",
                (since, self.org, stream.name),
            )

    def _finish(self, stream: Stream, entity: EntitySummary) -> bool:
        """Close the run: its high-water mark becomes the stream's. True if another pass is wanted.

        After a complete full sweep, a stored row the sweep did not see (its `synced_at` is older
        than the sweep's start) no longer exists at AgentBuddy, not even as a tombstone (they are
        purged after 90 days): it is soft-deleted here.
        """
        now = self.clock.now()
        with self.db.transaction() as tx:
            row = tx.fetchone(
                "SELECT * FROM sync_state WHERE organization_id = ? AND entity = ?" + self.lock_clause,
                (self.org, stream.name),
            )
            if row["run_id"] and row["run_since"] is None and row["run_started_at"]:
                entity.deleted += tx.execute(
                    f"UPDATE {stream.table} SET deleted_at = ?, synced_at = ? WHERE organization_id = ?"
                    " AND deleted_at IS NULL AND synced_at < ?",
                    (now, now, self.org, format_ts(parse_rfc3339(row["run_started_at"]))),
                )
            tx.execute(
                "UPDATE sync_state SET hwm_updated_at = ?, hwm_id = ?, run_id = NULL, run_since = NULL,"
                " run_cursor = NULL, run_hwm_updated_at = NULL, run_hwm_id = NULL, run_started_at = NULL,"
                " last_success_at = ?, last_error = NULL WHERE organization_id = ? AND entity = ?",
                (row["run_hwm_updated_at"] or row["hwm_updated_at"], row["run_hwm_id"] or row["hwm_id"],
                 now, self.org, stream.name),
            )
            return row["requested_at"] is not None

    # -- runs and leases

    def _record_run_start(self, summary: SyncSummary) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO sync_runs (organization_id, run_id, kind, status, started_at) VALUES (?, ?, ?, 'running', ?)",
                (self.org, summary.run_id, summary.kind, summary.started_at),
            )

    def _record_run_end(self, summary: SyncSummary, error: BaseException | None) -> None:
        message = None if error is None else f"{type(error).__name__}: {error}"[:2000]
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE sync_runs SET status = ?, finished_at = ?, summary = ?, error = ?"
                " WHERE organization_id = ? AND run_id = ?",
                ("failed" if error else "succeeded", summary.finished_at, json.dumps(summary.to_dict()),
                 message, self.org, summary.run_id),
            )
            if message:
                tx.execute(
                    "UPDATE sync_state SET last_error = ? WHERE organization_id = ? AND run_id IS NOT NULL",
                    (message, self.org),
                )

    def _acquire_lease(self) -> None:
        now = self.clock.now()
        with self.db.transaction() as tx:
            row = tx.fetchone("SELECT * FROM sync_leases WHERE organization_id = ?" + self.lock_clause, (self.org,))
            if row is not None and row["owner"] != self.owner and parse_rfc3339(row["expires_at"]) > now:
                raise SyncBusy(f"a sync of organization {self.org!r} is already running (lease until {row['expires_at']})")
            tx.execute(
                "INSERT INTO sync_leases (organization_id, owner, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (organization_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at",
                (self.org, self.owner, now + LEASE),
            )

    def _renew_lease(self, tx: Tx) -> None:
        tx.execute(
            "UPDATE sync_leases SET expires_at = ? WHERE organization_id = ? AND owner = ?",
            (self.clock.now() + LEASE, self.org, self.owner),
        )

    def _release_lease(self) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM sync_leases WHERE organization_id = ? AND owner = ?", (self.org, self.owner))


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def prefetched(items: Iterator[T]) -> Iterator[T]:
    """Fetch the next page in a background thread while the current one is written.

    Pages are still applied (and checkpointed) strictly in order; only the network wait overlaps
    with our own work. The source iterator runs entirely in the helper thread.
    """
    slot: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                slot.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failed(exc))

    thread = threading.Thread(target=work, name="sync-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = slot.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()


def _upsert(tx: Tx, stream: Stream, writes: list[dict[str, Any]]) -> None:
    columns = ("organization_id", *stream.columns, "synced_at")
    update = [c for c in columns
              if c not in ("organization_id", stream.primary_key) and c not in stream.protected_columns]
    tx.bulk_upsert(stream.table, columns, [tuple(w[c] for c in columns) for w in writes],
                   key=("organization_id", stream.primary_key), update=update)


def _cursor_refused(exc: RequestRejected | NotFound) -> bool:
    """AgentBuddy no longer takes the stored cursor: 404 `invalid_cursor` (not a page it issued),
    or 400 naming `query.cursor` (no longer its cursor grammar)."""
    return exc.code == "invalid_cursor" or any(
        isinstance(error, dict) and error.get("field") == "query.cursor" for error in (exc.errors or []))
