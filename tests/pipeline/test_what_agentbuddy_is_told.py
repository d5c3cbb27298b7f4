"""What reaches AgentBuddy, and when: everything it displays stays current, a contact who left
the email channel is told about once, and the same story always produces the same messages."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from integration.engagement.pipeline import campaigns, ingest, rescore
from integration import outbox
from common.timestamps import parse_rfc3339 as parse_ts
from integration.engagement.pipeline import store
from integration.engagement import EngagementEvent, natural_event_id
from integration.outbox.retry_schedule import RetrySchedule

START = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)  # the fixtures' clock start


def _event(broadcast, email_id: str, kind: str, **fields) -> EngagementEvent:
    at = broadcast.clock.now()
    return EngagementEvent(event_id=natural_event_id(email_id, kind, at, fields.get("url")), event_type=kind,
                           occurred_at=at, email_id=email_id, **fields)


def _reads_and_clicks(broadcast, contact_id: str = "ab_contact_maria", weeks: int = 3) -> None:
    for _ in range(weeks):
        email_id = broadcast.send(contact_id)
        events = [_event(broadcast, email_id, "sent"), _event(broadcast, email_id, "delivered")]
        broadcast.clock.advance(timedelta(hours=5))
        events.append(_event(broadcast, email_id, "opened"))
        broadcast.clock.advance(timedelta(minutes=2))
        events.append(_event(broadcast, email_id, "clicked", url="https://acme.example/whats-my-home-worth"))
        ingest.ingest_events(broadcast.db, broadcast.org, events, broadcast.clock)
        broadcast.clock.advance(timedelta(days=7))


def _settle_everything(broadcast) -> None:
    """As if a worker delivered every queued message (what was queued so far is 'told')."""
    with broadcast.db.transaction() as tx:
        tx.execute("UPDATE outbox SET status = 'delivered' WHERE organization_id = ?", (broadcast.org,))


def _unsent(broadcast, contact_id: str) -> list[dict]:
    """Messages queued since the last settle that mention the contact (in any update of a batch)."""
    out = []
    for row in broadcast.outbox_rows():
        if row["status"] == "delivered":
            continue
        payload = row["payload"]
        mentioned = payload.get("contact_id") == contact_id or any(
            u["contact_id"] == contact_id for u in payload.get("updates", []))
        if mentioned:
            out.append(row)
    return out


# ----------------------------------------------------------------------------- stale factors (bug 1)

def test_changed_contributing_factors_alone_are_sent_to_agentbuddy(broadcast):
    """James's story: the score stayed 0 while the reason changed; AgentBuddy must get the reason."""
    _reads_and_clicks(broadcast)
    rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock)
    _settle_everything(broadcast)
    with broadcast.db.transaction() as tx:  # what AgentBuddy was told earlier, same numbers, older factors
        tx.execute("UPDATE contact_scores SET contributing_factors = ? WHERE contact_id = ?",
                   ('["engagement trend: decreasing"]', "ab_contact_maria"))
        truth = tx.fetchval("SELECT propensity_score FROM contact_scores WHERE contact_id = ?", ("ab_contact_maria",))

    summary = rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock)

    assert summary.changed == 1 and summary.messages == 1
    [batch] = _unsent(broadcast, "ab_contact_maria")
    [update] = batch["payload"]["updates"]
    assert update["propensity_score"] == truth
    assert "engagement trend: decreasing" not in update["contributing_factors"]
    assert any(f.startswith("engagement trend:") for f in update["contributing_factors"])


def test_score_changed_sees_factors_but_not_the_timestamp():
    old = {"propensity_score": 0, "propensity_category": "cold", "seller_likelihood": 0, "buyer_activity_score": 0,
           "recommended_action": "Re-engagement campaign", "contributing_factors": '["engagement trend: decreasing"]'}
    new = {**old, "contributing_factors": ["engagement trend: decreasing"], "score_updated_at": "2026-01-08T00:00:00Z"}
    assert not store.score_changed(old, new)
    assert store.score_changed(old, {**new, "contributing_factors": ["engagement trend: inactive"]})


def test_a_trend_that_moves_with_time_reaches_agentbuddy_with_the_metrics(broadcast):
    for _ in range(6):  # six weeks unread, then three weeks read and clicked: engagement is rising
        email_id = broadcast.send("ab_contact_maria")
        ingest.ingest_events(broadcast.db, broadcast.org, [_event(broadcast, email_id, "sent"),
                                                          _event(broadcast, email_id, "delivered")], broadcast.clock)
        broadcast.clock.advance(timedelta(days=7))
    _reads_and_clicks(broadcast)
    rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock)
    _settle_everything(broadcast)
    with broadcast.db.transaction() as tx:  # AgentBuddy holds an older trend; the score itself is current
        tx.execute("UPDATE contact_metrics SET engagement_trend = 'stable' WHERE contact_id = ?", ("ab_contact_maria",))

    summary = rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock)

    assert summary.changed == 0 and summary.messages == 1, "a metrics-only update, no score change"
    [batch] = _unsent(broadcast, "ab_contact_maria")
    [update] = batch["payload"]["updates"]
    assert "propensity_score" not in update
    assert update["engagement_metrics"]["engagement_trend"] == "increasing"
    assert update["engagement_metrics"]["total_emails_sent"] == 9


