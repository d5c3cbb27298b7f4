"""How well the integration's scoring separates planted intent from everyone else, and how steady it is.

A seeded population (see `generator`) is pushed, event by event, through the integration's
pure engagement code - `prepare`, `ContactActivity.apply`, `signals`, `score_signals` - as the
pipeline would, but without servers or a database. Machine opens and scanner clicks go in
unlabelled: telling them apart is the integration's job, and part of what is measured.

Each person is re-scored at the end of every simulated day, as the daily batch re-score does,
with the category held the day before (so hysteresis works as it does in production); the
category held at each week's end is the weekly reading. The account average every score
compares against is the population's own, computed once (people are drawn independently, so
the first `BASELINE_SAMPLE` are a fair sample, and the behaviour mix does not drift).
The figures themselves are defined in measures.py.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator

from contract.categories import LOWER_BOUND
from integration.engagement import (AccountBaseline, ContactActivity, EngagementEvent, Propensity, engagement_metrics,
                                    natural_event_id, prepare, score_signals, signals)

from scenarios.people.generator import Population
from scenarios.people.timeline import SimEvent
from scenarios.processes import default_jobs, map_in_processes, report
from scenarios.story import model as m

from .measures import MACHINE_ARCHETYPES, Distribution, Scored, Separation, headline, separation

INTENT_THRESHOLD = LOWER_BOUND["hot"]  # applied to seller_likelihood / buyer_activity_score
BASELINE_SAMPLE = 2000

#: (activity, contact, as_of, category held until now) -> the contact's 5.3 propensity
Scorer = Callable[[ContactActivity, m.Contact, datetime, "str | None"], Propensity]


def to_engagement_event(event: SimEvent, campaign: m.Campaign) -> EngagementEvent:
    """What the Resend parser would make of this event, minus the JSON round trip."""
    return EngagementEvent(
        event_id=natural_event_id(event.email_id, event.type, event.at, event.link_url,
                                  contact_id=event.contact_id if event.type == "unsubscribed" else None),
        event_type=event.type, occurred_at=event.at, email_id=event.email_id, contact_id=event.contact_id,
        campaign_id=campaign.id, campaign_name=campaign.name, campaign_kind=campaign.kind,
        url=event.link_url, user_agent=event.user_agent, ip=event.ip,
        bounce_type="hard" if event.type == "bounced" else None,
    )


def integration_scorer(baseline: AccountBaseline | None = None) -> Scorer:
    """The integration's own scorer: one `signals` pass, then `score_signals` with hysteresis."""
    baseline = baseline or AccountBaseline.default()

    def scorer(activity: ContactActivity, contact: m.Contact, as_of: datetime, held: str | None) -> Propensity:
        return score_signals(signals(activity, as_of), contact.type, baseline, as_of, activity.email_status,
                             previous_category=held)[0]

    return scorer


def _prepared(population: Population) -> Iterator[tuple[m.Contact, Iterator[EngagementEvent]]]:
    campaigns = {c.id: c for c in population.scenario().campaigns}
    for contact, events in population.people():
        yield contact, (prepare(to_engagement_event(e, campaigns[e.campaign_id])) for e in events)


def population_baseline(population: Population, sample: int = BASELINE_SAMPLE) -> AccountBaseline:
    """The account's average rates, as the pipeline computes them, from the first `sample` people."""
    activities = []
    for n, (contact, events) in enumerate(_prepared(population), start=1):
        if n > sample:
            break
        activity = ContactActivity(contact.id)
        for event in events:
            activity.apply(event)
        activities.append(activity)
    return AccountBaseline.from_activities(activities, population.as_of)


def follow(contact: m.Contact, events: Iterable[EngagementEvent], scorer: Scorer, start: datetime, days: int,
           tally: dict[str, int] | None = None) -> Scored:
    """One person through the run: events applied in time order, re-scored at every day's end."""
    activity = ContactActivity(contact.id)
    pending = iter(events)
    upcoming = next(pending, None)
    applied = 0
    held: str | None = None
    weekly: list[str] = []
    propensity = None
    for day in range(1, days + 2):
        day_end = start + timedelta(days=day)
        while upcoming is not None and upcoming.occurred_at < day_end:
            activity.apply(upcoming)
            applied += 1
            upcoming = next(pending, None)
        propensity = scorer(activity, contact, day_end, held)
        held = propensity.propensity_category
        if day % 7 == 0:
            weekly.append(held)
    if tally is not None:
        tally["events"] = tally.get("events", 0) + applied
    as_of = start + timedelta(days=days + 1)
    return Scored(contact.id, contact.archetype or "", contact.type, propensity.propensity_score,
                  propensity.propensity_category, propensity.seller_likelihood, propensity.buyer_activity_score,
                  engagement_metrics(activity, as_of).open_rate, tuple(weekly))


