"""How fast engagement state is kept and how fast every contact is re-scored.

`run()` plays a seeded synthetic stream of 5,000,000 email events (120 days of campaigns to
100,000 contacts: sends, deliveries, human and machine opens, clicks, bounces) into per-contact
`ContactActivity` state, then re-scores every contact from that state alone, and reports:

* apply throughput (events/s) - the incremental path the pipeline runs per webhook;
* full re-score time and throughput (contacts/s) - baseline + `score()` for all 100k contacts
  held in memory, and per contact when each is first loaded from its stored JSON (on a sample);
* the size of the stored state (JSON bytes per contact);
* the pipeline's own daily batch, `integration.rescore.rescore_all`, over those 100k activities
  stored in SQLite (and PostgreSQL when a URL is given): the first run, where every score is
  new and queued for AgentBuddy, and the next day's run.

Run it: `.venv/bin/python -m bench.rescore` (about a minute on one core).
"""
from __future__ import annotations

import gc
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

from common.clock import ManualClock
from integration.engagement import AccountBaseline, ContactActivity, EngagementEvent, prepare, score
from integration.engagement.pipeline import store as engagement_store
from integration.engagement.pipeline.rescore import rescore_all
from integration.storage import Database

UTC = timezone.utc
AS_OF = datetime(2026, 1, 15, 14, 35, tzinfo=UTC)
HUMAN_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
MPP_UA = "Mozilla/5.0"
SCANNER_UA = "Mozilla/5.0 (compatible; Barracuda Sentinel)"
KINDS = ("market_update", "listing_alert", "newsletter", "just_sold")
LINKS = {
    "market_update": ("https://go.example/r/market-report", "https://go.example/r/whats-your-home-worth"),
    "listing_alert": tuple(f"https://go.example/listings/ab_prop_{i}" for i in range(40)) + ("https://go.example/mortgage-rates",),
    "newsletter": ("https://go.example/blog/staging-tips", "https://go.example/r/home-value"),
    "just_sold": ("https://go.example/listings/ab_prop_sold", "https://go.example/r/market-report"),
}
CONTACT_TYPES = ("owner", "owner", "buyer", "lead", "seller")


def _campaigns(rng: random.Random, start: datetime, count: int) -> list[tuple[str, str, str, datetime]]:
    step = timedelta(days=118 / count)
    out = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        sent = start + step * i + timedelta(minutes=rng.randrange(0, 600))
        out.append((f"bc_campaign_{i:03d}", f"{kind.replace('_', ' ').title()} #{i}", kind, sent))
    return out


class EventPool:
    """Every distinct event a campaign can produce, built once and shared by all contacts.

    Activity state is per contact and only needs email ids unique within a contact, so one
    `EngagementEvent` object can stand for "this campaign's 14:05 open" in many contacts' streams.
    That keeps the generator cheap enough that the benchmark measures `apply`, not object creation.
    """

    def __init__(self, rng: random.Random, campaigns) -> None:
        self.per_campaign = []
        for campaign_id, name, kind, sent in campaigns:
            common = dict(email_id=f"re_{campaign_id}", campaign_id=campaign_id, campaign_name=name,
                          campaign_kind=kind)
            delivered = sent + timedelta(seconds=9)
            pool = {
                "sent": _ev("sent", sent, common),
                "delivered": _ev("delivered", delivered, common),
                "bounced": _ev("bounced", sent + timedelta(seconds=20), common, bounce_type="soft"),
                "mpp": _ev("opened", delivered + timedelta(seconds=2), common, user_agent=MPP_UA),
                "scan": [_ev("clicked", delivered + timedelta(seconds=5 + j), common, url=link, user_agent=SCANNER_UA)
                         for j, link in enumerate(LINKS[kind][:3])],
                "opens": [_ev("opened", delivered + timedelta(minutes=7 + 53 * k), common, user_agent=HUMAN_UA)
                          for k in range(24)],
                "clicks": [[_ev("clicked", delivered + timedelta(minutes=9 + 53 * k + 2 * j), common, url=link,
                                user_agent=HUMAN_UA) for j, link in enumerate(LINKS[kind])] for k in range(24)],
            }
            self.per_campaign.append(pool)

    def contact_stream(self, rng: random.Random, target: int) -> list[EngagementEvent]:
        """About `target` events for one contact: its history as webhooks would bring it."""
        engagement = rng.betavariate(1.5, 2.5)    # how much this person reads
        clicker = rng.betavariate(1.0, 4.0)
        mpp = rng.random() < 0.3                   # Apple Mail Privacy Protection user
        scanned = rng.random() < 0.05              # behind a link-scanning mail gateway
        # Each contact is on some of the lists: receive each campaign with a probability that makes
        # the expected stream about `target` events long (the caller trims the oldest surplus).
        per_campaign = 2.02 + 0.3 * mpp + 0.15 * scanned + engagement * (1.3 + clicker * 2)
        receive = min(1.0, 1.1 * target / (per_campaign * len(self.per_campaign)))
        out: list[EngagementEvent] = []
        random_ = rng.random
        for pool in self.per_campaign:
            if random_() >= receive:
                continue
            out.append(pool["sent"])
            if random_() < 0.01:
                out.append(pool["bounced"])
                continue
            out.append(pool["delivered"])
            if mpp:
                out.append(pool["mpp"])
            if scanned:
                out.extend(pool["scan"])
            if random_() < engagement:
                k = int(random_() * 24)
                out.append(pool["opens"][k])
                if random_() < 0.3 and k < 23:
                    out.append(pool["opens"][k + 1])
                if random_() < clicker:
                    links = pool["clicks"][k]
                    out.extend(links[: 1 + int(random_() * min(3, len(links)))])
        return out


