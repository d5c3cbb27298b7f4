"""A campaign burst: Resend's webhooks for a campaign to N recipients, into Broadcast's ingest
server, out to AgentBuddy — ingest events/s, the outbox backlog, and each event's
ingest-to-received latency, on SQLite and PostgreSQL.

The campaign (default 100,000 recipients) produces `sent` and `delivered` for every recipient,
one open for 25% and a second for 8% of them, and a click for 4% (the shares a property
newsletter sees). Svix-signed webhooks are POSTed by `SENDERS` concurrent keep-alive
connections from separate processes, as fast as the server answers, to Broadcast's ingest
server (the app of `ingest-server`, served by waitress in this process, with two delivery
workers alongside, exactly as `ingest-server` runs them). AgentBuddy is a minimal Standard
Webhooks receiver in its own process (`bench.delivery.receiver_app`: verify, dedupe by
webhook-id, log the receipt time of each event), so the figures are Broadcast's own.

Figures: webhooks/s acknowledged (2xx means stored durably and queued), the largest and final
outbox backlog, and per event the time from its webhook's 2xx to its receipt by AgentBuddy
(p50/p99/max, wall clock, one machine). Nothing lost: every event AgentBuddy's contract has a
name for arrives; nothing doubled: none arrives twice.

Target (spec Phase 3): p99 <= 60 s; ingest >= 5,000 events/s (issue 11).
Run: `.venv/bin/python -m bench.burst [--recipients N] [--postgres-url URL]` or `ab-harness bench --only burst`.
"""
from __future__ import annotations

import base64
import http.client
import json
import multiprocessing
import os
import queue as queues
import random
import resource
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from common.clock import SystemClock
from common.serving import free_port, serve
from integration import outbox
from integration.config import IntegrationConfig
from integration.engagement import CONTRACT_EVENT_TYPES
from integration.engagement.pipeline import campaigns
from integration.engagement.pipeline.group_commit import committer_for
from integration.outbox import ClaimPolicy, Doorbell
from integration.storage import Database
from integration.web.app import create_app
from integration.web.service import Service, ServiceOptions

from .databases import each_database
from .delivery import RECEIVER_SECRET, _spawn, connect_to_receiver

RECIPIENTS = 100_000
BLOCK = 500  # recipients per block of the campaign's sending
MAX_SECONDS = 90.0  # senders stop after this long (the figures say how much of the burst was sent)
SENDERS = 8  # concurrent connections, over SENDER_PROCESSES processes
SENDER_PROCESSES = 2
RESEND_SECRET = "whsec_" + base64.b64encode(b"bench-resend-secret-0123456789ab").decode()
ORG = "org_burst"
CAMPAIGN = "bc_campaign_burst"
POLICY = ClaimPolicy(limit=50, coalesce_threshold=20, batch_max_events=1000)
SETTLE_SECONDS = 300  # how long delivery may take to catch up after the burst
TARGET_P99_S = 60.0
TARGET_EVENTS_PER_S = 5000


def plan(recipients: int, seed: int, start: datetime) -> list[tuple[int, str, str, str | None]]:
    """(phase, email id, kind, link) of every webhook, in the order Resend would send them: the
    campaign goes out in blocks of `BLOCK` recipients; a block's `sent`, then its `delivered`,
    then its opens and clicks (so any prefix of the burst has the campaign's mix)."""
    rng = random.Random(seed)
    out: list[tuple[int, str, str, str | None]] = []
    for first in range(0, recipients, BLOCK):
        block = range(first, min(first + BLOCK, recipients))
        later = []
        for i in block:
            email_id = f"re_burst_{i:06d}"
            out.append((0, email_id, "sent", None))
            roll = rng.random()
            if roll < 0.25:
                later.append((2, email_id, "opened", None))
            if roll < 0.08:
                later.append((3, email_id, "opened", None))
            if roll < 0.04:
                later.append((4, email_id, "clicked", f"https://homes.example/listing/{i % 500}"))
        out += [(1, f"re_burst_{i:06d}", "delivered", None) for i in block]
        out += later
    return out


def _occurred(start: datetime, phase: int, index: int) -> datetime:
    # sent at the campaign's start, delivered seconds later, opens and clicks within the hour
    return start + timedelta(seconds=(0, 3, 600, 1800, 1900)[phase], milliseconds=index % 1000)


