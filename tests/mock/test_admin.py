"""The admin back door: world, clock, mutate, reset; every bad input named precisely."""
from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from mock_agentbuddy import create_app, state_of, stop_background
from mock_agentbuddy.cli import mock

from .mock_helpers import small_config


def test_world_lists_logins_clients_and_connections(world):
    assert world["agent_password"] == "agentbuddy"
    assert {c["client_id"] for c in world["clients"]} == {"broadcast-local", "broadcast-cli"}
    local = next(c for c in world["clients"] if c["client_id"] == "broadcast-local")
    assert local["client_secret"] == "broadcast-local-secret" and local["confidential"]
    assert "http://127.0.0.1/integrations/agentbuddy/callback" in local["redirect_uris"]
    assert len(world["connections"]) == 2 * len(world["accounts"])
    assert all(c["webhook_secret"].startswith("whsec_") for c in world["connections"])
    assert world["accounts"][0]["id"] == "ab_account_001"


def test_world_export_digest_is_stable_across_instances(client):
    other = create_app(small_config())
    try:
        mine = client.get("/__admin/world/export").get_json()["sha256"]
        theirs = other.test_client().get("/__admin/world/export").get_json()["sha256"]
        assert mine == theirs
    finally:
        stop_background(other)


def test_clock_freeze_set_and_advance(client):
    frozen = client.post("/__admin/clock", json={"freeze": True, "set": "2026-03-01T12:00:00Z"}).get_json()
    assert frozen == {"now": "2026-03-01T12:00:00.000Z", "frozen": True}
    assert client.post("/__admin/clock", json={"advance_seconds": 90}).get_json()["now"] == "2026-03-01T12:01:30.000Z"
    answer = client.post("/__admin/clock", json={"set": "noon", "advance_seconds": "1", "freeze": "yes"})
    assert answer.status_code == 422
    assert {e["field"] for e in answer.get_json()["errors"]} == {"set", "advance_seconds", "freeze"}
    assert client.get("/__admin/clock").get_json()["now"] == "2026-03-01T12:01:30.000Z"


def test_mutations_stamp_updated_at_from_the_clock(client, api):
    client.post("/__admin/clock", json={"freeze": True, "set": "2026-06-01T08:00:00.000Z"})
    created = client.post("/__admin/mutate", json={"entity": "contact", "op": "create", "account_id": "ab_account_001",
                                                   "changes": {"first_name": "Maria", "contact_type": "owner"}})
    assert created.status_code == 201
    record = created.get_json()["record"]
    assert record["first_name"] == "Maria" and record["updated_at"] == record["created_at"] == "2026-06-01T08:00:00.000Z"
    assert api.get(f"/v1/contacts/{record['id']}").get_json()["first_name"] == "Maria"
    updated = client.post("/__admin/mutate", json={"entity": "contact", "op": "update", "id": record["id"],
                                                   "changes": {"tags": ["VIP"]}}).get_json()["record"]
    assert updated["updated_at"] > record["updated_at"], "stamps stay unique even on a frozen clock"


@pytest.mark.parametrize("body,fields", [
    ({"entity": "spaceship", "op": "launch"}, {"entity", "op"}),
    ({"entity": "contact", "op": "update"}, {"id"}),
    ({"entity": "contact", "op": "update", "id": "ab_contact_00001", "changes": {"email_opt_in": "yes", "zodiac": 1}},
     {"changes.email_opt_in", "changes.zodiac"}),
    ({"entity": "contact", "op": "update", "id": "ab_contact_00001", "changes": {"agent_id": "ab_agent_999"}},
     {"changes.agent_id"}),
    ({"entity": "contact", "op": "create", "id": "mine"}, {"id"}),
    ({"entity": "contact", "op": "update", "id": "ab_contact_00001", "changes": {"custom_fields": {"Lead Source": 1},
                                                                               "first_name": "x" * 101}},
     {"changes.custom_fields", "changes.first_name"}),
    ({"churn": {"count": 0}}, {"churn.count"}),
    ({"churn": {"count": 2}, "entity": "contact"}, {"entity"}),
    ({"colour": "blue"}, {"colour"}),
])
def test_bad_mutations_are_named_and_change_nothing(client, body, fields):
    before = client.get("/__admin/world/export").get_json()["sha256"]
    answer = client.post("/__admin/mutate", json=body)
    assert answer.status_code == 422, answer.get_json()
    assert answer.content_type == "application/problem+json"
    assert {e["field"] for e in answer.get_json()["errors"]} == fields
    assert client.get("/__admin/world/export").get_json()["sha256"] == before


def test_unknown_record_and_double_delete(client):
    assert client.post("/__admin/mutate", json={"entity": "contact", "op": "delete", "id": "ab_contact_99999"}).status_code == 404
    assert client.post("/__admin/mutate", json={"entity": "contact", "op": "delete", "id": "ab_contact_00002"}).status_code == 200
    again = client.post("/__admin/mutate", json={"entity": "contact", "op": "delete", "id": "ab_contact_00002"})
    assert again.status_code == 409 and again.get_json()["code"] == "already_deleted"


