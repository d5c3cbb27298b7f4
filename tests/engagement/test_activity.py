"""A contact's activity: counts what a person did, once, whatever order the webhooks come in."""
from __future__ import annotations

import json
import random

from integration.engagement import ContactActivity, campaign_participation, engagement_metrics, unsubscribe_event
from tests.engagement.helpers import T0, days, delivered_email, ev, minutes
from tests.engagement.stories import AS_OF, JAMES, MARIA

LISTING = "https://go.broadcast.example/listings/ab_prop_{}"


def activity_of(events) -> ContactActivity:
    act = ContactActivity("ab_contact_1")
    for event in events:
        act.apply(event)
    return act


def month_of_email() -> list:
    return [
        *delivered_email("e1", T0), ev("opened", T0 + minutes(90)), ev("opened", T0 + days(1)),
        ev("clicked", T0 + minutes(95), url=LISTING.format(1)),
        *delivered_email("e2", T0 + days(7)),
        *delivered_email("e3", T0 + days(14)), ev("clicked", T0 + days(14) + minutes(60), "e3", url=LISTING.format(2)),
        ev("sent", T0 + days(21), "e4"), ev("bounced", T0 + days(21) + minutes(1), "e4", bounce_type="soft"),
    ]


def test_lifetime_metrics_count_human_engagement_per_delivered_email():
    m = engagement_metrics(activity_of(month_of_email()), T0 + days(22))
    assert (m.total_emails_sent, m.total_opens, m.total_clicks) == (4, 2, 2)
    # e1 and e3 engaged (e3 only through a click: a click proves the open) of 3 delivered.
    assert (m.open_rate, m.click_rate) == (66.7, 66.7)
    assert m.last_email_sent_at == T0 + days(21)
    assert m.last_opened_at == T0 + days(1)
    assert m.last_clicked_at == T0 + days(14) + minutes(60)
    wire = m.to_contract()
    assert wire["last_opened_at"] == "2026-01-06T15:00:00Z" and wire["engagement_trend"] in (
        "increasing", "stable", "decreasing", "inactive")


def test_applying_an_event_twice_or_a_redelivery_under_another_id_changes_nothing():
    act = activity_of(month_of_email())
    before = json.dumps(act.to_dict(), sort_keys=True)
    for event in month_of_email():
        assert act.apply(event) is False
        twin = ev(event.event_type, event.occurred_at, event.email_id, url=event.url,
                  bounce_type=event.bounce_type)
        twin.event_id = "evt_from_another_delivery"
        assert act.apply(twin) is False
    assert json.dumps(act.to_dict(), sort_keys=True) == before


def test_order_of_arrival_does_not_matter_within_the_retention_window():
    # Maria's last 110 days (the state keeps 120 days of detail; see the next test for older webhooks).
    events = [e for e in MARIA.events() if e.occurred_at > AS_OF - days(110)]
    expected = json.dumps(activity_of(events).to_dict(), sort_keys=True)
    rng = random.Random(7)
    for _ in range(5):
        shuffled = events[:]
        rng.shuffle(shuffled)
        assert json.dumps(activity_of(shuffled).to_dict(), sort_keys=True) == expected


def test_state_round_trips_through_json_and_keeps_working():
    events = JAMES.events()
    half = len(events) // 2
    act = activity_of(events[:half])
    restored = ContactActivity.from_dict(json.loads(json.dumps(act.to_dict())))
    for event in events[half:]:
        restored.apply(event)
    whole = activity_of(events)
    assert restored.to_dict() == whole.to_dict()
    assert engagement_metrics(restored, AS_OF) == engagement_metrics(whole, AS_OF)
    assert len(json.dumps(whole.to_dict())) < 12_000  # five months of twice-weekly emails


