"""How one person reacts to the email Broadcast sends them, as provider-level events.

The same reaction model drives the replay (where the real integration decides who is sent
what) and the pure population generator (where nobody refuses a send but the rules of
eligibility are mirrored), so a story behaves the same in both. Every random draw is keyed
by (seed, contact, email), never by call order, so results do not depend on iteration order.
"""
from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scenarios.story import model as m

APPLE_MPP_USER_AGENT = "Mozilla/5.0"  # what Apple's Mail Privacy Protection proxy presents
APPLE_MPP_IP = "17.58.101.22"
SCANNER_USER_AGENT = "Mozilla/5.0 (compatible; SafeLinks-Scanner/2.1; +http://aka.ms/safelinks)"
SCANNER_IP = "40.94.18.3"
HUMAN_USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
)


DELIVERY_DELAY = timedelta(seconds=4)


def link_url(link: m.Link, sent_at: datetime) -> str:
    """A link as sent in one issue: `{date}` becomes that issue's send date."""
    return link.url.replace("{date}", sent_at.date().isoformat())


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One thing the email provider observed. `machine` is ground truth the wire never carries."""

    at: datetime
    contact_id: str
    campaign_id: str
    email_id: str
    type: str  # sent | delivered | opened | clicked | bounced | unsubscribed | complained
    link_url: str | None = None
    link_category: str | None = None
    user_agent: str | None = None
    ip: str | None = None
    machine: str | None = None  # privacy_proxy | scanner | None

    def to_json(self) -> dict:
        out = {"at": self.at.isoformat().replace("+00:00", "Z"), "contact": self.contact_id,
               "campaign": self.campaign_id, "email_id": self.email_id, "type": self.type}
        for key in ("link_url", "link_category", "user_agent", "ip", "machine"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


def stable_rng(*parts: object) -> random.Random:
    return random.Random(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest())


def email_id(seed: int, campaign_id: str, send_number: int, contact_id: str) -> str:
    """A provider message id that is the same on every replay of the same seed."""
    digest = hashlib.sha256(f"{seed}:{campaign_id}:{send_number}:{contact_id}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


@dataclass
class Received:
    campaign: m.Campaign
    email_id: str
    sent_at: datetime
    delivered_at: datetime
    day: int
    clicked_urls: set[str] = field(default_factory=set)

    def url(self, link: m.Link) -> str:
        return link_url(link, self.sent_at)


class Person:
    """One recipient: their rules, what they have received, and whether they are still reachable."""

    def __init__(self, contact: m.Contact, behaviours: list[m.Behaviour], scenario_start: datetime,
                 seed: int) -> None:
        self.contact = contact
        self.behaviours = behaviours
        self.start = scenario_start
        self.seed = seed
        self.inbox: list[Received] = []
        self.unsubscribed_at: datetime | None = None
        self.bounced_at: datetime | None = None
        self.complained_at: datetime | None = None

    # -- what the rules say ----------------------------------------------------------------
    def _first(self, attribute: str):
        for b in self.behaviours:
            value = getattr(b, attribute)
            if value is not None:
                return value
        return None

    @property
    def reachable(self) -> bool:
        """Mirrors what a careful sender does; the real integration decides for itself."""
        return (self.contact.email_opt_in and self.unsubscribed_at is None and self.bounced_at is None
                and self.complained_at is None)

    def day_of(self, at: datetime) -> int:
        return int((at - self.start).total_seconds() // 86400)

    # -- reactions to one send -------------------------------------------------------------
    def deliver(self, campaign: m.Campaign, message_id: str, sent_at: datetime) -> list[SimEvent]:
        day = self.day_of(sent_at)
        c = self.contact.id
        events = [SimEvent(sent_at, c, campaign.id, message_id, "sent")]
        bounce_from = self._first("hard_bounce_from_day")
        if bounce_from is not None and day >= bounce_from:
            at = sent_at + DELIVERY_DELAY
            self.bounced_at = at
            return events + [SimEvent(at, c, campaign.id, message_id, "bounced")]
        delivered = sent_at + DELIVERY_DELAY
        events.append(SimEvent(delivered, c, campaign.id, message_id, "delivered"))
        received = Received(campaign, message_id, sent_at, delivered, day)
        self.inbox.append(received)
        rng = stable_rng(self.seed, c, message_id)

        proxy = self._first("machine_opens")
        if proxy is not None and day >= proxy.from_day:
            events.append(SimEvent(delivered + timedelta(seconds=proxy.seconds_after_delivery), c, campaign.id,
                                   message_id, "opened", user_agent=APPLE_MPP_USER_AGENT, ip=APPLE_MPP_IP,
                                   machine="privacy_proxy"))
        scanner = self._first("bot_clicks")
        if scanner is not None and day >= scanner.from_day:
            base = delivered + timedelta(seconds=scanner.seconds_after_delivery)
            events.append(SimEvent(base, c, campaign.id, message_id, "opened", user_agent=SCANNER_USER_AGENT,
                                   ip=SCANNER_IP, machine="scanner"))
            for i, link in enumerate(campaign.links):
                events.append(SimEvent(base + timedelta(milliseconds=300 * (i + 1)), c, campaign.id, message_id,
                                       "clicked", received.url(link), link.category, SCANNER_USER_AGENT, SCANNER_IP,
                                       machine="scanner"))
        for rule in (r for b in self.behaviours for r in b.opens):
            if rule.covers(campaign.kind, day):
                if rng.random() < rule.probability:
                    at = sent_at + timedelta(minutes=rule.delay_minutes + rule.jitter_minutes * rng.random())
                    at = max(at, delivered + timedelta(minutes=2))  # a reader, not a prefetch
                    agent = self._first("open_user_agent") or rng.choice(HUMAN_USER_AGENTS)
                    events.append(SimEvent(at, c, campaign.id, message_id, "opened", user_agent=agent,
                                           ip=_human_ip(rng)))
                break  # the first rule covering this email decides
        return sorted(events, key=lambda e: e.at)

    # -- things a person does on a given day, against mail already received ------------------
    def actions_on(self, day: int) -> list[SimEvent]:
        """Clicks, unsubscribes and complaints planned for `day` (call after that day's sends)."""
        events: list[SimEvent] = []
        c = self.contact.id
        for rule in (r for b in self.behaviours for r in b.clicks):
            for n in range(rule.days.count(day)):
                picked = self._next_link(rule.link_category, day, rule.email_day)
                if picked is None:
                    continue
                received, link = picked
                url = received.url(link)
                at = self._action_time(received, day, rule.hour, n)
                received.clicked_urls.add(url)
                rng = stable_rng(self.seed, c, received.email_id, url)
                agent = self._first("click_user_agent") or rng.choice(HUMAN_USER_AGENTS)
                events.append(SimEvent(at, c, received.campaign.id, received.email_id, "clicked", url,
                                       link.category, agent, _human_ip(rng)))
        for kind, attribute in (("complained", "complaint_on_day"), ("unsubscribed", "unsubscribe_on_day")):
            if self._first(attribute) == day and self.inbox:
                received = self.inbox[-1]
                at = self._action_time(received, day, 13.0, len(events))
                if kind == "complained":
                    self.complained_at = at
                else:
                    self.unsubscribed_at = at
                events.append(SimEvent(at, c, received.campaign.id, received.email_id, kind))
        return sorted(events, key=lambda e: e.at)

    def _next_link(self, category: str, day: int, email_day: int | None = None) -> tuple[Received, m.Link] | None:
        """The newest received email with a link of this category, preferring links this person has
        not clicked yet (six clicks on listings are six different properties)."""
        candidates = [r for r in reversed(self.inbox) if r.day <= day
                      and (email_day is None or r.day == email_day)
                      and any(l.category == category for l in r.campaign.links)]
        clicked = {url for r in self.inbox for url in r.clicked_urls}
        for received in candidates:
            for link in received.campaign.links:
                if link.category == category and received.url(link) not in clicked:
                    return received, link
        if candidates:
            received = candidates[0]
            return received, next(l for l in received.campaign.links if l.category == category)
        return None

    def _action_time(self, received: Received, day: int, hour: float | None, n: int) -> datetime:
        day_start = self.start + timedelta(days=day)
        if hour is not None:
            at = day_start + timedelta(seconds=round(hour * 3600))
        elif received.day == day:
            at = received.delivered_at + timedelta(hours=2)
        else:
            at = day_start + timedelta(hours=12)
        return max(at, received.delivered_at + timedelta(minutes=5)) + timedelta(minutes=7 * n)


def _human_ip(rng: random.Random) -> str:
    return f"73.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"


def send_plan(scenario: m.Scenario) -> list[tuple[datetime, m.Campaign, int]]:
    """Every scheduled send as (instant, campaign, send number), in time order."""
    sends = [(scenario.at(day, c.schedule.hour), c, n)
             for c in scenario.campaigns for n, day in enumerate(c.schedule.days(), start=1)]
    return sorted(sends, key=lambda s: (s[0], s[1].id))
