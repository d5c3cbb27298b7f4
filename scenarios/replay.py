"""Play a scenario through the real integration and the fake AgentBuddy on a simulated clock.

We play Broadcast's campaign tool (sending through `integration.campaigns`), Resend (signed
webhooks to the integration's real HTTP endpoint) and the people who read the mail. Time is a
`ManualClock` for the integration and the fake's frozen `/__admin/clock`, moved together, so
signatures, token expiry and `updated_at` stamps all agree. Verdicts are taken from what the
fake AgentBuddy holds and received — never from what the integration believes it sent.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import heapq
import itertools
import json
import math
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import requests

from integration.engagement.pipeline import campaigns as bc_campaigns
from integration import outbox
from integration.agentbuddy import connections, tokens
from integration.sync import contacts as bc_contacts
from integration import sync as bc_sync
from common.clock import ManualClock
from integration.config import IntegrationConfig
from integration.storage import Database

from . import keepalive
from . import model as m
from . import resend
from .checks import Observations, check_all
from .generator import behaviours_for
from .timeline import Person, SimEvent, email_id, send_plan

ORG = "org_scenario"



class ReplayError(RuntimeError):
    """The replay could not run (a server would not start, a piece of the pipeline is missing)."""


# ---- servers -------------------------------------------------------------------------------------

@dataclass
class Served:
    url: str
    stop: Callable[[], None]


def serve(app) -> Served:
    """Serve a WSGI app on a free 127.0.0.1 port in a daemon thread (see `keepalive`).

    `serve_forever` notices a shutdown only between polls: at the default half second, two
    servers per scenario cost a second of idle waiting per replay, so it polls every 20 ms.
    """
    server = keepalive.make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              name=f"replay:{server.server_port}", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()

    return Served(f"http://127.0.0.1:{server.server_port}", stop)


def launch_fake(scenario: m.Scenario) -> Served:
    """The one place scenarios/ imports the fake: to start it in-process for a replay."""
    from mock_agentbuddy import MockConfig, create_app  # noqa: PLC0415

    epoch = scenario.at(-400)
    config = MockConfig(seed=scenario.seed, accounts=1, offices_per_account=1, agents_per_account=1,
                        contacts_per_account=0, properties_per_contact=0.0, epoch=epoch, auto_approve=True,
                        rate_limit="100000/min", access_token_ttl=3600)
    return serve(create_app(config))


# ---- the fake, over HTTP ----------------------------------------------------------------------

class Fake:
    """The fake AgentBuddy's admin API, as the simulator needs it."""

    def __init__(self, url: str, local: bool = False) -> None:
        self.url = url.rstrip("/")
        self.http = _session(local)
        self.inbound_seq = 0          # the fake's inbound log, read up to here
        self.inbound_seen: list[dict] = []

    def _call(self, method: str, path: str, **kwargs) -> dict:
        response = self.http.request(method, f"{self.url}/__admin/{path}", timeout=30, **kwargs)
        if response.status_code >= 400:
            raise ReplayError(f"fake AgentBuddy {method} /__admin/{path} -> {response.status_code}: {response.text[:400]}")
        return response.json()

    def reset(self) -> None:
        self._call("POST", "reset", json={"clock": True})
        # the log is emptied but its sequence numbers carry on: start reading after them
        self.inbound_seq = self._call("GET", "inbound", params={"limit": 1}).get("last_seq") or 0
        self.inbound_seen = []

    def set_clock(self, at: datetime) -> None:
        self._call("POST", "clock", json={"freeze": True, "set": at.isoformat()})

    def world(self) -> dict:
        return self._call("GET", "world")

    def mutate(self, body: dict) -> dict:
        return self._call("POST", "mutate", json=body)

    def record(self, collection: str, record_id: str) -> dict | None:
        response = self.http.get(f"{self.url}/__admin/records/{collection}/{record_id}", timeout=30)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise ReplayError(f"fake AgentBuddy records/{collection}/{record_id} -> {response.status_code}")
        return response.json()

    def inbound(self) -> list[dict]:
        """Every request Broadcast made to AgentBuddy's inbound endpoints, accepted or not."""
        self.inbound_new()
        return list(self.inbound_seen)

    def inbound_new(self) -> list[dict]:
        """The inbound requests since the last look (the log is read once, a piece at a time)."""
        answer = self._call("GET", "inbound", params={"since": self.inbound_seq})
        entries = answer.get("entries", [])
        self.inbound_seq = max([self.inbound_seq, answer.get("last_seq") or 0] + [e.get("seq") or 0 for e in entries])
        self.inbound_seen.extend(entries)
        return entries

    def faults(self, body: dict) -> dict:
        return self._call("POST", "faults", json=body)


