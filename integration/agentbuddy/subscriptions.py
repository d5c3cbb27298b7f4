"""Change-notification subscriptions at AgentBuddy: where it should tell Broadcast about changes.

Registering is part of connecting (`ab-harness connect --notify-url`); what a notification
causes is the sync package's business (`sync.notifications`).
"""
from __future__ import annotations

from urllib.parse import quote

import requests

from common.clock import Clock, SystemClock
from integration.config import IntegrationConfig
from integration.storage import Database

from .connections import config_for, get_connection
from .errors import error_from_response
from .session import retrying_session
from .tokens import authorized_session


def notification_url(receiver: str, organization_id: str) -> str:
    """The organization's own notification URL under our receiver (`…/agentbuddy/notifications`):
    the path names whose connection secret verifies what arrives (contract 1.2.0, DECISIONS item 33)."""
    return f"{receiver.rstrip('/')}/{quote(organization_id, safe='')}"


def subscribe(
    db: Database, config: IntegrationConfig, organization_id: str, receiver: str, *, clock: Clock | None = None
) -> str:
    """Register (or re-register) the organization's notification URL at AgentBuddy; returns the
    subscription id. `receiver` is our notification endpoint; the organization is appended to it."""
    clock = clock or SystemClock()
    url = notification_url(receiver, organization_id)
    session = authorized_session(db, config, organization_id, clock=clock)
    api = config_for(db, config, organization_id).api_base
    connection = get_connection(db, organization_id)
    try:
        if connection and connection.subscription_id:
            session.delete(f"{api}/subscriptions/{connection.subscription_id}", timeout=config.http_timeout_seconds)
        response = session.post(f"{api}/subscriptions", json={"url": url}, timeout=config.http_timeout_seconds)
    finally:
        session.close()
    if response.status_code != 201:
        raise error_from_response(response)
    subscription_id = response.json()["id"]
    with db.transaction() as tx:
        tx.execute(
            "UPDATE connections SET subscription_id = ?, updated_at = ? WHERE organization_id = ?",
            (subscription_id, clock.now(), organization_id),
        )
    return subscription_id


def delete_subscription(config: IntegrationConfig, access_token: str, subscription_id: str) -> None:
    """Best effort: a subscription left behind only produces notifications we will ignore."""
    session = retrying_session(config)
    session.headers["Authorization"] = f"Bearer {access_token}"
    try:
        session.delete(f"{config.api_base}/subscriptions/{subscription_id}", timeout=config.http_timeout_seconds)
    except requests.RequestException:
        pass
    finally:
        session.close()
