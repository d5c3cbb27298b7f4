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
from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import html
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from flask import Flask, g, jsonify
from markupsafe import escape
from common.clock import AdjustableClock
from common.serving import serve
from mock_agentbuddy.config import ClientSpec, MockConfig
from mock_agentbuddy.oauth import Grant, init_oauth, redirect_uri_allowed, require_scope
from mock_agentbuddy.state import MockState

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
    clock: AdjustableClock = field(default_factory=AdjustableClock)
    seed: int = 7
    agents: tuple[Agent, ...] = (
        Agent("ab_agent_001", "maria.lopez@sunrealty.example", "ab_account_001", "Maria", "Lopez"),
        Agent("ab_agent_002", "tom.old@sunrealty.example", "ab_account_001", "Tom", "Old", is_active=False),
        Agent("ab_agent_101", "li.chen@harbor.example", "ab_account_002", "Li", "Chen"),
    )
    world: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(accounts={
        "ab_account_001": Account("ab_account_001", "Sun Realty"),
        "ab_account_002": Account("ab_account_002", "Harbor Homes"),
    }))

    def find_agent_by_email(self, email):
        return next((a for a in self.agents if a.email.lower() == email.lower()), None)

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

    @app.get("/v1/connection")
    @require_scope("")  # any live token, whatever its scopes
    def connection():
        return jsonify(connection_id=g.grant.connection_id)

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


# --- login and consent pages ------------------------------------------------------------------


def open_login(client, pkce: Pkce, **overrides):
    response = client.get("/oauth/authorize", query_string=authorize_params(pkce, **overrides))
    assert response.status_code == 200
    return response


def sign_in(client, pkce: Pkce, email=MARIA, password=PASSWORD, **overrides):
    page = open_login(client, pkce, **overrides).get_data(as_text=True)
    return client.post("/oauth/authorize?" + urlencode(authorize_params(pkce, **overrides)),
                       data={"form": "login", "email": email, "password": password, "csrf_token": csrf_of(page)})


def test_login_page_is_a_real_form_naming_the_client(client):
    html = open_login(client, Pkce()).get_data(as_text=True)
    assert "Broadcast (local)" in html
    assert '<input type="email" id="email" name="email"' in html
    assert 'id="password" name="password"' in html
    assert ">Sign in</button>" in html
    assert 'name="csrf_token"' in html


def test_pages_cannot_be_framed_or_cached(client):
    response = open_login(client, Pkce())
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_session_cookie_does_not_collide_with_broadcasts_on_the_same_host(client):
    response = open_login(client, Pkce())
    assert response.headers["Set-Cookie"].startswith("agentbuddy_session=")


def test_wrong_password_shows_an_error_and_does_not_sign_in(client):
    pkce = Pkce()
    response = sign_in(client, pkce, password="letmein")
    assert response.status_code == 200
    assert "do not match" in response.get_data(as_text=True)
    again = client.get("/oauth/authorize", query_string=authorize_params(pkce))
    assert "Sign in" in again.get_data(as_text=True) and "Allow" not in again.get_data(as_text=True)


def test_inactive_agent_cannot_sign_in(client):
    response = sign_in(client, Pkce(), email=TOM_INACTIVE)
    assert "deactivated" in response.get_data(as_text=True)


