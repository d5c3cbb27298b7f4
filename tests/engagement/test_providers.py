"""Resend webhooks: signed exactly as Resend signs them (with the svix library), parsed as Resend sends them."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
from svix.webhooks import Webhook as SvixWebhook

from common.clock import ManualClock
from integration.engagement import (ProviderPayloadError, SignatureError, parse_resend_event, prepare,
                                    unsubscribe_event, verify_resend_signature)

UTC = timezone.utc
SECRET = "whsec_" + base64.b64encode(b"resend-test-secret-0123456789abcd").decode()
NOW = datetime(2026, 1, 15, 14, 35, tzinfo=UTC)


def signed(body: str, *, msg_id: str = "msg_2abc", at: datetime = NOW, secret: str = SECRET) -> dict[str, str]:
    """The three headers Resend (through Svix) puts on a webhook."""
    signature = SvixWebhook(secret).sign(msg_id, at, body)
    return {"svix-id": msg_id, "svix-timestamp": str(int(at.timestamp())), "svix-signature": signature}


def resend(event_type: str, **data) -> dict:
    base = {"created_at": "2026-01-15T14:30:11.894719+00:00", "email_id": "56761188-7520-42d8-8898-ff6fc54ce618",
            "from": "Acme Realty <news@acme.example>", "to": ["maria@example.com"], "subject": "Market update",
            "tags": {"contact_id": "ab_contact_123", "campaign_id": "bc_campaign_456", "campaign_kind": "market_update"}}
    base.update(data)
    return {"type": event_type, "created_at": "2026-01-15T14:30:12.126Z", "data": base}


# ----------------------------------------------------------------------------- signatures

def test_a_webhook_signed_by_svix_verifies_and_yields_its_payload():
    body = json.dumps(resend("email.opened"))
    verified = verify_resend_signature(body.encode(), signed(body), SECRET, ManualClock(NOW))
    assert verified.message_id == "msg_2abc"
    assert verified.payload["type"] == "email.opened"


def test_a_rotated_secret_is_accepted_while_either_signature_matches():
    body = json.dumps(resend("email.sent"))
    headers = signed(body)
    old = signed(body, secret="whsec_" + base64.b64encode(b"the-old-secret-of-this-endpoint!").decode())
    headers["svix-signature"] = old["svix-signature"] + " " + headers["svix-signature"]
    assert verify_resend_signature(body, headers, SECRET, ManualClock(NOW)).payload["type"] == "email.sent"


@pytest.mark.parametrize("tamper", ["body", "secret", "id"])
def test_a_tampered_webhook_is_refused_as_invalid_signature(tamper):
    body = json.dumps(resend("email.clicked", click={"link": "https://x.example/a"}))
    headers = signed(body)
    secret = SECRET
    if tamper == "body":
        body = body.replace("x.example", "evil.example")
    elif tamper == "secret":
        secret = "whsec_" + base64.b64encode(b"another-secret-entirely-1234567").decode()
    else:
        headers["svix-id"] = "msg_other"
    with pytest.raises(SignatureError) as caught:
        verify_resend_signature(body, headers, secret, ManualClock(NOW))
    assert caught.value.code == "invalid_signature"


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_a_webhook_outside_five_minutes_of_our_clock_is_refused(skew):
    body = json.dumps(resend("email.delivered"))
    headers = signed(body, at=NOW + skew)
    with pytest.raises(SignatureError) as caught:
        verify_resend_signature(body, headers, SECRET, ManualClock(NOW))
    assert caught.value.code == "timestamp_out_of_tolerance"
    # The same message is fine when our (simulated) clock agrees with the sender's.
    assert verify_resend_signature(body, headers, SECRET, ManualClock(NOW + skew))


def test_missing_headers_are_named():
    body = json.dumps(resend("email.sent"))
    headers = signed(body)
    del headers["svix-signature"]
    with pytest.raises(SignatureError, match="svix-signature"):
        verify_resend_signature(body, headers, SECRET, ManualClock(NOW))


def test_standard_webhooks_header_names_are_accepted_too():
    body = json.dumps(resend("email.sent"))
    headers = {k.replace("svix-", "webhook-"): v for k, v in signed(body).items()}
    assert verify_resend_signature(body, headers, SECRET, ManualClock(NOW)).message_id == "msg_2abc"


# ----------------------------------------------------------------------------- parsing

@pytest.mark.parametrize("resend_type, ours", [
    ("email.sent", "sent"), ("email.delivered", "delivered"), ("email.delivery_delayed", "delivery_delayed"),
    ("email.opened", "opened"), ("email.complained", "complained"), ("email.failed", "failed"),
    ("email.suppressed", "suppressed"),
])
def test_each_resend_email_event_maps_to_its_type(resend_type, ours):
    result = parse_resend_event(resend(resend_type), provider_event_id="msg_1")
    assert result.status == "mapped"
    event = result.event
    assert event.event_type == ours
    assert event.email_id == "56761188-7520-42d8-8898-ff6fc54ce618"
    assert (event.contact_id, event.campaign_id, event.campaign_kind) == ("ab_contact_123", "bc_campaign_456", "market_update")
    assert event.occurred_at == datetime(2026, 1, 15, 14, 30, 12, 126000, tzinfo=UTC)
    assert event.provider_event_id == "msg_1"
    assert event.is_contract_event == (ours in ("sent", "delivered", "opened", "complained"))


def test_a_click_carries_link_time_agent_and_address_and_gets_a_content_category():
    payload = resend("email.clicked", click={
        "ipAddress": "122.115.53.11", "link": "https://go.broadcast.example/r/whats-your-home-worth?c=1",
        "timestamp": "2026-01-15T14:31:57.163Z", "userAgent": "Mozilla/5.0 (Macintosh) Safari/605.1.15"})
    event = prepare(parse_resend_event(payload).event)
    assert event.event_type == "clicked"
    assert event.url.endswith("home-worth?c=1")
    assert event.occurred_at == datetime(2026, 1, 15, 14, 31, 57, 163000, tzinfo=UTC)
    assert (event.ip, event.link_category, event.machine) == ("122.115.53.11", "valuation", False)
    assert event.to_contract()["metadata"] == {"url": event.url, "link_category": "valuation"}


@pytest.mark.parametrize("bounce, expected", [
    ({"message": "550 5.1.1 user unknown", "type": "Permanent", "subType": "General"}, "hard"),
    ({"message": "mailbox full", "type": "Transient", "subType": "MailboxFull"}, "soft"),
    ({"message": "?", "type": "Undetermined", "subType": "Undetermined"}, "soft"),
])
def test_bounce_type_permanent_is_a_hard_bounce(bounce, expected):
    event = parse_resend_event(resend("email.bounced", bounce=bounce)).event
    assert (event.event_type, event.bounce_type) == ("bounced", expected)


def test_unknown_types_and_fields_are_stored_not_mapped_never_raised():
    assert parse_resend_event({"type": "contact.created", "data": {"id": "x"}}).status == "stored_not_mapped"
    assert parse_resend_event({"type": "email.received", "whatever": 1}).status == "stored_not_mapped"
    result = parse_resend_event(resend("email.opened", brand_new_field={"nested": [1, 2]}, broadcast_id="b"))
    assert result.status == "mapped" and result.event.raw["data"]["brand_new_field"] == {"nested": [1, 2]}


def test_tags_in_send_time_list_form_are_understood_and_missing_tags_leave_ids_empty():
    payload = resend("email.sent", tags=[{"name": "contact_id", "value": "ab_contact_9"}])
    assert parse_resend_event(payload).event.contact_id == "ab_contact_9"
    bare = resend("email.sent")
    del bare["data"]["tags"]
    event = parse_resend_event(bare).event
    assert (event.contact_id, event.campaign_id) == (None, None)


@pytest.mark.parametrize("mutate, path", [
    (lambda p: "not an object", "$"),
    (lambda p: {k: v for k, v in p.items() if k != "type"}, "$.type"),
    (lambda p: {**p, "data": []}, "$.data"),
    (lambda p: {**p, "data": {**p["data"], "email_id": 7}}, "$.data.email_id"),
    (lambda p: {**p, "created_at": "yesterday"}, "$.created_at"),
    (lambda p: {**p, "created_at": "2026-01-15T14:30:12"}, "$.created_at"),
    (lambda p: {**p, "data": {**p["data"], "to": "maria@example.com"}}, "$.data.to"),
    (lambda p: {**p, "type": "email.clicked"}, "$.data.click"),
    (lambda p: {**p, "type": "email.clicked", "data": {**p["data"], "click": {"timestamp": "2026-01-15T14:30:12Z"}}},
     "$.data.click.link"),
    (lambda p: {**p, "type": "email.clicked", "data": {**p["data"], "click": {"link": "https://a", "timestamp": 5}}},
     "$.data.click.timestamp"),
    (lambda p: {**p, "type": "email.bounced", "data": {**p["data"], "bounce": "Permanent"}}, "$.data.bounce"),
    (lambda p: {**p, "data": {**p["data"], "tags": [{"name": "contact_id"}]}}, "$.data.tags[0]"),
])
def test_malformed_payloads_raise_with_the_field_path(mutate, path):
    with pytest.raises(ProviderPayloadError) as caught:
        parse_resend_event(mutate(resend("email.opened")))
    assert caught.value.path == path


def test_a_redelivered_event_gets_the_same_event_id_under_a_new_message_id():
    first = parse_resend_event(resend("email.opened"), provider_event_id="msg_1").event
    again = parse_resend_event(resend("email.opened"), provider_event_id="msg_2").event
    later = parse_resend_event({**resend("email.opened"), "created_at": "2026-01-15T15:00:00Z"}).event
    assert first.event_id == again.event_id != later.event_id


def test_unsubscribe_comes_from_broadcasts_own_link():
    event = unsubscribe_event(contact_id="ab_contact_123", occurred_at=NOW, email_id="e1",
                              campaign_id="bc_campaign_456", campaign_name="January Market Update")
    wire = event.to_contract()
    assert wire["event_type"] == "unsubscribed" and wire["timestamp"] == "2026-01-15T14:35:00Z"
    assert event.event_id == unsubscribe_event(contact_id="ab_contact_123", occurred_at=NOW, email_id="e1").event_id
    with pytest.raises(ValueError):
        unsubscribe_event(contact_id="c", occurred_at=datetime(2026, 1, 1))


def test_internal_types_never_go_to_agentbuddy():
    event = parse_resend_event(resend("email.delivery_delayed")).event
    with pytest.raises(ValueError, match="internal"):
        event.to_contract()
