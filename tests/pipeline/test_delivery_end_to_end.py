"""Engagement reaches the fake AgentBuddy exactly once, whatever the network and workers do.

Story: Acme Realty connected its AgentBuddy account and synced it; Broadcast emailed a dozen
contacts their January market update; they delivered, opened and clicked. Then AgentBuddy has
a bad day (5xx bursts, a 429 storm, dropped connections, lost responses, a five-minute outage)
and one delivery worker dies holding a claim. Afterwards AgentBuddy must hold every event and
every latest score once: retries are deduplicated by `webhook-id` and nothing is lost.
"""
from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator

import pytest
import requests

import mock_agentbuddy
from common.serving import serve
import logging

logging.getLogger("werkzeug").setLevel(logging.ERROR)
from integration.engagement.pipeline import campaigns, ingest
from integration import outbox
from integration.agentbuddy import connections, tokens
from integration import sync as sync_engine
from common.clock import ManualClock
from integration.config import IntegrationConfig
from integration.storage import Database
from integration.engagement import EngagementEvent, natural_event_id
from integration.outbox import ClaimPolicy
from integration.web.service import ServiceOptions, build_worker

ORG = "org_acme"
CAMPAIGN = campaigns.Campaign("bc_campaign_jan", "January Market Update", "market_update")
INBOUND = ("receive*", "push*")


@dataclass
class AgentBuddy:
    url: str

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.url}/__admin/{path}", timeout=10, **kwargs)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def set_clock(self, clock: ManualClock) -> None:
        self.admin("POST", "clock", json={"set": clock.now().isoformat().replace("+00:00", "Z"), "freeze": True})

    def faults(self, *faults: dict[str, Any]) -> None:
        self.admin("POST", "faults", json={"faults": list(faults), "seed": 11})

    def inbound(self) -> list[dict[str, Any]]:
        return self.admin("GET", "inbound")["entries"]


@pytest.fixture
def agentbuddy(clock: ManualClock) -> Iterator[AgentBuddy]:
    config = mock_agentbuddy.MockConfig(seed=7, accounts=1, contacts_per_account=40, auto_approve=True,
                                        rate_limit="100000/min")
    app = mock_agentbuddy.create_app(config, sleeper=lambda _seconds: None)
    with serve(app, name="agentbuddy") as served:
        fake = AgentBuddy(served.url)
        fake.set_clock(clock)
        yield fake