def test_login_without_the_csrf_token_is_refused(client):
    pkce = Pkce()
    open_login(client, pkce)
    response = client.post("/oauth/authorize?" + urlencode(authorize_params(pkce)),
                           data={"form": "login", "email": MARIA, "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_sign_in_then_consent_lists_client_account_and_each_scope(client):
    pkce = Pkce()
    response = sign_in(client, pkce, scope="read:contacts write:engagement")
    assert response.status_code == 303
    consent = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Allow Broadcast (local) to access Sun Realty?" in consent
    assert "Maria Lopez" in consent
    assert "See your contacts" in consent and "<code>read:contacts</code>" in consent
    assert "propensity scores" in consent and "<code>write:engagement</code>" in consent
    assert "read:offices" not in consent
    assert "127.0.0.1:8765" in consent  # where the agent will be sent back
    assert 'value="allow">Allow</button>' in consent and 'value="deny" class="secondary">Deny</button>' in consent


def test_allow_redirects_with_a_code_that_exchanges_for_tokens(client):
    pkce = Pkce()
    consent_url = sign_in(client, pkce).headers["Location"]
    csrf = csrf_of(client.get(consent_url).get_data(as_text=True))
    response = client.post(consent_url, data={"decision": "allow", "csrf_token": csrf})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    assert query_of(location)["state"] == "st-123"
    token = exchange(client, query_of(location)["code"], pkce)
    assert token.status_code == 200 and token.get_json()["account_id"] == "ab_account_001"


def test_deny_returns_access_denied_to_the_client_with_its_state(client):
    pkce = Pkce()
    consent_url = sign_in(client, pkce).headers["Location"]
    csrf = csrf_of(client.get(consent_url).get_data(as_text=True))
    response = client.post(consent_url, data={"decision": "deny", "csrf_token": csrf})
    assert response.status_code == 302
    answer = query_of(response.headers["Location"])
    assert response.headers["Location"].startswith(CALLBACK + "?")
    assert (answer["error"], answer["state"]) == ("access_denied", "st-123")
    assert "code" not in answer


def test_consent_without_csrf_is_refused_and_issues_no_code(client):
    pkce = Pkce()
    consent_url = sign_in(client, pkce).headers["Location"]
    response = client.post(consent_url, data={"decision": "allow"})
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_a_signed_in_agent_can_switch_to_another_agent(client):
    pkce = Pkce()
    consent_url = sign_in(client, pkce).headers["Location"]
    csrf = csrf_of(client.get(consent_url).get_data(as_text=True))
    client.post(consent_url, data={"form": "logout", "csrf_token": csrf})
    assert 'id="email"' in client.get(consent_url).get_data(as_text=True)


# --- authorization errors: a page when the redirect URI is not trusted, a redirect otherwise --


@pytest.mark.parametrize("overrides, expected", [
    ({"client_id": "no-such-client"}, "invalid_client"),
    ({"redirect_uri": "https://evil.example/callback"}, "invalid_request"),
    ({"redirect_uri": None}, "invalid_request"),  # three URIs registered: the client must say which
    ({"client_id": "offices-only", "redirect_uri": "https://broadcast.example:8443/cb"}, "invalid_request"),
    ({"redirect_uri": "http://127.0.0.1:8765/callback/other"}, "invalid_request"),
    ({"redirect_uri": "http://127.0.0.1:8765/callback?next=/x"}, "invalid_request"),
])
def test_untrusted_client_or_redirect_uri_gets_an_error_page_never_a_redirect(client, overrides, expected):
    response = client.get("/oauth/authorize", query_string=authorize_params(Pkce(), **overrides))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert expected in response.get_data(as_text=True)


@pytest.mark.parametrize("overrides, expected", [
    ({"scope": "read:contacts delete:everything"}, "invalid_scope"),
    ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),  # PKCE required
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),  # absent means plain, which we refuse
    ({"response_type": "token"}, "unsupported_response_type"),
])
def test_bad_requests_from_a_trusted_client_redirect_back_with_the_error(auto_app, overrides, expected):
    client = auto_app[0].test_client()
    response = client.get("/oauth/authorize", query_string=authorize_params(Pkce(), login_hint=MARIA, **overrides))
    assert response.status_code == 302
    answer = query_of(response.headers["Location"])
    assert answer["error"] == expected
    assert answer["state"] == "st-123"
    assert "code" not in answer


def test_confidential_client_is_also_held_to_pkce(auto_app):
    client = auto_app[0].test_client()
    params = authorize_params(Pkce(), login_hint=MARIA, code_challenge=None, code_challenge_method=None)
    response = client.get("/oauth/authorize", query_string=params)
    assert query_of(response.headers["Location"])["error"] == "invalid_request"


@pytest.mark.parametrize("uri", [
    "http://127.0.0.1:51234/callback", "http://127.0.0.1/callback",
    "http://localhost:3000/integrations/agentbuddy/callback",
])
def test_loopback_redirect_uris_may_use_any_port(auto_app, uri):
    client = auto_app[0].test_client()
    token = connected(client, redirect_uri=uri)
    assert token["access_token"]


