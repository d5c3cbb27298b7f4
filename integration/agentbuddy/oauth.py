"""OAuth 2.0 client operations against an AgentBuddy authorization server.

Authlib does the protocol (authorization URL with PKCE S256, `state` check, code exchange,
refresh, RFC 7009 revocation); this module adds endpoint discovery (RFC 8414), a clock-based
expiry, and errors our callers can act on. It stores nothing: `connections` decides what is
persisted and when.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc6749.errors import MismatchingStateException

from integration.config import IntegrationConfig

from .session import mount_retries, retrying_session


class OAuthFlowError(RuntimeError):
    """The authorization server refused (error code from RFC 6749 in `.error`)."""

    def __init__(self, error: str, description: str | None = None) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


class InvalidGrant(OAuthFlowError):
    """The code or refresh token is no longer valid: the user must connect again."""


class TransientOAuthError(RuntimeError):
    """The authorization server could not be reached or failed (5xx); try again later."""


@dataclass(frozen=True)
class ServerMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None
    scopes_supported: tuple[str, ...]


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scope: str


def discover(config: IntegrationConfig, session: requests.Session | None = None) -> ServerMetadata:
    """RFC 8414 metadata from `<agentbuddy_url>/.well-known/oauth-authorization-server`."""
    http = session or retrying_session(config)
    try:
        response = http.get(config.metadata_url, timeout=config.http_timeout_seconds)
    except requests.RequestException as exc:
        raise TransientOAuthError(f"cannot reach {config.metadata_url}: {exc}") from exc
    if response.status_code != 200:
        raise TransientOAuthError(f"{config.metadata_url} answered HTTP {response.status_code}")
    body = response.json()
    missing = [k for k in ("issuer", "authorization_endpoint", "token_endpoint") if not body.get(k)]
    if missing:
        raise OAuthFlowError("invalid_metadata", f"metadata lacks {', '.join(missing)}")
    return ServerMetadata(
        issuer=body["issuer"],
        authorization_endpoint=body["authorization_endpoint"],
        token_endpoint=body["token_endpoint"],
        revocation_endpoint=body.get("revocation_endpoint"),
        scopes_supported=tuple(body.get("scopes_supported") or ()),
    )


def _session(config: IntegrationConfig, redirect_uri: str | None = None, state: str | None = None) -> OAuth2Session:
    session = OAuth2Session(
        config.client_id,
        config.client_secret or None,
        scope=" ".join(config.scopes),
        redirect_uri=redirect_uri,
        state=state,
        code_challenge_method="S256",
    )
    mount_retries(session, config)
    return session


def authorization_url(
    config: IntegrationConfig, metadata: ServerMetadata, redirect_uri: str, login_hint: str | None = None
) -> tuple[str, str, str]:
    """Returns (url, state, code_verifier); the caller keeps state and verifier for the callback."""
    verifier = generate_token(64)
    extra = {"login_hint": login_hint} if login_hint else {}
    url, state = _session(config, redirect_uri).create_authorization_url(
        metadata.authorization_endpoint, code_verifier=verifier, **extra
    )
    return url, state, verifier


def callback_error(callback_url: str) -> OAuthFlowError | None:
    """The `error` a server redirected back with (e.g. access_denied), if any."""
    query = parse_qs(urlsplit(callback_url).query)
    if "error" in query:
        return OAuthFlowError(query["error"][0], (query.get("error_description") or [None])[0])
    return None


def callback_state(callback_url: str) -> str | None:
    values = parse_qs(urlsplit(callback_url).query).get("state")
    return values[0] if values else None


def exchange_code(
    config: IntegrationConfig,
    metadata: ServerMetadata,
    callback_url: str,
    *,
    state: str,
    code_verifier: str,
    redirect_uri: str,
    now: datetime,
) -> TokenSet:
    error = callback_error(callback_url)
    if error is not None:
        raise error
    if callback_state(callback_url) != state:
        raise OAuthFlowError("invalid_state", "the callback's state does not match this connect attempt")
    session = _session(config, redirect_uri, state)

    def call() -> dict[str, Any]:
        return session.fetch_token(
            metadata.token_endpoint,
            authorization_response=callback_url,
            code_verifier=code_verifier,
            state=state,
            timeout=config.http_timeout_seconds,
        )

    try:
        token = _checked(call)
    except MismatchingStateException as exc:
        raise OAuthFlowError("invalid_state", "the callback's state does not match this connect attempt") from exc
    return _token_set(token, now)


def refresh(config: IntegrationConfig, metadata: ServerMetadata, refresh_token: str, now: datetime) -> TokenSet:
    session = _session(config)

    def call() -> dict[str, Any]:
        return session.refresh_token(
            metadata.token_endpoint, refresh_token=refresh_token, timeout=config.http_timeout_seconds
        )

    token = _checked(call)
    if not token.get("refresh_token"):
        token = dict(token, refresh_token=refresh_token)
    return _token_set(token, now)


def revoke(config: IntegrationConfig, metadata: ServerMetadata, token: str, hint: str) -> int | None:
    """RFC 7009; the HTTP status of the answer (200: confirmed — unknown tokens also answer 200),
    None when there is no revocation endpoint or it could not be reached."""
    if not metadata.revocation_endpoint:
        return None
    session = _session(config)
    try:
        response = session.revoke_token(
            metadata.revocation_endpoint, token=token, token_type_hint=hint, timeout=config.http_timeout_seconds
        )
    except requests.RequestException:
        return None
    return response.status_code


def _checked(call) -> dict[str, Any]:
    try:
        return call()
    except OAuthError as exc:
        kind = InvalidGrant if exc.error in ("invalid_grant", "invalid_token") else OAuthFlowError
        raise kind(exc.error, exc.description) from exc
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status is not None and status < 500 and status != 429:
            raise OAuthFlowError("http_error", f"token endpoint answered HTTP {status}") from exc
        raise TransientOAuthError(f"token endpoint failed: {exc}") from exc
    except (requests.RequestException, ValueError) as exc:
        raise TransientOAuthError(f"token endpoint failed: {exc}") from exc


def _token_set(token: dict[str, Any], now: datetime) -> TokenSet:
    expires_in = token.get("expires_in")
    return TokenSet(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token"),
        expires_at=now + timedelta(seconds=int(expires_in)) if expires_in is not None else None,
        scope=token.get("scope") or "",
    )