def _ev(event_type: str, at: datetime, common: dict, **extra) -> EngagementEvent:
    return prepare(EngagementEvent(event_id=f"{common['email_id']}:{event_type}:{int(at.timestamp())}:{extra.get('url', '')}",
                                   event_type=event_type, occurred_at=at, **common, **extra))


def stored_rescore(activities: list[ContactActivity], types: list[str], database_url: str,
                   schema: str | None = None) -> dict:
    """Time `rescore_all` as the service runs it: activities and contacts read from the database,
    scores, history and outbox written back, for the first run and for the next day's."""
    db = Database.from_url(database_url, schema=schema)
    try:
        db.migrate()
        with db.transaction() as tx:
            tx.execute("INSERT INTO organizations (organization_id, name, created_at) VALUES ('org_bench', 'Bench', ?)",
                       (AS_OF,))
            tx.execute("INSERT INTO connections (organization_id, agentbuddy_url, account_id, client_id, scopes, status,"
                       " access_token_enc, webhook_secret_enc, connected_at, updated_at)"
                       " VALUES ('org_bench', 'http://127.0.0.1:9', 'ab_account_001', 'broadcast-local', '', 'active',"
                       " 'unused', 'unused', ?, ?)", (AS_OF, AS_OF))
        for start in range(0, len(activities), 5_000):
            chunk = activities[start:start + 5_000]
            with db.transaction() as tx:
                tx.executemany(
                    "INSERT INTO contacts (organization_id, id, email, first_name, last_name, contact_type, email_opt_in,"
                    " ab_updated_at, synced_at) VALUES ('org_bench', ?, ?, 'F', 'L', ?, 1, ?, ?)",
                    [(a.contact_id, f"{a.contact_id}@example.com", types[start + n], AS_OF, AS_OF)
                     for n, a in enumerate(chunk)])
                engagement_store.save_activities(tx, "org_bench", {a.contact_id: a for a in chunk}, AS_OF)
        figures = {"database": db.dialect}
        for label, at in (("first_run", AS_OF), ("next_day", AS_OF + timedelta(days=1))):
            started, cpu = time.perf_counter(), time.process_time()
            summary = rescore_all(db, "org_bench", ManualClock(at))
            figures[f"{label}_wall_seconds"] = round(time.perf_counter() - started, 2)
            figures[f"{label}_cpu_seconds"] = round(time.process_time() - cpu, 2)
            figures[f"{label}_changed"] = summary.changed
        return figures
    finally:
        if schema:
            db.drop_schema()
        db.close()