def test_redirect_uri_policy_in_detail():
    registered = ("http://127.0.0.1/cb", "http://[::1]/cb", "http://localhost/cb", "https://app.example/cb")
    assert redirect_uri_allowed("http://[::1]:9000/cb", registered)
    assert redirect_uri_allowed("http://localhost:1/cb", registered)
    assert redirect_uri_allowed("https://app.example/cb", registered)
    assert not redirect_uri_allowed("https://app.example:444/cb", registered)  # not loopback: exact only
    assert not redirect_uri_allowed("https://127.0.0.1:9000/cb", registered)  # scheme must match
    assert not redirect_uri_allowed("http://127.0.0.1:9000/cb/", registered)  # path exactly
    assert not redirect_uri_allowed("http://127.0.0.1:9000/cb#frag", registered)
    assert not redirect_uri_allowed("http://user@127.0.0.1:9000/cb", registered)
    assert not redirect_uri_allowed("http://127.0.0.1:notaport/cb", registered)
    assert not redirect_uri_allowed("http://127.0.0.2:9000/cb", registered)


# --- the token endpoint ---------------------------------------------------------------------------


def test_token_errors_are_rfc6749_json_not_problem_json(auto_app):
    client = auto_app[0].test_client()
    response = exchange(client, "not-a-code", Pkce())
    assert response.status_code == 400
    assert response.content_type == "application/json"
    assert response.get_json()["error"] == "invalid_grant"
    assert response.headers["Cache-Control"] == "no-store"


def test_code_replay_fails_and_revokes_the_tokens_it_issued(auto_app):
    client = auto_app[0].test_client()
    pkce = Pkce()
    code = auto_code(client, pkce)
    first = exchange(client, code, pkce).get_json()
    assert client.get("/v1/contacts", headers=bearer(first["access_token"])).status_code == 200

    replay = exchange(client, code, pkce)
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert client.get("/v1/contacts", headers=bearer(first["access_token"])).status_code == 401
    assert refresh(client, first["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_code_exchange_needs_the_same_redirect_uri_as_the_authorization_request(auto_app):
    client = auto_app[0].test_client()
    pkce = Pkce()
    code = auto_code(client, pkce)
    response = exchange(client, code, pkce, redirect_uri="http://127.0.0.1:9999/callback")
    assert response.get_json()["error"] == "invalid_grant"


def test_missing_code_verifier_is_refused(auto_app):
    client = auto_app[0].test_client()
    pkce = Pkce()
    response = exchange(client, auto_code(client, pkce), None)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_wrong_code_verifier_is_refused(auto_app):
    client = auto_app[0].test_client()
    code = auto_code(client, Pkce())
    response = exchange(client, code, Pkce())
    assert response.get_json()["error"] == "invalid_grant"


def test_code_expires_after_code_ttl_on_the_fakes_clock(auto_app):
    app, state = auto_app
    client = app.test_client()
    pkce = Pkce()
    code = auto_code(client, pkce)
    state.clock.advance(state.config.code_ttl)
    assert exchange(client, code, pkce).get_json()["error"] == "invalid_grant"


def test_code_still_works_just_before_it_expires(auto_app):
    app, state = auto_app
    client = app.test_client()
    pkce = Pkce()
    code = auto_code(client, pkce)
    state.clock.advance(state.config.code_ttl - 1)
    assert exchange(client, code, pkce).status_code == 200


def test_wrong_client_secret_is_invalid_client(auto_app):
    client = auto_app[0].test_client()
    pkce = Pkce()
    basic = exchange(client, auto_code(client, pkce), pkce, auth=(CLIENT_ID, "wrong"))
    assert basic.status_code == 401 and basic.get_json()["error"] == "invalid_client"
    pkce = Pkce()
    code = auto_code(client, pkce)
    post = client.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": pkce.verifier,
        "client_id": CLIENT_ID, "client_secret": "wrong"})
    assert post.get_json()["error"] == "invalid_client"


def test_confidential_client_cannot_skip_its_secret(auto_app):
    client = auto_app[0].test_client()
    pkce = Pkce()
    code = auto_code(client, pkce)
    response = client.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "code_verifier": pkce.verifier, "client_id": CLIENT_ID})
    assert response.get_json()["error"] == "invalid_client"


def test_client_secret_post_works(auto_app):
    client = auto_app[0].test_client()
    pkce = Pkce()
    code = auto_code(client, pkce)
    response = client.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "code_verifier": pkce.verifier, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert response.status_code == 200


