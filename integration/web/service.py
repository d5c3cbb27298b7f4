"""Broadcast's background work in one process: delivery workers, the daily re-score, the sync
schedule — each in its own thread, all stopped by one `stop()`.

Nothing here decides *what* to do; it only keeps the loops running on the injected clock:
delivery (`outbox.delivery.DeliveryWorker.run`), scheduled sync (`sync.scheduler.Scheduler.run`) and a
re-score of every connected organization whose last re-score is older than
`rescore_interval_hours` (spec: scores update within 24 hours).

`hold()` parks every loop between two rounds until `release()`: a story played on the running
apps (`ab-harness serve`) moves the shared clock itself and syncs, re-scores and delivers at the
moments its day calls for, as a replay does; loops waking on their own in between would sync
into the story's sync (SyncBusy) and sign webhooks on a clock the fake has not caught up with.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable

from common.clock import Clock, SystemClock
from integration.agentbuddy import connections
from integration.config import IntegrationConfig
from integration.engagement.pipeline import rescore
from integration.outbox import ClaimPolicy, Doorbell
from integration.outbox.delivery import DeliveryWorker
from integration.outbox.retry_schedule import RetrySchedule
from integration.outbox.transports import StoredEndpoints, transport_for
from integration.storage import Database
from integration.sync.scheduler import Scheduler

log = logging.getLogger(__name__)


@dataclass
class ServiceOptions:
    workers: int = 2
    poll_seconds: float = 0.2  # idle delivery workers look again this often (wake-up on enqueue sooner)
    sync: bool = True
    sync_poll_seconds: float = 5.0
    rescore: bool = True
    rescore_interval_hours: float = 24.0
    rescore_poll_seconds: float = 60.0
    retry_seed: int = 0
    claim: ClaimPolicy = field(default_factory=ClaimPolicy)


def build_worker(db: Database, config: IntegrationConfig, clock: Clock, *, doorbell: Doorbell | None = None,
                 options: ServiceOptions | None = None, worker_id: str | None = None) -> DeliveryWorker:
    """A delivery worker for `config.delivery_mode` over the stored connections."""
    options = options or ServiceOptions()
    transport = transport_for(config.delivery_mode, StoredEndpoints(db, config, clock), config.http_timeout_seconds)
    kwargs = {"worker_id": worker_id} if worker_id else {}
    return DeliveryWorker(db, clock, transport, schedule=RetrySchedule(seed=options.retry_seed),
                          policy=options.claim, doorbell=doorbell, poll_interval=options.poll_seconds, **kwargs)


def rescore_due(db: Database, clock: Clock, interval_hours: float) -> list[rescore.RescoreSummary]:
    """Re-score every connected organization that is due; one failing never stops the others."""
    done = []
    for connection in connections.active_connections(db):
        org = connection.organization_id
        if not rescore.due_for_rescore(db, org, clock.now(), interval_hours):
            continue
        try:
            done.append(rescore.rescore_all(db, org, clock))
        except Exception:
            log.exception("re-score of %s failed; next attempt on the next poll", org)
    return done


class Service:
    """Start with `start()`, stop with `stop()` (or use as a context manager)."""

    def __init__(self, db: Database, config: IntegrationConfig, clock: Clock | None = None, *,
                 options: ServiceOptions | None = None, doorbell: Doorbell | None = None) -> None:
        self.db = db
        self.config = config
        self.clock = clock or SystemClock()
        self.options = options or ServiceOptions()
        self.doorbell = doorbell or Doorbell()
        self.workers = [build_worker(db, config, self.clock, doorbell=self.doorbell, options=self.options)
                        for _ in range(self.options.workers)]
        self._stop = threading.Event()
        self._held = False
        self._running_loops = 0
        self._turn = threading.Condition()
        self._interrupt = threading.Event()  # set by stop() and hold(): the loops' rounds end
        self._threads: list[threading.Thread] = []

    def start(self) -> "Service":
        for worker in self.workers:
            self._spawn(f"deliver:{worker.worker_id}", lambda w=worker: self._unless_held(w.run))
        if self.options.rescore:
            self._spawn("rescore", lambda: self._unless_held(self._rescore_loop))
        if self.options.sync:
            scheduler = Scheduler(self.db, self.config, clock=self.clock)
            self._spawn("sync", lambda: self._unless_held(
                lambda interrupt: scheduler.run(interrupt, self.options.sync_poll_seconds)))
        return self

    def hold(self, timeout: float = 30.0) -> bool:
        """Park every loop; returns once each has finished the round in hand (False: timed out)."""
        with self._turn:
            self._held = True
            self._interrupt.set()
            self.doorbell.ring()
            return self._turn.wait_for(lambda: self._running_loops == 0, timeout)

    def release(self) -> None:
        """Let the loops run again."""
        with self._turn:
            self._held = False
            if not self._stop.is_set():
                self._interrupt.clear()
            self._turn.notify_all()

    @property
    def held(self) -> bool:
        return self._held

    def _unless_held(self, loop: Callable[[threading.Event], None]) -> None:
        """Run `loop(interrupt)` whenever the service is not held, until it stops."""
        while not self._stop.is_set():
            with self._turn:
                while self._held and not self._stop.is_set():
                    self._turn.wait(0.5)
                if self._stop.is_set():
                    return
                self._running_loops += 1
            try:
                loop(self._interrupt)
            finally:
                with self._turn:
                    self._running_loops -= 1
                    self._turn.notify_all()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=self._guarded(name, target), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _guarded(self, name: str, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            while not self._stop.is_set():
                try:
                    target()
                    return
                except Exception:
                    log.exception("%s loop crashed; restarting in 1 s", name)
                    self._stop.wait(1.0)
        return run

    def _rescore_loop(self, interrupt: threading.Event) -> None:
        while not interrupt.is_set():
            rescore_due(self.db, self.clock, self.options.rescore_interval_hours)
            interrupt.wait(self.options.rescore_poll_seconds)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._interrupt.set()
        self.doorbell.ring()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def __enter__(self) -> "Service":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

