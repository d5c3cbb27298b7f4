"""How fast engagement reaches AgentBuddy: throughput and ingest-to-received latency.

`run(postgres_url=None)` starts the fake AgentBuddy in-process on loopback, connects and syncs
one Broadcast organization (SQLite in a temp dir, or a private schema on PostgreSQL), sends a
campaign to every contact, then measures two things on the wall clock:

* throughput: a backlog of events is ingested (one transaction per 1,000), then delivery
  workers drain it; events/s = events AgentBuddy accepted / drain time. A backlog is folded
  into `engagement.batch_update` messages (the contract's `events` lists), which is what makes
  thousands of events per second possible over plain HTTP;
* latency: events are ingested at a steady rate while the delivery service runs (wake-up on
  enqueue, 0.2 s poll); for each event, the time from its ingest transaction committing
  (time.perf_counter) to the fake logging its receipt (the fake's inbound log, mapped onto the
  same perf_counter timeline), p50 and p99.

Targets (harness/bench.py): >= 5,000 events/s and p99 <= 1 s.
Run it: `.venv/bin/python -m bench.delivery` (about half a minute).
"""
from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
from cryptography.fernet import Fernet
from werkzeug.serving import make_server

import mock_agentbuddy
from integration import campaigns, connections, ingest, outbox
from integration import sync as sync_engine
from integration.clock import SystemClock
from integration.config import IntegrationConfig
from integration.db import Database
from integration.engagement import EngagementEvent, natural_event_id
from integration.outbox import ClaimPolicy, Doorbell
from integration.service import Service, ServiceOptions, build_worker

ORG = "org_bench"
CONTACTS = 1000
BACKLOG_EVENTS = 30_000
LATENCY_SECONDS = 6.0
LATENCY_RATE = 1000  # events/s offered during the latency run
KINDS = ("delivered", "opened", "clicked")


def _start_fake() -> tuple[str, Any]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    config = mock_agentbuddy.MockConfig(seed=7, accounts=1, contacts_per_account=CONTACTS, auto_approve=True,
                                        rate_limit="10000000/min")
    app = mock_agentbuddy.create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def _agent_email(url: str) -> str:
    world = requests.get(f"{url}/__admin/world", timeout=30).json()
    return next(a["email"] for a in world["accounts"][0]["agents"] if a["is_active"] and not a["deleted_at"])


