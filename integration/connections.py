"""A Broadcast organization's connection to AgentBuddy: connect, tokens, refresh, disconnect.

Statuses:
* `active` — tokens work (or can be refreshed).
* `needs_reauth` — AgentBuddy refused our refresh token (`invalid_grant`) or revoked access;
  a person must connect again. Synced data is kept.
* `disconnected` — the user disconnected; tokens were revoked (RFC 7009) and erased here.

Refresh happens before expiry (clock + leeway), under a lock on the connection row, because
AgentBuddy rotates refresh tokens and treats a reused one as stolen (it revokes the family):
two workers refreshing at once must not both present the same refresh token.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests

from . import oauth_client
from .client import AgentBuddyClient, retrying_session
from .clock import Clock, SystemClock
from .config import IntegrationConfig
from .crypto import SecretBox, SecretsError  # noqa: F401 - SecretsError is part of this API
from .db import Database, Tx, format_ts, parse_ts

ACTIVE = "active"
NEEDS_REAUTH = "needs_reauth"
DISCONNECTED = "disconnected"
STATUSES = (ACTIVE, NEEDS_REAUTH, DISCONNECTED)
PENDING_TTL = timedelta(minutes=10)


class NotConnected(RuntimeError):
    """The organization has no usable AgentBuddy connection."""

    def __init__(self, organization_id: str, status: str | None, detail: str | None = None) -> None:
        what = "has never connected AgentBuddy" if status is None else f"connection is {status}"
        super().__init__(f"organization {organization_id!r} {what}" + (f": {detail}" if detail else ""))
        self.organization_id = organization_id
        self.status = status


class ConnectError(RuntimeError):
    """A connect attempt failed; `.code` is stable (invalid_state, access_denied, account_mismatch…)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


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
            token_expires_at=parse_ts(row["token_expires_at"]) if row["token_expires_at"] else None,
            connected_at=parse_ts(row["connected_at"]),
            updated_at=parse_ts(row["updated_at"]),
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
    metadata = oauth_client.discover(config)
    url, state, verifier = oauth_client.authorization_url(config, metadata, redirect_uri, login_hint)
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
    state = oauth_client.callback_state(callback_url)
    if not state:
        raise ConnectError("invalid_state", "the callback carries no state parameter")
    now = clock.now()
    with db.transaction() as tx:  # single use: the pending attempt is consumed here
        row = tx.fetchone("SELECT * FROM oauth_pending WHERE state = ?", (state,))
        if row is not None:
            tx.execute("DELETE FROM oauth_pending WHERE state = ?", (state,))
    if row is None or parse_ts(row["expires_at"]) < now:
        raise ConnectError("invalid_state", "unknown or expired connect attempt (state); start connecting again")
    error = oauth_client.callback_error(callback_url)
    if error is not None:
        raise ConnectError(error.error, f"AgentBuddy did not authorize: {error}")
    metadata = oauth_client.discover(config)
    try:
        tokens = oauth_client.exchange_code(
            config, metadata, callback_url,
            state=state, code_verifier=box.decrypt(row["code_verifier_enc"]),
            redirect_uri=row["redirect_uri"], now=now,
        )
    except oauth_client.OAuthFlowError as exc:
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
    if answer.status_code not in (302, 303) or not oauth_client.callback_state(location):
        raise ConnectError(
            "not_auto_approved",
            f"the authorization endpoint answered HTTP {answer.status_code} without redirecting back; "
            "headless connect needs AgentBuddy's --auto-approve and an active agent's email as login hint",
        )
    return complete_connect(db, config, location, clock=clock)


