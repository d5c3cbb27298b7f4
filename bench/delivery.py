"""How fast engagement reaches AgentBuddy: throughput and ingest-to-received latency.

`run(postgres_url=None)` measures Broadcast's delivery against two receivers, each running in
its own process on loopback (so the receiver does not share a GIL with the delivery workers):

* `fake`: the fake AgentBuddy (`python -m mock_agentbuddy`), connected through real OAuth and
  synced. It validates every request against the contract with openapi-core, which costs it
  a few milliseconds per event, so its figures measure the fake as much as Broadcast;
* `receiver`: a minimal Standard Webhooks receiver (verify signature, dedupe by webhook-id,
  log each event's receipt time) — what Broadcast's delivery itself can push.

For each: a backlog of events is ingested (one transaction per 1,000 events) and then drained
by two delivery workers — events/s = events the receiver accepted / drain time (a backlog is
folded into `engagement.batch_update` messages whose `events` lists carry up to 1,000
messages). Then events are ingested at a steady rate while the delivery service runs (wake-up
on enqueue, 0.2 s poll); each event's latency is its ingest commit (time.perf_counter) to the
receiver logging it (receiver wall time mapped onto the same timeline), reported p50/p99/max.

Targets (harness/bench.py): >= 5,000 events/s and p99 <= 1 s.
Run it: `.venv/bin/python -m bench.delivery [postgresql://…]` (a minute or two).
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
from cryptography.fernet import Fernet
from flask import Flask, jsonify, request
from standardwebhooks import Webhook

from integration.engagement.pipeline import campaigns, ingest
from integration import outbox
from integration.agentbuddy import connections
from integration import sync as sync_engine
from common.clock import SystemClock
from common.serving import free_port
from integration.config import IntegrationConfig
from integration.agentbuddy.secrets import SecretBox
from integration.storage import Database

from .databases import each_database
from integration.engagement import EngagementEvent, natural_event_id
from integration.outbox import ClaimPolicy, Doorbell
from integration.web.service import Service, ServiceOptions, build_worker

CONTACTS = 1000
KINDS = ("delivered", "opened", "clicked")
POLICY = ClaimPolicy(limit=50, coalesce_threshold=20, batch_max_events=1000)
# (backlog events, steady rate events/s, steady seconds) per receiver
PLAN = {"receiver": (30_000, 1000, 6.0), "fake": (5_000, 100, 6.0)}
RECEIVER_SECRET = "whsec_" + base64.b64encode(b"bench-receiver-secret-0123456789").decode()


# ----------------------------------------------------------------------------- receivers


def _spawn(args: list[str], url: str, ready_path: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            if requests.get(url + ready_path, timeout=1).status_code < 500:
                return process
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{args} did not start")


def receiver_app(secret: str):
    """A minimal Option A receiver: verify, dedupe by webhook-id, log receipt time per event."""
    app = Flask("bench-receiver")
    webhook = Webhook(secret)
    seen: set[str] = set()
    log: list[tuple[str, str]] = []
    lock = threading.Lock()

    @app.post("/v1/webhooks/broadcast/<kind>")
    def receive(kind: str):
        body = request.get_data(as_text=True)
        webhook.verify(body, dict(request.headers))
        received = datetime.now(timezone.utc).isoformat()
        msg_id = request.headers["webhook-id"]
        with lock:
            if msg_id in seen:
                return jsonify({"webhook_id": msg_id, "status": "duplicate"})
            seen.add(msg_id)
        payload = json.loads(body)
        data = payload["data"]
        ids = [e["event_id"] for u in data.get("updates", []) for e in u.get("events", [])]
        if "event_id" in data:
            ids.append(data["event_id"])
        with lock:
            log.extend((event_id, received) for event_id in ids)
        return jsonify({"webhook_id": msg_id, "status": "accepted"})

    @app.get("/log")
    def read_log():
        since = int(request.args.get("since", 0))
        with lock:
            return jsonify({"entries": log[since:], "next": len(log)})

    return app


def _receiver_log(url: str, since: int) -> tuple[dict[str, str], int]:
    body = requests.get(f"{url}/log", params={"since": since}, timeout=60).json()
    out: dict[str, str] = {}
    for event_id, stamp in body["entries"]:
        out.setdefault(event_id, stamp)
    return out, body["next"]


def _fake_log(url: str, since: int) -> tuple[dict[str, str], int]:
    body = requests.get(f"{url}/__admin/inbound", params={"since": since}, timeout=60).json()
    out: dict[str, str] = {}
    for entry in body["entries"]:
        if entry["status"] != 200 or entry["duplicate"]:
            continue
        data = entry["payload"].get("data", {})
        for update in data.get("updates", []):
            for event in update.get("events", []):
                out.setdefault(event["event_id"], entry["time"])
        if "event_id" in data:
            out.setdefault(data["event_id"], entry["time"])
    return out, body["last_seq"]


# ----------------------------------------------------------------------------- broadcast side

class _Events:
    """Fresh, never-seen events for the sends, round-robin over contacts."""

    def __init__(self, sends: list[campaigns.Send]) -> None:
        self.sends = sends
        self.counter = 0

    def next(self, count: int, at: datetime) -> list[EngagementEvent]:
        out = []
        for _ in range(count):
            send = self.sends[self.counter % len(self.sends)]
            kind = KINDS[(self.counter // len(self.sends)) % len(KINDS)]
            url = f"https://acme.example/listings/{self.counter}" if kind == "clicked" else None
            out.append(EngagementEvent(
                event_id=f"{natural_event_id(send.provider_email_id, kind, at, url)}_{self.counter:x}",
                event_type=kind, occurred_at=at, email_id=send.provider_email_id, url=url))
            self.counter += 1
        return out


def connect_to_receiver(db: Database, config: IntegrationConfig, org: str, url: str, count: int = CONTACTS, *,
                        contact_id: str = "ab_contact_{:05d}", email: str = "c{}@example.com") -> None:
    """A connection row pointing at the minimal receiver, and `count` synthetic opted-in contacts."""
    now = SystemClock().now()
    box = SecretBox(config.require_token_key())
    with db.transaction() as tx:
        tx.execute("INSERT INTO organizations (organization_id, name, created_at) VALUES (?, ?, ?)", (org, org, now))
        tx.execute(
            "INSERT INTO connections (organization_id, agentbuddy_url, client_id, status, webhook_secret_enc,"
            " connected_at, updated_at) VALUES (?, ?, ?, 'active', ?, ?, ?)",
            (org, url, config.client_id, box.encrypt(RECEIVER_SECRET), now, now))
        tx.executemany(
            "INSERT INTO contacts (organization_id, id, email, contact_type, email_opt_in, ab_updated_at, synced_at)"
            " VALUES (?, ?, ?, 'owner', 1, ?, ?)",
            [(org, contact_id.format(i), email.format(i), now, now) for i in range(count)])


def _measure(db: Database, org: str, config: IntegrationConfig, read_log, receiver_url: str,
             plan: tuple[int, int, float]) -> dict[str, Any]:
    backlog, rate, seconds = plan
    clock = SystemClock()
    campaigns.upsert_campaign(db, org, campaigns.Campaign("bc_campaign_bench", "Bench Update", "listing"), clock)
    with db.transaction(readonly=True) as tx:
        ids = [r["id"] for r in tx.fetchall("SELECT id FROM contacts WHERE organization_id = ? AND email_opt_in = 1"
                                            " AND deleted_at IS NULL AND email IS NOT NULL", (org,))]
    sends, _ = campaigns.record_sends(db, org, "bc_campaign_bench", [(c, f"re_{org}_{c}") for c in ids], clock)
    events = _Events(sends)

    started = time.perf_counter()
    for _ in range(backlog // 1000):
        ingest.ingest_events(db, org, events.next(1000, clock.now()), clock)
    ingest_seconds = time.perf_counter() - started
    _, seq = read_log(receiver_url, 0)
    workers = [build_worker(db, config, clock, options=ServiceOptions(claim=POLICY), worker_id=f"bench-{i}")
               for i in range(2)]
    started = time.perf_counter()
    threads = [threading.Thread(target=w.drain) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drain_seconds = time.perf_counter() - started
    received, seq = read_log(receiver_url, seq)
    counts = outbox.counts(db, org)

    doorbell = Doorbell()
    service = Service(db, config, clock, options=ServiceOptions(workers=2, sync=False, rescore=False, claim=POLICY),
                      doorbell=doorbell).start()
    perf0, wall0 = time.perf_counter(), clock.now()
    ingested_at: dict[str, float] = {}
    chunk_size = max(1, rate // 20)
    deadline = time.perf_counter() + seconds
    tick = time.perf_counter()
    while time.perf_counter() < deadline:
        chunk = events.next(chunk_size, clock.now())
        ingest.ingest_events(db, org, chunk, clock, doorbell=doorbell)
        committed = time.perf_counter()
        ingested_at.update((event.event_id, committed) for event in chunk)
        tick += chunk_size / rate
        time.sleep(max(0.0, tick - time.perf_counter()))
    settle = time.perf_counter() + 30
    while time.perf_counter() < settle:
        c = outbox.counts(db, org)
        due = outbox.next_due(db, org)
        # Done when nothing is due any more: the metrics updates still waiting out their
        # debounce (ingest.METRICS_DEBOUNCE) carry no events and do not count here.
        if not c["delivering"] and (due is None or due > clock.now() + timedelta(seconds=1)):
            break
        time.sleep(0.1)
    service.stop()
    arrivals, _ = read_log(receiver_url, seq)
    latencies = []
    for event_id, stamp in arrivals.items():
        if event_id in ingested_at:
            wall = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            latencies.append(max(0.0, perf0 + (wall - wall0).total_seconds() - ingested_at[event_id]))
    latencies.sort()

    def pct(q: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 4) if latencies else None

    return {
        "database": db.dialect,
        "contacts": len(sends),
        "ingest_events_per_s": round(backlog / ingest_seconds),
        "backlog_events": backlog,
        "delivered_events": len(received),
        "delivery_seconds": round(drain_seconds, 3),
        "events_per_s": round(len(received) / drain_seconds) if drain_seconds else None,
        "requests": counts["delivered"],
        "dead": counts["dead"],
        "steady_rate_offered": rate,
        "latency_events": len(latencies),
        "latency_lost": len(ingested_at) - len(latencies),
        "latency_p50_s": pct(0.50),
        "latency_p99_s": pct(0.99),
        "latency_max_s": round(latencies[-1], 4) if latencies else None,
    }


def _one_database(db: Database, token_key: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _spawn(["-c", f"from bench.delivery import receiver_app; from common.serving import run;"
                      f" run(receiver_app({RECEIVER_SECRET!r}), port={port})"], url, "/log")
    try:
        config = IntegrationConfig(agentbuddy_url=url, token_key=token_key)
        connect_to_receiver(db, config, "org_bench_receiver", url)
        results["receiver"] = _measure(db, "org_bench_receiver", config, _receiver_log, url, PLAN["receiver"])
    finally:
        process.terminate()
        process.wait(10)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _spawn(["-m", "mock_agentbuddy", "--port", str(port), "--accounts", "1", "--contacts-per-account",
                      str(CONTACTS), "--auto-approve", "--rate-limit", "1000000/min"], url,
                     "/.well-known/oauth-authorization-server")
    try:
        config = IntegrationConfig(agentbuddy_url=url, token_key=token_key, redirect_uri="http://127.0.0.1/callback",
                                   http_timeout_seconds=60.0)
        world = requests.get(f"{url}/__admin/world", timeout=30).json()
        agent = next(a["email"] for a in world["accounts"][0]["agents"] if a["is_active"] and not a["deleted_at"])
        connections.connect_headless(db, config, "org_bench_fake", agent, clock=SystemClock())
        sync_engine.sync(db, config, "org_bench_fake", clock=SystemClock())
        results["fake"] = _measure(db, "org_bench_fake", config, _fake_log, url, PLAN["fake"])
    finally:
        process.terminate()
        process.wait(10)
    return results


def run(postgres_url: str | None = None) -> dict[str, Any]:
    token_key = Fernet.generate_key().decode()
    results: dict[str, Any] = {}
    for name, db in each_database(postgres_url):
        results[name] = _one_database(db, token_key)
    own = [r["receiver"] for r in results.values() if isinstance(r, dict) and "receiver" in r]
    results["meets_target"] = any(r["events_per_s"] and r["events_per_s"] >= 5000 and r["latency_p99_s"] is not None
                                  and r["latency_p99_s"] <= 1.0 for r in own)
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    run(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AB_BENCH_POSTGRES_URL"))
