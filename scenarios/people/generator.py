"""Seeded populations: people with planted intent, months of campaigns, and what the provider saw.

Built to stream: contacts come one at a time, each with its own event iterator, so 100,000
people and millions of events never sit in memory together. Randomness is a
`random.Random(seed)` for the population and a per-contact RNG derived from (seed, index),
so the same seed gives the same people and the same events, in any process.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from itertools import count
from typing import Iterator

from scenarios.story import model as m
from scenarios.story.crowd import DEFAULT_MIX, iter_contacts

from .timeline import Person, SimEvent, email_id, send_plan, stable_rng

PLANTED_INTENT = {"surging_seller": "seller", "active_buyer": "buyer"}
SITE = "https://broadcast.example"


def standard_program(days: int) -> tuple[m.Campaign, ...]:
    """A brokerage's usual rhythm: weekly market updates and listings, fortnightly rates and news."""
    def every(start: int, step: int) -> m.Schedule:
        return m.Schedule(start, step, max(1, (days - start) // step + 1 if start <= days else 1), 9.0)

    listings = tuple(m.Link(f"{SITE}/listings/{n}", "listing", f"Listing {n}") for n in range(1, 7))
    return (
        m.Campaign("market-update", "Market Update", "market_update",
                   (m.Link(f"{SITE}/market-report", "market_update", "Read the report"),
                    m.Link(f"{SITE}/home-value", "valuation", "What's your home worth?")), every(0, 7)),
        m.Campaign("new-listings", "New Listings", "new_listings",
                   listings + (m.Link(f"{SITE}/pre-approval", "financing", "Get pre-approved"),), every(3, 7)),
        m.Campaign("home-valuation", "What's Your Home Worth?", "home_valuation",
                   (m.Link(f"{SITE}/valuation", "valuation", "Get my valuation"),), every(10, 28)),
        m.Campaign("mortgage-rates", "Mortgage Rates", "mortgage_rates",
                   (m.Link(f"{SITE}/rates", "financing", "Today's rates"),), every(5, 14)),
        m.Campaign("newsletter", "Community Newsletter", "newsletter",
                   (m.Link(f"{SITE}/events", "other", "Local events"),), every(12, 14)),
    )


# ---- archetypes as behaviour rules -----------------------------------------------------------

def archetype_behaviours(archetype: str, contact_id: str, days: int, seed: int) -> list[m.Behaviour]:
    """The rules an archetype's person follows; parameters vary per person, drawn from a keyed RNG."""
    rng = stable_rng(seed, "archetype", contact_id)
    b = lambda **kw: m.Behaviour(contact=contact_id, **kw)  # noqa: E731
    OpenRule = lambda *a, **kw: m.OpenRule(*a, delay_minutes=45, jitter_minutes=90, **kw)  # noqa: E731,N806
    late = max(0, days - 1)
    if archetype == "dormant":
        return [b(opens=(OpenRule(probability=rng.uniform(0.0, 0.06)),))]
    if archetype == "steady":
        clicks = tuple(sorted(rng.sample(range(days + 1), k=min(days + 1, rng.randint(1, max(1, days // 30))))))
        return [b(opens=(OpenRule(probability=rng.uniform(0.35, 0.6)),),
                  clicks=(m.ClickRule(rng.choice(("market_update", "other")), clicks),))]
    if archetype == "surging_seller":
        surge = max(0, days - rng.randint(20, 30))
        valuation_days = tuple(sorted(rng.sample(range(surge, days + 1), k=min(days + 1 - surge, rng.randint(2, 3)))))
        return [b(opens=(OpenRule(to_day=max(0, surge - 1), probability=rng.uniform(0.1, 0.3)),
                         OpenRule(("market_update", "home_valuation"), from_day=surge, probability=0.95),
                         OpenRule(from_day=surge, probability=0.4)),
                  clicks=(m.ClickRule("valuation", valuation_days),))]
    if archetype == "active_buyer":
        spike = max(0, days - rng.randint(5, 7))
        click_days = tuple(sorted(rng.choice(range(spike, days + 1)) for _ in range(rng.randint(4, 7))))
        return [b(opens=(OpenRule(to_day=max(0, spike - 1), probability=rng.uniform(0.0, 0.1)),
                         OpenRule(("new_listings",), from_day=spike, probability=1.0),
                         OpenRule(from_day=spike, probability=0.5)),
                  clicks=(m.ClickRule("listing", click_days),))]
    if archetype == "unsubscriber":
        return [b(opens=(OpenRule(probability=rng.uniform(0.1, 0.4)),),
                  unsubscribe_on_day=rng.randint(min(14, late), max(min(14, late), days - 14)))]
    if archetype == "bouncer":
        return [b(hard_bounce_from_day=0)]
    if archetype == "complainer":
        return [b(opens=(OpenRule(probability=rng.uniform(0.0, 0.15)),),
                  complaint_on_day=rng.randint(min(7, late), late))]
    if archetype == "privacy_proxy_opener":
        return [b(opens=(OpenRule(probability=rng.uniform(0.0, 0.15)),),
                  machine_opens=m.MachineRule(rng.uniform(1, 20)))]
    if archetype == "bot_clicker":
        return [b(opens=(OpenRule(probability=rng.uniform(0.05, 0.3)),),
                  bot_clicks=m.MachineRule(rng.uniform(2, 30)))]
    raise ValueError(f"unknown archetype {archetype!r}")


# ---- events ------------------------------------------------------------------------------------

def behaviours_for(scenario: m.Scenario, contact: m.Contact) -> list[m.Behaviour]:
    """The scenario's rules for this person; an archetype's defaults when the scenario has none."""
    explicit = scenario.behaviours_for(contact)
    if contact.archetype and not any(b.archetype == contact.archetype for b in explicit):
        explicit = explicit + archetype_behaviours(contact.archetype, contact.id, scenario.days, scenario.seed)
    return explicit


def simulate_contact(scenario: m.Scenario, contact: m.Contact, behaviours: list[m.Behaviour] | None = None,
                     plan: list[tuple[datetime, m.Campaign, int]] | None = None) -> Iterator[SimEvent]:
    """One person's events in time order, with sends stopping once they can no longer be mailed."""
    person = Person(contact, behaviours if behaviours is not None else behaviours_for(scenario, contact),
                    scenario.at(0), scenario.seed)
    plan = plan if plan is not None else send_plan(scenario)
    pending: list[tuple[datetime, int, SimEvent]] = []
    tick = count()
    sends = iter(plan)
    upcoming = next(sends, None)
    for day in range(scenario.days + 1):
        day_end = scenario.at(day + 1)
        while upcoming is not None and upcoming[0] < day_end:
            at, campaign, number = upcoming
            if campaign.audience.includes(contact) and person.reachable:
                for event in person.deliver(campaign, email_id(scenario.seed, campaign.id, number, contact.id), at):
                    heapq.heappush(pending, (event.at, next(tick), event))
            upcoming = next(sends, None)
        for event in person.actions_on(day):
            heapq.heappush(pending, (event.at, next(tick), event))
        while pending and pending[0][0] < day_end:
            yield heapq.heappop(pending)[2]
    while pending:
        yield heapq.heappop(pending)[2]


@dataclass(frozen=True)
class Population:
    """A seeded population over a standard campaign program, streamed contact by contact."""

    size: int
    seed: int
    days: int = 180
    start: date = m.DEFAULT_START
    mix: tuple[tuple[str, float], ...] = tuple(sorted(DEFAULT_MIX.items()))

    def scenario(self) -> m.Scenario:
        return m.Scenario(name=f"population-{self.seed}", description="generated population", start=self.start,
                          days=self.days, seed=self.seed, world=m.World((), ()),
                          campaigns=standard_program(self.days), behaviours=(), agentbuddy_changes=(),
                          faults=(), expectations=())

    @property
    def as_of(self) -> datetime:
        return datetime.combine(self.start, time(0), tzinfo=timezone.utc) + timedelta(days=self.days + 1)

    def contacts(self) -> Iterator[m.Contact]:
        return iter_contacts(self.size, self.seed, dict(self.mix))

    def people(self) -> Iterator[tuple[m.Contact, Iterator[SimEvent]]]:
        scenario = self.scenario()
        plan = send_plan(scenario)
        for contact in self.contacts():
            yield contact, simulate_contact(scenario, contact, plan=plan)

    def events(self) -> Iterator[SimEvent]:
        for _, events in self.people():
            yield from events