def _store_new_connection(
    db: Database, config: IntegrationConfig, organization_id: str, tokens: oauth_client.TokenSet, clock: Clock
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
        oauth_client.revoke(config, oauth_client.discover(config), tokens.refresh_token or tokens.access_token,
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
    tokens: oauth_client.TokenSet, box: SecretBox, now: datetime,
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


# ----------------------------------------------------------------------------- tokens

class TokenSource:
    """Hands out a valid access token for one organization, refreshing when due."""

    def __init__(self, db: Database, config: IntegrationConfig, organization_id: str, clock: Clock) -> None:
        self.db = db
        self.config = config
        self.organization_id = organization_id
        self.clock = clock
        self._box = SecretBox(config.require_token_key())
        self._metadata: oauth_client.ServerMetadata | None = None

    def access_token(self) -> str:
        row = self._row()
        if not self._due(row):
            return self._box.decrypt(row["access_token_enc"])
        return self.refresh(stale=row["access_token_enc"])

    def refresh(self, stale: str | None = None) -> str:
        """Refresh unless another worker already did (the stored token differs from `stale`)."""
        outcome: str | Exception
        with self.db.transaction() as tx:
            lock = " FOR UPDATE" if tx.dialect == "postgresql" else ""
            row = tx.fetchone(f"SELECT * FROM connections WHERE organization_id = ?{lock}", (self.organization_id,))
            self._check_usable(row)
            if stale is not None and row["access_token_enc"] != stale and not self._due(row):
                return self._box.decrypt(row["access_token_enc"])
            if not row["refresh_token_enc"]:
                outcome = self._mark(tx, NEEDS_REAUTH, "the access token expired and there is no refresh token")
            else:
                now = self.clock.now()
                try:
                    tokens = oauth_client.refresh(
                        self.config, self._discover(), self._box.decrypt(row["refresh_token_enc"]), now
                    )
                except oauth_client.InvalidGrant as exc:
                    outcome = self._mark(tx, NEEDS_REAUTH, f"AgentBuddy refused the refresh token: {exc}")
                else:
                    tx.execute(
                        "UPDATE connections SET access_token_enc = ?, refresh_token_enc = ?, token_expires_at = ?,"
                        " updated_at = ?, last_error = NULL WHERE organization_id = ?",
                        (self._box.encrypt(tokens.access_token), self._box.encrypt_optional(tokens.refresh_token),
                         tokens.expires_at, now, self.organization_id),
                    )
                    outcome = tokens.access_token
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def mark_needs_reauth(self, reason: str) -> None:
        with self.db.transaction() as tx:
            self._mark(tx, NEEDS_REAUTH, reason)

    def _mark(self, tx: Tx, status: str, reason: str) -> NotConnected:
        tx.execute(
            "UPDATE connections SET status = ?, last_error = ?, updated_at = ? WHERE organization_id = ?",
            (status, reason, self.clock.now(), self.organization_id),
        )
        return NotConnected(self.organization_id, status, reason)

    def _row(self) -> dict[str, Any]:
        with self.db.transaction(readonly=True) as tx:
            row = tx.fetchone("SELECT * FROM connections WHERE organization_id = ?", (self.organization_id,))
        self._check_usable(row)
        return row  # type: ignore[return-value]

    def _check_usable(self, row: dict[str, Any] | None) -> None:
        if row is None or row["status"] != ACTIVE or not row["access_token_enc"]:
            raise NotConnected(
                self.organization_id, row["status"] if row else None, row["last_error"] if row else None
            )

    def _due(self, row: dict[str, Any]) -> bool:
        if not row["token_expires_at"]:
            return False
        leeway = timedelta(seconds=self.config.token_refresh_leeway_seconds)
        return parse_ts(row["token_expires_at"]) - leeway <= self.clock.now()

    def _discover(self) -> oauth_client.ServerMetadata:
        if self._metadata is None:
            self._metadata = oauth_client.discover(self.config)
        return self._metadata


class ConnectionAuth(requests.auth.AuthBase):
    """Bearer auth from a `TokenSource`; on a 401 it refreshes once and resends the request.

    If AgentBuddy still answers 401 with a freshly refreshed token, access was revoked there:
    the connection becomes `needs_reauth`.
    """

    def __init__(self, tokens: TokenSource) -> None:
        self.tokens = tokens

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.tokens.access_token()}"
        request.register_hook("response", self._on_response)
        return request

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """Raises NotConnected when AgentBuddy no longer accepts this connection."""
        if response.status_code != 401:
            return response
        if getattr(response.request, "_ab_retried", False):
            reason = "AgentBuddy rejected a freshly refreshed access token (access revoked?)"
            self.tokens.mark_needs_reauth(reason)
            raise NotConnected(self.tokens.organization_id, NEEDS_REAUTH, reason)
        stale = self.tokens._row()["access_token_enc"]
        token = self.tokens.refresh(stale=stale)
        response.content  # drain so the connection can be reused
        response.close()
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Bearer {token}"
        retry._ab_retried = True  # type: ignore[attr-defined]
        again = response.connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        return again


def authorized_session(
    db: Database, config: IntegrationConfig, organization_id: str, *, clock: Clock | None = None
) -> requests.Session:
    """A retrying session whose requests carry a valid access token for the organization."""
    tokens = TokenSource(db, config_for(db, config, organization_id), organization_id, clock or SystemClock())
    tokens.access_token()  # fail fast (NotConnected) before any request
    return retrying_session(tokens.config, auth=ConnectionAuth(tokens))


def client_for(
    db: Database, config: IntegrationConfig, organization_id: str, *, clock: Clock | None = None
) -> AgentBuddyClient:
    session = authorized_session(db, config, organization_id, clock=clock)
    return AgentBuddyClient(config_for(db, config, organization_id), session)


def config_for(db: Database, config: IntegrationConfig, organization_id: str) -> IntegrationConfig:
    """The config pointed at the AgentBuddy this organization connected to."""
    connection = get_connection(db, organization_id)
    if connection is None or connection.agentbuddy_url == config.agentbuddy_url:
        return config
    return config.replace(agentbuddy_url=connection.agentbuddy_url)


# ----------------------------------------------------------------------------- disconnect

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
        _delete_subscription(config, box.decrypt(row["access_token_enc"]), row["subscription_id"])
    if row["refresh_token_enc"] or row["access_token_enc"]:
        metadata = oauth_client.discover(config)
        if row["refresh_token_enc"]:
            revoked_refresh = oauth_client.revoke(
                config, metadata, box.decrypt(row["refresh_token_enc"]), "refresh_token"
            )
        if row["access_token_enc"]:
            revoked_access = oauth_client.revoke(config, metadata, box.decrypt(row["access_token_enc"]), "access_token")
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


def _delete_subscription(config: IntegrationConfig, access_token: str, subscription_id: str) -> None:
    """Best effort: a subscription left behind only produces notifications we will ignore."""
    session = retrying_session(config)
    session.headers["Authorization"] = f"Bearer {access_token}"
    try:
        session.delete(f"{config.api_base}/subscriptions/{subscription_id}", timeout=config.http_timeout_seconds)
    except requests.RequestException:
        pass
    finally:
        session.close()
