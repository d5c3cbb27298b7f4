"""The fake AgentBuddy's OAuth server, seen the way a Broadcast developer meets it.

Two kinds of client drive it: Flask's test client (precise abuse cases) and Authlib's own
`OAuth2Session` against a real server on a free port, which finds every endpoint through the
RFC 8414 metadata document — if a standard client can connect, so can Broadcast.

The fake core's state is replaced here by a small stand-in with the same surface
(`clock`, `config`, `find_agent_by_email`, `connection_for`, `seed`), so these tests pin the
OAuth side of the interface on their own.
"""
from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Flask, g, jsonify

from mock_agentbuddy.clock import Clock
from mock_agentbuddy.config import ClientSpec, MockConfig
from mock_agentbuddy.oauth import Grant, init_oauth, redirect_uri_allowed, require_scope

CLIENT_ID, CLIENT_SECRET = "broadcast-local", "broadcast-local-secret"
PUBLIC_CLIENT = "broadcast-cli"
CALLBACK = "http://127.0.0.1:8765/callback"
PASSWORD = "agentbuddy"


# --- a stand-in for the fake core's state -----------------------------------------------------


@dataclass(frozen=True)
class Agent:
    id: str
    email: str
    account_id: str
    first_name: str
    last_name: str
    is_active: bool = True


@dataclass(frozen=True)
class Account:
    id: str
    name: str


@dataclass(frozen=True)
class Connection:
    id: str
    webhook_secret: str


@dataclass
class StandInState:
    config: MockConfig
    clock: Clock = field(default_factory=Clock)
    seed: int = 7
    agents: tuple[Agent, ...] = (
        Agent("ab_agent_001", "maria.lopez@sunrealty.example", "ab_account_001", "Maria", "Lopez"),
        Agent("ab_agent_002", "tom.old@sunrealty.example", "ab_account_001", "Tom", "Old", is_active=False),
        Agent("ab_agent_101", "li.chen@harbor.example", "ab_account_002", "Li", "Chen"),
    )
    accounts: tuple[Account, ...] = (Account("ab_account_001", "Sun Realty"), Account("ab_account_002", "Harbor Homes"))

    def find_agent_by_email(self, email):
        return next((a for a in self.agents if a.email.lower() == email.lower()), None)

    def find_account(self, account_id):
        return next((a for a in self.accounts if a.id == account_id), None)

    def connection_for(self, client_id, account_id):
        return Connection(f"ab_conn_{client_id}_{account_id}", "whsec_" + "A" * 32)


MARIA = "maria.lopez@sunrealty.example"
TOM_INACTIVE = "tom.old@sunrealty.example"
LI = "li.chen@harbor.example"


def make_app(**config) -> tuple[Flask, StandInState]:
    clients = [
        *MockConfig().clients,
        ClientSpec("offices-only", "offices-secret", ("https://broadcast.example/cb",), ("read:offices",), "Offices Viewer"),
    ]
    state = StandInState(MockConfig(clients=clients, **config))
    state.clock.freeze()
    app = Flask("oauth-test")
    app.secret_key = "test-secret"
    init_oauth(app, state)

    @app.get("/v1/contacts")
    @require_scope("read:contacts")
    def contacts():
        grant: Grant = g.grant
        return jsonify(account_id=grant.account_id, agent_id=grant.agent_id, client_id=grant.client_id,
                       connection_id=grant.connection_id, scopes=sorted(grant.scopes), token_id=grant.token_id)

    @app.post("/v1/engagement/bulk")
    @require_scope("write:engagement")
    def bulk():
        return jsonify(accepted=True)

    return app, state


@pytest.fixture
def app_state():
    return make_app()


@pytest.fixture
def app(app_state):
    return app_state[0]


@pytest.fixture
def state(app_state):
    return app_state[1]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auto_app():
    return make_app(auto_approve=True)


@dataclass
class Pkce:
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        return create_s256_code_challenge(self.verifier)


