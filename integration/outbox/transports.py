"""How one outbox message travels to AgentBuddy and what the answer means (`Outcome`).

Option A (`WebhookTransport`): a Standard Webhooks POST signed with the connection's secret at
the injected time (`common.webhooks`), to the connection's own route (`/webhooks/broadcast/{id}/…`,
AgentBuddy's connection id from `GET /connection`; the deprecated route while it cannot be learned). Option B (`PushTransport`): the write API with the
connection's bearer session and `Idempotency-Key` = the message id. Either way the wire shape
is `wire`'s and the connection's address, secret and session come from the stored connections
(`StoredEndpoints`). Neither retries: the outbox schedule is the retry policy (`delivery`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import requests

from common.clock import Clock
from common.webhooks import signed_headers
from integration.agentbuddy import connections
from integration.agentbuddy.errors import NotConnected
from integration.agentbuddy.session import parse_retry_after
from integration.agentbuddy.tokens import ConnectionAuth, TokenSource
from integration.config import IntegrationConfig
from integration.storage import Database

from . import wire
from .queue import Message

RETRYABLE_4XX = frozenset({408, 409, 425, 429})
THROTTLE_DEFAULT = timedelta(seconds=5)  # a 429 without Retry-After
ROUTE_RETRY = timedelta(minutes=5)  # how long an unknown connection id stays unknown


@dataclass(frozen=True)
class Outcome:
    status: int | None  # HTTP status, None when no response arrived
    error: str | None = None
    retry_after: timedelta | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def permanent(self) -> bool:
        return self.status is not None and 400 <= self.status < 500 and self.status not in RETRYABLE_4XX


class Endpoints(Protocol):
    """Where and how to reach one connection's AgentBuddy (resolved from stored connections)."""

    def api_base(self, connection_id: str) -> str: ...
    def webhook_secret(self, connection_id: str) -> str: ...
    def bearer_session(self, connection_id: str) -> requests.Session: ...
    # optional: `agentbuddy_connection_id(connection_id) -> str | None`, the id naming the webhook route


class Transport(Protocol):
    def send(self, message: Message, now: datetime) -> Outcome: ...


def _outcome(response: requests.Response, now: datetime) -> Outcome:
    if 200 <= response.status_code < 300:
        return Outcome(response.status_code)
    retry_after = None
    if response.status_code in (429, 503):
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
    detail = response.text[:500]
    return Outcome(response.status_code, f"HTTP {response.status_code}: {detail}", retry_after)


def _body(request: wire.Request) -> str:
    return json.dumps(request.body, separators=(",", ":"), ensure_ascii=False)