class _Events:
    """Unique events for the sends, produced in order (each call a fresh, never-seen batch)."""

    def __init__(self, sends: list[campaigns.Send]) -> None:
        self.sends = sends
        self.counter = 0

    def next(self, count: int, at: datetime) -> list[EngagementEvent]:
        out = []
        for _ in range(count):
            send = self.sends[self.counter % len(self.sends)]
            kind = KINDS[(self.counter // len(self.sends)) % len(KINDS)]
            when = at + timedelta(microseconds=self.counter)
            url = f"https://acme.example/listings/{self.counter}" if kind == "clicked" else None
            out.append(EngagementEvent(event_id=natural_event_id(send.provider_email_id, kind, when, url) + f"{self.counter:x}",
                                       event_type=kind, occurred_at=when, email_id=send.provider_email_id, url=url))
            self.counter += 1
        return out


def _received_events(fake_url: str, since: int) -> tuple[dict[str, str], int]:
    """event_id -> the fake's receipt time (ISO), for accepted, non-duplicate deliveries."""
    body = requests.get(f"{fake_url}/__admin/inbound", params={"since": since}, timeout=60).json()
    out: dict[str, str] = {}
    for entry in body["entries"]:
        if entry["status"] != 200 or entry["duplicate"]:
            continue
        payload = entry["payload"]
        data = payload.get("data", {})
        if "updates" in data:
            for update in data["updates"]:
                for event in update.get("events", []):
                    out.setdefault(event["event_id"], entry["time"])
        elif "event_id" in data:
            out.setdefault(data["event_id"], entry["time"])
    return out, body["last_seq"]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _measure(db: Database, config: IntegrationConfig, fake_url: str) -> dict[str, Any]:
    clock = SystemClock()
    connections.connect_headless(db, config, ORG, _agent_email(fake_url), clock=clock)
    sync_engine.sync(db, config, ORG, clock=clock)
    campaigns.upsert_campaign(db, ORG, campaigns.Campaign("bc_campaign_bench", "Bench Update", "listing"), clock)
    with db.transaction(readonly=True) as tx:
        ids = [r["id"] for r in tx.fetchall("SELECT id FROM contacts WHERE organization_id = ? AND email_opt_in = 1"
                                            " AND deleted_at IS NULL AND email IS NOT NULL", (ORG,))]
    sends, _ = campaigns.record_sends(db, ORG, "bc_campaign_bench", [(c, f"re_bench_{c}") for c in ids], clock)
    events = _Events(sends)

    # -- throughput: ingest a backlog, then drain it
    started = time.perf_counter()
    for _ in range(BACKLOG_EVENTS // 1000):
        ingest.ingest_events(db, ORG, events.next(1000, clock.now()), clock)
    ingest_seconds = time.perf_counter() - started
    policy = ClaimPolicy(limit=50, coalesce_threshold=20, batch_max_events=1000)
    workers = [build_worker(db, config, clock, options=ServiceOptions(claim=policy), worker_id=f"bench-{i}")
               for i in range(2)]
    _, seq = _received_events(fake_url, 0)
    started = time.perf_counter()
    threads = [threading.Thread(target=w.drain) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    drain_seconds = time.perf_counter() - started
    received, seq = _received_events(fake_url, seq)
    counts = outbox.counts(db, ORG)

    # -- latency: steady ingest while the service delivers
    doorbell = Doorbell()
    service = Service(db, config, clock, options=ServiceOptions(workers=2, sync=False, rescore=False, claim=policy),
                      doorbell=doorbell).start()
    perf0, wall0 = time.perf_counter(), clock.now()
    ingested_at: dict[str, float] = {}
    batch = max(1, LATENCY_RATE // 20)
    deadline = time.perf_counter() + LATENCY_SECONDS
    next_tick = time.perf_counter()
    while time.perf_counter() < deadline:
        chunk = events.next(batch, clock.now())
        ingest.ingest_events(db, ORG, chunk, clock, doorbell=doorbell)
        done = time.perf_counter()
        for event in chunk:
            ingested_at[event.event_id] = done
        next_tick += batch / LATENCY_RATE
        time.sleep(max(0.0, next_tick - time.perf_counter()))
    settle = time.perf_counter() + 10
    while time.perf_counter() < settle and outbox.counts(db, ORG)["queued"]:
        time.sleep(0.1)
    time.sleep(0.5)
    service.stop()
    arrivals, _ = _received_events(fake_url, seq)
    latencies = []
    for event_id, stamp in arrivals.items():
        if event_id in ingested_at:
            wall = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            latencies.append(max(0.0, perf0 + (wall - wall0).total_seconds() - ingested_at[event_id]))
    return {
        "database": db.dialect,
        "contacts": len(sends),
        "backlog_events": BACKLOG_EVENTS,
        "ingest_events_per_s": round(BACKLOG_EVENTS / ingest_seconds),
        "delivered_events": len(received),
        "delivery_seconds": round(drain_seconds, 3),
        "events_per_s": round(len(received) / drain_seconds) if drain_seconds else None,
        "requests": counts["delivered"],
        "dead": counts["dead"],
        "latency_events_offered": len(ingested_at),
        "latency_events_received": len(latencies),
        "latency_p50_s": round(_percentile(latencies, 0.50), 4),
        "latency_p99_s": round(_percentile(latencies, 0.99), 4),
        "latency_max_s": round(max(latencies), 4) if latencies else None,
    }


def run(postgres_url: str | None = None) -> dict[str, Any]:
    fake_url, server = _start_fake()
    config = IntegrationConfig(agentbuddy_url=fake_url, token_key=Fernet.generate_key().decode(),
                               redirect_uri="http://127.0.0.1/callback", http_timeout_seconds=30.0)
    results: dict[str, Any] = {}
    tmp = tempfile.mkdtemp(prefix="bench-delivery-")
    try:
        db = Database.from_url(f"sqlite:///{tmp}/broadcast.sqlite3")
        db.migrate()
        results["sqlite"] = _measure(db, config, fake_url)
        db.close()
        if postgres_url:
            requests.post(f"{fake_url}/__admin/reset", timeout=30)
            db = Database.from_url(postgres_url, schema=f"bench_{uuid.uuid4().hex[:10]}")
            db.migrate()
            try:
                results["postgresql"] = _measure(db, config, fake_url)
            finally:
                db.drop_schema()
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(tmp, ignore_errors=True)
    best = results.get("postgresql") or results["sqlite"]
    results["meets_target"] = bool(best["events_per_s"] and best["events_per_s"] >= 5000
                                   and best["latency_p99_s"] <= 1.0)
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    run(sys.argv[1] if len(sys.argv) > 1 else None)
