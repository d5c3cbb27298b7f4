"""Broadcast sends engagement back: signed webhooks (Option A) and bearer push (Option B)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from standardwebhooks import Webhook

from mock_agentbuddy import state_of


@pytest.fixture
def connection(world) -> dict:
    """Account 0's connection for the seeded confidential client (holds the webhook secret)."""
    return next(c for c in world["connections"]
                if c["account_id"] == world["accounts"][0]["id"] and c["client_id"] == "broadcast-local")


@pytest.fixture
def contact_id(api) -> str:
    return api.get("/v1/contacts", query_string={"per_page": 1}).get_json()["data"][0]["id"]


@pytest.fixture
def frozen_now(client) -> datetime:
    client.post("/__admin/clock", json={"freeze": True, "set": "2026-01-15T14:40:00Z"})
    return datetime(2026, 1, 15, 14, 40, tzinfo=timezone.utc)


@pytest.fixture
def send_webhook(client, connection, frozen_now):
    """POST a body signed exactly as the reference library signs it."""

    def send(path: str, body: dict, msg_id: str = "msg_1", secret: str | None = None, at: datetime | None = None,
             headers: dict | None = None):
        raw = json.dumps(body)
        when = at or frozen_now
        signature = Webhook(secret or connection["webhook_secret"]).sign(msg_id, when, raw)
        all_headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
                       "webhook-signature": signature, **(headers or {})}
        return client.post(f"/v1/webhooks/broadcast/{path}", data=raw, content_type="application/json",
                           headers=all_headers)

    return send


def opened(contact_id: str, event_id: str | None = "bc_evt_1") -> dict:
    data = {"contact_id": contact_id, "campaign_id": "bc_campaign_456", "campaign_name": "January Market Update"}
    if event_id:
        data["event_id"] = event_id
    return {"event_type": "email.opened", "timestamp": "2026-01-15T14:30:00Z", "data": data}


def propensity(contact_id: str, score: int, at: str) -> dict:
    return {"event_type": "propensity.updated", "timestamp": at,
            "data": {"contact_id": contact_id, "propensity_score": score, "propensity_category": "hot" if score >= 80 else "cool",
                     "seller_likelihood": score, "recommended_action": "Call this week", "score_updated_at": at,
                     "contributing_factors": ["5/5 emails opened in 30 days"]}}


def test_a_signed_event_lands_on_the_contact(api, client, send_webhook, contact_id):
    answer = send_webhook("events", opened(contact_id))
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"webhook_id": "msg_1", "status": "accepted"}
    contact = api.get(f"/v1/contacts/{contact_id}").get_json()
    assert contact["campaigns"][0]["id"] == "bc_campaign_456"
    assert contact["campaigns"][0]["status"] == "opened"
    record = client.get(f"/__admin/records/contacts/{contact_id}").get_json()
    assert record["events"][0]["event_type"] == "opened"
    entry = client.get("/__admin/inbound").get_json()["entries"][-1]
    assert entry["signature"] == "valid" and entry["applied"] and not entry["duplicate"]
    assert entry["connection_id"].startswith("ab_conn_001")


def test_a_bad_signature_is_refused_and_changes_nothing(api, send_webhook, contact_id, client):
    answer = send_webhook("events", opened(contact_id), secret="whsec_" + "A" * 43 + "=")
    assert answer.status_code == 401 and answer.get_json()["code"] == "invalid_signature"
    assert api.get(f"/v1/contacts/{contact_id}").get_json()["campaigns"] == []
    entry = client.get("/__admin/inbound").get_json()["entries"][-1]
    assert entry["signature"] == "invalid_signature" and not entry["applied"]


@pytest.mark.parametrize("skew", [-301, 301])
def test_a_stale_or_future_timestamp_is_refused(send_webhook, contact_id, frozen_now, skew):
    answer = send_webhook("events", opened(contact_id), at=frozen_now + timedelta(seconds=skew))
    assert answer.status_code == 401 and answer.get_json()["code"] == "timestamp_out_of_tolerance"


