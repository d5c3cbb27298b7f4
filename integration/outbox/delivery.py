"""Delivery workers: drain the outbox to AgentBuddy, on time, once, and politely.

A worker claims a few due messages (a lease; see `claims`), sends each one (`transports`), and
settles it: delivered, retried later on the Svix-like schedule (`retry_schedule`), or
dead-lettered. Signing is `common.webhooks`' job and the wire shape is `wire`'s; what is here is
only the policy of delivery:

* 2xx: delivered. AgentBuddy deduplicates on `webhook-id` / `Idempotency-Key` (= the message
  id, stable across retries), so a message delivered twice after a lost response or an
  expired lease is applied once.
* 408, 409, 425, 5xx, timeouts and connection errors: retry on the schedule, spending one of
  the message's attempts. A `Retry-After` (429/503) is a floor for the next try and pauses the
  whole connection for this worker until it runs out (other messages for it go back to the
  queue untouched instead of hitting a rate limiter one by one, in this round and the next).
* 429: AgentBuddy asks us to slow down, which says nothing about the message: it waits for
  `Retry-After` without spending an attempt, so a long rate-limit storm cannot dead-letter
  good messages.
* 401 on the push API: the bearer session refreshes the token once and resends; 401 again is
  permanent. 401 on a webhook: the connection's secret is read again (it may have been
  rotated) and the message re-signed once; 401 again is permanent. No connection (disconnected, needs re-auth): retried on schedule, so a reconnect
  within the retry window loses nothing.
* Any other 4xx: dead at once (it will never succeed); after the last scheduled attempt: dead.
"""
from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from common.clock import Clock

from . import claims
from .claims import ClaimPolicy
from .doorbell import Doorbell
from .queue import Message
from .retry_schedule import RetrySchedule
from .transports import THROTTLE_DEFAULT, Outcome, Transport

log = logging.getLogger(__name__)


@dataclass
class WorkerStats:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0


@dataclass
class DeliveryWorker:
    """One loop of claim -> send -> settle. Run several (threads or processes) side by side."""

    db: Database
    clock: Clock
    transport: Transport
    schedule: RetrySchedule = field(default_factory=RetrySchedule)
    policy: ClaimPolicy = field(default_factory=ClaimPolicy)
    doorbell: Doorbell | None = None
    poll_interval: float = 0.2
    # After a round that found fewer messages than make a batch, wait this long before the next:
    # during a burst the queue then gathers enough to fold (one request per up to 1,000 events
    # instead of one each); a lone event still goes at once (the first round after idle has no wait).
    linger: float = 0.2
    worker_id: str = field(default_factory=lambda: f"worker-{uuid.uuid4().hex[:8]}")
    on_delivered: Callable[[Message], None] | None = None
    stats: WorkerStats = field(default_factory=WorkerStats)
    paused: dict[str, datetime] = field(default_factory=dict)  # connection -> end of its Retry-After

    def run_once(self) -> int:
        """Claim and settle one round; returns how many messages it handled."""
        claimed = claims.claim(self.db, self.worker_id, self.clock.now(), self.policy)
        if not claimed:
            return 0
        delivered: list[tuple[str, int]] = []
        paused = self.paused
        deadline = self.clock.now() + self.policy.lease / 2
        for index, message in enumerate(claimed):
            now = self.clock.now()
            if now >= deadline:
                self._release(claimed[index:], None)
                break
            if paused.get(message.connection_id, now) > now:
                self._release([message], paused[message.connection_id])
                continue
            outcome = self.transport.send(message, now)
            if outcome.ok:
                delivered.append((message.id, outcome.status or 200))
                continue
            self._settle_failure(message, outcome, now)
            if outcome.retry_after:
                paused[message.connection_id] = now + outcome.retry_after
        claims.mark_delivered(self.db, delivered, self.worker_id, self.clock.now())
        self.stats.delivered += len(delivered)
        if self.on_delivered and delivered:
            by_id = {m.id: m for m in claimed}
            for message_id, _ in delivered:
                self.on_delivered(by_id[message_id])
        return len(claimed)

    def _settle_failure(self, message: Message, outcome: Outcome, now: datetime) -> None:
        throttled = outcome.status == 429
        if throttled:  # "slow down" is about the connection, not this message: no attempt is spent
            next_at = now + (outcome.retry_after or THROTTLE_DEFAULT)
        elif outcome.permanent:
            next_at = None
        else:
            next_at = self.schedule.next_attempt_at(message.id, message.attempts, now, outcome.retry_after)
        status = claims.mark_failed(
            self.db, message, self.worker_id, now,
            status=outcome.status, error=outcome.error or "failed", next_attempt_at=next_at,
            refund_attempt=throttled,
        )
        if status == "dead":
            self.stats.dead += 1
            log.warning("dead-lettered %s (%s): %s", message.id, message.kind, outcome.error)
        else:
            self.stats.retried += 1

    def _release(self, messages: list[Message], until: datetime | None) -> None:
        claims.release(self.db, [m.id for m in messages], self.worker_id, until or self.clock.now())
        self.stats.released += len(messages)

    def drain(self, max_rounds: int = 1_000_000) -> int:
        """Deliver until nothing is due (the `deliver` command, tests); returns messages handled."""
        total = 0
        for _ in range(max_rounds):
            handled = self.run_once()
            if not handled:
                break
            total += handled
        return total

    def run(self, stop: threading.Event) -> None:
        """Loop until `stop` is set; sleeps `poll_interval` when idle unless the doorbell rings."""
        while not stop.is_set():
            try:
                handled = self.run_once()
            except Exception:  # a database hiccup must not kill the worker thread
                log.exception("delivery round failed; retrying after %.1fs", self.poll_interval)
                handled = 0
            if handled:
                if handled < self.policy.coalesce_threshold and self.linger:
                    stop.wait(self.linger)
                continue
            if self.doorbell is not None:
                self.doorbell.wait(self.poll_interval)
            else:
                stop.wait(self.poll_interval)
