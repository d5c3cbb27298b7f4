"""AgentBuddy change notifications: verify, find the organization, sync what changed.

A notification is thin (`{"event_type": "contact.updated", "data": {"id", "updated_at"}}`), so
we never trust it for data: it only tells us which stream to sync incrementally. Signatures
follow Standard Webhooks with the connection's secret, checked by `common.webhooks` against
the injected clock (±`notification_tolerance_seconds`).

Routing (contract 1.2.0, DECISIONS item 33): we subscribe each organization with its own URL,
`/agentbuddy/notifications/{organization_id}`, so the receiver names the organization
(`organization_id=`) and checks that one connection's secret; the signed `data.account_id` must be
that connection's account, so a notification signed for another connection, or naming another
account, is refused (401) and an unknown organization is a 404. The deprecated URL without an
organization still works the old way: the organization is the one whose connection's secret
verifies the signature (narrowed by `data.account_id`).

`handle_change_notification` returns an HTTP status for the web layer: 2xx once the request
was authentic and understood (even if the sync has to wait: it asks for a pass, `pass_requests`),
4xx when it will never be (bad signature, stale timestamp, malformed body) so AgentBuddy stops
retrying.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from common.clock import Clock, SystemClock
from common.webhooks import WebhookError, verify
from integration.agentbuddy import connections
from integration.agentbuddy.client import AgentBuddyClient
from integration.agentbuddy.errors import AgentBuddyError, NotConnected
from integration.agentbuddy.secrets import SecretBox
from integration.config import IntegrationConfig
from integration.storage import Database

from .engine import sync
from .leases import SyncBusy
from .pass_requests import request_pass
from .streams import BY_EVENT_ENTITY

ACTIONS = ("created", "updated", "deleted")


@dataclass(frozen=True)
class NotificationResult:
    status: int  # the HTTP status to answer with
    code: str  # synced | deferred | not_connected | invalid_signature | timestamp_out_of_tolerance | invalid_request
    #            | not_found (the URL names no organization with a connection)
    detail: str
    organization_id: str | None = None
    entity: str | None = None
    summary: dict[str, Any] | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "detail": self.detail}
        if self.organization_id:
            body["organization_id"] = self.organization_id
        if self.entity:
            body["entity"] = self.entity
        if self.summary is not None:
            body["summary"] = self.summary
        return body


class UnknownOrganization(LookupError):
    """The notification URL names an organization with no AgentBuddy connection."""


def _find_organization(
    db: Database, config: IntegrationConfig, headers: Mapping[str, str], body: bytes, now: datetime,
    organization_id: str | None, account_id: str | None,
) -> str:
    """The organization whose connection's secret verifies the notification; WebhookError if none.

    With `organization_id` (the URL named it) only that connection's secret is tried, and a body
    naming another account is refused even when the signature verifies: the pair binds it."""
    box = SecretBox(config.require_token_key())
    with db.transaction(readonly=True) as tx:
        if organization_id:
            rows = tx.fetchall("SELECT organization_id, account_id, webhook_secret_enc FROM connections "
                               "WHERE organization_id = ?", (organization_id,))
            if not rows:
                raise UnknownOrganization(organization_id)
            rows = [r for r in rows if r["webhook_secret_enc"]]
        else:
            rows = tx.fetchall("SELECT organization_id, account_id, webhook_secret_enc FROM connections "
                               "WHERE webhook_secret_enc IS NOT NULL ORDER BY organization_id")
    if organization_id and account_id and rows and rows[0]["account_id"] and rows[0]["account_id"] != account_id:
        verify(body, headers, [box.decrypt(rows[0]["webhook_secret_enc"])], now, config.notification_tolerance_seconds)
        raise WebhookError("invalid_signature", "the notification names another account than this URL's connection")
    if account_id and not organization_id:
        rows = [r for r in rows if r["account_id"] == account_id] or rows
    candidates = [(row["organization_id"], box.decrypt(row["webhook_secret_enc"])) for row in rows]
    if not candidates:
        raise WebhookError("invalid_signature", "no connection's secret verifies this notification")
    verified = verify(body, headers, [secret for _org, secret in candidates], now, config.notification_tolerance_seconds)
    return next(org for org, secret in candidates if secret == verified.secret)


def handle_change_notification(
    db: Database,
    config: IntegrationConfig,
    headers: Mapping[str, str],
    body: bytes,
    *,
    organization_id: str | None = None,
    clock: Clock | None = None,
    client: AgentBuddyClient | None = None,
    inline: bool = True,
) -> NotificationResult:
    """Verify a change notification and sync the stream it names.

    With `inline=False` (or when a sync is already running, or AgentBuddy is unavailable) the
    stream is only marked as requested; the scheduler picks it up on its next tick.
    """
    clock = clock or SystemClock()
    now = clock.now()
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    account_id = None
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        account_id = payload["data"].get("account_id")
    try:
        org = _find_organization(db, config, headers, body, now, organization_id, account_id)
    except UnknownOrganization:
        return NotificationResult(404, "not_found", f"no AgentBuddy connection for organization {organization_id!r}")
    except WebhookError as exc:
        return NotificationResult(401, exc.code, exc.detail)

    event_type = payload.get("event_type") if isinstance(payload, dict) else None
    entity, _, action = (event_type or "").partition(".")
    stream = BY_EVENT_ENTITY.get(entity)
    if stream is None or action not in ACTIONS or not isinstance(payload.get("data"), dict):
        return NotificationResult(400, "invalid_request", f"unsupported or malformed notification {event_type!r}", org)

    connection = connections.get_connection(db, org)
    if connection is None or connection.status != connections.ACTIVE:
        status = connection.status if connection else "missing"
        return NotificationResult(202, "not_connected", f"connection is {status}; nothing synced", org, stream.name)
    if not inline:
        request_pass(db, org, stream.name, clock)
        return NotificationResult(202, "deferred", "sync requested", org, stream.name)
    try:
        summary = sync(db, config, org, entities=[stream.name], client=client, clock=clock)
    except SyncBusy:
        request_pass(db, org, stream.name, clock)
        return NotificationResult(202, "deferred", "a sync is running; it will pass over this stream again", org,
                                  stream.name)
    except (AgentBuddyError, NotConnected) as exc:
        request_pass(db, org, stream.name, clock)
        return NotificationResult(202, "deferred", f"sync postponed: {exc}", org, stream.name)
    return NotificationResult(200, "synced", f"{stream.name} synced", org, stream.name, summary.to_dict())
