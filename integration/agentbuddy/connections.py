"""A Broadcast organization's connection to AgentBuddy: what is stored, and how it is made.

Statuses:
* `active` — tokens work (or can be refreshed).
* `needs_reauth` — AgentBuddy refused our refresh token (`invalid_grant`) or revoked access;
  a person must connect again. Synced data is kept.
* `disconnected` — the user disconnected; tokens were revoked (RFC 7009) and erased here.

Connecting is OAuth's authorization code flow with PKCE (`begin_connect` -> AgentBuddy's consent
page -> `complete_connect`, or `connect_headless` against a server that auto-approves). Tokens
and the webhook secret are stored encrypted (`secrets`); using and refreshing them is
`tokens`'s job, ending a connection is `disconnect`'s.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests

from common.clock import Clock, SystemClock
from common.timestamps import parse_rfc3339
from integration.config import IntegrationConfig
from integration.storage import Database, Tx

from . import oauth
from .client import AgentBuddyClient
from .errors import ConnectError, NotConnected
from .secrets import SecretBox
from .session import retrying_session

ACTIVE = "active"
NEEDS_REAUTH = "needs_reauth"
DISCONNECTED = "disconnected"
STATUSES = (ACTIVE, NEEDS_REAUTH, DISCONNECTED)
PENDING_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class Connection:
    organization_id: str
    agentbuddy_url: str
    account_id: str | None
    account_name: str | None
    agent_id: str | None
    client_id: str
    scopes: tuple[str, ...]
    status: str
    token_expires_at: datetime | None
    connected_at: datetime
    updated_at: datetime
    last_error: str | None
    subscription_id: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Connection":
        return cls(
            organization_id=row["organization_id"],
            agentbuddy_url=row["agentbuddy_url"],
            account_id=row["account_id"],
            account_name=row["account_name"],
            agent_id=row["agent_id"],
            client_id=row["client_id"],
            scopes=tuple(row["scopes"].split()) if row["scopes"] else (),
            status=row["status"],
            token_expires_at=parse_rfc3339(row["token_expires_at"]) if row["token_expires_at"] else None,
            connected_at=parse_rfc3339(row["connected_at"]),
            updated_at=parse_rfc3339(row["updated_at"]),
            last_error=row["last_error"],
            subscription_id=row["subscription_id"],
        )


@dataclass(frozen=True)
class PendingConnect:
    organization_id: str
    state: str
    redirect_uri: str
    expires_at: datetime


# ----------------------------------------------------------------------------- reads

def ensure_organization(db: Database, organization_id: str, clock: Clock, name: str | None = None) -> None:
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO organizations (organization_id, name, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (organization_id) DO NOTHING",
            (organization_id, name or organization_id, clock.now()),
        )


def get_connection(db: Database, organization_id: str) -> Connection | None:
    with db.transaction(readonly=True) as tx:
        row = tx.fetchone("SELECT * FROM connections WHERE organization_id = ?", (organization_id,))
    return Connection.from_row(row) if row else None


def list_connections(db: Database, status: str | None = None) -> list[Connection]:
    with db.transaction(readonly=True) as tx:
        if status:
            rows = tx.fetchall("SELECT * FROM connections WHERE status = ? ORDER BY organization_id", (status,))
        else:
            rows = tx.fetchall("SELECT * FROM connections ORDER BY organization_id")
    return [Connection.from_row(row) for row in rows]


def active_connections(db: Database) -> list[Connection]:
    """Connections the integration works for: every one not disconnected (a `needs_reauth` one
    still has data to keep fresh once someone reconnects)."""
    return [c for c in list_connections(db) if c.status != DISCONNECTED]


def webhook_secret(db: Database, config: IntegrationConfig, organization_id: str) -> str:
    """The connection's Standard Webhooks secret (`whsec_…`), shared by both directions."""
    with db.transaction(readonly=True) as tx:
        row = tx.fetchone(
            "SELECT status, webhook_secret_enc FROM connections WHERE organization_id = ?", (organization_id,)
        )
    if row is None or not row["webhook_secret_enc"]:
        raise NotConnected(organization_id, row["status"] if row else None, "no webhook secret stored")
    return SecretBox(config.require_token_key()).decrypt(row["webhook_secret_enc"])


