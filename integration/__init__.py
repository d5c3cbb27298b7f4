"""Broadcast's side of the integration, in packages along the data (docs/ARCHITECTURE.md):

    agentbuddy/   talking to AgentBuddy: one retrying authorised session, OAuth, connections, secrets
    sync/         AgentBuddy's records into Broadcast's tables: streams, checks, conflict rules,
                  the engine loop, checkpoints, leases, run log, change notifications, schedule
    engagement/   the pure scoring core; engagement/pipeline/ stores, scores and queues what happened
    outbox/       what Broadcast owes AgentBuddy: queue, coalescing, wire formats, delivery, retries
    storage/      the database (SQLite or PostgreSQL) and its migrations
    web/          the app, webhook endpoints, pages, CLI and background service
    config.py     the settings every package receives

Dependencies go one way: storage is used by everything; agentbuddy by sync and outbox; the
engagement core by its pipeline, the pipeline writes into the outbox, the outbox delivers
through agentbuddy; web sits on top. `create_app` is imported on first use so `import
integration.storage` (CLI, sync, tests) does not pay for Flask.
"""
from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from integration.web import create_app  # deferred: Flask and the whole app are heavy to import

        return create_app
    raise AttributeError(f"module 'integration' has no attribute {name!r}")
