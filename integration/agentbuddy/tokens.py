"""Using a connection: a valid access token for each request, refreshed before it runs out.

Refresh happens before expiry (clock + leeway), under a lock on the connection row, because
AgentBuddy rotates refresh tokens and treats a reused one as stolen (it revokes the family):
two workers refreshing at once must not both present the same refresh token. A request that
still meets a 401 refreshes once and is sent again (`ConnectionAuth`); a second 401 means
access was revoked, and the connection becomes `needs_reauth`.

`authorized_session(db, config, org)` is the one way to talk to AgentBuddy as an organization:
the retrying session (`session`) with this auth mounted.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import requests

from common.clock import Clock, SystemClock
from common.timestamps import parse_rfc3339
from integration.config import IntegrationConfig
from integration.storage import Database, Tx

from . import oauth
from .client import AgentBuddyClient
from .connections import ACTIVE, NEEDS_REAUTH, config_for
from .errors import NotConnected
from .secrets import SecretBox
from .session import retrying_session


class TokenSource:
    """Hands out a valid access token for one organization, refreshing when due."""

    def __init__(self, db: Database, config: IntegrationConfig, organization_id: str, clock: Clock) -> None:
        self.db = db
        self.config = config
        self.organization_id = organization_id
        self.clock = clock
        self._box = SecretBox(config.require_token_key())
        self._metadata: oauth.ServerMetadata | None = None

    def access_token(self) -> str:
        row = self._row()
        if not self._due(row):
            return self._box.decrypt(row["access_token_enc"])
        return self.refresh(stale=row["access_token_enc"])

    def refresh(self, stale: str | None = None) -> str:
        """Refresh unless another worker already did (the stored token differs from `stale`)."""
        outcome: str | Exception
        with self.db.transaction() as tx:
            row = tx.fetchone(f"SELECT * FROM connections WHERE organization_id = ?{tx.lock_rows}",
                              (self.organization_id,))
            self._check_usable(row)
            if stale is not None and row["access_token_enc"] != stale and not self._due(row):
                return self._box.decrypt(row["access_token_enc"])
            if not row["refresh_token_enc"]:
                outcome = self._mark(tx, NEEDS_REAUTH, "the access token expired and there is no refresh token")
            else:
                now = self.clock.now()
                try:
                    tokens = oauth.refresh(
                        self.config, self._discover(), self._box.decrypt(row["refresh_token_enc"]), now
                    )
                except oauth.InvalidGrant as exc:
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
        return parse_rfc3339(row["token_expires_at"]) - leeway <= self.clock.now()

    def _discover(self) -> oauth.ServerMetadata:
        if self._metadata is None:
            self._metadata = oauth.discover(self.config)
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


def revoke_access_token(db: Database, config: IntegrationConfig, organization_id: str) -> int | None:
    """Revoke the organization's current access token at AgentBuddy (RFC 7009), as if it had been
    invalidated there; the next request meets a 401, refreshes and carries on. Returns the
    revocation endpoint's HTTP status (None: unreachable). The simulator's token-expiry fault."""
    config = config_for(db, config, organization_id)
    with db.transaction(readonly=True) as tx:
        stored = tx.fetchval("SELECT access_token_enc FROM connections WHERE organization_id = ?", (organization_id,))
    if not stored:
        raise NotConnected(organization_id, None, "no access token stored")
    token = SecretBox(config.require_token_key()).decrypt(stored)
    return oauth.revoke(config, oauth.discover(config), token, "access_token")