def _payload(email_id: str, kind: str, link: str | None, at: datetime) -> dict:
    stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    data: dict[str, Any] = {"email_id": email_id, "created_at": stamp, "from": "Broadcast <news@broadcast.example>",
                            "to": [f"{email_id}@example.com"], "subject": "New listings near you", "tags": {}}
    if kind == "opened":
        data["open"] = {"ipAddress": "203.0.113.7", "timestamp": stamp,
                        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15"}
    elif kind == "clicked":
        data["click"] = {"ipAddress": "203.0.113.7", "link": link, "timestamp": stamp,
                         "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15"}
    return {"type": f"email.{kind}", "created_at": stamp, "data": data}


def _sender(url: str, jobs: list[tuple[int, str, str, str | None]], start_iso: str, threads: int, stop_at: float,
            queue) -> None:
    """One sender process: `threads` keep-alive connections share `jobs` in order; puts
    [(event id, 2xx wall time)] and the non-2xx count on `queue`."""
    from standardwebhooks import Webhook  # noqa: PLC0415 - loaded in the sender process only

    from integration.engagement import parse_resend_event  # noqa: PLC0415 - as above

    start = datetime.fromisoformat(start_iso)
    signer = Webhook(RESEND_SECRET)
    parts = urlsplit(url)
    lock = threading.Lock()
    cursor = iter(range(len(jobs)))
    acked: list[tuple[str, float]] = []
    failures: list[str] = []

    def work() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        while time.time() < stop_at:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            phase, email_id, kind, link = jobs[index]
            body = json.dumps(_payload(email_id, kind, link, _occurred(start, phase, index)), separators=(",", ":"))
            msg_id = f"msg_{uuid.uuid4().hex}"
            now = datetime.now(timezone.utc)
            headers = {"svix-id": msg_id, "svix-timestamp": str(int(now.timestamp())),
                       "svix-signature": signer.sign(msg_id, now, body), "Content-Type": "application/json"}
            conn.request("POST", "/providers/resend/webhook", body=body.encode(), headers=headers)
            answer = conn.getresponse()
            answer.read()
            done = time.time()
            if answer.status >= 300:
                failures.append(f"{answer.status}")
                continue
            event = parse_resend_event(json.loads(body)).event
            acked.append((event.event_id if event.event_type in CONTRACT_EVENT_TYPES else "", done))
        conn.close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put((acked, failures))


def _next_report(queue, procs) -> tuple[list, list]:
    """The next sender's report; fails at once if a sender died without one."""
    while True:
        try:
            return queue.get(timeout=2.0)
        except queues.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"a webhook sender process failed (exit codes {dead})") from None


def _setup(db: Database, config: IntegrationConfig, receiver_url: str, recipients: int, start: datetime) -> None:
    clock = SystemClock()
    connect_to_receiver(db, config, ORG, receiver_url, recipients,
                        contact_id="ab_contact_{:06d}", email="re_burst_{:06d}@example.com")
    campaigns.upsert_campaign(db, ORG, campaigns.Campaign(CAMPAIGN, "New listings near you", "listing"), clock)
    campaigns.record_sends(db, ORG, CAMPAIGN, [(f"ab_contact_{i:06d}", f"re_burst_{i:06d}") for i in range(recipients)],
                           clock, sent_at=start)


def _receiver_events(url: str) -> list[tuple[str, float]]:
    """Every (event id, receipt wall time) the receiver logged, duplicates included."""
    conn = http.client.HTTPConnection(urlsplit(url).hostname, urlsplit(url).port, timeout=120)
    conn.request("GET", "/log?since=0")
    body = json.loads(conn.getresponse().read())
    conn.close()
    return [(event_id, datetime.fromisoformat(stamp).timestamp()) for event_id, stamp in body["entries"]]