def run(contacts: int = 100_000, events: int = 5_000_000, seed: int = 20260115, quiet: bool = False,
        postgres_url: str | None = None) -> dict:
    """Build `contacts` activities from `events` seeded events, then re-score them all; print and return figures.

    Times are CPU seconds of this process (`time.process_time`), so other work on a shared
    machine does not inflate them; wall-clock seconds are reported alongside. Built activities
    are moved out of the garbage collector's way (`gc.freeze`) as they accumulate: the pipeline
    keeps them in storage, not 100,000 at once in one process, and re-scanning them on every
    collection would measure the benchmark's memory, not the code.
    """
    rng = random.Random(seed)
    pool = EventPool(rng, _campaigns(rng, AS_OF - timedelta(days=119), 40))
    per_contact = events / contacts
    activities: list[ContactActivity] = []
    types: list[str] = []
    applied = 0
    apply_cpu = 0.0
    wall_started = time.perf_counter()
    for i in range(contacts):
        target = int(per_contact * (i + 1)) - applied
        stream = pool.contact_stream(rng, target)
        stream = stream[len(stream) - target:] if len(stream) > target else stream
        activity = ContactActivity(f"ab_contact_{i:06d}")
        apply = activity.apply
        started = time.process_time()
        for event in stream:
            apply(event)
        apply_cpu += time.process_time() - started
        applied += len(stream)
        activities.append(activity)
        types.append(CONTACT_TYPES[i % len(CONTACT_TYPES)])
        if i % 5_000 == 4_999:
            gc.freeze()
    build_wall = time.perf_counter() - wall_started

    wall_started = time.perf_counter()
    started = time.process_time()
    baseline = AccountBaseline.from_activities(activities, AS_OF)
    categories: dict[str, int] = {}
    for activity, contact_type in zip(activities, types):
        result = score(activity, contact_type, baseline, AS_OF)
        categories[result.propensity_category] = categories.get(result.propensity_category, 0) + 1
    rescore_cpu = time.process_time() - started
    rescore_wall = time.perf_counter() - wall_started

    # The pipeline keeps activities as JSON per contact: re-scoring from storage also pays for
    # json.loads + from_dict. Measured on a sample (serialising all 100k would dominate the run).
    sample = activities[:: max(1, contacts // 20_000)]
    stored = [json.dumps(a.to_dict(), separators=(",", ":")) for a in sample]
    sample_types = types[:: max(1, contacts // 20_000)]
    started = time.process_time()
    for text, contact_type in zip(stored, sample_types):
        score(ContactActivity.from_dict(json.loads(text)), contact_type, baseline, AS_OF)
    from_json_cpu = time.process_time() - started
    state_bytes = sum(map(len, stored)) / len(stored)
    report = {
        "contacts": contacts,
        "events_applied": applied,
        "apply_cpu_seconds": round(apply_cpu, 2),
        "apply_events_per_second": round(applied / apply_cpu),
        "build_wall_seconds_incl_generation": round(build_wall, 2),
        "rescore_cpu_seconds": round(rescore_cpu, 2),
        "rescore_wall_seconds": round(rescore_wall, 2),
        "rescore_contacts_per_second": round(contacts / rescore_cpu),
        "rescore_within_10_s": rescore_cpu <= 10 and contacts * from_json_cpu / len(stored) <= 10,
        "rescore_from_json_contacts_per_second": round(len(stored) / from_json_cpu),
        "rescore_from_json_projected_seconds": round(contacts * from_json_cpu / len(stored), 2),
        "baseline_open_rate": round(baseline.open_rate, 4),
        "baseline_click_rate": round(baseline.click_rate, 4),
        "categories": dict(sorted(categories.items())),
        "state_json_bytes_per_contact": round(state_bytes),
    }
    with tempfile.TemporaryDirectory() as scratch:
        report["stored_sqlite"] = stored_rescore(activities, types, f"sqlite:///{scratch}/rescore.sqlite3")
    if postgres_url:
        report["stored_postgresql"] = stored_rescore(activities, types, postgres_url, schema="bench_rescore")
    report["stored_within_10_s"] = all(v["first_run_wall_seconds"] <= 10 for k, v in report.items()
                                       if k.startswith("stored_"))
    gc.unfreeze()
    if not quiet:
        for key, value in report.items():
            print(f"{key:36} {value}")
    return report


if __name__ == "__main__":
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    run(contacts=int(100_000 * scale), events=int(5_000_000 * scale), postgres_url=(sys.argv[2] if len(sys.argv) > 2 else None))
