"""Provider webhooks in: what Broadcast stores and what it queues for AgentBuddy."""
from __future__ import annotations

from datetime import timedelta

import pytest

from integration.engagement.pipeline import campaigns, ingest


def test_a_signed_open_is_stored_scored_and_queued_for_agentbuddy(broadcast, resend):
    email_id = broadcast.send("ab_contact_maria")
    client = broadcast.app().test_client()
    broadcast.clock.advance(timedelta(minutes=1))
    assert resend.post(client, resend.payload("email.delivered", email_id)).status_code == 200
    broadcast.clock.advance(timedelta(hours=3))
    response = resend.post(client, resend.payload("email.opened", email_id))

    assert response.status_code == 200
    assert response.get_json()["status"] == "accepted"
    events = [e for e in broadcast.stored_events() if e["event_type"] == "opened"]
    assert len(events) == 1 and events[0]["contact_id"] == "ab_contact_maria" and not events[0]["machine"]
    queued = broadcast.outbox_rows("event")
    assert [m["payload"]["event_type"] for m in queued] == ["delivered", "opened"]
    assert queued[1]["payload"]["campaign_name"] == "January Market Update"
    propensity = broadcast.outbox_rows("propensity")
    assert len(propensity) == 1, "score changes coalesce into one pending propensity message per contact"
    assert propensity[0]["payload"]["contact_id"] == "ab_contact_maria"


def test_a_tampered_webhook_is_refused_with_problem_json_and_stores_nothing(broadcast, resend):
    email_id = broadcast.send("ab_contact_maria")
    headers, body = resend.signed(resend.payload("email.opened", email_id))
    tampered = body.replace(b"email.opened", b"email.clicked")
    response = broadcast.app().test_client().post("/providers/resend/webhook", data=tampered, headers=headers)

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "invalid_signature"
    assert broadcast.stored_events() == [] and broadcast.outbox_rows() == []


def test_a_webhook_signed_with_another_secret_is_refused(broadcast, resend):
    email_id = broadcast.send("ab_contact_maria")
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    result = resend.deliver(broadcast, resend.payload("email.opened", email_id), secret=other)
    assert result.problem is not None and result.problem.status == 401


def test_a_stale_webhook_is_refused_as_out_of_tolerance(broadcast, resend):
    email_id = broadcast.send("ab_contact_maria")
    headers, body = resend.signed(resend.payload("email.opened", email_id))
    broadcast.clock.advance(timedelta(minutes=6))
    result = ingest.ingest_provider_webhook(broadcast.db, broadcast.org, headers, body, broadcast.clock,
                                            secret=resend.secret)
    assert result.problem is not None and result.problem.code == "timestamp_out_of_tolerance"


def test_the_same_provider_webhook_delivered_twice_counts_once(broadcast, resend):
    email_id = broadcast.send("ab_contact_maria")
    payload = resend.payload("email.opened", email_id)
    first = resend.deliver(broadcast, payload, message_id="msg_same")
    again = resend.deliver(broadcast, payload, message_id="msg_same")
    # Resend may also redeliver the same event under a new message id.
    renamed = resend.deliver(broadcast, payload, message_id="msg_other")

    assert (first.status, again.status, renamed.status) == ("accepted", "duplicate", "duplicate")
    assert len([e for e in broadcast.stored_events() if e["event_type"] == "opened"]) == 1
    assert len(broadcast.outbox_rows("event")) == 1


def test_an_unknown_provider_event_type_is_stored_and_acknowledged(broadcast, resend):
    client = broadcast.app().test_client()
    payload = {"type": "email.scheduled", "created_at": "2026-01-15T12:00:00Z",
               "data": {"email_id": "re_future", "brand_new_field": {"x": 1}}}
    response = resend.post(client, payload)

    assert response.status_code == 200 and response.get_json()["status"] == "unmapped"
    [stored] = broadcast.stored_events()
    assert stored["event_type"] == "unmapped" and stored["provider_type"] == "email.scheduled"
    assert broadcast.outbox_rows() == []


def test_unknown_fields_on_a_known_event_are_tolerated(broadcast, resend):
    email_id = broadcast.send("ab_contact_james")
    payload = resend.payload("email.delivered", email_id, shiny_new_thing=[1, 2, 3])
    payload["also_new"] = True
    assert resend.deliver(broadcast, payload).status == "accepted"