def _session(local: bool) -> requests.Session:
    """One keep-alive session per peer; for servers we started on loopback, no proxy look-ups
    (requests scans the environment for proxies on every call otherwise: ~0.4 ms a request)."""
    session = requests.Session()
    session.trust_env = not local
    return session


# ---- the run -------------------------------------------------------------------------------------

def _secret(seed: int, purpose: str) -> bytes:
    return hashlib.sha256(f"ab-harness:{purpose}:{seed}".encode()).digest()


@dataclass(order=True)
class _Item:
    at: datetime
    rank: int  # at equal times: faults and AgentBuddy edits, then sends, then people, then the day's end
    seq: int
    kind: str = field(compare=False)
    payload: Any = field(compare=False, default=None)


@dataclass
class Log:
    lines: list[dict] = field(default_factory=list)

    def add(self, scenario: m.Scenario, at: datetime, what: str, contact: str | None = None) -> None:
        entry = {"day": math.floor(scenario.day_of(at)), "at": _iso(at), "what": what}
        if contact:
            entry["contact"] = contact
        self.lines.append(entry)


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class Run:
    def __init__(self, scenario: m.Scenario, fake: Fake, workdir: Path,
                 progress: Callable[[str, int, int], None] | None = None) -> None:
        self.s = scenario
        self.fake = fake
        self.progress = progress
        self.clock = ManualClock(scenario.at(0) - timedelta(hours=1))
        self.log = Log()
        self.seq = itertools.count()
        self.heap: list[_Item] = []
        self.contacts = {c.id: c for c in scenario.all_contacts()}
        self.people = {cid: Person(c, behaviours_for(scenario, c), scenario.at(0), scenario.seed)
                       for cid, c in self.contacts.items()}
        self.ab_ids: dict[str, str] = {}
        self.deleted: set[str] = set()
        self.emitted: list[dict] = []  # every provider event, with how the integration answered
        self.sends: list[dict] = []    # what Broadcast recorded as sent (and what it refused)
        self.snapshots: dict[str, list[dict]] = {cid: [] for cid in self.contacts}
        self.gaps: list[str] = []
        token_key = base64.urlsafe_b64encode(_secret(scenario.seed, "fernet")).decode()
        self.resend_secret = "whsec_" + base64.b64encode(_secret(scenario.seed, "resend")).decode()
        self.db_url = f"sqlite:///{workdir / 'broadcast.sqlite3'}"
        self.config = IntegrationConfig(
            database_url=self.db_url, agentbuddy_url=fake.url, token_key=token_key,
            default_organization_id=ORG, resend_webhook_secret=self.resend_secret,
            http_max_retries=0, http_timeout_seconds=10.0,
        )
        self.db = Database.from_url(self.db_url)
        self.db.migrate()
        self.web: Served | None = None
        self.http = _session(local=True)   # to Broadcast's own endpoints, served in-process
        self.worker = None
        self.fake_clock: datetime | None = None
        self.fake_touched = True   # AgentBuddy changed since Broadcast last synced
        self.last_sync_day = -1
        self.attempts_seen: tuple | None = None  # the delivery worker's counters at the last snapshot

    # -- clocks ---------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def move_to(self, at: datetime) -> None:
        if at < self.clock.now():
            at = self.clock.now()
        self.clock.set(at)

    def fake_in_step(self) -> None:
        """Bring the fake's clock to ours before anything talks to it (signatures, tokens, stamps)."""
        if self.fake_clock != self.now():
            self.fake.set_clock(self.now())
            self.fake_clock = self.now()

    # -- set up ---------------------------------------------------------------------------------
    def start(self) -> None:
        from integration.web import create_app  # noqa: PLC0415 - needs integration.ingest

        self.fake_in_step()
        world = self.fake.world()
        account = world["accounts"][0]
        self.account_id = account["id"]
        agent = next(a for a in account["agents"] if a["is_active"] and not a["deleted_at"])
        self._populate(account)
        self.web = serve(create_app(self.config.replace(
            redirect_uri="http://127.0.0.1/integrations/agentbuddy/callback"), self.db, self.clock))
        self.config = self.config.replace(redirect_uri="http://127.0.0.1/integrations/agentbuddy/callback")
        connections.connect_headless(self.db, self.config, ORG, agent["email"], clock=self.clock)
        self.log.add(self.s, self.now(), f"connected Broadcast to AgentBuddy as {agent['email']}")
        summary = bc_sync.sync(self.db, self.config, ORG, full=True, clock=self.clock)
        self.log.add(self.s, self.now(), f"initial sync: {_sync_words(summary)}")
        for campaign in self.s.campaigns:
            bc_campaigns.upsert_campaign(self.db, ORG, bc_campaigns.Campaign(campaign.id, campaign.name, campaign.kind),
                                         self.clock)
        self.worker = _delivery_worker(self.db, self.config, self.clock)
        self.install_faults()

    def _populate(self, account: dict) -> None:
        """The scenario's offices and people, created in the fake through its admin API."""
        offices = {}
        head = account["offices"][0]["id"] if account["offices"] else None
        for office in self.s.world.offices:
            parent = offices.get(office.parent, head) if office.parent else None
            changes = {"name": office.name, "parent_office_id": parent}
            created = self.fake.mutate({"account_id": self.account_id, "entity": "office", "op": "create",
                                        "changes": changes})
            offices[office.id] = created["record"]["id"]
        for contact in self.contacts.values():
            custom: dict[str, Any] = {"scenario_id": contact.id}
            if contact.ownership_years is not None:
                custom["ownership_years"] = contact.ownership_years
            changes = {"first_name": contact.first_name, "last_name": contact.last_name or "-",
                       "email": contact.email, "contact_type": contact.type, "email_opt_in": contact.email_opt_in,
                       "tags": list(contact.tags), "custom_fields": custom, "status": "active"}
            if contact.office:
                changes["office_id"] = offices[contact.office]
            created = self.fake.mutate({"account_id": self.account_id, "entity": "contact", "op": "create",
                                        "changes": changes})
            self.ab_ids[contact.id] = created["record"]["id"]

    # -- the plan -----------------------------------------------------------------------------------
    def push(self, at: datetime, rank: int, kind: str, payload: Any = None) -> None:
        heapq.heappush(self.heap, _Item(at, rank, next(self.seq), kind, payload))

    def plan(self) -> None:
        for at, campaign, number in send_plan(self.s):
            self.push(at, 2, "send", (campaign, number))
        for change in self.s.agentbuddy_changes:
            self.push(self.s.at(change.day, change.hour), 1, "agentbuddy_change", change)
        for fault in self.s.faults:
            self.push(self.s.at(fault.day, fault.hour), 0, "fault_start", fault)
            self.push(self.s.at(fault.day, fault.hour + fault.hours), 0, "fault_end", fault)
        for day in range(self.s.days + 1):
            self.push(self.s.at(day, 0), 3, "people", day)
            self.push(self.s.at(day, self.s.rescore_hour), 5, "day_end", day)

    # -- the loop -----------------------------------------------------------------------------------
    def run(self) -> None:
        self.plan()
        handlers = {"send": self._send, "agentbuddy_change": self._agentbuddy_change, "fault_start": self._fault_start,
                    "fault_end": self._fault_end, "people": self._people, "event": self._event,
                    "day_end": self._day_end}
        while self.heap:
            item = heapq.heappop(self.heap)
            self.deliver_until(item.at)
            self.move_to(item.at)
            handlers[item.kind](item.payload)

    def _people(self, day: int) -> None:
        """Plan each person's clicks, unsubscribes and complaints of `day`, after the day's sends."""
        last_send = max((at for at, c, n in send_plan(self.s) if int(self.s.day_of(at)) == day), default=None)
        if last_send is not None and last_send > self.now():
            self.push(last_send + timedelta(seconds=1), 3, "people", day)
            return
        for cid, person in self.people.items():
            for event in person.actions_on(day):
                self.push(max(event.at, self.now()), 4, "event", event)

    def _send(self, payload: tuple[m.Campaign, int]) -> None:
        campaign, number = payload
        audience = [cid for cid, c in self.contacts.items() if campaign.audience.includes(c)]
        recipients = [(self.ab_ids[cid], email_id(self.s.seed, campaign.id, number, cid)) for cid in audience]
        sent, refused = bc_campaigns.record_sends(self.db, ORG, campaign.id, recipients, self.clock, sent_at=self.now())
        by_ab = {v: k for k, v in self.ab_ids.items()}
        for send in sent:
            cid = by_ab[send.contact_id]
            self.sends.append({"at": _iso(self.now()), "contact": cid, "campaign": campaign.id, "number": number,
                               "email_id": send.provider_email_id, "outcome": "sent"})
            for event in self.people[cid].deliver(campaign, send.provider_email_id, self.now()):
                self.push(event.at, 4, "event", event)
        for ab_id, reason in sorted(refused.items()):
            cid = by_ab[ab_id]
            self.sends.append({"at": _iso(self.now()), "contact": cid, "campaign": campaign.id, "number": number,
                               "outcome": f"refused: {reason}"})
        self.log.add(self.s, self.now(), f"sent '{campaign.name}' #{number} to {len(sent)}"
                     + (f", refused {len(refused)} ({', '.join(sorted(set(refused.values())))})" if refused else ""))

    def _event(self, event: SimEvent) -> None:
        contact = self.contacts[event.contact_id]
        campaign = next(c for c in self.s.campaigns if c.id == event.campaign_id)
        record = {**event.to_json()}
        if event.type == "unsubscribed":
            record["status"] = self._unsubscribe(event, campaign)
        else:
            body = resend.payload(event, contact.email, campaign.name,
                                  {"contact_id": self.ab_ids[contact.id], "campaign_id": campaign.id,
                                   "campaign_kind": campaign.kind})
            raw, headers = resend.signed_request(self.resend_secret, resend.message_id(self.s.seed, event),
                                                 self.now(), body)
            response = self.http.post(f"{self.web.url}/providers/resend/webhook", data=raw, headers=headers,
                                      timeout=30)
            record["status"] = response.status_code
            if response.status_code >= 300:
                record["problem"] = response.text[:300]
        self.emitted.append(record)
        if event.type in ("clicked", "unsubscribed", "complained", "bounced") and not event.machine:
            what = {"clicked": f"clicked {event.link_url}", "unsubscribed": "unsubscribed",
                    "complained": "marked the email as spam", "bounced": "hard bounce"}[event.type]
            self.log.add(self.s, self.now(), f"{contact.name} {what}", contact.id)
        self.deliver_until(self.now())

    def _unsubscribe(self, event: SimEvent, campaign: m.Campaign) -> str:
        """Broadcast's own unsubscribe link (Resend has no such webhook), through the ingest API."""
        from integration.engagement.pipeline import ingest  # noqa: PLC0415

        summary = ingest.record_unsubscribe(self.db, ORG, self.ab_ids[event.contact_id], self.clock,
                                            email_id=event.email_id, campaign_id=campaign.id)
        return "ingested" if summary.stored else "duplicate"

    def _agentbuddy_change(self, change: m.AgentBuddyChange) -> None:
        ab_id = self.ab_ids[change.contact]
        self.fake_in_step()
        self.fake_touched = True
        if change.op == "delete":
            self.fake.mutate({"account_id": self.account_id, "entity": "contact", "op": "delete", "id": ab_id})
            self.deleted.add(change.contact)
            self.log.add(self.s, self.now(), "deleted in AgentBuddy", change.contact)
        else:
            changes = dict(change.changes)
            self.fake.mutate({"account_id": self.account_id, "entity": "contact", "op": "update", "id": ab_id,
                              "changes": changes})
            self.log.add(self.s, self.now(), f"edited in AgentBuddy: {', '.join(sorted(changes))}", change.contact)

    def install_faults(self) -> None:
        """Outages and 429 storms become windows on the fake's own clock, installed once."""
        specs = []
        for fault in self.s.faults:
            start, end = self.s.at(fault.day, fault.hour), self.s.at(fault.day, fault.hour + fault.hours)
            window = {"start": _iso(start), "end": _iso(end), "operations": ["*"]}
            if fault.kind == "agentbuddy_down":
                specs.append({"kind": "error", "status": 503, "retry_after": 300, **window})
            elif fault.kind == "rate_limit_storm":
                specs.append({"kind": "rate_limit", "retry_after": 120, **window})
        if specs:
            self.fake.faults({"faults": specs, "seed": self.s.seed})

    def _fault_start(self, fault: m.Fault) -> None:
        if fault.kind == "token_expired":
            self._expire_token_mid_sync()
            return
        self.log.add(self.s, self.now(), f"AgentBuddy {FAULT_WORDS[fault.kind]} for {fault.hours:g}h begins")

    def _fault_end(self, fault: m.Fault) -> None:
        if fault.kind != "token_expired":
            self.log.add(self.s, self.now(), f"AgentBuddy {FAULT_WORDS[fault.kind]} ends")

    def _expire_token_mid_sync(self) -> None:
        """AgentBuddy stops honouring Broadcast's access token (as after an expiry), then a sync runs."""
        self.fake_in_step()
        status = tokens.revoke_access_token(self.db, self.config, ORG)
        self.log.add(self.s, self.now(), f"AgentBuddy invalidated Broadcast's access token (revoke -> {status})")
        self._sync("sync after the token was invalidated")

    def snapshot(self, day: int, touched: bool = False) -> None:
        """AgentBuddy's view of every contact at the end of `day`.

        Only Broadcast's requests and our own AgentBuddy-side edits change it. The fake's inbound
        log (read from where we left off) names the contacts Broadcast's requests mentioned; only
        those are read again, and everyone else's view is yesterday's. After an AgentBuddy-side
        edit, or a request that names no contact we know, everyone is read.
        """
        attempts = dataclasses.astuple(self.worker.stats)
        # The delivery worker is the only sender: no attempt since the last look, nothing arrived.
        arrivals = self.fake.inbound_new() if attempts != self.attempts_seen else []
        self.attempts_seen = attempts
        if touched or day == 0 or not all(self.snapshots[cid] for cid in self.ab_ids):
            stale = set(self.ab_ids)
        else:
            stale = self._mentioned(arrivals)
        for cid, ab_id in self.ab_ids.items():
            if cid not in stale:
                self.snapshots[cid].append({**self.snapshots[cid][-1], "day": day})
                continue
            found = self.fake.record("contacts", ab_id)
            self.snapshots[cid].append({"day": day, "record": found["record"] if found else None,
                                        "events": found["events"] if found else []})

    def _mentioned(self, entries: list[dict]) -> set[str]:
        """Our contacts an inbound request names (by AgentBuddy id, anywhere in path or body)."""
        stale: set[str] = set()
        for entry in entries:
            text = f"{entry.get('path')} {json.dumps(entry.get('payload'))}"
            named = {cid for cid, ab_id in self.ab_ids.items() if _names(text, ab_id)}
            if not named and "contact" in text:
                return set(self.ab_ids)  # can't tell whom it touched: look at everyone
            stale |= named
        return stale

    def _sync(self, label: str = "sync", always: bool = True) -> None:
        self.fake_in_step()
        try:
            summary = bc_sync.sync(self.db, self.config, ORG, clock=self.clock)
            if always or summary.totals.created or summary.totals.updated or summary.totals.deleted:
                self.log.add(self.s, self.now(), f"{label}: {_sync_words(summary)}")
        except Exception as error:  # a failed scheduled sync is part of the story, not the end of it
            self.log.add(self.s, self.now(), f"{label} failed: {type(error).__name__}: {error}")

    def _day_end(self, day: int) -> None:
        # Scheduled sync: whenever AgentBuddy changed, and weekly regardless (tokens, drift).
        touched = self.fake_touched
        if touched or day - self.last_sync_day >= 7:
            self._sync(always=False)
            self.last_sync_day = day
            self.fake_touched = False
        self.rescore()
        self.deliver_until(self.now())
        self.snapshot(day, touched)
        if self.progress:
            self.progress(self.s.name, day, self.s.days)

    def rescore(self) -> None:
        from integration.engagement.pipeline.rescore import rescore_all  # noqa: PLC0415 - the pipeline's daily batch

        rescore_all(self.db, ORG, self.clock)

    # -- delivery -------------------------------------------------------------------------------------
    def deliver_until(self, until: datetime) -> None:
        """Run the delivery worker at every moment something falls due, up to `until`."""
        for _ in range(10_000):
            due = outbox.next_due(self.db, ORG)
            if due is None or due > until:
                return
            self.move_to(max(due, self.now()))
            self.fake_in_step()
            if not self.worker.drain():
                # claimed nothing although due: a lease is held; step past it
                self.move_to(self.now() + timedelta(seconds=30))
        raise ReplayError("the outbox did not drain (10,000 delivery rounds)")

    def broadcast_rows(self) -> dict[str, dict | None]:
        """Broadcast's own copy of each contact (for the conflict-rule expectations)."""
        rows = bc_contacts.contact_rows(self.db, ORG, self.ab_ids.values())
        return {cid: rows[ab_id] for cid, ab_id in self.ab_ids.items()}

    def close(self) -> None:
        if self.web is not None:
            self.web.stop()
        self.db.close() if hasattr(self.db, "close") else None