def test_public_client_uses_pkce_without_a_secret(auto_app):
    client = auto_app[0].test_client()
    pkce = Pkce()
    code = auto_code(client, pkce, client_id=PUBLIC_CLIENT)
    response = client.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "code_verifier": pkce.verifier, "client_id": PUBLIC_CLIENT})
    assert response.status_code == 200
    assert client.get("/v1/contacts", headers=bearer(response.get_json()["access_token"])).get_json()["client_id"] == PUBLIC_CLIENT


def test_a_code_issued_to_one_client_is_useless_to_another(auto_app):
    client = auto_app[0].test_client()
    pkce = Pkce()
    code = auto_code(client, pkce)
    response = client.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "code_verifier": pkce.verifier, "client_id": PUBLIC_CLIENT})
    assert response.get_json()["error"] == "invalid_grant"


def test_access_token_ttl_comes_from_config():
    app, _ = make_app(auto_approve=True, access_token_ttl=120)
    assert connected(app.test_client())["expires_in"] == 120


def test_concurrent_exchanges_of_one_code_yield_exactly_one_token(auto_app):
    app, _ = auto_app
    pkce = Pkce()
    code = auto_code(app.test_client(), pkce)
    barrier, statuses = threading.Barrier(6), []

    def attempt():
        barrier.wait()
        statuses.append(exchange(app.test_client(), code, pkce).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 400, 400, 400, 400, 400]


# --- refresh rotation and reuse ---------------------------------------------------------------


def test_refresh_rotates_the_refresh_token_and_keeps_tenant_and_scope(auto_app):
    client = auto_app[0].test_client()
    first = connected(client, scope="read:contacts read:offices")
    second = refresh(client, first["refresh_token"])
    assert second.status_code == 200
    second = second.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["account_id"] == "ab_account_001"
    assert set(second["scope"].split()) == {"read:contacts", "read:offices"}
    assert client.get("/v1/contacts", headers=bearer(second["access_token"])).status_code == 200


def test_refresh_can_narrow_but_not_widen_scope(auto_app):
    client = auto_app[0].test_client()
    first = connected(client, scope="read:contacts read:offices")
    narrowed = client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                                 "scope": "read:offices"}, auth=(CLIENT_ID, CLIENT_SECRET))
    assert narrowed.get_json()["scope"] == "read:offices"
    widened = client.post("/oauth/token", data={"grant_type": "refresh_token",
                                                "refresh_token": narrowed.get_json()["refresh_token"],
                                                "scope": "read:offices write:engagement"}, auth=(CLIENT_ID, CLIENT_SECRET))
    assert widened.get_json()["error"] == "invalid_scope"


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(auto_app):
    client = auto_app[0].test_client()
    first = connected(client)
    second = refresh(client, first["refresh_token"]).get_json()
    third = refresh(client, second["refresh_token"]).get_json()

    reuse = refresh(client, first["refresh_token"])
    assert reuse.status_code == 400 and reuse.get_json()["error"] == "invalid_grant"
    for token in (first, second, third):
        assert client.get("/v1/contacts", headers=bearer(token["access_token"])).status_code == 401
    assert refresh(client, third["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_reuse_does_not_touch_other_authorizations(auto_app):
    client = auto_app[0].test_client()
    victim, bystander = connected(client), connected(client, email=LI)
    refresh(client, victim["refresh_token"])
    refresh(client, victim["refresh_token"])
    assert client.get("/v1/contacts", headers=bearer(bystander["access_token"])).status_code == 200


def test_refresh_token_of_one_client_is_useless_to_another(auto_app):
    client = auto_app[0].test_client()
    token = connected(client)
    response = client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"],
                                                  "client_id": PUBLIC_CLIENT})
    assert response.get_json()["error"] == "invalid_grant"
    assert refresh(client, token["refresh_token"]).status_code == 200  # and it was not spent