def test_within_tolerance_is_accepted(send_webhook, contact_id, frozen_now):
    assert send_webhook("events", opened(contact_id), at=frozen_now - timedelta(seconds=299)).status_code == 200


def test_missing_signature_headers_are_named(client, contact_id):
    answer = client.post("/v1/webhooks/broadcast/events", json=opened(contact_id))
    assert answer.status_code == 400
    assert {e["field"] for e in answer.get_json()["errors"]} == {
        "header.webhook-id", "header.webhook-timestamp", "header.webhook-signature"}


def test_duplicates_by_webhook_id_event_id_and_idempotency_key_apply_once(api, client, send_webhook, contact_id):
    assert send_webhook("events", opened(contact_id, "bc_evt_9"), msg_id="m1").get_json()["status"] == "accepted"
    again = send_webhook("events", opened(contact_id, "bc_evt_9"), msg_id="m1")
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    same_event = send_webhook("events", opened(contact_id, "bc_evt_9"), msg_id="m2")
    assert same_event.get_json()["status"] == "duplicate"
    keyed = send_webhook("events", opened(contact_id, "bc_evt_10"), msg_id="m3", headers={"Idempotency-Key": "k1"})
    assert keyed.get_json()["status"] == "accepted"
    rekeyed = send_webhook("events", opened(contact_id, "bc_evt_11"), msg_id="m4", headers={"Idempotency-Key": "k1"})
    assert rekeyed.get_json()["status"] == "duplicate"
    events = client.get(f"/__admin/records/contacts/{contact_id}").get_json()["events"]
    assert [e["event_id"] for e in events] == ["bc_evt_9", "bc_evt_10"]
    flags = [e["duplicate"] for e in client.get("/__admin/inbound").get_json()["entries"]]
    assert flags == [False, True, True, False, True]


def test_an_older_propensity_arriving_late_does_not_overwrite_a_newer_one(api, send_webhook, contact_id):
    assert send_webhook("propensity", propensity(contact_id, 87, "2026-01-15T14:35:00Z"), msg_id="p2").status_code == 200
    assert send_webhook("propensity", propensity(contact_id, 45, "2026-01-14T09:00:00Z"), msg_id="p1").status_code == 200
    stored = api.get(f"/v1/contacts/{contact_id}").get_json()["propensity"]
    assert stored["propensity_score"] == 87 and stored["score_updated_at"] == "2026-01-15T14:35:00.000Z"


def test_an_event_for_an_unknown_contact_is_404(send_webhook):
    answer = send_webhook("events", opened("ab_contact_99999"))
    assert answer.status_code == 404 and answer.get_json()["code"] == "not_found"


def test_a_schema_violation_in_a_signed_webhook_is_422_and_names_the_field(send_webhook, contact_id):
    body = propensity(contact_id, 101, "2026-01-15T14:35:00Z")
    body["data"]["mood"] = "sunny"
    answer = send_webhook("propensity", body)
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.get_json()["errors"]}
    assert {"/data/propensity_score", "/data/mood"} <= fields


