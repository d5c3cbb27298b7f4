"""AgentBuddy's pages (the fake) through Flask's test client: what arrived, and nothing yet."""
from __future__ import annotations

import re

import pytest

from mock_agentbuddy import MockConfig, create_app, state_of

PROPENSITY = {"contact_id": None, "propensity_score": 87, "propensity_category": "hot", "seller_likelihood": 87,
              "buyer_activity_score": None, "recommended_action": "Call this week - high seller intent",
              "contributing_factors": ["5 of 5 market updates opened", "2 valuation clicks"],
              "score_updated_at": "2026-02-01T09:00:00Z"}


@pytest.fixture
def fake():
    app = create_app(MockConfig(accounts=1, contacts_per_account=12, agents_per_account=3, offices_per_account=1))
    return app.test_client(), state_of(app)


def first_contact(state) -> dict:
    account = next(iter(state.world.accounts.values()))
    return next(c for c in account.collections["contacts"].records.values() if c["deleted_at"] is None)


def received(state, contact: dict, score: int, seq_time: str, **flags) -> None:
    """What the inbound handlers store: the contact's propensity, and a log entry of the request."""
    payload = {"event_type": "propensity.updated", "timestamp": seq_time,
               "data": {**PROPENSITY, "contact_id": contact["id"], "propensity_score": score,
                        "score_updated_at": seq_time}}
    state.inbound.append({"time": seq_time, "method": "POST", "path": "/v1/webhooks/broadcast/propensity",
                          "status": flags.get("status", 200), "signature": flags.get("signature", "valid"),
                          "duplicate": flags.get("duplicate", False), "webhook_id": f"msg_{score}",
                          "payload": payload})
    if flags.get("signature", "valid") == "valid" and not flags.get("duplicate"):
        contact["propensity"] = dict(payload["data"])


def test_before_anything_arrives(fake):
    client, state = fake
    contacts = client.get("/ui/contacts").get_data(as_text=True)
    assert contacts.count("data-contact-id=") == 12 and "no score yet" in contacts
    assert "not sent any scores yet" in client.get("/ui/contacts?category=hot").get_data(as_text=True)
    record = client.get(f"/ui/contacts/{first_contact(state)['id']}").get_data(as_text=True)
    assert "No propensity score has arrived" in record and "Nothing has arrived for this contact yet" in record
    assert "Nothing received yet" in client.get("/ui/inbound").get_data(as_text=True)
    missing = client.get("/ui/contacts/ab_contact_99999")
    assert missing.status_code == 404 and "no such contact" in missing.get_data(as_text=True)


def test_an_account_without_contacts():
    app = create_app(MockConfig(accounts=1, contacts_per_account=0, properties_per_contact=0.0))
    assert "This account has no contacts yet" in app.test_client().get("/ui/contacts").get_data(as_text=True)


def test_record_shows_what_broadcast_sent_and_the_log_shows_every_request(fake):
    client, state = fake
    contact = first_contact(state)
    received(state, contact, 45, "2026-01-10T09:00:00Z")
    received(state, contact, 87, "2026-02-01T09:00:00Z")
    received(state, contact, 87, "2026-02-01T09:00:00Z", duplicate=True)
    received(state, contact, 12, "2026-02-02T09:00:00Z", signature="invalid", status=401)

    listed = client.get("/ui/contacts?category=hot").get_data(as_text=True)
    assert listed.count("data-contact-id=") == 1 and "Call this week - high seller intent" in listed
    record = client.get(f"/ui/contacts/{contact['id']}").get_data(as_text=True)
    assert 'data-category="hot"' in record and "2 valuation clicks" in record
    assert len(re.findall(r"<circle ", record)) == 2  # the duplicate and the forged one are not points
    log = client.get("/ui/inbound").get_data(as_text=True)
    assert log.count("data-seq=") == 4 and "duplicate</span>" in log and 'class="pill invalid"' in log
    only_invalid = client.get("/ui/inbound?verdict=invalid").get_data(as_text=True)
    assert only_invalid.count("data-seq=") == 1 and "401" in only_invalid