# ----------------------------------------------------------------------------- metrics in near real time (6)

def test_events_queue_one_debounced_metrics_update_per_contact(broadcast):
    email_id = broadcast.send("ab_contact_maria")
    ingest.ingest_events(broadcast.db, broadcast.org, [_event(broadcast, email_id, "sent"),
                                                      _event(broadcast, email_id, "delivered")], broadcast.clock)
    [waiting] = broadcast.outbox_rows("batch")
    due = parse_ts(waiting["next_attempt_at"])
    assert START < due <= START + timedelta(seconds=60), "metrics reach AgentBuddy within a minute, not a day"
    broadcast.clock.advance(timedelta(hours=2))  # no worker ran meanwhile: the open folds into the waiting update
    ingest.ingest_events(broadcast.db, broadcast.org, [_event(broadcast, email_id, "opened")], broadcast.clock)

    [update] = [r for r in broadcast.outbox_rows("batch") if r["contact_id"] == "ab_contact_maria"]
    [body] = update["payload"]["updates"]
    assert body["engagement_metrics"]["total_emails_sent"] == 1 and body["engagement_metrics"]["total_opens"] == 1
    assert body["campaigns"] == [{"id": "bc_campaign_jan", "name": "January Market Update",
                                  "sent_at": body["campaigns"][0]["sent_at"], "status": "opened"}]


# ----------------------------------------------------------------------------- suppression (bug 2)

def _unsubscribe(broadcast, contact_id: str, email_id: str, how: str) -> None:
    if how == "unsubscribed":
        ingest.record_unsubscribe(broadcast.db, broadcast.org, contact_id, broadcast.clock, email_id=email_id)
    elif how == "complained":
        ingest.ingest_events(broadcast.db, broadcast.org, [_event(broadcast, email_id, "complained")], broadcast.clock)
    else:
        ingest.ingest_events(broadcast.db, broadcast.org, [_event(broadcast, email_id, "bounced", bounce_type="hard")],
                             broadcast.clock)


@pytest.mark.parametrize("how", ["unsubscribed", "complained", "bounced"])
def test_after_leaving_the_email_channel_agentbuddy_is_told_once_and_then_nothing(broadcast, how):
    _reads_and_clicks(broadcast)
    rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock)
    _settle_everything(broadcast)
    last_email = broadcast.send("ab_contact_maria")
    _settle_everything(broadcast)

    _unsubscribe(broadcast, "ab_contact_maria", last_email, how)

    told = _unsent(broadcast, "ab_contact_maria")
    assert [r["payload"]["event_type"] for r in told if r["kind"] == "event"] == [how]
    [final] = [r for r in told if r["kind"] == "propensity"]
    expected = "Update email address" if how == "bounced" else "Call instead"
    assert expected in final["payload"]["recommended_action"], "the last score says how to reach them now"
    _settle_everything(broadcast)

    late_open = _event(broadcast, last_email, "opened")  # an old email opened after they left
    ingest.ingest_events(broadcast.db, broadcast.org, [late_open], broadcast.clock)
    for days in (1, 9, 23, 60):  # the daily re-score as time passes and their numbers would decay
        broadcast.clock.advance(timedelta(days=days))
        rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock)
    after = _unsent(broadcast, "ab_contact_maria")
    assert [(r["kind"], r["payload"].get("event_type")) for r in after] == [("event", "opened")], \
        "the event log still flows; no propensity or metrics after the contact left"
    with broadcast.db.transaction(readonly=True) as tx:
        kept = tx.fetchval("SELECT recommended_action FROM contact_scores WHERE contact_id = ?", ("ab_contact_maria",))
    assert kept == final["payload"]["recommended_action"], "Broadcast's copy is what AgentBuddy holds"


def test_the_first_rescore_of_a_contact_carries_its_campaigns(broadcast):
    _reads_and_clicks(broadcast)
    with broadcast.db.transaction() as tx:  # as if the history predates the connection
        tx.execute("DELETE FROM contact_scores")
        tx.execute("DELETE FROM outbox")
    rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock)
    [batch] = [r for r in broadcast.outbox_rows("batch") if r["contact_id"] is None]
    [update] = [u for u in batch["payload"]["updates"] if u["contact_id"] == "ab_contact_maria"]
    assert update["campaigns"][0]["id"] == "bc_campaign_jan" and update["engagement_metrics"]["total_opens"] == 3


def test_a_contact_already_suppressed_without_a_score_gets_one(broadcast):
    with broadcast.db.transaction() as tx:
        tx.execute("UPDATE contacts SET email_status = 'unsubscribed' WHERE id = ?", ("ab_contact_james",))
    rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock)
    assert len([r for r in _unsent(broadcast, "ab_contact_james") if r["kind"] == "batch"]) == 1
    _settle_everything(broadcast)
    broadcast.clock.advance(timedelta(days=3))
    rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock)
    assert _unsent(broadcast, "ab_contact_james") == []