def authorize_params(pkce: Pkce, **overrides) -> dict:
    params = {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": CALLBACK, "state": "st-123",
        "code_challenge": pkce.challenge, "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def query_of(location: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def auto_code(client, pkce: Pkce, email: str = MARIA, **overrides) -> str:
    response = client.get("/oauth/authorize", query_string=authorize_params(pkce, login_hint=email, **overrides))
    assert response.status_code == 302, response.get_data(as_text=True)
    return query_of(response.headers["Location"])["code"]


def exchange(client, code: str, pkce: Pkce | None, redirect_uri: str = CALLBACK, auth=(CLIENT_ID, CLIENT_SECRET)):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if pkce is not None:
        data["code_verifier"] = pkce.verifier
    return client.post("/oauth/token", data=data, auth=auth)


def refresh(client, refresh_token: str, auth=(CLIENT_ID, CLIENT_SECRET)):
    return client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}, auth=auth)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def connected(client, **overrides) -> dict:
    """Maria connects Broadcast with auto-approve; returns the token response."""
    pkce = Pkce()
    response = exchange(client, auto_code(client, pkce, **overrides), pkce,
                        redirect_uri=overrides.get("redirect_uri", CALLBACK))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- the happy path -----------------------------------------------------------------------------


def test_metadata_document_lists_every_endpoint_and_our_policy(client):
    meta = client.get("/.well-known/oauth-authorization-server").get_json()
    assert meta["issuer"] == "http://localhost"
    assert meta["authorization_endpoint"] == "http://localhost/oauth/authorize"
    assert meta["token_endpoint"] == "http://localhost/oauth/token"
    assert meta["revocation_endpoint"] == "http://localhost/oauth/revoke"
    assert meta["response_types_supported"] == ["code"]
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post", "none"]
    assert meta["revocation_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post", "none"]
    assert {"read:contacts", "read:offices", "write:engagement"} <= set(meta["scopes_supported"])


def test_auto_approve_with_login_hint_issues_a_code_and_tokens_for_the_agents_account(auto_app):
    app, _ = auto_app
    client = app.test_client()
    token = connected(client)
    assert token["token_type"] == "Bearer"
    assert token["account_id"] == "ab_account_001"
    assert token["expires_in"] == 3600
    assert token["refresh_token"]
    assert set(token["scope"].split()) == set(MockConfig().clients[0].scopes)  # no scope asked: all of the client's

    seen = client.get("/v1/contacts", headers=bearer(token["access_token"]))
    assert seen.status_code == 200
    assert seen.get_json()["account_id"] == "ab_account_001"
    assert seen.get_json()["agent_id"] == "ab_agent_001"
    assert seen.get_json()["connection_id"] == "ab_conn_broadcast-local_ab_account_001"


def test_auto_approve_passes_state_through(auto_app):
    client = auto_app[0].test_client()
    response = client.get("/oauth/authorize", query_string=authorize_params(Pkce(), login_hint=MARIA, state="xyz/1+2"))
    assert query_of(response.headers["Location"])["state"] == "xyz/1+2"


def test_auto_approve_is_off_by_default_so_the_login_page_shows(client):
    response = client.get("/oauth/authorize", query_string=authorize_params(Pkce(), login_hint=MARIA))
    assert response.status_code == 200
    assert 'id="email"' in response.get_data(as_text=True)
    assert MARIA in response.get_data(as_text=True)  # the hint prefills the email field


def test_auto_approve_ignores_an_inactive_or_unknown_agent_and_shows_the_login_page(auto_app):
    client = auto_app[0].test_client()
    for email in (TOM_INACTIVE, "nobody@example.com"):
        response = client.get("/oauth/authorize", query_string=authorize_params(Pkce(), login_hint=email))
        assert response.status_code == 200
        assert "Sign in" in response.get_data(as_text=True)


def test_requested_scopes_are_intersected_with_the_clients_allowed_scopes(auto_app):
    client = auto_app[0].test_client()
    token = connected(client, scope="read:contacts read:offices")
    assert set(token["scope"].split()) == {"read:contacts", "read:offices"}


def test_offices_only_client_asking_for_contacts_too_gets_only_offices(auto_app):
    client = auto_app[0].test_client()
    pkce = Pkce()
    code = auto_code(client, pkce, client_id="offices-only", redirect_uri="https://broadcast.example/cb",
                     scope="read:offices read:contacts")
    token = exchange(client, code, pkce, redirect_uri="https://broadcast.example/cb",
                     auth=("offices-only", "offices-secret")).get_json()
    assert token["scope"] == "read:offices"
