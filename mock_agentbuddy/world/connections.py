"""Connections: one per (OAuth client, account) pair, each with its own webhook signing secret.

Secrets are derived from the seed, so a restarted fake with the same seed verifies webhooks
signed before the restart, and tests can compute the secret without asking.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field


@dataclass
class Subscription:
    id: str
    url: str
    events: list[str]  # patterns: "*", "contact.*", "contact.updated"
    created_at: str
    scopes: frozenset[str] = frozenset()  # of the token that subscribed: what it may be told about

    def to_json(self) -> dict:
        return {"id": self.id, "url": self.url, "events": list(self.events), "created_at": self.created_at}

    def wants(self, event_type: str) -> bool:
        entity = event_type.split(".", 1)[0]
        return any(p in ("*", event_type, f"{entity}.*") for p in self.events)


@dataclass
class Connection:
    id: str
    client_id: str
    account_id: str
    webhook_secret: str
    created_at: str
    subscriptions: dict[str, Subscription] = field(default_factory=dict)


def webhook_secret(seed: int, client_id: str, account_id: str) -> str:
    digest = hmac.new(f"agentbuddy-mock:{seed}".encode(), f"{client_id}|{account_id}".encode(),
                      hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest).decode()


def build_connections(seed: int, client_ids: list[str], account_ids: list[str],
                      created_at: str) -> dict[str, Connection]:
    result: dict[str, Connection] = {}
    for client_id in client_ids:
        for account_id in account_ids:
            connection_id = f"ab_conn_{account_id.rsplit('_', 1)[-1]}_{client_id}"
            result[connection_id] = Connection(connection_id, client_id, account_id,
                                               webhook_secret(seed, client_id, account_id), created_at)
    return result
