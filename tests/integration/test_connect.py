"""Connecting an organization to AgentBuddy: OAuth, tokens at rest, refresh, re-auth, disconnect."""
from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from integration.agentbuddy import connections, disconnect, tokens
from integration.config import IntegrationConfig, MissingTokenKey
from integration.agentbuddy.errors import ConnectError, NotConnected
from integration.agentbuddy.secrets import SecretsError
from integration.agentbuddy.tokens import TokenSource

from .conftest import ConnectedOrg, advance_both


def _bearer_status(org: ConnectedOrg, token: str) -> int:
    return requests.get(f"{org.fake.url}/v1/connection", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code


def _raw_connection(org: ConnectedOrg) -> dict:
    with org.db.transaction(readonly=True) as tx:
        return tx.fetchone("SELECT * FROM connections WHERE organization_id = ?", (org.organization_id,))


def test_connect_stores_who_we_are_connected_as(connected_org: ConnectedOrg):
    connection = connections.get_connection(connected_org.db, "org_a")
    world = connected_org.fake.world()
    assert connection.status == connections.ACTIVE
    assert connection.account_id == world["accounts"][0]["id"]
    assert connection.account_name == world["accounts"][0]["name"]
    assert "read:contacts" in connection.scopes and "write:engagement" in connection.scopes
    secret = connections.webhook_secret(connected_org.db, connected_org.config, "org_a")
    assert secret.startswith("whsec_")


def test_tokens_and_webhook_secret_are_encrypted_at_rest(connected_org: ConnectedOrg):
    raw = _raw_connection(connected_org)
    token = TokenSource(connected_org.db, connected_org.config, "org_a", connected_org.clock).access_token()
    secret = connections.webhook_secret(connected_org.db, connected_org.config, "org_a")
    assert _bearer_status(connected_org, token) == 200  # the decrypted token is the real one
    dump = " ".join(str(v) for v in raw.values())
    assert token not in dump and secret not in dump and secret.removeprefix("whsec_") not in dump
    assert raw["access_token_enc"].startswith("gAAAA")  # a Fernet token


def test_without_a_token_key_connecting_fails_with_a_clear_error(database, fake_agentbuddy, clock):
    config = IntegrationConfig(agentbuddy_url=fake_agentbuddy.url, token_key=None,
                               redirect_uri="http://127.0.0.1/callback")
    with pytest.raises(MissingTokenKey, match="AB_HARNESS_TOKEN_KEY"):
        connections.connect_headless(database, config, "org_a", fake_agentbuddy.agent_email(), clock=clock)
    assert connections.get_connection(database, "org_a") is None


def test_the_callback_must_carry_the_state_we_issued_and_only_once(database, config, clock, fake_agentbuddy):
    url, pending = connections.begin_connect(database, config, "org_a",
                                             login_hint=fake_agentbuddy.agent_email(), clock=clock)
    assert parse_qs(urlsplit(url).query)["code_challenge_method"] == ["S256"]
    location = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    forged = location.replace(f"state={pending.state}", "state=forged")
    with pytest.raises(ConnectError) as excinfo:
        connections.complete_connect(database, config, forged, clock=clock)
    assert excinfo.value.code == "invalid_state"
    assert connections.complete_connect(database, config, location, clock=clock).status == "active"
    with pytest.raises(ConnectError) as again:  # replaying the callback
        connections.complete_connect(database, config, location, clock=clock)
    assert again.value.code == "invalid_state"


def test_a_denied_authorization_is_reported_not_stored(database, config, clock):
    _url, pending = connections.begin_connect(database, config, "org_a", clock=clock)
    callback = f"http://127.0.0.1/callback?error=access_denied&state={pending.state}"
    with pytest.raises(ConnectError) as excinfo:
        connections.complete_connect(database, config, callback, clock=clock)
    assert excinfo.value.code == "access_denied"
    assert connections.get_connection(database, "org_a") is None


def test_access_token_is_refreshed_before_it_expires(connected_org: ConnectedOrg):
    tokens = TokenSource(connected_org.db, connected_org.config, "org_a", connected_org.clock)
    first = tokens.access_token()
    advance_both(connected_org, 3600 - 30)  # inside the 60 s leeway of a one-hour token
    second = tokens.access_token()
    assert second != first
    assert _bearer_status(connected_org, second) == 200
    advance_both(connected_org, 60)  # the first token is now past its expiry at AgentBuddy
    assert _bearer_status(connected_org, first) == 401
    summary = connected_org.sync(entities=["offices"])  # syncing just works
    assert summary.entities["offices"].created == 3


def test_concurrent_refreshes_present_the_refresh_token_once(connected_org: ConnectedOrg):
    """AgentBuddy revokes the whole token family when a rotated refresh token is reused."""
    advance_both(connected_org, 3600 - 30)
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(TokenSource(connected_org.db, connected_org.config, "org_a", connected_org.clock).access_token())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    assert connections.get_connection(connected_org.db, "org_a").status == "active"
    assert _bearer_status(connected_org, results[0]) == 200


def test_refused_refresh_token_needs_reauth_and_keeps_the_data(synced_world: ConnectedOrg):
    org = synced_world
    contacts_before = len(org.rows("contacts"))
    raw = _raw_connection(org)
    refresh_token = connections.SecretBox(org.config.token_key).decrypt(raw["refresh_token_enc"])
    # The agent revokes Broadcast's access in AgentBuddy: the whole token family goes.
    requests.post(f"{org.fake.url}/oauth/revoke", data={"token": refresh_token, "token_type_hint": "refresh_token"},
                  auth=(org.config.client_id, org.config.client_secret), timeout=10).raise_for_status()
    with pytest.raises(NotConnected):
        org.sync()
    connection = connections.get_connection(org.db, "org_a")
    assert connection.status == connections.NEEDS_REAUTH
    assert "refresh" in (connection.last_error or "")
    assert len(org.rows("contacts")) == contacts_before > 0


def test_expired_refresh_with_invalid_grant_needs_reauth(connected_org: ConnectedOrg):
    org = connected_org
    with org.db.transaction() as tx:  # a refresh token AgentBuddy never issued
        tx.execute("UPDATE connections SET refresh_token_enc = ? WHERE organization_id = ?",
                   (connections.SecretBox(org.config.token_key).encrypt("not-a-real-refresh-token"), "org_a"))
    advance_both(org, 3600 + 5)
    with pytest.raises(NotConnected, match="needs_reauth"):
        TokenSource(org.db, org.config, "org_a", org.clock).access_token()
    assert connections.get_connection(org.db, "org_a").status == "needs_reauth"


def test_reconnecting_after_reauth_makes_the_connection_active_again(connected_org: ConnectedOrg):
    org = connected_org
    TokenSource(org.db, org.config, "org_a", org.clock).mark_needs_reauth("test")
    connections.connect_headless(org.db, org.config, "org_a", org.fake.agent_email(), clock=org.clock)
    assert connections.get_connection(org.db, "org_a").status == "active"


def test_an_organization_cannot_switch_to_another_account(connected_org: ConnectedOrg):
    org = connected_org
    with pytest.raises(ConnectError) as excinfo:
        connections.connect_headless(org.db, org.config, "org_a", org.fake.agent_email(1), clock=org.clock)
    assert excinfo.value.code == "account_mismatch"
    assert connections.get_connection(org.db, "org_a").account_id == org.account_id


def test_an_access_token_revoked_at_agentbuddy_is_refreshed_on_the_next_call(synced_world: ConnectedOrg):
    org = synced_world
    before = TokenSource(org.db, org.config, "org_a", org.clock).access_token()
    assert tokens.revoke_access_token(org.db, org.config, "org_a") == 200
    gone = requests.get(f"{org.config.api_base}/connection", timeout=10, headers={"Authorization": f"Bearer {before}"})
    assert gone.status_code == 401  # AgentBuddy no longer honours it
    summary = org.sync()  # a 401, one refresh, and the sync carries on
    assert summary.totals.records > 0
    assert TokenSource(org.db, org.config, "org_a", org.clock).access_token() != before
    assert connections.get_connection(org.db, "org_a").status == "active"


def test_disconnect_revokes_both_tokens_and_keeps_the_data(synced_world: ConnectedOrg):
    org = synced_world
    token = TokenSource(org.db, org.config, "org_a", org.clock).access_token()
    result = disconnect.disconnect(org.db, org.config, "org_a", clock=org.clock)
    assert result.revoked_refresh_token and result.revoked_access_token
    assert _bearer_status(org, token) == 401
    raw = _raw_connection(org)
    assert raw["status"] == "disconnected" and raw["access_token_enc"] is None and raw["refresh_token_enc"] is None
    assert org.rows("contacts")
    with pytest.raises(NotConnected, match="disconnected"):
        org.sync()


def test_old_secrets_stay_readable_after_a_key_rotation(connected_org: ConnectedOrg):
    from cryptography.fernet import Fernet

    org = connected_org
    rotated = org.config.replace(token_key=f"{Fernet.generate_key().decode()},{org.config.token_key}")
    assert connections.webhook_secret(org.db, rotated, "org_a").startswith("whsec_")
    wrong = org.config.replace(token_key=Fernet.generate_key().decode())
    with pytest.raises(SecretsError, match="AB_HARNESS_TOKEN_KEY"):
        connections.webhook_secret(org.db, wrong, "org_a")


def test_cli_browser_flow_receives_the_redirect_on_a_loopback_port(database, config, fake_agentbuddy, monkeypatch):
    """The user's browser is played by requests: AgentBuddy redirects to our one-shot server."""
    from integration.web import cli

    def browser(url: str) -> None:
        requests.get(f"{url}&login_hint={fake_agentbuddy.agent_email()}", timeout=10)

    monkeypatch.setattr(cli.webbrowser, "open", browser)
    connection = cli._browser_connect(database, config, "org_cli", open_browser=True, timeout=30)
    assert connection.status == "active" and connection.account_id == fake_agentbuddy.account_id()
