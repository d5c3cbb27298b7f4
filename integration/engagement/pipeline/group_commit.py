"""Group commit for provider webhooks: concurrent webhooks share one transaction.

One transaction per webhook made PostgreSQL the bottleneck of a campaign burst (~580
webhooks/s): every webhook paid its own round trips for the activity, scores, metrics and
outbox, and its own commit. Here webhooks that arrive while a transaction is committing wait
for it, and the next one takes them all (up to `MAX_BATCH`) through the batched pipeline
(`ingest._ingest` already folds many events into one pass per contact). No thread and no timer:
a lone webhook is committed at once, exactly as before; batching only happens when webhooks
queue up behind a commit, i.e. exactly when it pays.

The guarantee is unchanged: a webhook is answered only after the transaction holding its event
(and the outbox rows that will carry it to AgentBuddy) has committed. If a batch fails, each of
its webhooks is retried alone in its own transaction, so one bad webhook fails only itself.
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable

from integration.storage import Database, Tx

MAX_BATCH = 500


@dataclass
class Pending:
    """One verified webhook waiting for its transaction; `outcome` is set once it committed."""

    work: Any
    done: bool = False
    outcome: Any = None
    error: BaseException | None = None


# (tx, [pending]) -> sets each pending's `outcome`; returns what to do after the commit
BatchFn = Callable[[Tx, list[Pending]], Callable[[], None] | None]


class GroupCommit:
    """Leader/follower batching of transactions over one database (see the module docstring)."""

    def __init__(self, db: Database, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[Pending] = []
        self._leading = False
        self.batches = 0  # transactions committed (for benchmarks and tests)
        self.largest = 0

    def run(self, work: Any, batch: BatchFn) -> Any:
        """Commit `work` through `batch` (with whatever else is waiting); its outcome once durable."""
        item = Pending(work)
        if self.db.in_transaction():  # inside a caller's transaction: join it, alone
            after = batch(self.db.current_tx(), [item])
            if after is not None:
                after()
            return _result(item)
        with self._cond:
            self._queue.append(item)
            while self._leading and not item.done:
                self._cond.wait()
            if item.done:  # a leader took it into its batch and committed it
                return _result(item)
            # nobody leads and it is still queued: lead a batch that starts with it
            self._leading = True
            self._queue.remove(item)
            taken = [item] + self._queue[:self.max_batch - 1]
            del self._queue[:self.max_batch - 1]
        try:
            self._commit(taken, batch)
        finally:
            with self._cond:
                self._leading = False
                self._cond.notify_all()
        return _result(item)

    def _commit(self, taken: list[Pending], batch: BatchFn) -> None:
        try:
            with self.db.transaction() as tx:
                after = batch(tx, taken)
        except Exception as error:  # noqa: BLE001 - handed to the webhooks' own requests below
            if len(taken) == 1:
                taken[0].error, taken[0].done = error, True
                return
            for item in taken:  # each alone, so one bad webhook fails only itself
                item.outcome = None
                try:
                    with self.db.transaction() as tx:
                        single_after = batch(tx, [item])
                    if single_after is not None:
                        single_after()
                except Exception as single_error:  # noqa: BLE001 - handed to that webhook's request
                    item.error = single_error
                item.done = True
            return
        self.batches += 1
        self.largest = max(self.largest, len(taken))
        for item in taken:
            item.done = True
        if after is not None:
            after()


def _result(item: Pending) -> Any:
    if item.error is not None:
        raise item.error
    return item.outcome


_COMMITTERS: "weakref.WeakKeyDictionary[Database, GroupCommit]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def committer_for(db: Database) -> GroupCommit:
    """The one group committer of a database handle (every webhook into it queues there)."""
    with _LOCK:
        found = _COMMITTERS.get(db)
        if found is None:
            found = _COMMITTERS[db] = GroupCommit(db)
        return found
