"""Delivery workers: drain the outbox to AgentBuddy, on time, once, and politely.

A worker claims a few due messages (a lease; see `outbox.claim`), sends each one, and settles
it: delivered, retried later on the Svix-like schedule (`retry_schedule`), or dead-lettered.
Signing is the `standardwebhooks` package's job and the wire shape is `wire`'s; what is here
is only the policy of delivery:

* 2xx: delivered. AgentBuddy deduplicates on `webhook-id` / `Idempotency-Key` (= the message
  id, stable across retries), so a message delivered twice after a lost response or an
  expired lease is applied once.
* 408, 409, 425, 5xx, timeouts and connection errors: retry on the schedule, spending one of
  the message's attempts. A `Retry-After` (429/503) is a floor for the next try and pauses the
  whole connection for this worker (other claimed messages for it go back to the queue
  untouched instead of hitting a rate limiter one by one).
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

import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Protocol

import requests
from standardwebhooks import Webhook

from integration.agentbuddy import connections
from integration.agentbuddy.tokens import ConnectionAuth, TokenSource
from integration import outbox, wire
from common.clock import Clock
from integration.config import IntegrationConfig
from integration.agentbuddy.errors import NotConnected
from integration.storage import Database
from integration.outbox import ClaimPolicy, Doorbell, Message
from integration.retry_schedule import RetrySchedule, parse_retry_after

log = logging.getLogger(__name__)

RETRYABLE_4XX = frozenset({408, 409, 425, 429})
THROTTLE_DEFAULT = timedelta(seconds=5)  # a 429 without Retry-After


@dataclass(frozen=True)
class Outcome:
    status: int | None  # HTTP status, None when no response arrived
    error: str | None = None
    retry_after: timedelta | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def permanent(self) -> bool:
        return self.status is not None and 400 <= self.status < 500 and self.status not in RETRYABLE_4XX


class Endpoints(Protocol):
    """Where and how to reach one connection's AgentBuddy (resolved from stored connections)."""

    def api_base(self, connection_id: str) -> str: ...
    def webhook_secret(self, connection_id: str) -> str: ...
    def bearer_session(self, connection_id: str) -> requests.Session: ...


class Transport(Protocol):
    def send(self, message: Message, now: datetime) -> Outcome: ...


def _outcome(response: requests.Response, now: datetime) -> Outcome:
    if 200 <= response.status_code < 300:
        return Outcome(response.status_code)
    retry_after = None
    if response.status_code in (429, 503):
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
    detail = response.text[:500]
    return Outcome(response.status_code, f"HTTP {response.status_code}: {detail}", retry_after)


def _body(request: wire.Request) -> str:
    return json.dumps(request.body, separators=(",", ":"), ensure_ascii=False)