def test_churn_is_seeded(mock_config):
    outcomes = []
    for _ in range(2):
        app = create_app(small_config())
        try:
            changes = app.test_client().post("/__admin/mutate", json={"churn": {"count": 12}}).get_json()["changes"]
            outcomes.append([(c["event_type"], c["id"]) for c in changes])
        finally:
            stop_background(app)
    assert outcomes[0] == outcomes[1] and len(outcomes[0]) == 12


def test_reset_restores_the_seeded_world_and_forgets_tokens(client, api):
    before = client.get("/__admin/world/export").get_json()["sha256"]
    client.post("/__admin/mutate", json={"churn": {"count": 5}})
    assert client.get("/__admin/world/export").get_json()["sha256"] != before
    assert client.post("/__admin/reset").status_code == 200
    assert client.get("/__admin/world/export").get_json()["sha256"] == before
    assert api.get("/v1/contacts").status_code == 401, "tokens are gone after a reset"
    assert client.get("/__admin/journal").get_json()["entries"][-1]["status"] == 401


def test_strict_mode_turns_a_contract_violation_into_a_loud_500(api, client, caplog):
    contact_id = api.get("/v1/contacts", query_string={"per_page": 1}).get_json()["data"][0]["id"]
    state = state_of(client.application)
    contacts = state.world.collection("ab_account_001", "contacts")
    contacts.get(contact_id)["email_opt_in"] = "sometimes"  # a bug in the fake, say
    contacts.forget_json(contact_id)
    answer = api.get(f"/v1/contacts/{contact_id}")
    assert answer.status_code == 500
    body = answer.get_json()
    assert body["code"] == "internal_error"
    assert any("email_opt_in" in e["field"] for e in body["errors"])
    assert "violates the contract" in caplog.text
    entry = client.get("/__admin/journal").get_json()["entries"][-1]
    assert entry["validation"]["response"] == "failed"


@pytest.mark.parametrize("mock_config", [small_config(rate_limit="3/min")])
def test_rate_limit_headers_and_429(mock_config, agent_token, client):
    client.post("/__admin/clock", json={"freeze": True, "set": "2026-03-01T12:00:10Z"})
    token = agent_token()
    headers = {"Authorization": f"Bearer {token}"}
    answers = [client.get("/v1/offices", headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit-Policy"] == '"default";q=3;w=60'
    assert answers[0].headers["RateLimit"] == '"default";r=2;t=50'
    assert answers[3].get_json()["code"] == "rate_limited"
    assert answers[3].headers["Retry-After"] == "50"
    other = client.get("/v1/offices", headers={"Authorization": f"Bearer {agent_token(account=1)}"})
    assert other.status_code == 200, "quotas are per token"
    client.post("/__admin/clock", json={"advance_seconds": 50})
    assert client.get("/v1/offices", headers=headers).status_code == 200


@pytest.mark.parametrize("mock_config", [small_config(churn=60_000.0)])
def test_background_churn_changes_the_world_until_stopped(mock_config, mock_app, client):
    before = client.get("/__admin/world/export").get_json()["sha256"]
    deadline = time.monotonic() + 10
    while client.get("/__admin/world/export").get_json()["sha256"] == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.get("/__admin/world/export").get_json()["sha256"] != before
    stop_background(mock_app)
    settled = client.get("/__admin/world/export").get_json()["sha256"]
    time.sleep(0.05)
    assert client.get("/__admin/world/export").get_json()["sha256"] == settled


def test_cli_help_lists_the_documented_flags():
    text = CliRunner().invoke(mock, ["--help"]).output
    for flag in ("--host", "--port", "--seed", "--accounts", "--contacts-per-account", "--offices-per-account",
                 "--agents-per-account", "--auto-approve", "--strict", "--rate-limit", "--access-token-ttl",
                 "--fault", "--churn", "--epoch"):
        assert flag in text


@pytest.mark.parametrize("mock_config", [small_config(rate_limit="2/min")])
def test_a_request_missing_required_headers_is_malformed_even_over_the_quota(mock_config, agent_token, client):
    """A client (or fuzzer) that forgot the signature headers learns that, not that it was late."""
    client.post("/__admin/clock", json={"freeze": True, "set": "2026-03-01T12:00:10Z"})
    headers = {"Authorization": f"Bearer {agent_token()}"}
    assert [client.get("/v1/offices", headers=headers).status_code for _ in range(3)] == [200, 200, 429]
    event = {"event_type": "email.opened", "timestamp": "2026-03-01T12:00:00Z",
             "data": {"contact_id": "ab_contact_00001", "campaign_id": "c1", "campaign_name": "March"}}
    unsigned = client.post("/v1/webhooks/broadcast/events", json=event,
                           headers={**headers, "webhook-id": "msg_1", "webhook-timestamp": "1772366400"})
    assert unsigned.status_code == 400 and unsigned.content_type == "application/problem+json"
    assert "header.webhook-signature" in [e["field"] for e in unsigned.get_json()["errors"]]
    assert client.get("/v1/offices", headers=headers).status_code == 429, "the malformed request changed no quota"
