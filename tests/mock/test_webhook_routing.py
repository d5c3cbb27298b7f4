"""Option A webhooks name their connection in the path (contract 1.2.0, DECISIONS item 33): the fake
checks that connection's secret alone, so a body signed for one connection never lands on another's,
an unknown connection is a 404, and the deprecated routes still work, saying so."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from standardwebhooks import Webhook

from mock_agentbuddy import state_of

NOW = datetime(2026, 1, 15, 14, 40, tzinfo=timezone.utc)


@pytest.fixture
def connections(client, world) -> tuple[dict, dict]:
    """The seeded confidential client's connections to accounts 0 and 1 (A and B)."""
    client.post("/__admin/clock", json={"freeze": True, "set": "2026-01-15T14:40:00Z"})
    mine = [c for c in world["connections"] if c["client_id"] == "broadcast-local"]
    by_account = {c["account_id"]: c for c in mine}
    return by_account[world["accounts"][0]["id"]], by_account[world["accounts"][1]["id"]]


@pytest.fixture
def contact_id(api) -> str:
    return api.get("/v1/contacts", query_string={"per_page": 1}).get_json()["data"][0]["id"]


def opened(contact_id: str, event_id: str = "bc_evt_routing") -> dict:
    return {"event_type": "email.opened", "timestamp": "2026-01-15T14:30:00Z",
            "data": {"event_id": event_id, "contact_id": contact_id, "campaign_id": "bc_campaign_456",
                     "campaign_name": "January Market Update"}}


def post(client, path: str, body: dict, secret: str, msg_id: str = "msg_routing_1"):
    raw = json.dumps(body)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(NOW.timestamp())),
               "webhook-signature": Webhook(secret).sign(msg_id, NOW, raw)}
    return client.post(path, data=raw, content_type="application/json", headers=headers)


def test_a_webhook_lands_on_the_connection_its_path_names(client, connections, contact_id, mock_app):
    a, _b = connections
    answer = post(client, f"/v1/webhooks/broadcast/{a['id']}/events", opened(contact_id), a["webhook_secret"])
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"webhook_id": "msg_routing_1", "status": "accepted"}
    assert "Deprecation" not in answer.headers
    arrival = state_of(mock_app).inbound.since()[-1]
    assert (arrival["connection_id"], arrival["signature"], arrival["applied"]) == (a["id"], "valid", True)
    assert arrival["operation_id"] == "receiveConnectionEmailEventWebhook"


def test_a_body_signed_for_a_posted_to_bs_url_is_refused(client, connections, contact_id, mock_app):
    a, b = connections
    answer = post(client, f"/v1/webhooks/broadcast/{b['id']}/events", opened(contact_id), a["webhook_secret"])
    assert answer.status_code == 401
    assert answer.content_type == "application/problem+json"
    problem = answer.get_json()
    assert problem["code"] == "invalid_signature" and "This connection's secret" in problem["detail"]
    arrival = state_of(mock_app).inbound.since()[-1]
    assert arrival["applied"] is False and arrival["signature"] == "invalid_signature"
    # the same body, with the same secret, is still good at its own connection's URL
    again = post(client, f"/v1/webhooks/broadcast/{a['id']}/events", opened(contact_id), a["webhook_secret"])
    assert again.get_json()["status"] == "accepted"


def test_every_kind_is_routed(client, connections, contact_id):
    a, _b = connections
    propensity = {"event_type": "propensity.updated", "timestamp": "2026-01-15T14:30:00Z",
                  "data": {"contact_id": contact_id, "propensity_score": 85, "propensity_category": "hot",
                           "score_updated_at": "2026-01-15T14:30:00Z"}}
    batch = {"event_type": "engagement.batch_update", "timestamp": "2026-01-15T14:30:00Z",
             "data": {"updates": [{"contact_id": contact_id, "propensity_score": 85, "propensity_category": "hot"}]}}
    for kind, body, msg_id in (("propensity", propensity, "msg_p"), ("batch", batch, "msg_b")):
        answer = post(client, f"/v1/webhooks/broadcast/{a['id']}/{kind}", body, a["webhook_secret"], msg_id)
        assert answer.status_code == 200, (kind, answer.get_json())


def test_an_unknown_connection_is_a_404_problem(client, connections, contact_id):
    a, _b = connections
    for kind in ("events", "propensity", "batch"):
        answer = post(client, f"/v1/webhooks/broadcast/ab_conn_nobody/{kind}", opened(contact_id), a["webhook_secret"])
        assert answer.status_code == 404, kind
        assert answer.content_type == "application/problem+json"
        problem = answer.get_json()
        assert problem["code"] == "not_found" and "ab_conn_nobody" in problem["detail"]
        assert problem["errors"] == [{"field": "path.connection_id", "message": "unknown connection"}]


def test_the_deprecated_route_still_finds_the_connection_by_its_secret(client, connections, contact_id, mock_app):
    a, _b = connections
    answer = post(client, "/v1/webhooks/broadcast/events", opened(contact_id), a["webhook_secret"])
    assert answer.status_code == 200
    assert answer.headers["Deprecation"] == "@1796256000"
    assert answer.headers["Sunset"] == "Thu, 03 Jun 2027 00:00:00 GMT"
    assert state_of(mock_app).inbound.since()[-1]["connection_id"] == a["id"]
    refused = post(client, "/v1/webhooks/broadcast/events", opened(contact_id), "whsec_" + "A" * 32, "msg_x")
    assert refused.status_code == 401 and refused.headers["Deprecation"] == "@1796256000"