# ----------------------------------------------------------------------------- connect

def begin_connect(
    db: Database,
    config: IntegrationConfig,
    organization_id: str,
    *,
    redirect_uri: str | None = None,
    login_hint: str | None = None,
    clock: Clock | None = None,
) -> tuple[str, PendingConnect]:
    """Start the authorization code flow; returns the URL to send the user to."""
    clock = clock or SystemClock()
    box = SecretBox(config.require_token_key())
    redirect_uri = redirect_uri or config.redirect_uri
    metadata = oauth.discover(config)
    url, state, verifier = oauth.authorization_url(config, metadata, redirect_uri, login_hint)
    now = clock.now()
    pending = PendingConnect(organization_id, state, redirect_uri, now + PENDING_TTL)
    ensure_organization(db, organization_id, clock)
    with db.transaction() as tx:
        tx.execute("DELETE FROM oauth_pending WHERE expires_at < ?", (now,))
        tx.execute(
            "INSERT INTO oauth_pending (state, organization_id, code_verifier_enc, redirect_uri, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (state, organization_id, box.encrypt(verifier), redirect_uri, now, pending.expires_at),
        )
    return url, pending


def complete_connect(
    db: Database, config: IntegrationConfig, callback_url: str, *, clock: Clock | None = None
) -> Connection:
    """Finish the flow from the full callback URL (with `code` and `state`)."""
    clock = clock or SystemClock()
    box = SecretBox(config.require_token_key())
    state = oauth.callback_state(callback_url)
    if not state:
        raise ConnectError("invalid_state", "the callback carries no state parameter")
    now = clock.now()
    with db.transaction() as tx:  # single use: the pending attempt is consumed here
        row = tx.fetchone("SELECT * FROM oauth_pending WHERE state = ?", (state,))
        if row is not None:
            tx.execute("DELETE FROM oauth_pending WHERE state = ?", (state,))
    if row is None or parse_rfc3339(row["expires_at"]) < now:
        raise ConnectError("invalid_state", "unknown or expired connect attempt (state); start connecting again")
    error = oauth.callback_error(callback_url)
    if error is not None:
        raise ConnectError(error.error, f"AgentBuddy did not authorize: {error}")
    metadata = oauth.discover(config)
    try:
        tokens = oauth.exchange_code(
            config, metadata, callback_url,
            state=state, code_verifier=box.decrypt(row["code_verifier_enc"]),
            redirect_uri=row["redirect_uri"], now=now,
        )
    except oauth.OAuthFlowError as exc:
        raise ConnectError(exc.error, f"code exchange failed: {exc}") from exc
    return _store_new_connection(db, config, row["organization_id"], tokens, clock)


def connect_headless(
    db: Database,
    config: IntegrationConfig,
    organization_id: str,
    login_hint: str,
    *,
    redirect_uri: str | None = None,
    clock: Clock | None = None,
) -> Connection:
    """Connect without a browser against a server that auto-approves a `login_hint`.

    The authorization endpoint answers with a redirect to our redirect URI carrying the code;
    we take it from the Location header instead of following it.
    """
    url, _pending = begin_connect(
        db, config, organization_id, redirect_uri=redirect_uri, login_hint=login_hint, clock=clock
    )
    try:
        answer = retrying_session(config).get(url, allow_redirects=False, timeout=config.http_timeout_seconds)
    except requests.RequestException as exc:
        raise ConnectError("unreachable", f"cannot reach the authorization endpoint: {exc}") from exc
    location = answer.headers.get("Location", "")
    if answer.status_code not in (302, 303) or not oauth.callback_state(location):
        raise ConnectError(
            "not_auto_approved",
            f"the authorization endpoint answered HTTP {answer.status_code} without redirecting back; "
            "headless connect needs AgentBuddy's --auto-approve and an active agent's email as login hint",
        )
    return complete_connect(db, config, location, clock=clock)


