"""One request per contract operation, in strict mode: every operation exists in the fake and
answers with a response the contract allows (the journal records the verdicts)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from standardwebhooks import Webhook

from mock_agentbuddy.api.contract import ContractValidator


def test_every_contract_operation_is_served_and_conforms(api, client, world):
    when = datetime.now(timezone.utc)
    secret = api.get("/v1/connection").get_json()["webhook_signing_secret"]
    contact = api.get("/v1/contacts", query_string={"per_page": 1}).get_json()["data"][0]["id"]
    for path in ("/v1/offices", "/v1/agents", "/v1/properties"):
        first = api.get(path, query_string={"per_page": 1}).get_json()["data"][0]["id"]
        assert api.get(f"{path}/{first}").status_code == 200
    assert api.get(f"/v1/contacts/{contact}").status_code == 200
    sub = api.post("/v1/subscriptions", json={"url": "http://127.0.0.1:9/n"}).get_json()["id"]
    assert api.get("/v1/subscriptions").status_code == 200
    assert api.delete(f"/v1/subscriptions/{sub}").status_code == 204

    def signed(path, body, msg_id):
        raw = json.dumps(body)
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
                   "webhook-signature": Webhook(secret).sign(msg_id, when, raw)}
        answer = client.post(f"/v1/webhooks/broadcast/{path}", data=raw, content_type="application/json", headers=headers)
        assert answer.status_code == 200, answer.get_json()

    stamp = "2026-01-15T14:30:00Z"
    connection_id = api.get("/v1/connection").get_json()["id"]
    for kind, msg_id in (("events", "c1"), ("propensity", "c2"), ("batch", "c3")):  # routed by connection
        body = {"events": {"event_type": "email.sent", "timestamp": stamp,
                           "data": {"contact_id": contact, "campaign_id": "bc_c1"}},
                "propensity": {"event_type": "propensity.updated", "timestamp": stamp,
                               "data": {"contact_id": contact, "propensity_score": 61, "propensity_category": "warm"}},
                "batch": {"event_type": "engagement.batch_update", "timestamp": stamp,
                          "data": {"updates": [{"contact_id": contact}]}}}[kind]
        signed(f"{connection_id}/{kind}", body, msg_id)
    signed("events", {"event_type": "email.sent", "timestamp": stamp,
                      "data": {"contact_id": contact, "campaign_id": "bc_c1"}}, "w1")
    signed("propensity", {"event_type": "propensity.updated", "timestamp": stamp,
                          "data": {"contact_id": contact, "propensity_score": 61, "propensity_category": "warm"}}, "w2")
    signed("batch", {"event_type": "engagement.batch_update", "timestamp": stamp,
                     "data": {"updates": [{"contact_id": contact, "engagement_metrics": {"total_opens": 3}}]}}, "w3")
    metrics = {"total_emails_sent": 4, "total_opens": 3, "total_clicks": 1, "open_rate": 75.0, "click_rate": 25.0,
               "engagement_trend": "stable"}
    assert api.post(f"/v1/contacts/{contact}/engagement", json=metrics).status_code == 200
    assert api.patch(f"/v1/contacts/{contact}/engagement", json={"total_clicks": 2}).status_code == 200
    assert api.post(f"/v1/contacts/{contact}/propensity",
                    json={"propensity_score": 70, "propensity_category": "warm"}).status_code == 200
    assert api.patch(f"/v1/contacts/{contact}/propensity", json={"recommended_action": "Call"}).status_code == 200
    assert api.post(f"/v1/contacts/{contact}/events", json={"event_id": "e1", "event_type": "opened",
                                                            "campaign_id": "bc_c1", "timestamp": stamp}).status_code == 201
    assert api.post("/v1/engagement/bulk", json={"updates": [{"contact_id": contact}]}).status_code == 200
    final = api.get(f"/v1/contacts/{contact}").get_json()
    assert final["engagement"]["total_clicks"] == 2 and final["propensity"]["recommended_action"] == "Call"

    entries = [e for e in client.get("/__admin/journal").get_json()["entries"] if e["path"].startswith("/v1/")]
    assert all(e["validation"].get("response") == "ok" for e in entries), [e for e in entries
                                                                           if e["validation"].get("response") != "ok"]
    served = {e["operation_id"] for e in entries}
    contract_operations = {op.operation_id for op in ContractValidator().operations.values()}
    assert contract_operations <= served, contract_operations - served
