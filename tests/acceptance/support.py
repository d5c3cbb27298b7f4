"""The acceptance suite's cast: a fake AgentBuddy, Broadcast's integration, Resend and a clock.

The spec's success criteria (section 9) are about what an agent and a Broadcast user would see,
so every helper here drives the real rooms over their real interfaces: the fake runs in-process
on a free loopback port (werkzeug in a thread) and the integration reaches it only over HTTP.
Time is simulated: Broadcast's `ManualClock` and the fake's frozen clock move together
(`Broadcast.advance`), so "within 15 minutes" or "within 24 hours" is a statement about the
clocks, never about how long the test took.

Tests import it relatively (`from .support import …`), never `from conftest import …`, which
picks whichever conftest another suite loaded first when suites run together.
"""
from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import requests
from cryptography.fernet import Fernet
from svix.webhooks import Webhook as SvixWebhook

from integration.engagement.pipeline import campaigns
from integration import outbox
from integration.agentbuddy import connections
from integration import sync as sync_engine
from common.clock import ManualClock
from integration.config import IntegrationConfig
from integration.storage import Database
from integration.web.service import build_worker
from integration.web import create_app

from ..fake_agentbuddy import FakeAgentBuddy, iso, parse_iso
from ..fake_agentbuddy import start_fake as shared_start_fake

logging.getLogger("werkzeug").setLevel(logging.ERROR)

T0 = datetime(2026, 1, 12, 9, 0, tzinfo=timezone.utc)  # a Monday morning; the seeded world is older
ORG = "org_acme"
RESEND_SECRET = "whsec_" + base64.b64encode(b"acceptance-resend-secret-0123456").decode()
CAMPAIGN = campaigns.Campaign("bc_campaign_jan", "January Market Update", "market_update")
VALUATION_URL = "https://acme.example/whats-my-home-worth"
LISTINGS_URL = "https://acme.example/listings/new-this-week"
HUMAN_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
DATABASES = ("sqlite", "postgresql")


# ----------------------------------------------------------------------------- the fake AgentBuddy

