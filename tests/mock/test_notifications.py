"""Change notifications reach Broadcast's receiver, signed, and are retried when it fails."""
from __future__ import annotations

import pytest
from flask import Flask, request
from standardwebhooks import Webhook

from common.serving import serve
from mock_agentbuddy import state_of


@pytest.fixture
def receiver():
    """A stand-in for Broadcast's notification endpoint: fails the first `fail_first` calls."""
    app = Flask("receiver")
    seen: list[dict] = []
    settings = {"fail_first": 0}

    @app.post("/notifications")
    def notifications():
        seen.append({"headers": dict(request.headers), "body": request.get_data(as_text=True)})
        if len(seen) <= settings["fail_first"]:
            return "down", 503
        return "", 204

    with serve(app, name="receiver") as served:
        yield f"{served.url}/notifications", seen, settings


def test_a_change_is_delivered_signed_with_the_connection_secret(api, client, receiver, world):
    url, seen, _ = receiver
    assert api.post("/v1/subscriptions", json={"url": url, "events": ["contact.*"]}).status_code == 201
    secret = api.get("/v1/connection").get_json()["webhook_signing_secret"]
    contact = api.get("/v1/contacts", query_string={"per_page": 1}).get_json()["data"][0]
    client.post("/__admin/mutate", json={"entity": "contact", "op": "update", "id": contact["id"],
                                         "changes": {"phone": "+1-512-555-0100"}})
    client.post("/__admin/mutate", json={"entity": "office", "op": "update",
                                         "id": world["accounts"][0]["offices"][0]["id"], "changes": {"phone": "1"}})
    assert state_of(client.application).notifier.wait_idle()
    assert len(seen) == 1, "the office change is not in this subscription's events"
    payload = Webhook(secret).verify(seen[0]["body"], seen[0]["headers"])
    assert payload["event_type"] == "contact.updated"
    assert payload["data"]["id"] == contact["id"]
    assert payload["data"]["updated_at"] > contact["updated_at"]


def test_a_failing_receiver_is_retried_with_backoff_and_the_same_id(api, client, receiver, sleeps):
    url, seen, settings = receiver
    settings["fail_first"] = 2
    api.post("/v1/subscriptions", json={"url": url})
    client.post("/__admin/mutate", json={"entity": "contact", "op": "create", "account_id": "ab_account_001"})
    assert state_of(client.application).notifier.wait_idle()
    assert len(seen) == 3
    assert len({s["headers"]["Webhook-Id"] for s in seen}) == 1, "retries keep the webhook-id"
    assert sleeps.calls == [0.5, 1.0]
    attempts = [e for e in client.get("/__admin/journal").get_json()["entries"] if e.get("direction") == "outbound"]
    assert [e["outcome"] for e in attempts] == ["retrying", "retrying", "delivered"]
    assert attempts[-1]["event_type"] == "contact.created"


def test_another_accounts_changes_are_not_sent(api, client, receiver):
    url, seen, _ = receiver
    api.post("/v1/subscriptions", json={"url": url})
    client.post("/__admin/mutate", json={"churn": {"count": 5, "account_id": "ab_account_002"}})
    assert state_of(client.application).notifier.wait_idle()
    assert seen == []


def test_notifications_only_for_entities_the_token_can_read(client, agent_token, receiver):
    url, seen, _ = receiver
    token = agent_token(scopes="read:offices")
    client.post("/v1/subscriptions", json={"url": url}, headers={"Authorization": f"Bearer {token}"})
    client.post("/__admin/mutate", json={"churn": {"count": 10, "account_id": "ab_account_001"}})
    assert state_of(client.application).notifier.wait_idle()
    assert all('"office.' in s["body"] for s in seen)