def test_the_appendix_b_batch_applies_per_contact(api, send_webhook, contact_id):
    body = {"webhook_id": "wh_abc123def456", "event_type": "engagement.batch_update", "timestamp": "2026-01-15T00:00:00Z",
            "data": {"updates": [
                {"contact_id": contact_id, "propensity_score": 87, "propensity_category": "hot", "seller_likelihood": 87,
                 "buyer_activity_score": 23, "recommended_action": "High seller intent - call this week",
                 "engagement_metrics": {"total_emails_sent": 24, "total_opens": 18, "total_clicks": 7, "open_rate": 75.0,
                                        "click_rate": 29.2, "last_opened_at": "2026-01-14T16:45:00+00:00"},
                 "campaigns": [{"id": "bc_campaign_1", "name": "Spring", "sent_at": "2026-01-10T09:00:00Z", "status": "delivered"}],
                 "events": [{"event_id": "bc_evt_b1", "event_type": "clicked", "campaign_id": "bc_campaign_1",
                             "timestamp": "2026-01-11T09:00:00Z", "metadata": {"link_category": "valuation"}}]},
                {"contact_id": "ab_contact_99999", "propensity_score": 10, "propensity_category": "cold"},
            ]}}
    answer = send_webhook("batch", body, msg_id="b1")
    assert answer.status_code == 200, answer.get_json()
    result = answer.get_json()
    assert (result["received"], result["applied"], result["failed"]) == (2, 1, 1)
    assert result["results"][1]["code"] == "not_found"
    contact = api.get(f"/v1/contacts/{contact_id}").get_json()
    assert contact["engagement"]["open_rate"] == 75.0
    assert contact["engagement"]["last_opened_at"] == "2026-01-14T16:45:00.000Z"
    assert contact["propensity"]["seller_likelihood"] == 87
    assert contact["campaigns"] == [{"id": "bc_campaign_1", "name": "Spring", "sent_at": "2026-01-10T09:00:00.000Z",
                                     "status": "clicked"}]
    replay = send_webhook("batch", body, msg_id="b1").get_json()
    assert replay["duplicate"] is True and replay["applied"] == 1


def test_push_with_idempotency_key(api, client, contact_id, agent_token):
    metrics = {"total_emails_sent": 24, "total_opens": 18, "total_clicks": 7, "open_rate": 75.0, "click_rate": 29.2,
               "engagement_trend": "increasing"}
    first = api.post(f"/v1/contacts/{contact_id}/engagement", json=metrics, headers={"Idempotency-Key": "key-1"})
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["total_opens"] == 18
    again = api.post(f"/v1/contacts/{contact_id}/engagement", json=metrics, headers={"Idempotency-Key": "key-1"})
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    different = api.post(f"/v1/contacts/{contact_id}/engagement", json={**metrics, "total_opens": 19},
                         headers={"Idempotency-Key": "key-1"})
    assert different.status_code == 409 and different.get_json()["code"] == "conflict"
    assert different.get_json()["errors"][0]["field"] == "header.Idempotency-Key"
    assert api.get(f"/v1/contacts/{contact_id}").get_json()["engagement"]["total_opens"] == 18
    client.post("/__admin/clock", json={"advance_seconds": 24 * 3600 + 1})
    api.token = agent_token()  # the old access token expired meanwhile
    reused = api.post(f"/v1/contacts/{contact_id}/engagement", json={**metrics, "total_opens": 19},
                      headers={"Idempotency-Key": "key-1"})
    assert reused.status_code == 200 and reused.get_json()["total_opens"] == 19, "keys expire after 24 hours"
    patched = api.patch(f"/v1/contacts/{contact_id}/engagement", json={"total_opens": 20})
    assert patched.get_json()["total_opens"] == 20 and patched.get_json()["total_clicks"] == 7


def test_push_events_dedupe_on_event_id(api, contact_id):
    event = {"event_id": "bc_evt_0002", "event_type": "clicked", "campaign_id": "bc_campaign_456",
             "campaign_name": "January Market Update", "timestamp": "2026-01-15T14:31:00Z",
             "metadata": {"url": "https://example.com/whats-my-home-worth", "link_category": "valuation"}}
    assert api.post(f"/v1/contacts/{contact_id}/events", json=event).status_code == 201
    again = api.post(f"/v1/contacts/{contact_id}/events", json=event)
    assert again.status_code == 200 and again.get_json()["event_id"] == "bc_evt_0002"
    assert api.get(f"/v1/contacts/{contact_id}").get_json()["campaigns"][0]["status"] == "clicked"


