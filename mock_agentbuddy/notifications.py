"""Change notifications (AgentBuddy -> Broadcast): when a record changes, every subscription of
that account whose `events` match gets a thin, signed `ChangeNotification`, from a background
thread, retried with exponential backoff. Every attempt is written to the journal.

The world announces a change (`state.notifier.announce(change)`); this module owns everything
after that. It imports only `common` (signing) and `requests`, no Flask: it runs off-request.

Retries wait through the state's sleeper (so tests do not wait) and hold the single delivery
thread, like a simple real-world sender would: a dead subscriber slows the others down.
"""
from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
from dataclasses import dataclass

import requests

from common.webhooks import signed_headers

log = logging.getLogger("mock_agentbuddy.notifications")

ENTITY_SCOPES = {"contact": "read:contacts", "office": "read:offices", "agent": "read:agents",
                 "property": "read:properties"}


@dataclass(frozen=True)
class Delivery:
    msg_id: str
    url: str
    secret: str
    body: str
    event_type: str
    connection_id: str
    subscription_id: str


class Notifier:
    def __init__(self, state) -> None:
        self.state = state
        self.policy = state.config.notification_retry
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._ids = itertools.count(1)
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="mock-notifier", daemon=True)
        self._thread.start()

    def announce(self, change) -> None:
        """Queue one notification per matching subscription of the change's account."""
        entity = change.entity
        data = {"id": change.record["id"], "updated_at": change.record["updated_at"], "account_id": change.account_id}
        if change.record.get("deleted_at"):
            data["deleted_at"] = change.record["deleted_at"]
        with self.state.lock:
            targets = [(connection, subscription) for connection in self.state.connections.values()
                       if connection.account_id == change.account_id
                       for subscription in connection.subscriptions.values()
                       if subscription.wants(change.event_type) and ENTITY_SCOPES[entity] in subscription.scopes]
            timestamp = self.state.now_text()
        for connection, subscription in targets:
            body = json.dumps({"event_type": change.event_type, "timestamp": timestamp, "data": data})
            self._queue.put(Delivery(f"ntf_{next(self._ids):08d}", subscription.url, connection.webhook_secret,
                                     body, change.event_type, connection.id, subscription.id))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once everything queued so far was delivered or given up on."""
        done = threading.Event()
        threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True).start()
        return done.wait(timeout)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            try:
                if delivery is None:
                    return
                self._deliver(delivery)
            except Exception:  # a bug here must not kill the thread silently
                log.exception("change notification delivery crashed")
            finally:
                self._queue.task_done()

    def _deliver(self, delivery: Delivery) -> None:
        for attempt in range(1, self.policy.max_attempts + 1):
            headers = signed_headers(delivery.secret, delivery.msg_id, self.state.clock.now(), delivery.body)
            status, error = None, None
            try:
                answer = self._session.post(delivery.url, data=delivery.body.encode(), headers=headers,
                                            timeout=self.policy.timeout)
                status = answer.status_code
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"
            ok = status is not None and 200 <= status < 300
            final = ok or attempt == self.policy.max_attempts
            self.state.journal.append({
                "time": self.state.now_text(), "direction": "outbound", "method": "POST",
                "path": delivery.url, "operation_id": "agentbuddyChangeNotification", "status": status,
                "error": error, "attempt": attempt, "webhook_id": delivery.msg_id,
                "event_type": delivery.event_type, "connection_id": delivery.connection_id,
                "subscription_id": delivery.subscription_id,
                "outcome": "delivered" if ok else ("gave_up" if final else "retrying"),
            })
            if ok or final:
                return
            self.state.sleep(self.policy.delay(attempt))


def init_notifications(state) -> Notifier:
    state.notifier = Notifier(state)
    return state.notifier