def test_a_malformed_event_gets_400_naming_the_field(broadcast, resend):
    payload = {"type": "email.opened", "created_at": "2026-01-15T12:00:00Z", "data": {"to": ["x@example.com"]}}
    response = resend.post(broadcast.app().test_client(), payload)

    assert response.status_code == 400
    problem = response.get_json()
    assert problem["code"] == "invalid_request"
    assert problem["errors"][0]["field"] == "$.data.email_id"
    assert broadcast.stored_events() == []


def test_a_body_that_is_not_json_gets_400(broadcast, resend):
    headers, _ = resend.signed({})
    from svix.webhooks import Webhook
    body = "not json at all"
    headers["svix-signature"] = Webhook(resend.secret).sign(headers["svix-id"], broadcast.clock.now(), body)
    response = broadcast.app().test_client().post("/providers/resend/webhook", data=body, headers=headers)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"


def test_an_oversized_body_gets_413_problem(broadcast):
    response = broadcast.app().test_client().post("/providers/resend/webhook", data=b"x" * (2 * 1024 * 1024),
                                                  headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.get_json()["code"] == "payload_too_large"


@pytest.mark.parametrize("event, extra, status", [
    ("email.complained", {}, "complained"),
    ("email.bounced", {"bounce": {"type": "Permanent", "message": "mailbox does not exist"}}, "bounced"),
])
def test_complaints_and_hard_bounces_stop_further_sends_and_reach_agentbuddy(broadcast, resend, event, extra, status):
    email_id = broadcast.send("ab_contact_james")
    resend.deliver(broadcast, resend.payload(event, email_id, **extra))

    assert broadcast.email_status("ab_contact_james") == status
    with pytest.raises(campaigns.SendRefused) as refused:
        broadcast.send("ab_contact_james")
    assert refused.value.reason == status
    [queued] = broadcast.outbox_rows("event")
    assert queued["payload"]["event_type"] == event.split(".")[1]


def test_a_soft_bounce_does_not_suppress_the_contact(broadcast, resend):
    email_id = broadcast.send("ab_contact_james")
    resend.deliver(broadcast, resend.payload("email.bounced", email_id, bounce={"type": "Transient"}))
    assert broadcast.email_status("ab_contact_james") == "subscribed"
    broadcast.send("ab_contact_james")


def test_broadcasts_own_unsubscribe_link_stops_sends_and_tells_agentbuddy(broadcast):
    email_id = broadcast.send("ab_contact_maria")
    summary = ingest.record_unsubscribe(broadcast.db, broadcast.org, "ab_contact_maria", broadcast.clock,
                                        email_id=email_id)

    assert summary.status_changes == 1
    assert broadcast.email_status("ab_contact_maria") == "unsubscribed"
    with pytest.raises(campaigns.SendRefused):
        broadcast.send("ab_contact_maria")
    [queued] = broadcast.outbox_rows("event")
    assert queued["payload"]["event_type"] == "unsubscribed"
    assert queued["payload"]["campaign_id"] == "bc_campaign_jan"


def test_contacts_without_consent_or_deleted_are_never_emailed(broadcast):
    decisions = campaigns.sendable(broadcast.db, broadcast.org,
                                   ["ab_contact_maria", "ab_contact_pat", "ab_contact_gone", "ab_contact_nobody"])
    assert decisions == {"ab_contact_maria": None, "ab_contact_pat": "no_opt_in", "ab_contact_gone": "deleted",
                         "ab_contact_nobody": "unknown_contact"}
    sends, refused = campaigns.record_sends(
        broadcast.db, broadcast.org, "bc_campaign_jan",
        [("ab_contact_maria", "re_a"), ("ab_contact_pat", "re_b"), ("ab_contact_gone", "re_c")], broadcast.clock)
    assert [s.contact_id for s in sends] == ["ab_contact_maria"]
    assert refused == {"ab_contact_pat": "no_opt_in", "ab_contact_gone": "deleted"}


def test_a_privacy_proxy_open_is_sent_flagged_as_machine_generated_and_does_not_score(broadcast, resend):
    email_id = broadcast.send("ab_contact_maria")
    resend.deliver(broadcast, resend.payload("email.delivered", email_id))
    broadcast.clock.advance(timedelta(hours=2))
    resend.deliver(broadcast, resend.payload("email.opened", email_id, open={"userAgent": "Mozilla/5.0",
                                                                               "ipAddress": "17.58.1.1"}))
    opened = [e for e in broadcast.stored_events() if e["event_type"] == "opened"]
    assert opened[0]["machine"] == 1 and opened[0]["machine_reason"]
    event = [m for m in broadcast.outbox_rows("event") if m["payload"]["event_type"] == "opened"][0]
    assert event["payload"]["metadata"]["machine_generated"] is True
    with broadcast.db.transaction(readonly=True) as tx:
        opens = tx.fetchval("SELECT total_opens FROM contact_metrics WHERE organization_id = ? AND contact_id = ?",
                            (broadcast.org, "ab_contact_maria"))
    assert opens == 0


def test_an_event_for_an_email_broadcast_never_sent_is_stored_but_not_attributed(broadcast, resend):
    result = resend.deliver(broadcast, resend.payload("email.opened", "re_not_ours"))
    assert result.summary.unmatched == 1
    assert broadcast.outbox_rows() == []


def test_health_reports_the_database(broadcast):
    response = broadcast.app().test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json()["status"] == "ok"


def test_a_forged_agentbuddy_notification_is_refused_with_problem_json(broadcast):
    body = b'{"event_type": "contact.updated", "timestamp": "2026-01-15T12:00:00Z", "data": {"id": "ab_contact_maria"}}'
    headers = {"content-type": "application/json", "webhook-id": "msg_x",
               "webhook-timestamp": str(int(broadcast.clock.now().timestamp())),
               "webhook-signature": "v1,bm90IGEgcmVhbCBzaWduYXR1cmU="}
    response = broadcast.app().test_client().post("/agentbuddy/notifications", data=body, headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json" and response.get_json()["code"] == "invalid_signature"


def test_unknown_paths_and_methods_answer_problem_json(broadcast):
    client = broadcast.app().test_client()
    assert client.get("/nope").get_json()["code"] == "not_found"
    assert client.get("/providers/resend/webhook").get_json()["code"] == "method_not_allowed"


def test_without_a_configured_provider_secret_webhooks_are_refused_not_trusted(broadcast, resend):
    broadcast.config = broadcast.config.replace(resend_webhook_secret=None)
    response = resend.post(broadcast.app().test_client(), resend.payload("email.opened", "re_x"))
    assert response.status_code == 503 and response.get_json()["code"] == "service_unavailable"


def test_concurrent_webhooks_for_one_contact_lose_no_update(broadcast):
    import threading

    from integration.engagement import EngagementEvent, natural_event_id

    emails = [broadcast.send("ab_contact_maria") for _ in range(8)]
    start = broadcast.clock.now()

    def deliver(part: list[str]) -> None:
        for email_id in part:
            events = [EngagementEvent(event_id=natural_event_id(email_id, kind, start), event_type=kind,
                                      occurred_at=start, email_id=email_id) for kind in ("sent", "delivered")]
            ingest.ingest_events(broadcast.db, broadcast.org, events, broadcast.clock)

    threads = [threading.Thread(target=deliver, args=(emails[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with broadcast.db.transaction(readonly=True) as tx:
        sent = tx.fetchval("SELECT total_emails_sent FROM contact_metrics WHERE organization_id = ? AND contact_id = ?",
                           (broadcast.org, "ab_contact_maria"))
    assert sent == 8


def test_agentbuddy_notifications_are_routed_by_organization(broadcast):
    """DECISIONS item 33: the URL names the organization; an unknown one is a 404 problem, and the
    deprecated URL without one still answers (by trying every secret), saying it is deprecated."""
    body = b'{"event_type": "contact.updated", "timestamp": "2026-01-15T12:00:00Z", "data": {"id": "ab_contact_maria"}}'
    headers = {"content-type": "application/json", "webhook-id": "msg_x",
               "webhook-timestamp": str(int(broadcast.clock.now().timestamp())),
               "webhook-signature": "v1,bm90IGEgcmVhbCBzaWduYXR1cmU="}
    client = broadcast.app().test_client()
    unknown = client.post("/agentbuddy/notifications/org_nobody", data=body, headers=headers)
    assert unknown.status_code == 404
    assert unknown.mimetype == "application/problem+json" and unknown.get_json()["code"] == "not_found"
    forged = client.post(f"/agentbuddy/notifications/{broadcast.org}", data=body, headers=headers)
    assert forged.status_code in (401, 404) and forged.mimetype == "application/problem+json"
    old = client.post("/agentbuddy/notifications", data=body, headers=headers)
    assert old.headers["Deprecation"] == "@1796256000" and old.headers["Sunset"]