def agent_signs_in_and_allows(authorize_url: str, email: str, password: str = "agentbuddy") -> str:
    """What an agent does in the browser: sign in on AgentBuddy's login page, press Allow on the
    consent page; returns the URL AgentBuddy redirects back to (carrying `code` and `state`)."""
    import re

    def csrf(html: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    browser = requests.Session()
    login = browser.get(authorize_url, timeout=30)
    assert login.status_code == 200 and 'name="password"' in login.text, login.text[:500]
    signed_in = browser.post(authorize_url, data={"form": "login", "email": email, "password": password,
                                                  "csrf_token": csrf(login.text)}, timeout=30)
    assert signed_in.status_code == 200 and 'value="allow"' in signed_in.text, signed_in.text[:500]
    allowed = browser.post(authorize_url, data={"decision": "allow", "csrf_token": csrf(signed_in.text)},
                           allow_redirects=False, timeout=30)
    assert allowed.status_code in (302, 303), (allowed.status_code, allowed.text[:500])
    return allowed.headers["Location"]


def start_fake(clock_at: datetime | None = T0, **overrides: Any) -> tuple[FakeAgentBuddy, Callable[[], None]]:
    """A seeded, auto-approving fake of one account; `clock_at=None` leaves it on wall time (the
    CLI's clock is the system clock)."""
    options: dict[str, Any] = dict(seed=7, accounts=1, contacts_per_account=60, auto_approve=True,
                                   rate_limit="100000/min")
    options.update(overrides)
    return shared_start_fake(clock_at, **options)


# ----------------------------------------------------------------------------- databases

def open_database(kind: str, tmp_path: Any, postgres_url: Callable[[], str]) -> tuple[Database, Callable[[], None]]:
    """A migrated, empty database: a SQLite file, or a private schema on PostgreSQL."""
    if kind == "sqlite":
        db = Database.from_url(f"sqlite:///{tmp_path / 'broadcast.sqlite3'}")
        db.migrate()
        return db, db.close
    db = Database.from_url(postgres_url(), schema=f"acc_{uuid.uuid4().hex[:16]}")
    db.migrate()
    return db, db.drop_schema


# ----------------------------------------------------------------------------- Resend, the email provider

@dataclass
class Resend:
    """Builds Resend-shaped webhooks and signs them with Svix, as Resend does."""

    clock: Any
    secret: str = RESEND_SECRET
    _messages: int = 0
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (svix-id, payload) posted so far

    def payload(self, type_: str, email_id: str, at: datetime, **data: Any) -> dict[str, Any]:
        body = {"email_id": email_id, "from": "Acme Realty <news@acme.example>", "to": ["someone@example.com"],
                "subject": CAMPAIGN.name, "created_at": iso(at)}
        body.update(data)
        return {"type": type_, "created_at": iso(at), "data": body}

    def opened(self, email_id: str, at: datetime) -> dict[str, Any]:
        return self.payload("email.opened", email_id, at,
                            open={"timestamp": iso(at), "userAgent": HUMAN_UA, "ipAddress": "203.0.113.7"})

    def clicked(self, email_id: str, at: datetime, link: str = VALUATION_URL) -> dict[str, Any]:
        return self.payload("email.clicked", email_id, at,
                            click={"link": link, "timestamp": iso(at), "userAgent": HUMAN_UA,
                                   "ipAddress": "203.0.113.7"})

    def signed(self, payload: dict[str, Any], message_id: str | None = None) -> tuple[dict[str, str], bytes]:
        self._messages += 1
        message_id = message_id or f"msg_resend_{uuid.uuid4().hex[:8]}_{self._messages:05d}"
        body = json.dumps(payload)
        now = self.clock.now()
        headers = {"svix-id": message_id, "svix-timestamp": str(int(now.timestamp())),
                   "svix-signature": SvixWebhook(self.secret).sign(message_id, now, body),
                   "content-type": "application/json"}
        return headers, body.encode()

    def post(self, client: Any, payload: dict[str, Any], message_id: str | None = None) -> Any:
        headers, body = self.signed(payload, message_id)
        response = client.post("/providers/resend/webhook", data=body, headers=headers)
        assert response.status_code < 300, (response.status_code, response.get_data(as_text=True))
        self.sent.append((headers["svix-id"], payload))
        return response

    def retry_everything(self, client: Any, *, fresh_ids_every: int = 3) -> int:
        """Resend's at-least-once delivery: every webhook again with its svix-id (a retry after a
        lost answer), and every `fresh_ids_every`-th one once more under a new id (a re-sent event)."""
        earlier = list(self.sent)
        for n, (message_id, payload) in enumerate(earlier):
            self.post(client, payload, message_id)
            if n % fresh_ids_every == 0:
                self.post(client, payload)
        return len(earlier)


def send_campaign(db: Database, org: str, clock: Any, contact_ids: list[str],
                  sent_at: datetime | None = None) -> list[campaigns.Send]:
    """Broadcast's campaign tool emails the contacts: the send records map provider email ids to contacts."""
    campaigns.upsert_campaign(db, org, CAMPAIGN, clock)
    stamp = int((sent_at or clock.now()).timestamp())
    sends, refused = campaigns.record_sends(db, org, CAMPAIGN.id, [(c, f"re_{stamp}_{c}") for c in contact_ids],
                                            clock, sent_at=sent_at)
    assert not refused, refused
    return sends


@dataclass
class Story:
    """What happened to one email: the contact, its provider id and the reader's opens/clicks."""

    contact_id: str
    email_id: str
    opens: int
    clicks: int


def engagement_stream(resend: Resend, client: Any, sends: list[campaigns.Send], start: datetime,
                      pattern: Callable[[int], tuple[int, int]],
                      at_time: Callable[[datetime], None] | None = None) -> list[Story]:
    """Post sent + delivered + the pattern's opens and clicks for each send, minutes apart (a person
    reading, not a privacy proxy or link scanner), in time order; `at_time(t)` runs before each
    webhook is posted at time t (to move the clocks there and let the service work in between).
    Returns what each contact did."""
    stories, timeline = [], []
    for index, send in enumerate(sends):
        opens, clicks = pattern(index)
        at = start + timedelta(seconds=index)
        email_id = send.provider_email_id
        timeline.append((at, resend.payload("email.sent", email_id, at)))
        delivered = at + timedelta(seconds=5)
        timeline.append((delivered, resend.payload("email.delivered", email_id, delivered)))
        for n in range(opens):
            when = at + timedelta(minutes=20 + 30 * n)
            timeline.append((when, resend.opened(email_id, when)))
        for n in range(clicks):
            when = at + timedelta(minutes=21 + 30 * n)
            timeline.append((when, resend.clicked(email_id, when, VALUATION_URL if n % 2 == 0 else LISTINGS_URL)))
        stories.append(Story(send.contact_id, email_id, opens, clicks))
    for when, payload in sorted(timeline, key=lambda item: item[0]):
        if at_time is not None:
            at_time(when)
        resend.post(client, payload)
    return stories


# ----------------------------------------------------------------------------- Broadcast

@dataclass
class Broadcast:
    """One Broadcast organization on a simulated clock, wired to the fake."""

    db: Database
    config: IntegrationConfig
    clock: ManualClock
    fake: FakeAgentBuddy
    org: str = ORG
    resend: Resend = field(init=False)

    def __post_init__(self) -> None:
        self.resend = Resend(self.clock)

    # -- time
    def advance(self, seconds: float) -> None:
        """Both clocks move together: token expiry and webhook tolerance stay consistent."""
        self.clock.advance(timedelta(seconds=seconds))
        self.fake.set_clock(self.clock.now())

    # -- connect and sync
    def connect(self) -> connections.Connection:
        return connections.connect_headless(self.db, self.config, self.org, self.fake.agent_email(), clock=self.clock)

    def sync(self, **kwargs: Any) -> sync_engine.SyncSummary:
        return sync_engine.sync(self.db, self.config, self.org, clock=self.clock, **kwargs)

    def rows(self, table: str, order: str = "id") -> list[dict[str, Any]]:
        with self.db.transaction(readonly=True) as tx:
            return tx.fetchall(f"SELECT * FROM {table} WHERE organization_id = ? ORDER BY {order}", (self.org,))

    def row(self, table: str, record_id: str) -> dict[str, Any] | None:
        with self.db.transaction(readonly=True) as tx:
            return tx.fetchone(f"SELECT * FROM {table} WHERE organization_id = ? AND id = ?", (self.org, record_id))

    def emailable_contacts(self, limit: int | None = None) -> list[str]:
        from integration.sync.conflicts import is_emailable

        ids = [r["id"] for r in self.rows("contacts") if is_emailable(r)]
        return ids[:limit] if limit else ids

    # -- engagement
    def app(self) -> Any:
        return create_app(self.config, db=self.db, clock=self.clock)

    def send_campaign(self, contact_ids: list[str], sent_at: datetime | None = None) -> list[campaigns.Send]:
        return send_campaign(self.db, self.org, self.clock, contact_ids, sent_at)

    def engage(self, contact_ids: list[str], pattern: Callable[[int], tuple[int, int]], *,
               live: bool = False) -> list[Story]:
        """Email the contacts and play their reactions in as signed Resend webhooks. `live`: the
        clocks follow each webhook's time and a delivery worker runs after each one, as the running
        service would (its workers wake on the enqueue doorbell); otherwise all arrive now."""
        # Live, the story starts now; otherwise it happened over the last two hours and arrives at once.
        start = self.clock.now() if live else self.clock.now() - timedelta(hours=2)
        sends = self.send_campaign(contact_ids, start)
        worker = self.worker("live") if live else None

        def at_time(when: datetime) -> None:
            if worker is not None:
                worker.drain()
                if when > self.clock.now():
                    self.advance((when - self.clock.now()).total_seconds())

        with self.app().test_client() as client:
            stories = engagement_stream(self.resend, client, sends, start, pattern, at_time if live else None)
        if worker is not None:
            worker.drain()
        return stories

    # -- delivery
    def worker(self, name: str = "w1") -> Any:
        return build_worker(self.db, self.config, self.clock, worker_id=name)

    def deliver_until_done(self, workers: int = 1, max_steps: int = 300) -> None:
        """Run the workers; while something waits (debounce, retry), skip both clocks to when it is due."""
        pool = [self.worker(f"w{n}") for n in range(workers)]
        for _ in range(max_steps):
            threads = [threading.Thread(target=w.drain) for w in pool]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            due = outbox.next_due(self.db, self.org)
            if due is None:
                return
            self.advance(max((due - self.clock.now()).total_seconds(), 0) + 1)
        raise AssertionError(f"outbox did not drain: {outbox.counts(self.db, self.org)}")

    def scores(self) -> dict[str, dict[str, Any]]:
        with self.db.transaction(readonly=True) as tx:
            return {r["contact_id"]: r for r in tx.fetchall(
                "SELECT * FROM contact_scores WHERE organization_id = ?", (self.org,))}

    def metrics(self) -> dict[str, dict[str, Any]]:
        with self.db.transaction(readonly=True) as tx:
            return {r["contact_id"]: r for r in tx.fetchall(
                "SELECT * FROM contact_metrics WHERE organization_id = ?", (self.org,))}

    def stored_event_ids(self) -> set[str]:
        with self.db.transaction(readonly=True) as tx:
            return {r["id"] for r in tx.fetchall(
                "SELECT id FROM engagement_events WHERE organization_id = ? AND contact_id IS NOT NULL", (self.org,))}


def make_broadcast(db: Database, fake: FakeAgentBuddy, **config: Any) -> Broadcast:
    settings = dict(agentbuddy_url=fake.url, token_key=Fernet.generate_key().decode(),
                    redirect_uri="http://127.0.0.1/callback", default_organization_id=ORG,
                    resend_webhook_secret=RESEND_SECRET, http_backoff_factor=0.01, http_timeout_seconds=10.0)
    settings.update(config)
    return Broadcast(db, IntegrationConfig(**settings), ManualClock(T0), fake)


# ----------------------------------------------------------------------------- what AgentBuddy received

def received_event_ids(entries: list[dict[str, Any]]) -> list[str]:
    """Event ids in every inbound request AgentBuddy applied (not its duplicate answers)."""
    out: list[str] = []
    for entry in entries:
        if entry["status"] not in (200, 201, 202) or entry["duplicate"] or not isinstance(entry["payload"], dict):
            continue
        payload = entry["payload"]
        body = payload.get("data", payload)
        if isinstance(body, dict) and "updates" in body:
            for update in body["updates"]:
                out.extend(e["event_id"] for e in update.get("events", []))
        elif isinstance(body, dict) and "event_id" in body:
            out.append(body["event_id"])
    return out
