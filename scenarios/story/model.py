"""The scenario as typed values: what the loader hands to the people, the engine and the verdicts.

Everything is frozen so a scenario can be shared between a replay and its report without
anyone editing it on the way; times are day offsets until `Scenario.at()` turns them into
instants on the simulated calendar.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from .crowd import generated_contacts
from .world import Contact, GeneratedWorld, Office, World  # noqa: F401 - the world's types, as `m.Contact`

CAMPAIGN_KINDS = ("market_update", "new_listings", "home_valuation", "mortgage_rates", "newsletter")
LINK_CATEGORIES = ("valuation", "listing", "financing", "market_update", "other")
ARCHETYPES = ("dormant", "steady", "surging_seller", "active_buyer", "unsubscriber", "bouncer",
              "complainer", "privacy_proxy_opener", "bot_clicker")
EVENT_TYPES = ("sent", "delivered", "opened", "clicked", "bounced", "unsubscribed", "complained")
DEFAULT_START = date(2026, 1, 5)


@dataclass(frozen=True)
class Range:
    low: int
    high: int

    def __contains__(self, value: object) -> bool:
        return isinstance(value, (int, float)) and self.low <= value <= self.high

    def __str__(self) -> str:
        if self.low == self.high:
            return str(self.low)
        middle = (self.low + self.high) / 2
        if middle == int(middle):
            return f"{int(middle)}±{int(middle) - self.low}"
        return f"{self.low}..{self.high}"


@dataclass(frozen=True)
class Link:
    url: str
    category: str
    label: str | None = None


@dataclass(frozen=True)
class Audience:
    """Empty everything means all contacts."""

    contacts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    offices: tuple[str, ...] = ()
    types: tuple[str, ...] = ()

    @property
    def everyone(self) -> bool:
        return not (self.contacts or self.tags or self.offices or self.types)

    def includes(self, contact: Contact) -> bool:
        if self.everyone:
            return True
        return (contact.id in self.contacts or bool(set(self.tags) & set(contact.tags))
                or (contact.office is not None and contact.office in self.offices)
                or contact.type in self.types)


@dataclass(frozen=True)
class Schedule:
    start_day: int
    every_days: int = 7
    count: int = 1
    hour: float = 9.0
    skip_days: tuple[int, ...] = ()

    def days(self) -> list[int]:
        return [d for d in (self.start_day + i * self.every_days for i in range(self.count)) if d not in self.skip_days]


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    kind: str
    links: tuple[Link, ...]
    schedule: Schedule
    audience: Audience = field(default_factory=Audience)


@dataclass(frozen=True)
class OpenRule:
    kinds: tuple[str, ...] = ()  # empty: every kind
    from_day: int = 0
    to_day: int | None = None
    probability: float = 1.0
    delay_minutes: float = 90.0  # after the send
    jitter_minutes: float = 0.0

    def covers(self, kind: str, day: int) -> bool:
        return ((not self.kinds or kind in self.kinds) and day >= self.from_day
                and (self.to_day is None or day <= self.to_day))


@dataclass(frozen=True)
class ClickRule:
    link_category: str
    days: tuple[int, ...]
    hour: float | None = None
    email_day: int | None = None  # click in the email sent that day (default: the newest)


@dataclass(frozen=True)
class MachineRule:
    seconds_after_delivery: float
    from_day: int = 0


@dataclass(frozen=True)
class Behaviour:
    contact: str | None  # a contact id, or None with archetype/everyone
    archetype: str | None = None
    opens: tuple[OpenRule, ...] = ()
    clicks: tuple[ClickRule, ...] = ()
    unsubscribe_on_day: int | None = None
    hard_bounce_from_day: int | None = None
    complaint_on_day: int | None = None
    machine_opens: MachineRule | None = None
    bot_clicks: MachineRule | None = None
    open_user_agent: str | None = None
    click_user_agent: str | None = None

    def applies_to(self, contact: Contact) -> bool:
        if self.contact is not None:
            return self.contact == contact.id
        if self.archetype is not None:
            return self.archetype == contact.archetype
        return True


@dataclass(frozen=True)
class AgentBuddyChange:
    day: int
    hour: float
    contact: str
    op: str  # edit | delete
    changes: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Fault:
    kind: str  # agentbuddy_down | token_expired | rate_limit_storm
    day: int
    hour: float = 0.0
    hours: float = 1.0


@dataclass(frozen=True)
class ReceivedCheck:
    event: str
    campaign: str | None = None
    count: int | None = None
    min_count: int | None = None


@dataclass(frozen=True)
class Expectation:
    contact: str
    day: int
    index: int  # position in the file, so messages can point at `expect[3]`
    note: str | None = None
    until_day: int | None = None  # score/category checks hold every day from `day` to this one
    weekly_moves_at_most: int | None = None  # bands between the categories held at consecutive week ends
    propensity_score: Range | None = None
    category: str | None = None
    category_not: tuple[str, ...] = ()
    seller_likelihood: Range | None = None
    buyer_activity_score: Range | None = None
    recommended_action: str | None = None
    factors_contain: tuple[str, ...] = ()
    engagement_trend: str | None = None
    received: tuple[ReceivedCheck, ...] = ()
    every_event_exactly_once: bool = False
    no_email_after_unsubscribe: bool = False
    no_email_after_day: int | None = None
    nothing_pushed_after_day: int | None = None
    agentbuddy_contact: tuple[tuple[str, Any], ...] = ()
    broadcast_contact: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        days = f"days {self.day}-{self.until_day}" if self.until_day is not None else f"day {self.day}"
        return f"expect[{self.index}] {self.contact} @ {days}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    start: date
    days: int
    seed: int
    world: World
    campaigns: tuple[Campaign, ...]
    behaviours: tuple[Behaviour, ...]
    agentbuddy_changes: tuple[AgentBuddyChange, ...]
    faults: tuple[Fault, ...]
    expectations: tuple[Expectation, ...]
    source: str | None = None
    rescore_hour: float = 23.75

    def at(self, day: float, hour: float = 0.0) -> datetime:
        """The instant `hour` o'clock on simulated `day`, UTC."""
        base = datetime.combine(self.start, time(0), tzinfo=timezone.utc)
        return base + timedelta(seconds=round((day * 24 + hour) * 3600))  # whole seconds, like providers

    def day_of(self, instant: datetime) -> float:
        return (instant - self.at(0)).total_seconds() / 86400

    def contact(self, contact_id: str) -> Contact:
        for contact in self.all_contacts():
            if contact.id == contact_id:
                return contact
        raise KeyError(contact_id)

    def all_contacts(self) -> tuple[Contact, ...]:
        """Explicit contacts first, then the seeded generated ones, in a stable order."""
        if self.world.generated is None:
            return self.world.contacts
        return self.world.contacts + tuple(generated_contacts(self.world.generated, self.world.offices))

    def behaviours_for(self, contact: Contact) -> list[Behaviour]:
        return [b for b in self.behaviours if b.applies_to(contact)]