def _store_new_connection(
    db: Database, config: IntegrationConfig, organization_id: str, tokens: oauth.TokenSet, clock: Clock
) -> Connection:
    box = SecretBox(config.require_token_key())
    session = retrying_session(config)
    session.headers["Authorization"] = f"Bearer {tokens.access_token}"
    info = AgentBuddyClient(config, session).connection_info()
    account = info.get("account") or {}
    now = clock.now()
    with db.transaction() as tx:
        existing = tx.fetchone(
            "SELECT account_id, agentbuddy_url FROM connections WHERE organization_id = ?", (organization_id,)
        )
        if existing and existing["account_id"] and (
            existing["account_id"] != account.get("id") or existing["agentbuddy_url"] != config.agentbuddy_url
        ):
            mismatch = existing
        else:
            mismatch = None
            _upsert_connection(tx, organization_id, config, info, tokens, box, now)
    if mismatch is not None:
        oauth.revoke(config, oauth.discover(config), tokens.refresh_token or tokens.access_token,
                            "refresh_token" if tokens.refresh_token else "access_token")
        raise ConnectError(
            "account_mismatch",
            f"organization {organization_id!r} holds data of AgentBuddy account {mismatch['account_id']!r}; "
            f"it cannot be connected to {account.get('id')!r}. Use another organization.",
        )
    connection = get_connection(db, organization_id)
    assert connection is not None
    return connection


def _upsert_connection(
    tx: Tx, organization_id: str, config: IntegrationConfig, info: dict[str, Any],
    tokens: oauth.TokenSet, box: SecretBox, now: datetime,
) -> None:
    account = info.get("account") or {}
    agent = info.get("agent") or {}
    scopes = info.get("scopes") or tokens.scope.split()
    # The contract names it webhook_signing_secret; an earlier draft said webhook_secret.
    secret = info.get("webhook_signing_secret") or info.get("webhook_secret")
    tx.execute(
        """INSERT INTO connections (organization_id, agentbuddy_url, account_id, account_name, agent_id,
               client_id, scopes, status, access_token_enc, refresh_token_enc, token_expires_at,
               webhook_secret_enc, connected_at, updated_at, last_error)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
           ON CONFLICT (organization_id) DO UPDATE SET
               agentbuddy_url = excluded.agentbuddy_url, account_id = excluded.account_id,
               account_name = excluded.account_name, agent_id = excluded.agent_id,
               client_id = excluded.client_id, scopes = excluded.scopes, status = excluded.status,
               access_token_enc = excluded.access_token_enc, refresh_token_enc = excluded.refresh_token_enc,
               token_expires_at = excluded.token_expires_at, webhook_secret_enc = excluded.webhook_secret_enc,
               connected_at = excluded.connected_at, updated_at = excluded.updated_at, last_error = NULL""",
        (
            organization_id, config.agentbuddy_url, account.get("id"), account.get("name"), agent.get("id"),
            config.client_id, " ".join(sorted(scopes)), ACTIVE, box.encrypt(tokens.access_token),
            box.encrypt_optional(tokens.refresh_token), tokens.expires_at,
            box.encrypt_optional(secret), now, now,
        ),
    )


def config_for(db: Database, config: IntegrationConfig, organization_id: str) -> IntegrationConfig:
    """The config pointed at the AgentBuddy this organization connected to."""
    connection = get_connection(db, organization_id)
    if connection is None or connection.agentbuddy_url == config.agentbuddy_url:
        return config
    return config.replace(agentbuddy_url=connection.agentbuddy_url)