def test_refresh_token_expires_after_refresh_token_ttl(auto_app):
    app, state = auto_app
    client = app.test_client()
    token = connected(client)
    state.clock.advance(state.config.refresh_token_ttl)
    assert refresh(client, token["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_concurrent_refreshes_with_one_token_yield_exactly_one_success(auto_app):
    app, _ = auto_app
    token = connected(app.test_client())
    barrier, statuses = threading.Barrier(6), []

    def attempt():
        barrier.wait()
        statuses.append(refresh(app.test_client(), token["refresh_token"]).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 400, 400, 400, 400, 400]


# --- protected views ------------------------------------------------------------------------------


def test_missing_token_is_401_problem_json_with_a_bearer_challenge(client):
    response = client.get("/v1/contacts")
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["code"] == "invalid_token" and body["status"] == 401
    assert body["type"] == "https://agentbuddy.example/docs/errors.html#invalid_token"
    # RFC 6750 §3.1: no authentication information, so no error code in the challenge.
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="agentbuddy"'


@pytest.mark.parametrize("header, challenge", [
    ("Bearer not-a-token", 'Bearer realm="agentbuddy", error="invalid_token"'),
    ("Basic YWxhZGRpbjpvcGVuc2VzYW1l", 'Bearer realm="agentbuddy"'),  # another scheme: as if none was sent
    ("Bearer", 'Bearer realm="agentbuddy"'),
])
def test_a_challenge_names_invalid_token_only_when_a_bearer_token_was_sent(client, header, challenge):
    response = client.get("/v1/contacts", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == challenge


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer", "garbage"])
def test_malformed_or_unknown_tokens_are_401(client, header):
    response = client.get("/v1/contacts", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_token"


def test_token_without_the_scope_is_403_insufficient_scope(auto_app):
    client = auto_app[0].test_client()
    token = connected(client, scope="read:contacts")
    response = client.post("/v1/engagement/bulk", headers=bearer(token["access_token"]))
    assert response.status_code == 403
    assert response.content_type == "application/problem+json"
    assert response.get_json()["code"] == "insufficient_scope"
    assert "write:engagement" in response.get_json()["detail"]
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="agentbuddy", error="insufficient_scope", scope="write:engagement"')
    assert client.get("/v1/contacts", headers=bearer(token["access_token"])).status_code == 200


def test_access_token_expires_on_the_fakes_clock(auto_app):
    app, state = auto_app
    client = app.test_client()
    token = connected(client)
    state.clock.advance(token["expires_in"] - 1)
    assert client.get("/v1/contacts", headers=bearer(token["access_token"])).status_code == 200
    state.clock.advance(1)
    expired = client.get("/v1/contacts", headers=bearer(token["access_token"]))
    assert expired.status_code == 401 and expired.get_json()["code"] == "invalid_token"
    renewed = refresh(client, token["refresh_token"]).get_json()  # the way back in
    assert client.get("/v1/contacts", headers=bearer(renewed["access_token"])).status_code == 200


def test_grant_carries_the_tenant_of_the_agent_who_authorized(auto_app):
    client = auto_app[0].test_client()
    token = connected(client, email=LI, scope="read:contacts")
    grant = client.get("/v1/contacts", headers=bearer(token["access_token"])).get_json()
    assert grant["account_id"] == "ab_account_002"
    assert grant["agent_id"] == "ab_agent_101"
    assert grant["scopes"] == ["read:contacts"]
    assert grant["token_id"].startswith("tok_")


def test_an_empty_scope_requirement_accepts_any_live_token_but_no_missing_one(auto_app):
    client = auto_app[0].test_client()
    token = connected(client, scope="read:offices")
    assert client.get("/v1/connection", headers=bearer(token["access_token"])).status_code == 200
    assert client.get("/v1/connection").status_code == 401


def test_plain_http_on_a_non_loopback_host_is_refused_with_a_hint(auto_app):
    client = auto_app[0].test_client()
    response = client.post("/oauth/token", base_url="http://agentbuddy.internal",
                           data={"grant_type": "authorization_code", "code": "x"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "insecure_transport"
    assert "AUTHLIB_INSECURE_TRANSPORT=1" in response.get_json()["error_description"]
    page = client.get("/oauth/authorize", base_url="http://agentbuddy.internal")
    assert page.status_code == 400 and "AUTHLIB_INSECURE_TRANSPORT=1" in page.get_data(as_text=True)


# --- revocation (RFC 7009) ----------------------------------------------------------------------


def revoke(client, token: str, hint: str | None = None, auth=(CLIENT_ID, CLIENT_SECRET)):
    data = {"token": token} | ({"token_type_hint": hint} if hint else {})
    return client.post("/oauth/revoke", data=data, auth=auth)


def test_revoked_access_token_is_401_but_its_refresh_token_still_works(auto_app):
    client = auto_app[0].test_client()
    token = connected(client)
    assert revoke(client, token["access_token"], "access_token").status_code == 200
    assert client.get("/v1/contacts", headers=bearer(token["access_token"])).status_code == 401
    assert refresh(client, token["refresh_token"]).status_code == 200


def test_revoking_a_refresh_token_also_revokes_its_access_tokens(auto_app):
    client = auto_app[0].test_client()
    token = connected(client)
    assert revoke(client, token["refresh_token"]).status_code == 200  # no hint: found anyway
    assert client.get("/v1/contacts", headers=bearer(token["access_token"])).status_code == 401
    assert refresh(client, token["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_revoking_an_unknown_token_answers_200(client):
    assert revoke(client, "never-issued").status_code == 200


def test_revocation_needs_client_authentication(auto_app):
    client = auto_app[0].test_client()
    token = connected(client)
    response = revoke(client, token["access_token"], auth=(CLIENT_ID, "wrong"))
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"
    assert client.get("/v1/contacts", headers=bearer(token["access_token"])).status_code == 200


def test_a_client_cannot_revoke_another_clients_token(auto_app):
    client = auto_app[0].test_client()
    token = connected(client)
    response = client.post("/oauth/revoke", data={"token": token["access_token"], "client_id": PUBLIC_CLIENT})
    assert response.status_code == 400
    assert client.get("/v1/contacts", headers=bearer(token["access_token"])).status_code == 200


# --- the store as the admin API sees it ---------------------------------------------------------


def test_token_summary_counts_without_revealing_tokens(auto_app):
    app, _ = auto_app
    client = app.test_client()
    first = connected(client)
    refresh(client, first["refresh_token"])
    auto_code(client, Pkce())  # pending, never exchanged
    summary = app.extensions["oauth_store"].token_summary()
    assert summary["authorization_codes"] == {"pending": 1, "used": 1, "expired": 0}
    assert summary["access_tokens"] == {"active": 2, "expired": 0, "revoked": 0}
    assert summary["refresh_tokens"] == {"active": 1, "rotated": 1, "expired": 0, "revoked": 0}
    assert summary["grants"] == {"total": 1, "with_active_access_token": 1}
    assert first["access_token"] not in repr(summary)


def test_reset_forgets_every_code_and_token(auto_app):
    app, _ = auto_app
    client = app.test_client()
    token = connected(client)
    pkce = Pkce()
    code = auto_code(client, pkce)
    app.extensions["oauth_store"].reset()
    assert client.get("/v1/contacts", headers=bearer(token["access_token"])).status_code == 401
    assert exchange(client, code, pkce).get_json()["error"] == "invalid_grant"
    assert app.extensions["oauth_store"].token_summary()["access_tokens"]["active"] == 0


# --- a third-party client against a real server ---------------------------------------------


@pytest.fixture
def live():
    """The OAuth server on a real socket (auto-approve on, so `login_hint` skips the pages)."""
    app, state = make_app(auto_approve=True)
    with serve(app) as served:
        yield SimpleNamespace(base=served.url, app=app, state=state)


def discover(base: str) -> dict:
    meta = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=5).json()
    AuthorizationServerMetadata(meta).validate()  # Authlib's own RFC 8414 checks
    return meta


def third_party(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, scope=None) -> OAuth2Session:
    return OAuth2Session(client_id, client_secret, scope=scope, redirect_uri="http://127.0.0.1:41999/callback",
                         code_challenge_method="S256")


def form_action(page: requests.Response) -> str:
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    return urljoin(page.url, html.unescape(action))


def test_metadata_validates_and_names_the_live_origin(live):
    meta = discover(live.base)
    assert meta["issuer"] == live.base
    assert meta["token_endpoint"] == f"{live.base}/oauth/token"


def test_authlib_client_connects_headlessly_with_auto_approve_and_pkce(live):
    meta = discover(live.base)
    oauth = third_party(scope="read:contacts read:offices")
    verifier = generate_token(64)
    url, _ = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, login_hint=MARIA)
    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    token = oauth.fetch_token(meta["token_endpoint"], authorization_response=answer.headers["Location"],
                              code_verifier=verifier)
    assert token["account_id"] == "ab_account_001"
    assert set(token["scope"].split()) == {"read:contacts", "read:offices"}

    seen = oauth.get(f"{live.base}/v1/contacts", timeout=5)
    assert seen.status_code == 200 and seen.json()["connection_id"] == "ab_conn_broadcast-local_ab_account_001"

    old_refresh = token["refresh_token"]
    renewed = oauth.refresh_token(meta["token_endpoint"])
    assert renewed["refresh_token"] != old_refresh
    assert oauth.get(f"{live.base}/v1/contacts", timeout=5).status_code == 200

    with pytest.raises(OAuthError) as reuse:
        oauth.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
    assert reuse.value.error == "invalid_grant"
    assert oauth.get(f"{live.base}/v1/contacts", timeout=5).status_code == 401  # the family is gone


def test_authlib_client_connects_through_the_login_and_consent_pages(live):
    meta = discover(live.base)
    oauth = third_party()
    verifier = generate_token(64)
    url, _ = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
    browser = requests.Session()
    login = browser.get(url, timeout=5)
    assert login.status_code == 200 and "Sign in to AgentBuddy" in login.text
    consent = browser.post(form_action(login), timeout=5, data={
        "form": "login", "email": MARIA, "password": PASSWORD, "csrf_token": csrf_of(login.text)})
    assert "Allow Broadcast (local) to access Sun Realty?" in consent.text
    answer = browser.post(form_action(consent), allow_redirects=False, timeout=5,
                          data={"decision": "allow", "csrf_token": csrf_of(consent.text)})
    assert answer.status_code == 302
    token = oauth.fetch_token(meta["token_endpoint"], authorization_response=answer.headers["Location"],
                              code_verifier=verifier)
    assert oauth.get(f"{live.base}/v1/contacts", timeout=5).status_code == 200

    assert oauth.revoke_token(meta["revocation_endpoint"], token=token["access_token"],
                              token_type_hint="access_token").status_code == 200
    assert oauth.get(f"{live.base}/v1/contacts", timeout=5).status_code == 401


def test_authlib_public_client_uses_pkce_and_no_secret(live):
    meta = discover(live.base)
    oauth = third_party(client_id=PUBLIC_CLIENT, client_secret=None, scope="read:contacts")
    verifier = generate_token(64)
    url, _ = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, login_hint=LI)
    location = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
    token = oauth.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
    assert token["account_id"] == "ab_account_002"
    assert oauth.revoke_token(meta["revocation_endpoint"], token=token["refresh_token"]).status_code == 200
    assert oauth.get(f"{live.base}/v1/contacts", timeout=5).status_code == 401


def test_authlib_client_without_a_verifier_is_refused(live):
    meta = discover(live.base)
    oauth = third_party()
    verifier = generate_token(64)
    url, _ = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, login_hint=MARIA)
    location = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
    with pytest.raises(OAuthError) as refused:
        oauth.fetch_token(meta["token_endpoint"], authorization_response=location)
    assert refused.value.error == "invalid_request"


# --- against the fake core's real state -----------------------------------------------------------


def test_agents_of_the_real_seeded_world_connect_to_their_own_account():
    state = MockState(MockConfig(auto_approve=True, accounts=2, contacts_per_account=2))
    app = Flask("oauth-real-state")
    init_oauth(app, state)

    @app.get("/v1/contacts")
    @require_scope("read:contacts")
    def contacts():
        return jsonify(account_id=g.grant.account_id, connection_id=g.grant.connection_id)

    client = app.test_client()
    for account in state.world.accounts.values():
        agent = next(a for a in account.collections["agents"].records.values() if a["is_active"])
        pkce = Pkce()
        consent_url = sign_in(client, pkce, email=agent["email"]).headers["Location"]
        consent = client.get(consent_url).get_data(as_text=True)
        assert str(escape(f"to access {account.name}?")) in consent
        answer = client.post(consent_url, data={"decision": "allow", "csrf_token": csrf_of(consent)})
        token = exchange(client, query_of(answer.headers["Location"])["code"], pkce).get_json()
        assert token["account_id"] == account.id
        seen = client.get("/v1/contacts", headers=bearer(token["access_token"])).get_json()
        assert seen == {"account_id": account.id, "connection_id": state.connection_for(CLIENT_ID, account.id).id}
        client.post(consent_url, data={"form": "logout", "csrf_token": csrf_of(consent)})