class WebhookTransport:
    """Option A: Standard Webhooks, signed with the connection's secret at the injected time."""

    def __init__(self, endpoints: Endpoints, session: requests.Session | None = None, timeout: float = 10.0) -> None:
        self._endpoints = endpoints
        self._session = session or requests.Session()
        self._timeout = timeout

    def send(self, message: Message, now: datetime) -> Outcome:
        outcome = self._send(message, now)
        forget = getattr(self._endpoints, "forget", None)
        if outcome.status == 401 and forget is not None:
            forget(message.connection_id)  # the secret may have been rotated since we cached it
            outcome = self._send(message, now)
        return outcome

    def _send(self, message: Message, now: datetime) -> Outcome:
        route = getattr(self._endpoints, "agentbuddy_connection_id", None)
        request = wire.webhook_request(message, route(message.connection_id) if route else None)
        body = _body(request)
        try:
            secret = self._endpoints.webhook_secret(message.connection_id)
            url = self._endpoints.api_base(message.connection_id) + request.path
        except NotConnected as exc:
            return Outcome(None, f"not connected: {exc}")
        headers = signed_headers(secret, message.id, now, body)
        try:
            response = self._session.request(request.method, url, data=body.encode(), headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
        return _outcome(response, now)


class PushTransport:
    """Option B: the write API with the connection's bearer token; Idempotency-Key = message id.

    The bearer session refreshes the token once on a 401 and resends (`tokens.ConnectionAuth`);
    a 401 that survives the refresh means access was revoked, which retrying cannot fix.
    """

    def __init__(self, endpoints: Endpoints, timeout: float = 10.0) -> None:
        self._endpoints = endpoints
        self._timeout = timeout

    def send(self, message: Message, now: datetime) -> Outcome:
        request = wire.push_request(message)
        try:
            session = self._endpoints.bearer_session(message.connection_id)
            url = self._endpoints.api_base(message.connection_id) + request.path
            response = session.request(
                request.method, url, data=_body(request).encode(), timeout=self._timeout,
                headers={"content-type": "application/json", "Idempotency-Key": message.id},
            )
        except requests.RequestException as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
        except NotConnected as exc:
            return Outcome(None, f"not connected: {exc}")
        return _outcome(response, now)


class StoredEndpoints:
    """`Endpoints` from the stored connections (connection id = organization id), cached per worker."""

    def __init__(self, db: Database, config: IntegrationConfig, clock: Clock) -> None:
        self._db, self._config, self._clock = db, config, clock
        self._bases: dict[str, str] = {}
        self._secrets: dict[str, str] = {}
        self._sessions: dict[str, requests.Session] = {}
        self._routes: dict[str, tuple[str | None, datetime]] = {}  # id, or None until when

    def agentbuddy_connection_id(self, connection_id: str) -> str | None:
        """AgentBuddy's id for the connection (`GET /connection`), which names its webhook route; asked
        once per worker. None while it cannot be learned (not connected, AgentBuddy unreachable or
        answering without one): the message then goes to the deprecated route, which still works, and
        the question is asked again after `ROUTE_RETRY`, not before every message."""
        known = self._routes.get(connection_id)
        if known is not None and (known[0] is not None or self._clock.now() < known[1]):
            return known[0]
        found = None
        try:
            response = self.bearer_session(connection_id).get(f"{self.api_base(connection_id)}/connection",
                                                              timeout=self._config.http_timeout_seconds)
            body = response.json() if response.status_code == 200 else None
            found = body.get("id") if isinstance(body, dict) and isinstance(body.get("id"), str) else None
        except (requests.RequestException, NotConnected, ValueError):
            pass
        self._routes[connection_id] = (found or None, self._clock.now() + ROUTE_RETRY)
        return found or None

    def api_base(self, connection_id: str) -> str:
        if connection_id not in self._bases:
            self._bases[connection_id] = connections.config_for(self._db, self._config, connection_id).api_base
        return self._bases[connection_id]

    def webhook_secret(self, connection_id: str) -> str:
        if connection_id not in self._secrets:
            self._secrets[connection_id] = connections.webhook_secret(self._db, self._config, connection_id)
        return self._secrets[connection_id]

    def bearer_session(self, connection_id: str) -> requests.Session:
        if connection_id not in self._sessions:
            config = connections.config_for(self._db, self._config, connection_id)
            tokens = TokenSource(self._db, config, connection_id, self._clock)
            session = requests.Session()  # no transport retries: the outbox schedule is the retry policy
            session.auth = ConnectionAuth(tokens)
            self._sessions[connection_id] = session
        return self._sessions[connection_id]

    def forget(self, connection_id: str) -> None:
        """Drop cached secrets/sessions (after a reconnect or a signature rejection)."""
        self._bases.pop(connection_id, None)
        self._secrets.pop(connection_id, None)
        self._sessions.pop(connection_id, None)
        self._routes.pop(connection_id, None)


def transport_for(mode: str, endpoints: Endpoints, timeout: float = 10.0) -> Transport:
    """`webhooks` (Option A, default) or `api`/`push` (Option B)."""
    if mode in ("webhooks", "webhook"):
        return WebhookTransport(endpoints, timeout=timeout)
    if mode in ("api", "push"):
        return PushTransport(endpoints, timeout=timeout)
    raise ValueError(f"delivery_mode must be 'webhooks' or 'api' (push), not {mode!r}")

