"""How well the integration's scoring separates planted intent from everyone else.

A seeded population (see `generator`) is pushed, event by event, through the integration's
pure engagement code — `ContactActivity.apply`, then the scorer at one fixed `as_of` — exactly
as the pipeline would, but without servers or a database. Machine opens and scanner clicks go
in unlabelled: telling them apart is the integration's job, and part of what is measured.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator

from integration.engagement import AccountBaseline, ContactActivity, EngagementEvent, natural_event_id, prepare, score

from . import model as m
from .generator import PLANTED_INTENT, Population
from .timeline import SimEvent

CATEGORIES = ("hot", "warm", "cool", "cold")
INTENT_THRESHOLD = 80  # the 'hot' band, applied to seller_likelihood / buyer_activity_score


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


@dataclass(frozen=True)
class Scored:
    contact_id: str
    archetype: str
    contact_type: str
    propensity_score: int
    propensity_category: str
    seller_likelihood: int | None
    buyer_activity_score: int | None


Scorer = Callable[[ContactActivity, m.Contact, datetime], dict[str, Any]]
BASELINE_SAMPLE = 2000


def integration_scorer(baseline: AccountBaseline | None = None) -> Scorer:
    """The integration's own scorer, adapted to (activity, contact, as_of) -> 5.3 fields."""
    baseline = baseline or AccountBaseline.default()

    def scorer(activity: ContactActivity, contact: m.Contact, as_of: datetime) -> dict[str, Any]:
        return score(activity, contact.type, baseline, as_of).to_contract()

    return scorer


def activities(population: Population, limit: int | None = None) -> Iterator[tuple[m.Contact, ContactActivity, int]]:
    """Each person's activity after all their events went through `prepare` + `apply`."""
    campaigns = {c.id: c for c in population.scenario().campaigns}
    for n, (contact, events) in enumerate(population.people(), start=1):
        if limit is not None and n > limit:
            return
        activity = ContactActivity(contact.id)
        applied = 0
        for event in events:
            activity.apply(prepare(to_engagement_event(event, campaigns[event.campaign_id])))
            applied += 1
        yield contact, activity, applied


def population_baseline(population: Population, sample: int = BASELINE_SAMPLE) -> AccountBaseline:
    """The account's average rates, as the pipeline computes them, from the first `sample` people.

    People are drawn independently, so a prefix is a fair sample; holding every activity of a
    100,000-person account in memory just for two averages would not be.
    """
    return AccountBaseline.from_activities((a for _, a, _ in activities(population, sample)), population.as_of)


def score_population(population: Population, scorer: Scorer | None = None,
                     progress: Callable[[int], None] | None = None,
                     tally: dict[str, int] | None = None) -> Iterator[Scored]:
    """Each person's score at `as_of`; `tally["events"]` counts the events streamed through."""
    scorer = scorer or integration_scorer(population_baseline(population))
    as_of = population.as_of
    for n, (contact, activity, applied) in enumerate(activities(population), start=1):
        if tally is not None:
            tally["events"] = tally.get("events", 0) + applied
        fields = scorer(activity, contact, as_of)
        yield Scored(contact.id, contact.archetype or "", contact.type, int(fields["propensity_score"]),
                     fields["propensity_category"], fields.get("seller_likelihood"),
                     fields.get("buyer_activity_score"))
        if progress is not None:
            progress(n)


# ---- figures -------------------------------------------------------------------------------

@dataclass
class Distribution:
    n: int
    min: int
    p25: float
    median: float
    p75: float
    max: int
    categories: dict[str, int]

    @classmethod
    def of(cls, scores: list[int], categories: list[str]) -> "Distribution":
        ordered = sorted(scores)
        quartiles = statistics.quantiles(ordered, n=4, method="inclusive") if len(ordered) > 1 else [ordered[0]] * 3
        return cls(len(ordered), ordered[0], round(quartiles[0], 1), round(quartiles[1], 1),
                   round(quartiles[2], 1), ordered[-1], {c: categories.count(c) for c in CATEGORIES})


