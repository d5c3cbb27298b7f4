"""Ending a connection: revoke both tokens at AgentBuddy (RFC 7009), erase them here, keep the data.

The synced contacts and their engagement stay in Broadcast; the connection row stays too, as
`disconnected`, so a later connect to the same AgentBuddy account picks up where it left off
(and a connect to a different account is refused: `connections.ConnectError("account_mismatch")`).
"""
from __future__ import annotations

from dataclasses import dataclass

from common.clock import Clock, SystemClock
from integration.config import IntegrationConfig
from integration.storage import Database

from . import oauth
from .connections import ACTIVE, DISCONNECTED, config_for
from .errors import NotConnected
from .secrets import SecretBox
from .subscriptions import delete_subscription


@dataclass(frozen=True)
class DisconnectResult:
    organization_id: str
    revoked_refresh_token: bool
    revoked_access_token: bool


def disconnect(
    db: Database, config: IntegrationConfig, organization_id: str, *, clock: Clock | None = None
) -> DisconnectResult:
    """Revoke both tokens (RFC 7009), erase them here, keep the synced data."""
    clock = clock or SystemClock()
    box = SecretBox(config.require_token_key())
    config = config_for(db, config, organization_id)
    with db.transaction(readonly=True) as tx:
        row = tx.fetchone("SELECT * FROM connections WHERE organization_id = ?", (organization_id,))
    if row is None:
        raise NotConnected(organization_id, None)
    revoked_refresh = revoked_access = False
    if row["subscription_id"] and row["access_token_enc"] and row["status"] == ACTIVE:
        delete_subscription(config, box.decrypt(row["access_token_enc"]), row["subscription_id"])
    if row["refresh_token_enc"] or row["access_token_enc"]:
        metadata = oauth.discover(config)
        if row["refresh_token_enc"]:
            revoked_refresh = oauth.revoke(config, metadata, box.decrypt(row["refresh_token_enc"]),
                                           "refresh_token") == 200
        if row["access_token_enc"]:
            revoked_access = oauth.revoke(config, metadata, box.decrypt(row["access_token_enc"]),
                                          "access_token") == 200
    with db.transaction() as tx:
        tx.execute(
            "UPDATE connections SET status = ?, access_token_enc = NULL, refresh_token_enc = NULL,"
            " token_expires_at = NULL, subscription_id = NULL, updated_at = ?, last_error = ?"
            " WHERE organization_id = ?",
            (DISCONNECTED, clock.now(),
             None if (revoked_refresh or not row["refresh_token_enc"]) else "token revocation was not confirmed",
             organization_id),
        )
    return DisconnectResult(organization_id, revoked_refresh, revoked_access)