@dataclass
class Acme:
    """Acme Realty's Broadcast, connected to the fake and synced, with a campaign sent."""

    db: Database
    config: IntegrationConfig
    clock: ManualClock
    agentbuddy: AgentBuddy
    contacts: list[str]

    def advance(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        self.agentbuddy.set_clock(self.clock)

    def engage(self, contact_ids: list[str], kinds=("delivered", "opened", "clicked")) -> int:
        """Each contact gets the campaign and reacts; returns how many events were ingested."""
        sends, refused = campaigns.record_sends(
            self.db, ORG, CAMPAIGN.id, [(c, f"re_{c}_{self.clock.now().timestamp():.0f}") for c in contact_ids],
            self.clock)
        assert not refused
        events = []
        for offset, send in enumerate(sends):
            at = self.clock.now() + timedelta(seconds=offset)
            for step, kind in enumerate(kinds):
                when = at + timedelta(minutes=10 * step)
                url = "https://acme.example/whats-my-home-worth" if kind == "clicked" else None
                events.append(EngagementEvent(event_id=natural_event_id(send.provider_email_id, kind, when, url),
                                              event_type=kind, occurred_at=when, email_id=send.provider_email_id,
                                              url=url))
        summary = ingest.ingest_events(self.db, ORG, events, self.clock)
        return summary.enqueued_events

    def deliver_until_done(self, workers, *, max_steps: int = 200) -> None:
        """Run the workers side by side; skip both clocks ahead to the next retry while one waits."""
        for _ in range(max_steps):
            threads = [threading.Thread(target=w.drain) for w in workers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            due = outbox.next_due(self.db, ORG)
            if due is None:
                return
            self.advance(max((due - self.clock.now()).total_seconds(), 0) + 1)
        raise AssertionError(f"outbox did not drain: {outbox.counts(self.db, ORG)}")

    def worker(self, name: str, **claim: Any):
        options = ServiceOptions(claim=ClaimPolicy(**claim)) if claim else ServiceOptions()
        return build_worker(self.db, self.config, self.clock, options=options, worker_id=name)


@pytest.fixture
def acme(database: Database, clock: ManualClock, agentbuddy: AgentBuddy, config: IntegrationConfig) -> Acme:
    config = config.replace(agentbuddy_url=agentbuddy.url, redirect_uri="http://127.0.0.1/callback",
                            http_backoff_factor=0.01, http_timeout_seconds=5.0)
    agent = next(a["email"] for a in agentbuddy.admin("GET", "world")["accounts"][0]["agents"]
                 if a["is_active"] and not a["deleted_at"])
    connections.connect_headless(database, config, ORG, agent, clock=clock)
    sync_engine.sync(database, config, ORG, clock=clock)
    campaigns.upsert_campaign(database, ORG, CAMPAIGN, clock)
    with database.transaction(readonly=True) as tx:
        rows = tx.fetchall("SELECT id FROM contacts WHERE organization_id = ? AND email_opt_in = 1 AND deleted_at IS NULL"
                           " AND email IS NOT NULL ORDER BY id LIMIT 12", (ORG,))
    assert len(rows) >= 6
    return Acme(database, config, clock, agentbuddy, [r["id"] for r in rows])


def assert_agentbuddy_has_everything_exactly_once(acme: Acme) -> None:
    with acme.db.transaction(readonly=True) as tx:
        messages = tx.fetchall("SELECT id, kind, status FROM outbox WHERE organization_id = ? AND merged_into IS NULL",
                               (ORG,))
        event_ids = {r["id"] for r in tx.fetchall(
            "SELECT id FROM engagement_events WHERE organization_id = ? AND contact_id IS NOT NULL", (ORG,))}
        scores = {r["contact_id"]: r for r in tx.fetchall(
            "SELECT contact_id, propensity_score, propensity_category FROM contact_scores WHERE organization_id = ?",
            (ORG,))}
        metrics = {r["contact_id"]: r for r in tx.fetchall(
            "SELECT contact_id, total_emails_sent, total_opens, total_clicks, engagement_trend FROM contact_metrics"
            " WHERE organization_id = ?", (ORG,))}
    assert {m["status"] for m in messages} == {"delivered"}, Counter(m["status"] for m in messages)

    entries = [e for e in acme.agentbuddy.inbound() if e["status"] == 200 or e["status"] == 201]
    applied = Counter(e["webhook_id"] or e["idempotency_key"] for e in entries if not e["duplicate"])
    assert set(applied) == {m["id"] for m in messages}, "every message reached AgentBuddy, nothing else did"
    assert set(applied.values()) == {1}, "no message was applied twice"

    received = Counter()
    for entry in entries:
        if entry["duplicate"]:
            continue
        payload = entry["payload"]
        if "updates" in payload.get("data", payload):
            for update in payload.get("data", payload)["updates"]:
                received.update(e["event_id"] for e in update.get("events", []))
        elif "event_type" in payload and "data" in payload and "event_id" in payload["data"]:
            received[payload["data"]["event_id"]] += 1
        elif "event_id" in payload:
            received[payload["event_id"]] += 1
    assert set(received) == event_ids and set(received.values()) == {1}

    session = tokens.authorized_session(acme.db, acme.config, ORG, clock=acme.clock)
    for contact_id, score in scores.items():
        contact = session.get(f"{acme.agentbuddy.url}/v1/contacts/{contact_id}", timeout=10).json()
        assert contact["propensity"]["propensity_score"] == score["propensity_score"], contact_id
        assert contact["propensity"]["propensity_category"] == score["propensity_category"], contact_id
        if contact_id not in metrics:
            continue  # never emailed: a score (from the re-score), no 5.2 metrics
        engagement = contact["engagement"]
        assert engagement is not None, f"{contact_id}: metrics never reached AgentBuddy"
        for name in ("total_emails_sent", "total_opens", "total_clicks", "engagement_trend"):
            assert engagement[name] == metrics[contact_id][name], (contact_id, name)
        assert contact["campaigns"] and contact["campaigns"][0]["id"] == CAMPAIGN.id, contact_id


def test_a_calm_day_delivers_events_and_scores_at_once_and_metrics_within_a_minute(acme):
    acme.engage(acme.contacts[:3])
    acme.worker("w1").drain()
    with acme.db.transaction(readonly=True) as tx:
        waiting = tx.fetchall("SELECT kind, contact_id, next_attempt_at FROM outbox WHERE status = 'pending'")
    assert waiting and all(w["kind"] == "batch" and w["contact_id"] in acme.contacts[:3] for w in waiting), \
        "only the debounced metrics updates wait; events and scores went out at once"
    assert len(waiting) == 3, "one metrics update per contact for the whole burst of events"
    acme.deliver_until_done([acme.worker("w1")], max_steps=2)  # one debounce (30 s) later
    assert_agentbuddy_has_everything_exactly_once(acme)


def test_a_bad_day_at_agentbuddy_loses_and_duplicates_nothing(acme):
    acme.agentbuddy.faults(
        {"kind": "error", "status": 503, "probability": 0.06, "burst": 2, "retry_after": 5, "operations": list(INBOUND)},
        {"kind": "error", "status": 500, "probability": 0.05, "operations": list(INBOUND)},
        {"kind": "rate_limit", "probability": 0.05, "burst": 4, "retry_after": 20, "operations": list(INBOUND)},
        {"kind": "reset", "probability": 0.05, "operations": list(INBOUND)},
        {"kind": "truncate", "count": 3, "operations": list(INBOUND)},  # applied, but the answer is lost
    )
    acme.engage(acme.contacts[:4])  # a few real-time messages ...
    acme.engage(acme.contacts[4:], kinds=("delivered", "opened", "clicked", "opened"))  # ... and a backlog
    acme.deliver_until_done([acme.worker("w1", limit=5, coalesce_threshold=20, batch_max_events=8),
                             acme.worker("w2", limit=5, coalesce_threshold=20, batch_max_events=8)])

    assert_agentbuddy_has_everything_exactly_once(acme)
    duplicates = [e for e in acme.agentbuddy.inbound() if e["duplicate"]]
    assert duplicates, "lost answers were retried and AgentBuddy recognised the retries as duplicates"


def test_agentbuddy_down_for_five_minutes_then_everything_arrives(acme):
    start = acme.clock.now()
    acme.agentbuddy.faults({"kind": "receiver_down", "operations": list(INBOUND),
                            "start": start.isoformat().replace("+00:00", "Z"),
                            "end": (start + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")})
    acme.engage(acme.contacts[:5])
    worker = acme.worker("w1")
    worker.drain()
    assert outbox.counts(acme.db, ORG)["delivered"] == 0
    acme.deliver_until_done([worker])
    assert_agentbuddy_has_everything_exactly_once(acme)


def test_a_worker_that_dies_holding_a_claim_delays_but_does_not_lose_messages(acme):
    acme.engage(acme.contacts[:3])
    claimed = outbox.claim(acme.db, "doomed-worker", acme.clock.now(), ClaimPolicy(limit=4, coalesce_threshold=1000))
    assert claimed  # ... and the process is killed before it sends or settles anything
    survivor = acme.worker("survivor", coalesce_threshold=1000)
    survivor.drain()
    assert {m.id for m in claimed} <= _pending_ids(acme), "leased messages wait for the lease to expire"
    acme.deliver_until_done([survivor])
    assert_agentbuddy_has_everything_exactly_once(acme)


def test_a_worker_whose_lease_expired_mid_send_is_deduplicated_by_agentbuddy(acme):
    acme.engage(acme.contacts[:2])
    slow = acme.worker("slow", coalesce_threshold=1000)
    claimed = outbox.claim(acme.db, "slow", acme.clock.now(), ClaimPolicy(limit=2, coalesce_threshold=1000))
    acme.advance(60)  # the slow worker stalls past its lease; another worker takes and delivers the messages
    acme.deliver_until_done([acme.worker("fast", coalesce_threshold=1000)])
    for message in claimed:  # the slow worker finally sends its stale copy
        assert slow.transport.send(message, acme.clock.now()).ok
    assert_agentbuddy_has_everything_exactly_once(acme)
    assert sum(e["duplicate"] for e in acme.agentbuddy.inbound()) == len(claimed)


def test_two_workers_in_parallel_deliver_each_message_once(acme):
    acme.engage(acme.contacts)
    policy = ClaimPolicy(limit=3, coalesce_threshold=10_000)
    first = outbox.claim(acme.db, "w0", acme.clock.now(), policy)
    second = outbox.claim(acme.db, "w1", acme.clock.now(), policy)
    assert first and second and not {m.id for m in first} & {m.id for m in second}, "claims are disjoint"
    outbox.release(acme.db, [m.id for m in first], "w0", acme.clock.now())
    outbox.release(acme.db, [m.id for m in second], "w1", acme.clock.now())
    workers = [acme.worker(f"w{i}", limit=3, coalesce_threshold=10_000) for i in range(2)]
    acme.deliver_until_done(workers, max_steps=2)
    inbound = acme.agentbuddy.inbound()
    assert not any(e["duplicate"] for e in inbound), "no message was even sent twice"
    assert_agentbuddy_has_everything_exactly_once(acme)


def test_option_b_push_api_delivers_with_idempotency_keys(acme):
    acme.config = acme.config.replace(delivery_mode="api")
    acme.agentbuddy.faults({"kind": "truncate", "probability": 0.3, "operations": ["push*"]})
    pusher = acme.worker("pusher", coalesce_threshold=15)
    acme.engage(acme.contacts[:3])  # 9 events + 3 scores: sent one by one
    acme.deliver_until_done([pusher])
    acme.engage(acme.contacts[3:9])  # 18 events + 6 scores: a backlog, folded into bulk requests
    acme.deliver_until_done([pusher])
    paths = {e["path"].split("/")[-1] for e in acme.agentbuddy.inbound()}
    assert {"events", "propensity", "bulk"} <= paths
    assert_agentbuddy_has_everything_exactly_once(acme)


def test_a_permanent_rejection_is_dead_lettered_and_replayable(acme):
    acme.engage(acme.contacts[:1], kinds=("delivered",))
    with acme.db.transaction() as tx:  # AgentBuddy will answer 404: the contact does not exist there
        tx.execute("UPDATE outbox SET payload = REPLACE(payload, ?, 'ab_contact_nobody') WHERE kind <> 'batch'",
                   (acme.contacts[0],))
    acme.deliver_until_done([acme.worker("w1")], max_steps=2)
    counts = outbox.counts(acme.db, ORG)
    assert counts["dead"] >= 1 and counts["delivered"] == 1, "only the (untouched) metrics update got through"
    [dead, *_] = outbox.dead_letters(acme.db, ORG)
    assert dead["last_status"] == 404 and dead["attempts"] == 1, "a 404 is not retried"
    with acme.db.transaction() as tx:
        tx.execute("UPDATE outbox SET payload = REPLACE(payload, 'ab_contact_nobody', ?)", (acme.contacts[0],))
    assert outbox.replay(acme.db, acme.clock.now()) == counts["dead"]
    acme.deliver_until_done([acme.worker("w1")], max_steps=2)
    assert outbox.counts(acme.db, ORG)["dead"] == 0
    assert_agentbuddy_has_everything_exactly_once(acme)


def _pending_ids(acme: Acme) -> set[str]:
    with acme.db.transaction(readonly=True) as tx:
        return {r["id"] for r in tx.fetchall("SELECT id FROM outbox WHERE status <> 'delivered'")}


def test_the_service_delivers_rescores_and_stops_cleanly(acme):
    from integration.web.service import Service

    service = Service(acme.db, acme.config, acme.clock,
                      options=ServiceOptions(workers=2, sync=False, rescore=True, poll_seconds=0.05,
                                             rescore_poll_seconds=0.05)).start()
    try:
        ingest.ingest_events(acme.db, ORG, _events_for(acme, acme.contacts[:2]), acme.clock, doorbell=service.doorbell)
        acme.advance(31)  # past the metrics debounce
        for _ in range(400):  # wait (not a timing assertion): until the workers have drained the outbox
            counts = outbox.counts(acme.db, ORG)
            if counts["delivered"] and not (counts["queued"] or counts["delivering"] or counts["retrying"]):
                break
            threading.Event().wait(0.05)
    finally:
        service.stop()
    assert not service.running
    with acme.db.transaction(readonly=True) as tx:
        assert tx.fetchval("SELECT COUNT(*) AS n FROM account_baselines WHERE organization_id = ?", (ORG,)) == 1
    assert_agentbuddy_has_everything_exactly_once(acme)


def _events_for(acme: Acme, contact_ids: list[str]) -> list[EngagementEvent]:
    sends, _ = campaigns.record_sends(acme.db, ORG, CAMPAIGN.id, [(c, f"re_svc_{c}") for c in contact_ids], acme.clock)
    at = acme.clock.now()
    return [EngagementEvent(event_id=natural_event_id(s.provider_email_id, kind, at), event_type=kind, occurred_at=at,
                            email_id=s.provider_email_id) for s in sends for kind in ("delivered", "opened")]


def test_option_b_refreshes_an_expired_token_once_and_delivers(acme):
    acme.config = acme.config.replace(delivery_mode="api")
    acme.engage(acme.contacts[:1], kinds=("delivered",))

    def token_requests() -> int:
        return sum(e.get("path") == "/oauth/token" for e in acme.agentbuddy.admin("GET", "journal")["entries"])

    before = token_requests()
    # AgentBuddy's clock runs ahead past the access token's lifetime: it answers 401 to our token.
    acme.agentbuddy.admin("POST", "clock", json={"advance_seconds": 7200})
    acme.deliver_until_done([acme.worker("pusher")], max_steps=2)
    assert token_requests() == before + 1, "the token was refreshed exactly once"
    assert any(e["status"] == 401 for e in acme.agentbuddy.inbound()), "AgentBuddy did refuse the old token"
    assert outbox.counts(acme.db, ORG)["delivered"] >= 2 and outbox.counts(acme.db, ORG)["dead"] == 0


def test_a_wrong_webhook_secret_dead_letters_and_replay_after_reconnecting_delivers(acme):
    from integration.agentbuddy.secrets import SecretBox

    box = SecretBox(acme.config.require_token_key())
    with acme.db.transaction(readonly=True) as tx:
        good = tx.fetchval("SELECT webhook_secret_enc FROM connections WHERE organization_id = ?", (ORG,))
    with acme.db.transaction() as tx:
        tx.execute("UPDATE connections SET webhook_secret_enc = ? WHERE organization_id = ?",
                   (box.encrypt("whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA=="), ORG))
    acme.engage(acme.contacts[:1], kinds=("delivered",))
    worker = acme.worker("w1")
    acme.deliver_until_done([worker], max_steps=2)
    dead = outbox.dead_letters(acme.db, ORG)
    assert dead and {d["last_status"] for d in dead} == {401}, "a signature AgentBuddy rejects is not retried"

    with acme.db.transaction() as tx:  # reconnecting stores the right secret again
        tx.execute("UPDATE connections SET webhook_secret_enc = ? WHERE organization_id = ?", (good, ORG))
    outbox.replay(acme.db, acme.clock.now())
    acme.deliver_until_done([worker], max_steps=2)
    assert_agentbuddy_has_everything_exactly_once(acme)


def test_a_held_service_leaves_the_outbox_alone_until_released(acme):
    """While a story plays on `ab-harness serve`, the story delivers; the service's loops park."""
    from integration.web.service import Service

    service = Service(acme.db, acme.config, acme.clock,
                      options=ServiceOptions(workers=2, sync=False, rescore=True, poll_seconds=0.05,
                                             rescore_poll_seconds=0.05)).start()
    try:
        assert service.hold(timeout=120) and service.held  # every loop finished its round and parked
        # Before hold() the loops may have had a round (a first re-score and its delivery, if the
        # machine let them run first): what counts is that nothing moves while held.
        before = outbox.counts(acme.db, ORG)
        ingest.ingest_events(acme.db, ORG, _events_for(acme, acme.contacts[:2]), acme.clock, doorbell=service.doorbell)
        acme.advance(31)
        threading.Event().wait(0.5)  # ten poll intervals: a running worker would have claimed them
        held = outbox.counts(acme.db, ORG)
        assert held["delivered"] == before["delivered"] and held["delivering"] == 0 and service.running
        assert held["queued"] > before["queued"]  # the new events wait for the release
        service.release()
        for _ in range(2400):  # wait (not a timing assertion): until the workers have drained the outbox
            counts = outbox.counts(acme.db, ORG)
            if counts["delivered"] and not (counts["queued"] or counts["delivering"] or counts["retrying"]):
                break
            threading.Event().wait(0.05)
    finally:
        service.stop()
    assert not service.running and not service.held
    assert_agentbuddy_has_everything_exactly_once(acme)