def test_push_needs_write_engagement(client, agent_token, contact_id):
    token = agent_token(scopes="read:contacts")
    answer = client.post(f"/v1/contacts/{contact_id}/propensity", json={"propensity_score": 50, "propensity_category": "cool"},
                         headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403


def test_push_propensity_and_bulk(api, contact_id):
    answer = api.post(f"/v1/contacts/{contact_id}/propensity",
                      json={"propensity_score": 87, "propensity_category": "hot", "score_updated_at": "2026-01-15T14:35:00Z"})
    assert answer.status_code == 200 and answer.get_json()["propensity_score"] == 87
    stale = api.patch(f"/v1/contacts/{contact_id}/propensity",
                      json={"propensity_score": 40, "score_updated_at": "2026-01-01T00:00:00Z"})
    assert stale.get_json()["propensity_score"] == 87
    bulk = api.post("/v1/engagement/bulk", json={"updates": [{"contact_id": contact_id, "recommended_action": "Call"}]})
    assert bulk.status_code == 200 and bulk.get_json()["applied"] == 1
    assert api.get(f"/v1/contacts/{contact_id}").get_json()["propensity"]["recommended_action"] == "Call"


def test_another_accounts_contact_cannot_be_written(api, agent_token, client):
    theirs = client.get("/v1/contacts", query_string={"per_page": 1},
                        headers={"Authorization": f"Bearer {agent_token(account=1)}"}).get_json()["data"][0]["id"]
    answer = api.post(f"/v1/contacts/{theirs}/propensity", json={"propensity_score": 1, "propensity_category": "cold"})
    assert answer.status_code == 404
    assert state_of(client.application).world.collection("ab_account_002", "contacts").get(theirs)["propensity"] is None


def test_an_eleventh_subscription_is_a_conflict_and_changes_nothing(api):
    for n in range(10):
        created = api.post("/v1/subscriptions", json={"url": f"http://127.0.0.1:9/hook/{n}"})
        assert created.status_code == 201, created.get_json()
    refused = api.post("/v1/subscriptions", json={"url": "http://127.0.0.1:9/hook/eleven"})
    assert refused.status_code == 409 and refused.get_json()["code"] == "conflict"
    assert len(api.get("/v1/subscriptions").get_json()["data"]) == 10


# ------------------------------------------------------------------ contract 1.1.0 drift fixes
METRICS = {"total_emails_sent": 24, "total_opens": 18, "total_clicks": 7, "open_rate": 75.0, "click_rate": 29.2,
           "engagement_trend": "increasing"}


def test_a_rate_sent_as_a_fraction_is_rejected_where_the_counts_show_it(api, contact_id):
    fraction = api.post(f"/v1/contacts/{contact_id}/engagement", json={**METRICS, "open_rate": 0.75})
    assert fraction.status_code == 422
    assert api.post(f"/v1/contacts/{contact_id}/engagement", json=METRICS).status_code == 200
    # 0.75 % is a real rate for a contact with 400 emails: the contract cannot call it a fraction there
    many = {**METRICS, "total_emails_sent": 400, "open_rate": 0.75}
    assert api.post(f"/v1/contacts/{contact_id}/engagement", json=many).status_code == 200
    batch = api.post("/v1/engagement/bulk", json={"updates": [
        {"contact_id": contact_id, "engagement_metrics": {"total_emails_sent": 24, "click_rate": 0.292}}]})
    assert batch.status_code == 422


def test_a_score_with_the_wrong_category_is_rejected(api, contact_id):
    body = {"propensity_score": 87, "propensity_category": "cold"}
    answer = api.post(f"/v1/contacts/{contact_id}/propensity", json=body)
    assert answer.status_code == 422
    assert api.post(f"/v1/contacts/{contact_id}/propensity", json={**body, "propensity_category": "hot"}).status_code == 200


def test_an_unsubscribe_without_a_campaign_is_stored_and_touches_no_campaign(send_webhook, api, contact_id):
    body = {"event_type": "email.unsubscribed", "timestamp": "2026-01-15T14:30:00Z",
            "data": {"event_id": "bc_evt_pref_1", "contact_id": contact_id}}
    assert send_webhook("events", body).status_code == 200
    contact = api.get(f"/v1/contacts/{contact_id}").get_json()
    assert all(c["id"] for c in contact.get("campaigns", []))
    opened_without_campaign = {**body, "event_type": "email.opened"}
    assert send_webhook("events", opened_without_campaign, msg_id="msg_2").status_code == 422