# ----------------------------------------------------------------------------- deterministic ids (bug 4)

def _story(broadcast) -> list[tuple[str, str, str]]:
    _reads_and_clicks(broadcast)
    _reads_and_clicks(broadcast, "ab_contact_james", weeks=2)
    broadcast.clock.advance(timedelta(days=30))
    rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock)
    claimed = outbox.claim(broadcast.db, "w", broadcast.clock.now(), outbox.ClaimPolicy(coalesce_threshold=2))
    rows = [(r["id"], r["kind"], str(r["payload"])) for r in broadcast.outbox_rows()]
    return rows + [(m.id, m.kind, str(m.payload)) for m in claimed]


def test_the_same_story_gives_the_same_message_ids_jitter_and_bytes(fresh_broadcast):
    runs = [_story(fresh_broadcast(name)) for name in ("a", "b")]
    assert runs[0] == runs[1]
    ids = [i for i, _, _ in runs[0]]
    assert len(set(ids)) == len({(i, k) for i, k, _ in runs[0]}), "ids are unique"
    assert any(k == "batch" for _, k, _ in runs[0]), "the folded batch is part of the comparison"
    schedule = RetrySchedule(seed=5)
    assert [schedule.next_attempt_at(i, 3, START) for i in ids] == \
           [RetrySchedule(seed=5).next_attempt_at(i, 3, START) for i in ids]


def test_a_later_update_for_the_same_contact_gets_a_new_id(broadcast):
    _reads_and_clicks(broadcast, weeks=1)
    _settle_everything(broadcast)  # the first score was sent: the next one is a new message
    _reads_and_clicks(broadcast, weeks=1)
    ids = [r["id"] for r in broadcast.outbox_rows("propensity")]
    assert len(ids) == len(set(ids)) >= 2


def test_the_same_content_queued_twice_at_one_instant_is_two_messages(broadcast):
    now = broadcast.clock.now()
    payload = {"contact_id": "ab_contact_maria", "propensity_score": 50, "score_updated_at": "2026-01-15T12:00:00Z"}
    with broadcast.db.transaction() as tx:
        first = outbox.enqueue(tx, organization_id=broadcast.org, connection_id=broadcast.org, kind="propensity",
                               payload=payload, now=now, contact_id="ab_contact_maria")
        second = outbox.enqueue(tx, organization_id=broadcast.org, connection_id=broadcast.org, kind="propensity",
                                payload=payload, now=now, contact_id="ab_contact_maria")
    assert first != second and second.startswith(first)


def test_the_fast_campaign_rows_equal_the_5_4_participation(broadcast):
    from integration.engagement import campaign_participation

    _reads_and_clicks(broadcast, weeks=3)
    campaigns.upsert_campaign(broadcast.db, broadcast.org, campaigns.Campaign("bc_campaign_feb", "February", None),
                              broadcast.clock)
    email_id = broadcast.send("ab_contact_maria", "bc_campaign_feb")
    ingest.ingest_events(broadcast.db, broadcast.org, [_event(broadcast, email_id, "delivered")], broadcast.clock)
    with broadcast.db.transaction(readonly=True) as tx:
        activity = store.load_activities(tx, broadcast.org, ["ab_contact_maria"], broadcast.clock.now())["ab_contact_maria"]
    expected = []
    for row in campaign_participation(activity):
        contract = row.to_contract()
        if contract["name"] is None:
            del contract["name"]
        expected.append(contract)
    assert [c["id"] for c in expected] == ["bc_campaign_feb", "bc_campaign_jan"]
    assert store.campaign_update(activity) == expected
    assert store.campaign_update(activity, {}) == expected


# ----------------------------------------------------------------------------- deleted in AgentBuddy

def test_nothing_is_queued_for_a_contact_agentbuddy_deleted_but_its_events_are_kept(broadcast):
    """AgentBuddy answers 404 about a deleted contact forever: queuing would only fill dead letters."""
    email_id = broadcast.send("ab_contact_maria")
    _settle_everything(broadcast)
    with broadcast.db.transaction() as tx:  # the sync applied AgentBuddy's tombstone after the send
        tx.execute("UPDATE contacts SET deleted_at = ? WHERE organization_id = ? AND id = ?",
                   ("2026-01-15T12:00:00.000000Z", broadcast.org, "ab_contact_maria"))
    events = [_event(broadcast, email_id, "delivered")]
    broadcast.clock.advance(timedelta(hours=2))
    events.append(_event(broadcast, email_id, "opened"))

    summary = ingest.ingest_events(broadcast.db, broadcast.org, events, broadcast.clock)

    assert summary.received == 2 and summary.duplicates == 0
    assert _unsent(broadcast, "ab_contact_maria") == []
    with broadcast.db.transaction() as tx:
        stored = tx.fetchval("SELECT COUNT(*) FROM engagement_events WHERE organization_id = ? AND contact_id = ?",
                             (broadcast.org, "ab_contact_maria"))
    assert stored == 2