def test_campaign_participation_reports_the_furthest_step_of_each_campaign():
    rows = {r.id: r.status for r in campaign_participation(activity_of(month_of_email()))}
    assert rows == {"bc_campaign_e1": "clicked", "bc_campaign_e2": "delivered",
                    "bc_campaign_e3": "clicked", "bc_campaign_e4": "bounced"}
    newest = campaign_participation(activity_of(month_of_email()))[0]
    assert newest.to_contract() == {"id": "bc_campaign_e4", "name": "Campaign e4",
                                    "sent_at": "2026-01-26T15:00:00Z", "status": "bounced"}


def test_email_status_takes_the_strongest_signal_in_any_order():
    hard = ev("bounced", T0 + days(2), "e2", bounce_type="hard")
    unsub = unsubscribe_event(contact_id="ab_contact_1", occurred_at=T0 + days(1), email_id="e1")
    complaint = ev("complained", T0 + days(3), "e1")
    assert activity_of([hard]).email_status == "bounced"
    assert activity_of([unsub, hard]).email_status == "unsubscribed"
    assert activity_of([hard, unsub]).email_status == "unsubscribed"
    assert activity_of([complaint, unsub, hard]).email_status == "complained"
    assert activity_of([ev("bounced", T0, "e2", bounce_type="soft")]).email_status == "subscribed"


def test_machine_events_are_kept_apart_and_never_counted():
    events = [*delivered_email("e1", T0), ev("opened", T0 + minutes(30), ua="Mozilla/5.0"),
              ev("clicked", T0 + minutes(40), url=LISTING.format(1), ua="python-requests/2.32")]
    act = activity_of(events)
    m = engagement_metrics(act, T0 + days(1))
    assert (m.total_opens, m.total_clicks, m.open_rate, m.last_opened_at) == (0, 0, 0.0, None)
    assert act.ledger.machine_reason_counts() == {"privacy_proxy": 1, "scanner_user_agent": 1}
    assert [r.status for r in campaign_participation(act)] == ["delivered"]


def test_old_detail_is_folded_away_but_lifetime_counts_stay():
    events = []
    for week in range(40):  # 280 days of weekly emails, each opened
        sent = T0 + days(7 * week)
        events += [*delivered_email(f"w{week}", sent), ev("opened", sent + minutes(60), f"w{week}")]
    act = activity_of(events)
    assert act.ledger.counter("delivered") == 40 and act.ledger.counter("opens") == 40
    assert len(act.sends) <= 19 and min(act.ledger.buckets) >= act.horizon_day - 120
    assert len(campaign_participation(act)) == 40
    # A webhook for an email folded long ago is ignored rather than counted twice.
    assert act.apply(ev("opened", T0 + days(1), "w0")) is False
    assert act.ledger.counter("opens") == 40 and act.ignored_late == 1
    # ... and the last-* times survive folding.
    assert engagement_metrics(act, T0 + days(300)).last_opened_at == T0 + days(7 * 39) + minutes(60)


def test_terminal_campaign_states_are_reported_and_never_overridden():
    """Contract `CampaignStatus`: bounced, unsubscribed and complained are terminal, in any arrival order."""
    bounce_then_open = [ev("sent", T0, "e1"), ev("bounced", T0 + minutes(1), "e1", bounce_type="soft"),
                        ev("opened", T0 + days(1), "e1")]
    for events in (bounce_then_open, list(reversed(bounce_then_open))):
        assert {r.status for r in campaign_participation(activity_of(events))} == {"bounced"}
    clicked_then_complained = [*delivered_email("e2", T0), ev("clicked", T0 + minutes(90), "e2", url=LISTING.format(1)),
                               ev("complained", T0 + days(1), "e2")]
    assert [r.status for r in campaign_participation(activity_of(clicked_then_complained))] == ["complained"]
    unsubscribed = [*delivered_email("e3", T0), ev("opened", T0 + minutes(90), "e3"),
                    unsubscribe_event(contact_id="ab_contact_1", occurred_at=T0 + days(1), email_id="e3",
                                      campaign_id="bc_campaign_e3")]
    assert [r.status for r in campaign_participation(activity_of(unsubscribed))] == ["unsubscribed"]