def score_population(population: Population, scorer: Scorer | None = None,
                     progress: Callable[[int], None] | None = None,
                     tally: dict[str, int] | None = None) -> Iterator[Scored]:
    """Each person followed through the run; `tally["events"]` counts the events streamed through."""
    scorer = scorer or integration_scorer(population_baseline(population))
    start = population.scenario().at(0)
    for n, (contact, events) in enumerate(_prepared(population), start=1):
        yield follow(contact, events, scorer, start, population.days, tally)
        if progress is not None:
            progress(n)


@dataclass
class Evaluation:
    contacts: int
    seed: int
    days: int
    as_of: str
    events: int
    separation: Separation
    by_archetype: dict[str, Distribution]
    machine_hot: int  # privacy-proxy openers and bot-clicked contacts rated hot: should be 0
    intent: Separation  # seller_likelihood / buyer_activity_score >= 80 as the detector instead
    figures: dict[str, float | None]  # measures.headline: the names other tools read

    def to_json(self) -> dict[str, Any]:
        document = json.loads(json.dumps(asdict(self), sort_keys=True))
        document.update(document.pop("figures"))  # the headline figures are top-level keys
        return document


def evaluate(scored: Iterable[Scored], population: Population, tally: dict[str, int] | None = None) -> Evaluation:
    """Figures over everyone scored; reads `tally` only after `scored` is exhausted."""
    rows = list(scored)
    by_arch: dict[str, tuple[list[int], list[str]]] = {}
    for row in rows:
        scores, categories = by_arch.setdefault(row.archetype, ([], []))
        scores.append(row.propensity_score)
        categories.append(row.propensity_category)

    def intent_flag(row: Scored, intent: str | None) -> bool:
        if intent is None:
            return max(row.seller_likelihood, row.buyer_activity_score) >= INTENT_THRESHOLD
        return (row.seller_likelihood if intent == "seller" else row.buyer_activity_score) >= INTENT_THRESHOLD

    return Evaluation(
        contacts=len(rows), seed=population.seed, days=population.days,
        as_of=population.as_of.isoformat().replace("+00:00", "Z"), events=(tally or {}).get("events", 0),
        separation=separation(rows, lambda row, _intent: row.propensity_category == "hot"),
        by_archetype={a: Distribution.of(*by_arch[a]) for a in sorted(by_arch)},
        machine_hot=sum(r.propensity_category == "hot" for r in rows if r.archetype in MACHINE_ARCHETYPES),
        intent=separation(rows, intent_flag),
        figures=headline(rows),
    )


def run(contacts: int, seed: int, days: int = 180, scorer: Scorer | None = None,
        progress: Callable[[int], None] | None = None, jobs: int | None = None) -> Evaluation:
    """Evaluate a seeded population; with the integration's scorer, `jobs` processes share the
    people (default: up to 2), and the figures are the same whatever the number of processes."""
    population = Population(contacts, seed, days)
    tally = {"events": 0}
    jobs = 1 if scorer is not None else (jobs or default_jobs(contacts))
    if jobs <= 1:
        return evaluate(score_population(population, scorer, progress, tally), population, tally)
    baseline = population_baseline(population)
    done = [0]

    def advance(count: int) -> None:
        done[0] += count
        if progress is not None:
            progress(done[0])

    shares = map_in_processes(_follow_share, [(contacts, seed, days, baseline, jobs, k) for k in range(jobs)],
                              jobs, advance)
    rows = sorted((row for rows, _events in shares for row in rows), key=lambda pair: pair[0])
    tally["events"] = sum(events for _rows, events in shares)
    return evaluate((scored for _index, scored in rows), population, tally)


def _follow_share(contacts: int, seed: int, days: int, baseline: AccountBaseline, jobs: int,
                  share: int) -> tuple[list[tuple[int, Scored]], int]:
    """A worker's part: every `jobs`-th person from `share` (others are skipped unsimulated)."""
    population = Population(contacts, seed, days)
    scorer = integration_scorer(baseline)
    start = population.scenario().at(0)
    tally = {"events": 0}
    rows = []
    for index, (contact, events) in enumerate(_prepared(population)):
        if index % jobs == share:
            rows.append((index, follow(contact, events, scorer, start, days, tally)))
            report(1)
    return rows, tally["events"]