def _names(text: str, ab_id: str) -> bool:
    """`ab_id` appears as a whole id (ab_contact_1 must not match inside ab_contact_12)."""
    start = text.find(ab_id)
    while start >= 0:
        end = start + len(ab_id)
        if end == len(text) or not (text[end].isalnum() or text[end] == "_"):
            return True
        start = text.find(ab_id, end)
    return False


FAULT_WORDS = {"agentbuddy_down": "outage (503 on every call)", "rate_limit_storm": "429 storm"}


def _delivery_worker(db: Database, config: IntegrationConfig, clock: ManualClock):
    from integration.outbox.delivery import DeliveryWorker
    from integration.outbox.transports import StoredEndpoints, transport_for  # noqa: PLC0415

    return DeliveryWorker(db, clock, transport_for(config.delivery_mode, StoredEndpoints(db, config, clock)),
                          worker_id="replay")


def _sync_words(summary) -> str:
    t = summary.totals
    return f"{t.created} created, {t.updated} updated, {t.deleted} deleted"


# ---- entry point ---------------------------------------------------------------------------------

def replay(scenario: m.Scenario, *, agentbuddy_url: str | None = None, seed: int | None = None,
           console=None, progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Replay one scenario; returns the JSON-ready result (see `results.build`)."""
    from .results import build

    if seed is not None:
        scenario = dataclasses.replace(scenario, seed=seed)
    served = None if agentbuddy_url else launch_fake(scenario)
    fake = Fake(agentbuddy_url or served.url, local=served is not None)
    if agentbuddy_url:
        fake.reset()
    error = None
    with tempfile.TemporaryDirectory(prefix=f"replay-{scenario.name}-") as tmp:
        run = Run(scenario, fake, Path(tmp), progress or _console_progress(console))
        try:
            run.start()
            run.run()
        except Exception as exc:  # reported in the result: which step, and why
            error = f"{type(exc).__name__}: {exc}"
        observations = Observations.collect(run, fake) if error is None else Observations.partial(run)
        outcomes = check_all(scenario, observations)
        result = build(scenario, run, observations, outcomes, error)
        run.close()
    if served is not None:
        served.stop()
    return result


def _console_progress(console):
    if console is None:
        return None
    state = {"last": -1}

    def report(name: str, day: int, days: int) -> None:
        step = max(1, days // 10)
        if day % step == 0 or day == days:
            console.print(f"[dim]{name}: day {day}/{days}[/]")
            state["last"] = day

    return report
