"""Get an access token from an AgentBuddy the way any third-party OAuth client would.

Used by the tour and the fuzzer: Authlib's own client, endpoints discovered from the RFC 8414
metadata document, authorization code + PKCE S256. With the fake's `--auto-approve`, a
`login_hint` makes the authorization endpoint answer with the code at once, so no browser
is needed.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

DEFAULT_SCOPES = "read:offices read:contacts read:agents read:properties write:engagement"
REDIRECT_URI = "http://127.0.0.1/callback"


class HeadlessAuthError(RuntimeError):
    """The authorization endpoint did not hand out a code without a person (no auto-approve?)."""


@dataclass(frozen=True)
class Credentials:
    client_id: str = "broadcast-local"
    client_secret: str = "broadcast-local-secret"
    scope: str = DEFAULT_SCOPES
    redirect_uri: str = REDIRECT_URI


def discover(base_url: str) -> dict:
    response = requests.get(f"{base_url}/.well-known/oauth-authorization-server", timeout=10)
    response.raise_for_status()
    return response.json()


def headless_token(base_url: str, login_hint: str, credentials: Credentials = Credentials()) -> dict:
    """Run code + PKCE against an auto-approving server; returns the token response."""
    metadata = discover(base_url)
    session = OAuth2Session(
        credentials.client_id, credentials.client_secret, scope=credentials.scope,
        redirect_uri=credentials.redirect_uri, code_challenge_method="S256",
    )
    verifier = generate_token(64)
    url, _state = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, login_hint=login_hint)
    answer = requests.get(url, allow_redirects=False, timeout=10)
    location = answer.headers.get("Location", "")
    if answer.status_code not in (302, 303) or "code" not in parse_qs(urlparse(location).query):
        raise HeadlessAuthError(
            f"{metadata['authorization_endpoint']} answered {answer.status_code} without a code; "
            "is the server running with --auto-approve, and is the login hint an active agent's email?")
    return session.fetch_token(metadata["token_endpoint"], authorization_response=location,
                               code_verifier=verifier)