@dataclass
class Separation:
    """'hot' as a detector of planted intent (sellers and buyers together, and each alone)."""

    planted: int
    hot: int
    true_positives: int
    precision: float | None
    recall: float | None
    per_intent: dict[str, dict[str, Any]] = field(default_factory=dict)


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

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), sort_keys=True))


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def evaluate(scored: Iterable[Scored], population: Population, tally: dict[str, int] | None = None) -> Evaluation:
    """Figures over everyone scored; reads `tally` only after `scored` is exhausted."""
    by_arch: dict[str, tuple[list[int], list[str]]] = {}
    planted = hot = tp = machine_hot = 0
    per_intent = {kind: {"planted": 0, "hot": 0} for kind in ("seller", "buyer")}
    intent_counts = {"flagged": 0, "true_positives": 0}
    intent_rows = {kind: {"planted": 0, "hot": 0} for kind in ("seller", "buyer")}
    for s in scored:
        scores, cats = by_arch.setdefault(s.archetype, ([], []))
        scores.append(s.propensity_score)
        cats.append(s.propensity_category)
        intent = PLANTED_INTENT.get(s.archetype)
        is_hot = s.propensity_category == "hot"
        hot += is_hot
        if intent:
            planted += 1
            per_intent[intent]["planted"] += 1
            per_intent[intent]["hot"] += is_hot
            tp += is_hot
        if is_hot and s.archetype in ("privacy_proxy_opener", "bot_clicker"):
            machine_hot += 1
        seller_flag = (s.seller_likelihood or 0) >= INTENT_THRESHOLD
        buyer_flag = (s.buyer_activity_score or 0) >= INTENT_THRESHOLD
        if seller_flag or buyer_flag:
            intent_counts["flagged"] += 1
            intent_counts["true_positives"] += bool(intent)
        if intent:
            intent_rows[intent]["planted"] += 1
            intent_rows[intent]["hot"] += seller_flag if intent == "seller" else buyer_flag
    for intent, row in per_intent.items():
        row["recall"] = _ratio(row["hot"], row["planted"])
    separation = Separation(planted, hot, tp, _ratio(tp, hot), _ratio(tp, planted), per_intent)
    flagged, flagged_tp = intent_counts["flagged"], intent_counts["true_positives"]
    for row in intent_rows.values():
        row["recall"] = _ratio(row["hot"], row["planted"])
    intent = Separation(planted, flagged, flagged_tp, _ratio(flagged_tp, flagged), _ratio(flagged_tp, planted),
                        intent_rows)
    return Evaluation(
        contacts=sum(len(v[0]) for v in by_arch.values()), seed=population.seed, days=population.days,
        as_of=population.as_of.isoformat().replace("+00:00", "Z"), events=(tally or {}).get("events", 0),
        separation=separation,
        by_archetype={a: Distribution.of(*by_arch[a]) for a in sorted(by_arch)}, machine_hot=machine_hot,
        intent=intent,
    )


def run(contacts: int, seed: int, days: int = 180, scorer: Scorer | None = None,
        progress: Callable[[int], None] | None = None) -> Evaluation:
    population = Population(contacts, seed, days)
    tally = {"events": 0}
    return evaluate(score_population(population, scorer, progress, tally), population, tally)


def render(evaluation: Evaluation, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    sep = evaluation.separation
    console.print(f"[bold]Evaluation[/] of {evaluation.contacts:,} contacts (seed {evaluation.seed}, "
                  f"{evaluation.days} days, {evaluation.events:,} provider events, as of {evaluation.as_of})")
    console.print(f"'hot' as a detector of planted intent: precision [bold]{_pct(sep.precision)}[/], recall "
                  f"[bold]{_pct(sep.recall)}[/] ({sep.true_positives} of {sep.planted} planted sellers/buyers hot; "
                  f"{sep.hot} hot in all)")
    for intent, row in sep.per_intent.items():
        console.print(f"  planted {intent}s: {row['hot']} of {row['planted']} hot (recall {_pct(row['recall'])})")
    it = evaluation.intent
    console.print(f"seller_likelihood or buyer_activity_score >= {INTENT_THRESHOLD} as the detector: precision "
                  f"[bold]{_pct(it.precision)}[/], recall [bold]{_pct(it.recall)}[/] ({it.true_positives} of "
                  f"{it.planted} planted; {it.hot} flagged in all)")
    for intent, row in it.per_intent.items():
        score_name = "seller_likelihood" if intent == "seller" else "buyer_activity_score"
        console.print(f"  planted {intent}s: {row['hot']} of {row['planted']} with {score_name} >= "
                      f"{INTENT_THRESHOLD} (recall {_pct(row['recall'])})")
    console.print(f"machine-only engagement rated hot: [bold]{evaluation.machine_hot}[/] (privacy-proxy openers, bot-clicked)")
    table = Table(title="Propensity score by archetype")
    for column in ("archetype", "n", "min", "p25", "median", "p75", "max", "hot", "warm", "cool", "cold"):
        table.add_column(column, justify="left" if column == "archetype" else "right", no_wrap=True)
    for name, d in evaluation.by_archetype.items():
        planted = " *" if name in PLANTED_INTENT else ""
        table.add_row(name + planted, str(d.n), str(d.min), f"{d.p25:g}", f"{d.median:g}", f"{d.p75:g}", str(d.max),
                      *(str(d.categories[c]) for c in CATEGORIES))
    console.print(table)
    console.print("* planted intent (surging sellers, active buyers)")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"
