"""The outbox: what Broadcast owes AgentBuddy, queued with the change that caused it, delivered once.

Owns, along a message's life:
* `queue` — writing messages (content-derived ids, in the caller's transaction);
* `coalescing` — the one place that decides when messages merge (why two events became one batch);
* `wire` — every payload shape on the wire, the Appendix B batch `data` included;
* `claims` — leasing due messages to a worker and settling the outcome;
* `delivery` — the worker loop and its policy; `transports` — Option A webhooks / Option B push;
  `retry_schedule` — when to try again and when to give up; `doorbell` — wake idle workers;
* `status` — counts, the next due time, dead letters and their replay.

May import: `integration.storage`, `integration.agentbuddy` (where and how to reach a
connection), `integration.config`, `common`. Imported by the engagement pipeline (which writes
messages) and by `web` (service, pages, CLI); it imports neither.

The names below are the outbox's public functions, for `from integration import outbox`.
"""
from __future__ import annotations

from .claims import ClaimPolicy, claim, mark_delivered, mark_failed, release, renew_lease
from .coalescing import (
    drop_superseded_propensity, drop_superseded_updates, queue_propensities, queue_propensity, queue_update,
    queue_updates,
)
from .doorbell import Doorbell
from .queue import Message, enqueue, enqueue_many, message_id_for
from .status import counts, dead_letters, next_due, replay

__all__ = [
    "ClaimPolicy", "Doorbell", "Message", "claim", "counts", "dead_letters", "drop_superseded_propensity",
    "drop_superseded_updates", "enqueue", "enqueue_many", "mark_delivered", "mark_failed", "message_id_for",
    "next_due", "queue_propensities", "queue_propensity", "queue_update", "queue_updates", "release", "renew_lease", "replay",
]
