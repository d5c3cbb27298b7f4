"""Change notifications and the schedule: AgentBuddy changes reach Broadcast without a person."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

from standardwebhooks.webhooks import Webhook
from werkzeug.wrappers import Request, Response

import mock_agentbuddy
from common.serving import serve
from integration.agentbuddy import connections, subscriptions
from integration.agentbuddy.tokens import TokenSource
from integration.sync import notifications
from integration import sync as sync_engine
from integration.sync.scheduler import Scheduler

from .conftest import ConnectedOrg, advance_both, connect


def _signed(org: ConnectedOrg, body: dict, at: datetime | None = None, secret: str | None = None):
    raw = json.dumps(body).encode()
    secret = secret or connections.webhook_secret(org.db, org.config, org.organization_id)
    at = at or org.clock.now()
    headers = {"webhook-id": "ntf_test_1", "webhook-timestamp": str(int(at.timestamp())),
               "webhook-signature": Webhook(secret).sign("ntf_test_1", at, raw.decode())}
    return headers, raw


def _contact_updated(org: ConnectedOrg, contact_id: str) -> dict:
    return {"event_type": "contact.updated", "timestamp": "2026-01-10T12:00:00Z",
            "data": {"id": contact_id, "updated_at": "2026-01-10T12:00:00Z", "account_id": org.account_id}}


def test_a_signed_notification_syncs_the_changed_stream(synced_world: ConnectedOrg):
    org = synced_world
    contact = org.fake.records("contacts", include_deleted=False)[0]
    advance_both(org, 60)
    org.fake.mutate("contact", "update", contact["id"], {"first_name": "Notified"})
    headers, body = _signed(org, _contact_updated(org, contact["id"]))
    result = notifications.handle_change_notification(org.db, org.config, headers, body, clock=org.clock)
    assert (result.status, result.code, result.organization_id, result.entity) == (200, "synced", "org_a", "contacts")
    assert result.summary["entities"]["contacts"]["updated"] == 1
    assert list(result.summary["entities"]) == ["contacts"]
    assert org.row("contacts", contact["id"])["first_name"] == "Notified"


def test_forged_or_stale_notifications_are_refused(synced_world: ConnectedOrg):
    org = synced_world
    contact_id = org.fake.records("contacts")[0]["id"]
    headers, body = _signed(org, _contact_updated(org, contact_id), secret="whsec_" + "QUJD" * 8)
    result = notifications.handle_change_notification(org.db, org.config, headers, body, clock=org.clock)
    assert (result.status, result.code) == (401, "invalid_signature")

    headers, body = _signed(org, _contact_updated(org, contact_id), at=org.clock.now() - timedelta(minutes=6))
    result = notifications.handle_change_notification(org.db, org.config, headers, body, clock=org.clock)
    assert (result.status, result.code) == (401, "timestamp_out_of_tolerance")

    headers, body = _signed(org, _contact_updated(org, contact_id))
    tampered = body.replace(b"contact.updated", b"contact.deleted")
    result = notifications.handle_change_notification(org.db, org.config, headers, tampered, clock=org.clock)
    assert result.code == "invalid_signature"

    headers, body = _signed(org, {"event_type": "listing.updated", "data": {"id": "x"}})
    result = notifications.handle_change_notification(org.db, org.config, headers, body, clock=org.clock)
    assert (result.status, result.code) == (400, "invalid_request")


def test_the_notification_finds_its_organization_by_secret(synced_world: ConnectedOrg):
    org_a = synced_world
    org_b = connect(org_a.db, org_a.config, org_a.clock, org_a.fake, "org_b", account_index=1)
    org_b.sync()
    contact_b = org_b.fake.records("contacts", 1, include_deleted=False)[0]
    advance_both(org_a, 60)
    org_a.fake.mutate("contact", "update", contact_b["id"], {"first_name": "ForB"})
    headers, body = _signed(org_b, _contact_updated(org_b, contact_b["id"]))
    result = notifications.handle_change_notification(org_a.db, org_a.config, headers, body, clock=org_a.clock)
    assert result.organization_id == "org_b"
    assert org_b.row("contacts", contact_b["id"])["first_name"] == "ForB"
    assert org_a.row("contacts", contact_b["id"]) is None


def test_the_url_names_the_organization_whose_secret_is_checked(synced_world: ConnectedOrg):
    org_a = synced_world
    org_b = connect(org_a.db, org_a.config, org_a.clock, org_a.fake, "org_b", account_index=1)
    org_b.sync()
    contact_b = org_b.fake.records("contacts", 1, include_deleted=False)[0]
    advance_both(org_a, 60)
    org_a.fake.mutate("contact", "update", contact_b["id"], {"first_name": "Routed"})
    headers, body = _signed(org_b, _contact_updated(org_b, contact_b["id"]))

    # signed for org_b, posted to org_a's URL: org_a's secret does not verify it; nothing is synced
    wrong = notifications.handle_change_notification(org_a.db, org_a.config, headers, body, clock=org_a.clock,
                                                     organization_id="org_a")
    assert (wrong.status, wrong.code, wrong.organization_id) == (401, "invalid_signature", None)
    assert org_b.row("contacts", contact_b["id"])["first_name"] != "Routed"

    right = notifications.handle_change_notification(org_a.db, org_a.config, headers, body, clock=org_a.clock,
                                                     organization_id="org_b")
    assert (right.status, right.code, right.organization_id) == (200, "synced", "org_b")
    assert org_b.row("contacts", contact_b["id"])["first_name"] == "Routed"


def test_a_notification_naming_another_account_is_refused_at_a_connections_url(synced_world: ConnectedOrg):
    org_a = synced_world
    org_b = connect(org_a.db, org_a.config, org_a.clock, org_a.fake, "org_b", account_index=1)
    contact_b = org_b.fake.records("contacts", 1, include_deleted=False)[0]
    # signed with org_a's own secret, but the body says it is about org_b's account
    headers, body = _signed(org_a, _contact_updated(org_b, contact_b["id"]))
    result = notifications.handle_change_notification(org_a.db, org_a.config, headers, body, clock=org_a.clock,
                                                      organization_id="org_a")
    assert (result.status, result.code) == (401, "invalid_signature")
    assert "another account" in result.detail


def test_an_unknown_organization_in_the_url_is_a_404(synced_world: ConnectedOrg):
    org = synced_world
    headers, body = _signed(org, _contact_updated(org, "ab_contact_x"))
    result = notifications.handle_change_notification(org.db, org.config, headers, body, clock=org.clock,
                                                      organization_id="org_nobody")
    assert (result.status, result.code) == (404, "not_found")


def test_agentbuddy_delivers_notifications_to_our_receiver_end_to_end(synced_world: ConnectedOrg):
    org = synced_world
    results: list[notifications.NotificationResult] = []

    paths: list[str] = []

    @Request.application
    def receiver(request: Request) -> Response:
        paths.append(request.path)
        result = notifications.handle_change_notification(org.db, org.config, dict(request.headers),
                                                          request.get_data(), clock=org.clock,
                                                          organization_id=request.path.rsplit("/", 1)[-1])
        results.append(result)
        return Response(json.dumps(result.to_json()), status=result.status, content_type="application/json")

    with serve(receiver, name="notifications") as served:
        subscriptions.subscribe(org.db, org.config, "org_a", f"{served.url}/hook", clock=org.clock)
        assert connections.get_connection(org.db, "org_a").subscription_id
        contact = org.fake.records("contacts", include_deleted=False)[5]
        advance_both(org, 60)
        org.fake.mutate("contact", "delete", contact["id"])
        assert mock_agentbuddy.state_of(org.fake.app).notifier.wait_idle(30)
    assert [r.code for r in results] == ["synced"]
    assert paths == ["/hook/org_a"]  # the organization's own URL (DECISIONS item 33)
    assert org.row("contacts", contact["id"])["deleted_at"] is not None


def test_a_notification_during_a_running_sync_is_picked_up_by_the_schedule(synced_world: ConnectedOrg):
    org = synced_world
    contact = org.fake.records("contacts", include_deleted=False)[0]
    outcome: list[notifications.NotificationResult] = []

    def notify_midway(stream: str, page: int, phase: str) -> None:
        if stream == "properties" and not outcome:  # contacts are done for this run
            org.fake.mutate("contact", "update", contact["id"], {"first_name": "Midway"})
            headers, body = _signed(org, _contact_updated(org, contact["id"]))
            outcome.append(notifications.handle_change_notification(org.db, org.config, headers, body, clock=org.clock))

    advance_both(org, 60)
    org.sync(fault=notify_midway)
    assert (outcome[0].status, outcome[0].code) == (202, "deferred")
    assert org.row("contacts", contact["id"])["first_name"] != "Midway"

    scheduler = Scheduler(org.db, org.config, clock=org.clock)
    assert scheduler.due() == ["org_a"]  # requested, although the interval has not passed
    [tick] = scheduler.tick()
    assert tick.ok and tick.summary["entities"]["contacts"]["updated"] == 1
    assert org.row("contacts", contact["id"])["first_name"] == "Midway"
    assert scheduler.due() == []


def test_schedule_syncs_each_active_connection_once_per_interval(connected_org: ConnectedOrg):
    org_a = connected_org
    org_b = connect(org_a.db, org_a.config, org_a.clock, org_a.fake, "org_b", account_index=1)
    scheduler = Scheduler(org_a.db, org_a.config, clock=org_a.clock)
    assert scheduler.due() == ["org_a", "org_b"]  # never synced
    assert all(r.ok for r in scheduler.tick())
    assert scheduler.due() == []
    advance_both(org_a, org_a.config.schedule_interval_seconds - 1)
    assert scheduler.due() == []
    advance_both(org_a, 1)
    assert scheduler.due() == ["org_a", "org_b"]

    TokenSource(org_b.db, org_b.config, "org_b", org_b.clock).mark_needs_reauth("test")
    contact = org_a.fake.records("contacts", include_deleted=False)[0]
    org_a.fake.mutate("contact", "update", contact["id"], {"first_name": "Scheduled"})
    [tick] = scheduler.tick()  # org_b needs a person; org_a goes on
    assert tick.organization_id == "org_a" and tick.summary["entities"]["contacts"]["updated"] == 1
    assert org_a.row("contacts", contact["id"])["first_name"] == "Scheduled"


def test_one_failing_organization_does_not_stop_the_others(connected_org: ConnectedOrg):
    org_a = connected_org
    connect(org_a.db, org_a.config, org_a.clock, org_a.fake, "org_b", account_index=1)
    calls: list[str] = []

    def flaky_sync(db, config, organization_id, **kwargs):
        calls.append(organization_id)
        if organization_id == "org_a":
            raise RuntimeError("AgentBuddy is down for org_a")
        return sync_engine.sync(db, config, organization_id, **kwargs)

    results = Scheduler(org_a.db, org_a.config, clock=org_a.clock, sync=flaky_sync).tick()
    assert calls == ["org_a", "org_b"]
    assert [(r.organization_id, r.ok) for r in results] == [("org_a", False), ("org_b", True)]


def test_the_scheduler_loop_ticks_until_stopped(connected_org: ConnectedOrg):
    stop = threading.Event()
    ticks: list[list] = []

    def on_tick(results) -> None:
        ticks.append(results)
        stop.set()

    Scheduler(connected_org.db, connected_org.config, clock=connected_org.clock).run(stop, poll_seconds=0.01,
                                                                                    on_tick=on_tick)
    assert [[r.organization_id for r in tick] for tick in ticks] == [["org_a"]]
    assert connected_org.rows("contacts")