class WebhookTransport:
    """Option A: Standard Webhooks, signed with the connection's secret at the injected time."""

    def __init__(self, endpoints: Endpoints, session: requests.Session | None = None, timeout: float = 10.0) -> None:
        self._endpoints = endpoints
        self._session = session or requests.Session()
        self._timeout = timeout

    def send(self, message: Message, now: datetime) -> Outcome:
        outcome = self._send(message, now)
        forget = getattr(self._endpoints, "forget", None)
        if outcome.status == 401 and forget is not None:
            forget(message.connection_id)  # the secret may have been rotated since we cached it
            outcome = self._send(message, now)
        return outcome

    def _send(self, message: Message, now: datetime) -> Outcome:
        request = wire.webhook_request(message)
        body = _body(request)
        try:
            secret = self._endpoints.webhook_secret(message.connection_id)
            url = self._endpoints.api_base(message.connection_id) + request.path
        except NotConnected as exc:
            return Outcome(None, f"not connected: {exc}")
        signature = Webhook(secret).sign(message.id, now, body)
        headers = {
            "content-type": "application/json",
            "webhook-id": message.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        try:
            response = self._session.request(request.method, url, data=body.encode(), headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
        return _outcome(response, now)


class PushTransport:
    """Option B: the write API with the connection's bearer token; Idempotency-Key = message id.

    The bearer session refreshes the token once on a 401 and resends (`connections.ConnectionAuth`);
    a 401 that survives the refresh means access was revoked, which retrying cannot fix.
    """

    def __init__(self, endpoints: Endpoints, timeout: float = 10.0) -> None:
        self._endpoints = endpoints
        self._timeout = timeout

    def send(self, message: Message, now: datetime) -> Outcome:
        request = wire.push_request(message)
        try:
            session = self._endpoints.bearer_session(message.connection_id)
            url = self._endpoints.api_base(message.connection_id) + request.path
            response = session.request(
                request.method, url, data=_body(request).encode(), timeout=self._timeout,
                headers={"content-type": "application/json", "Idempotency-Key": message.id},
            )
        except requests.RequestException as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
        except NotConnected as exc:
            return Outcome(None, f"not connected: {exc}")
        return _outcome(response, now)


class StoredEndpoints:
    """`Endpoints` from the stored connections (connection id = organization id), cached per worker."""

    def __init__(self, db: Database, config: IntegrationConfig, clock: Clock) -> None:
        self._db, self._config, self._clock = db, config, clock
        self._bases: dict[str, str] = {}
        self._secrets: dict[str, str] = {}
        self._sessions: dict[str, requests.Session] = {}

    def api_base(self, connection_id: str) -> str:
        if connection_id not in self._bases:
            self._bases[connection_id] = connections.config_for(self._db, self._config, connection_id).api_base
        return self._bases[connection_id]

    def webhook_secret(self, connection_id: str) -> str:
        if connection_id not in self._secrets:
            self._secrets[connection_id] = connections.webhook_secret(self._db, self._config, connection_id)
        return self._secrets[connection_id]

    def bearer_session(self, connection_id: str) -> requests.Session:
        if connection_id not in self._sessions:
            config = connections.config_for(self._db, self._config, connection_id)
            tokens = TokenSource(self._db, config, connection_id, self._clock)
            session = requests.Session()  # no transport retries: the outbox schedule is the retry policy
            session.auth = ConnectionAuth(tokens)
            self._sessions[connection_id] = session
        return self._sessions[connection_id]

    def forget(self, connection_id: str) -> None:
        """Drop cached secrets/sessions (after a reconnect or a signature rejection)."""
        self._bases.pop(connection_id, None)
        self._secrets.pop(connection_id, None)
        self._sessions.pop(connection_id, None)


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
    worker_id: str = field(default_factory=lambda: f"worker-{uuid.uuid4().hex[:8]}")
    on_delivered: Callable[[Message], None] | None = None
    stats: WorkerStats = field(default_factory=WorkerStats)

    def run_once(self) -> int:
        """Claim and settle one round; returns how many messages it handled."""
        claimed = outbox.claim(self.db, self.worker_id, self.clock.now(), self.policy)
        if not claimed:
            return 0
        delivered: list[tuple[str, int]] = []
        paused: dict[str, datetime] = {}
        deadline = self.clock.now() + self.policy.lease / 2
        for index, message in enumerate(claimed):
            now = self.clock.now()
            if now >= deadline:
                self._release(claimed[index:], None)
                break
            if message.connection_id in paused:
                self._release([message], paused[message.connection_id])
                continue
            outcome = self.transport.send(message, now)
            if outcome.ok:
                delivered.append((message.id, outcome.status or 200))
                continue
            self._settle_failure(message, outcome, now)
            if outcome.retry_after:
                paused[message.connection_id] = now + outcome.retry_after
        outbox.mark_delivered(self.db, delivered, self.worker_id, self.clock.now())
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
        status = outbox.mark_failed(
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
        outbox.release(self.db, [m.id for m in messages], self.worker_id, until or self.clock.now())
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
                continue
            if self.doorbell is not None:
                self.doorbell.wait(self.poll_interval)
            else:
                stop.wait(self.poll_interval)


def transport_for(mode: str, endpoints: Endpoints, timeout: float = 10.0) -> Transport:
    """`webhooks` (Option A, default) or `api`/`push` (Option B)."""
    if mode in ("webhooks", "webhook"):
        return WebhookTransport(endpoints, timeout=timeout)
    if mode in ("api", "push"):
        return PushTransport(endpoints, timeout=timeout)
    raise ValueError(f"delivery_mode must be 'webhooks' or 'api' (push), not {mode!r}")