def _one_database(db: Database, recipients: int, senders: int, processes: int,
                  max_batch: int | None = None, max_seconds: float = MAX_SECONDS) -> dict[str, Any]:
    token_key = Fernet.generate_key().decode()
    port = free_port()
    receiver_url = f"http://127.0.0.1:{port}"
    receiver = _spawn(["-c", f"from bench.delivery import receiver_app; from common.serving import run;"
                       f" run(receiver_app({RECEIVER_SECRET!r}), port={port})"], receiver_url, "/log")
    clock = SystemClock()
    start = clock.now() - timedelta(hours=1)
    config = IntegrationConfig(agentbuddy_url=receiver_url, token_key=token_key, resend_webhook_secret=RESEND_SECRET,
                               default_organization_id=ORG)
    doorbell = Doorbell()
    service = None
    served = None
    try:
        _setup(db, config, receiver_url, recipients, start)
        jobs = plan(recipients, 20260115, start)
        served = serve(create_app(config, db=db, clock=clock, doorbell=doorbell), threads=max(8, senders),
                       name="burst-ingest")
        service = Service(db, config, clock, options=ServiceOptions(workers=2, sync=False, rescore=False, claim=POLICY),
                          doorbell=doorbell).start()
        backlog: list[int] = []
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.5):
                backlog.append(outbox.counts(db, ORG)["queued"])

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        committer = committer_for(db)
        if max_batch is not None:  # 1: one transaction per webhook (what ingest did before group commit)
            committer.max_batch = max_batch
        batches_before = committer.batches
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        shares = [jobs[i::processes] for i in range(processes)]
        threads = [senders // processes + (1 if i < senders % processes else 0) for i in range(processes)]
        began = time.time()
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        procs = [context.Process(target=_sender, args=(served.url, share, start.isoformat(), n, began + max_seconds,
                                                       queue))
                 for share, n in zip(shares, threads)]
        for proc in procs:
            proc.start()
        acked: list[tuple[str, float]] = []
        failures: list[str] = []
        for _ in procs:
            got, failed = _next_report(queue, procs)
            acked += got
            failures += failed
        for proc in procs:
            proc.join(60)
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        broadcast_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        # from the first acknowledgement to the last: the senders' start-up (a process spawn) is not ingest
        ingest_seconds = max(t for _, t in acked) - min(t for _, t in acked) if len(acked) > 1 else 0.0
        backlog_after_burst = outbox.counts(db, ORG)["queued"]
        expected = {event_id: at for event_id, at in acked if event_id}
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline:
            if len({e for e, _ in _receiver_events(receiver_url)} & expected.keys()) >= len(expected):
                break
            time.sleep(1.0)
        drained_at = time.time()
        sampling.set()
        received = _receiver_events(receiver_url)
    finally:
        if service is not None:
            service.stop()
        if served is not None:
            served.stop()
        receiver.terminate()
        receiver.wait(10)
    first: dict[str, float] = {}
    doubled = 0
    for event_id, at in received:
        if event_id in first:
            doubled += 1
        else:
            first[event_id] = at
    latencies = sorted(max(0.0, first[e] - expected[e]) for e in expected if e in first)

    def pct(share: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(share * len(latencies)))], 3) if latencies else None

    events_per_s = round(len(acked) / ingest_seconds) if ingest_seconds else None
    p99 = pct(0.99)
    lost = len(expected) - len(latencies)
    return {
        "database": db.dialect,
        "recipients": recipients,
        "webhooks_planned": len(jobs),
        "sent_within_seconds": max_seconds,
        "senders": f"{senders} keep-alive connections in {processes} processes",
        "acknowledged": len(acked),
        "refused": len(failures),
        "ingest_seconds": round(ingest_seconds, 2),
        "ingest_events_per_s": events_per_s,
        "ingest_transactions": committer.batches - batches_before,
        # CPU of Broadcast's process (ingest server and its delivery workers) per webhook, during the burst
        "broadcast_cpu_ms_per_webhook": round(broadcast_cpu / len(acked) * 1000, 2) if acked else None,
        "backlog_max": max(backlog, default=backlog_after_burst),
        "backlog_after_burst": backlog_after_burst,
        "drain_seconds_after_burst": round(drained_at - max((t for _, t in acked), default=began), 1),
        "events_for_agentbuddy": len(expected),
        "received": len(latencies),
        "lost": lost,
        "doubled": doubled,
        "latency_p50_s": pct(0.50),
        "latency_p99_s": p99,
        "latency_max_s": round(latencies[-1], 3) if latencies else None,
        "meets_target": bool(p99 is not None and p99 <= TARGET_P99_S and not lost and not doubled
                             and not failures and events_per_s and events_per_s >= TARGET_EVENTS_PER_S),
    }


def run(postgres_url: str | None = None, recipients: int = RECIPIENTS, senders: int = SENDERS,
        processes: int = SENDER_PROCESSES, max_batch: int | None = None,
        max_seconds: float = MAX_SECONDS) -> dict[str, Any]:
    results: dict[str, Any] = {"target": f"ingest >= {TARGET_EVENTS_PER_S} events/s; ingest-to-received p99 <= "
                                         f"{TARGET_P99_S:g} s; nothing lost or doubled"}
    for name, db in each_database(postgres_url):
        results[name] = _one_database(db, recipients, senders, processes, max_batch, max_seconds)
        print(json.dumps(results[name]), flush=True)
    results["meets_target"] = all(r["meets_target"] for k, r in results.items() if k in ("sqlite", "postgresql"))
    return results


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=RECIPIENTS)
    parser.add_argument("--senders", type=int, default=SENDERS)
    parser.add_argument("--processes", type=int, default=SENDER_PROCESSES)
    parser.add_argument("--postgres-url", default=os.environ.get("AB_BENCH_POSTGRES_URL"))
    parser.add_argument("--max-batch", type=int, default=None,
                        help="webhooks per ingest transaction at most (1: one transaction each, as before group commit)")
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="stop sending after this long")
    args = parser.parse_args()
    print(json.dumps(run(args.postgres_url, args.recipients, args.senders, args.processes, args.max_batch,
                         args.max_seconds), indent=2))
