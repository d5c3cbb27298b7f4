"""Everything one running fake knows, in one object the app factory builds.

`MockState` holds the seeded world, the connections, what Broadcast sent (`Received`), the two
logs the admin API exposes, the injected clock and sleeper, and the running helpers (notifier,
faults, rate limiter) the factory attaches. Nothing lives in module globals, so tests can run
many fakes side by side; a view reaches the state of its own app through `current_state()`.

This is the hub of the fake, not part of the seeded world: it sits at the package root so that
`world/` stays plain data with no Flask in it.
"""
from __future__ import annotations

import random
import threading
import time
from collections import deque
from typing import Any, Callable

from flask import current_app

from common.clock import AdjustableClock, Clock
from common.timestamps import format_rfc3339, to_us

from .config import MockConfig
from .world.builder import AgentRef, World, build_world
from .world.connections import Connection, build_connections

Sleeper = Callable[[float], None]
EXTENSION = "mock_state"  # app.extensions key (`mock_agentbuddy.state_of(app)` reads it too)


def current_state() -> "MockState":
    """The state of the app handling the current request."""
    return current_app.extensions[EXTENSION]


class MockState:
    def __init__(self, config: MockConfig, clock: Clock | None = None, sleeper: Sleeper = time.sleep) -> None:
        self.config = config
        self.clock = clock or AdjustableClock()
        self.sleep = sleeper  # every deliberate wait (faults, retry backoff) goes through this
        self.lock = threading.RLock()
        self.journal = Log(config.journal_size)
        self.inbound = Log(config.journal_size)
        self.notifier = None  # set by notifications.init_notifications
        self.faults = None  # set by api.faults.init_faults
        self.ratelimiter = None  # set by api.ratelimit.init_ratelimit
        self._build()

    def _build(self) -> None:
        cfg = self.config
        self.world: World = build_world(cfg.seed, cfg.epoch, cfg.accounts, cfg.offices_per_account,
                                        cfg.agents_per_account, cfg.contacts_per_account,
                                        cfg.properties_per_contact)
        self.connections: dict[str, Connection] = build_connections(
            cfg.seed, [c.client_id for c in cfg.clients], list(self.world.accounts), format_rfc3339(cfg.epoch))
        self.received = Received()
        self.churn_rng = random.Random(f"churn:{cfg.seed}")
        self._last_stamp = max((coll.keys[-1][0] for account in self.world.accounts.values()
                                for coll in account.collections.values() if coll.keys), default=0)
        self._subscription_counter = 0

    # -- the interface the OAuth server consumes -------------------------------------------
    @property
    def seed(self) -> int:
        return self.config.seed

    def find_agent_by_email(self, email: str) -> AgentRef | None:
        with self.lock:
            return self.world.find_agent_by_email(email)

    def find_account(self, account_id: str):
        return self.world.account(account_id)

    def connection_for(self, client_id: str, account_id: str) -> Connection | None:
        for connection in self.connections.values():
            if connection.client_id == client_id and connection.account_id == account_id:
                return connection
        return None

    # -- shared helpers --------------------------------------------------------------------
    def now_text(self) -> str:
        """The clock as the fake writes every timestamp (fixed-width milliseconds)."""
        return format_rfc3339(self.clock.now())

    def next_stamp(self) -> int:
        """A fresh `updated_at` in microseconds: the clock, truncated to milliseconds, but
        always after every stamp handed out before, so changed records sort after all others
        (what keeps keyset sweeps from skipping them even when the clock is set backwards)."""
        with self.lock:
            now = to_us(self.clock.now()) // 1000 * 1000
            self._last_stamp = max(now, self._last_stamp + 1000)
            return self._last_stamp

    def next_subscription_id(self) -> str:
        with self.lock:
            self._subscription_counter += 1
            return f"ab_sub_{self._subscription_counter:04d}"

    def reset(self) -> None:
        """Back to the seeded world: records, connections, received data and logs."""
        with self.lock:
            self._build()
            self.journal.clear()
            self.inbound.clear()


class Received:
    """Dedup and idempotency memory for inbound data (webhooks and the push API)."""

    def __init__(self) -> None:
        # (connection id, "webhook-id" | "idempotency-key", value) -> the first answer
        self.webhook_ids: dict[tuple[str, str, str], dict] = {}
        self.event_ids: set[tuple[str, str]] = set()  # (account id, event_id)
        # (connection id, Idempotency-Key) -> (request fingerprint, status, body, stored at µs)
        self.idempotency: dict[tuple[str, str], tuple[str, int, dict, int]] = {}
        self.events: dict[str, list[dict]] = {}  # contact id -> events received, in arrival order


class Log:
    """A bounded, numbered log (the journal, the inbound log): entries carry a sequence number
    so a reader can ask only for what happened after a point (`?since=<seq>`), even when older
    entries have rolled off."""

    def __init__(self, size: int) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._seq = 0
        self._lock = threading.Lock()

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, **entry}
            self._entries.append(entry)
            return entry

    def since(self, seq: int = 0, limit: int | None = None, **equals: Any) -> list[dict[str, Any]]:
        with self._lock:
            rows = [e for e in self._entries if e["seq"] > seq
                    and all(e.get(k) == v for k, v in equals.items() if v is not None)]
        return rows[-limit:] if limit else rows

    @property
    def last_seq(self) -> int:
        return self._seq

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
