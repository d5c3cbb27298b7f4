"""The daily re-score and the shape of every message on the wire, checked against the contract."""
from __future__ import annotations

from datetime import timedelta

from integration.engagement.pipeline import ingest, rescore
from integration import outbox
from integration.outbox import wire
from integration.engagement import EngagementEvent, natural_event_id


def _event(broadcast, email_id: str, kind: str, **fields) -> EngagementEvent:
    at = broadcast.clock.now()
    return EngagementEvent(event_id=natural_event_id(email_id, kind, at, fields.get("url")), event_type=kind,
                           occurred_at=at, email_id=email_id, **fields)


def _maria_reads_her_market_updates(broadcast) -> None:
    for week in range(3):
        email_id = broadcast.send("ab_contact_maria")
        events = [_event(broadcast, email_id, "sent"), _event(broadcast, email_id, "delivered")]
        broadcast.clock.advance(timedelta(hours=5))
        events.append(_event(broadcast, email_id, "opened"))
        broadcast.clock.advance(timedelta(minutes=2))
        events.append(_event(broadcast, email_id, "clicked", url="https://acme.example/whats-my-home-worth"))
        ingest.ingest_events(broadcast.db, broadcast.org, events, broadcast.clock)
        broadcast.clock.advance(timedelta(days=7))


def _messages(broadcast):
    return [outbox.Message(r["id"], r["organization_id"], r["connection_id"], r["kind"], r["contact_id"],
                           r["payload"], r["attempts"], r["created_at"]) for r in broadcast.outbox_rows()]


def test_every_queued_message_matches_the_contract_in_both_delivery_options(broadcast, contract_schema):
    _maria_reads_her_market_updates(broadcast)
    real_time = _messages(broadcast)
    broadcast.clock.advance(timedelta(days=20))
    rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock)
    messages = {m.id: m for m in real_time + _messages(broadcast)}.values()
    assert {m.kind for m in messages} == {"event", "propensity", "batch"}
    webhook_schema = {"event": "EmailEventWebhook", "propensity": "PropensityWebhook", "batch": "BatchWebhook"}
    push_schema = {"event": "EngagementEvent", "propensity": "PropensityPatch", "batch": "BatchData"}
    for message in messages:
        contract_schema(webhook_schema[message.kind]).validate(wire.webhook_request(message).body)
        contract_schema(push_schema[message.kind]).validate(wire.push_request(message).body)
    folded = wire.batch_of_events([m.payload for m in messages if m.kind == "event"])
    contract_schema("BatchData").validate(folded)


def test_a_contact_who_goes_quiet_cools_down_in_the_daily_rescore(broadcast):
    _maria_reads_her_market_updates(broadcast)
    with broadcast.db.transaction(readonly=True) as tx:
        before = tx.fetchval("SELECT propensity_score FROM contact_scores WHERE contact_id = ?", ("ab_contact_maria",))
    broadcast.clock.advance(timedelta(days=45))
    summary = rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock)

    with broadcast.db.transaction(readonly=True) as tx:
        after = tx.fetchval("SELECT propensity_score FROM contact_scores WHERE contact_id = ?", ("ab_contact_maria",))
        history = tx.fetchall("SELECT reason FROM score_history WHERE contact_id = ? ORDER BY id", ("ab_contact_maria",))
    assert after < before
    assert history[-1]["reason"] == "daily_rescore"
    assert summary.contacts == 3 and summary.changed >= 1 and summary.messages == 1
    [batch] = [r for r in broadcast.outbox_rows("batch") if r["contact_id"] is None]  # not ingest's own updates
    [update] = [u for u in batch["payload"]["updates"] if u["contact_id"] == "ab_contact_maria"]
    assert update["propensity_score"] == after
    assert update["engagement_metrics"]["total_emails_sent"] == 3
    assert "campaigns" not in update, "5.4 rows change only with events: ingest's update carried them"


def test_a_rescore_with_nothing_new_sends_nothing(broadcast):
    _maria_reads_her_market_updates(broadcast)
    rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock)
    again = rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock)
    assert again.changed == 0 and again.messages == 0


def test_a_rescore_batch_replaces_pending_propensity_messages_it_supersedes(broadcast):
    _maria_reads_her_market_updates(broadcast)
    assert broadcast.outbox_rows("propensity")
    broadcast.clock.advance(timedelta(days=45))
    rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock)
    assert broadcast.outbox_rows("propensity") == []


def test_the_first_rescore_scores_every_contact_and_caps_updates_per_message(broadcast):
    summary = rescore.rescore_all(broadcast.db, broadcast.org, broadcast.clock, batch_size=2)
    # maria, james and pat (the deleted contact is not scored)
    assert (summary.scored, summary.changed, summary.messages) == (3, 3, 2)
    sizes = sorted(len(m["payload"]["updates"]) for m in broadcast.outbox_rows("batch") if m["contact_id"] is None)
    assert sizes == [1, 2]
