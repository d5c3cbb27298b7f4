"""The figures of an evaluation: how well scores find planted intent, and how steady they are.

Pure functions over `Scored` rows (one per person, see evaluate.py), so the definitions can be
read, and tested, apart from the machinery that produces them. The names of the top-level
figures are an interface other tools read (`ab-harness evaluate --json`):

* `hot_precision`, `hot_recall`, `hot_recall_sellers`, `hot_recall_buyers`: "hot" (the category
  whose action is a call) at the end of the run as a detector of planted intent;
* `auc_seller`: planted sellers against every other contact typed owner or seller, ranked by
  `seller_likelihood`; `auc_buyer`: planted buyers against every other buyer, ranked by
  `buyer_activity_score` (ties count half: Mann-Whitney U / (positives x negatives));
* `weekly_category_change_rate`: over people whose planted behaviour never changes (steady,
  dormant, privacy-proxy openers, bot-clicked), the share of consecutive weekly readings whose
  category differs;
* `steady_cold_share`: steady readers whose lifetime human open rate is at least 50 %, scored
  cold at the end (they read most of their mail: "re-engagement" would be wrong advice).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable

from contract.categories import CATEGORIES

from scenarios.people.generator import PLANTED_INTENT

#: Archetypes whose planted behaviour is the same from the first day to the last.
CONSTANT_ARCHETYPES = ("steady", "dormant", "privacy_proxy_opener", "bot_clicker")
#: Archetypes whose only engagement beyond chance is a machine's.
MACHINE_ARCHETYPES = ("privacy_proxy_opener", "bot_clicker")
#: A steady reader opening at least this share (percent) of their email must not end cold.
STEADY_READER_OPEN_RATE = 50.0


@dataclass(frozen=True)
class Scored:
    """One person at the end of the run, and the category AgentBuddy held at each week's end."""

    contact_id: str
    archetype: str
    contact_type: str
    propensity_score: int
    propensity_category: str
    seller_likelihood: int
    buyer_activity_score: int
    open_rate: float                 # lifetime human open rate (5.2), percent
    weekly: tuple[str, ...] = ()


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
    def of(cls, scores: list[int], categories: list[str]) -> Distribution:
        ordered = sorted(scores)
        quartiles = statistics.quantiles(ordered, n=4, method="inclusive") if len(ordered) > 1 else [ordered[0]] * 3
        return cls(len(ordered), ordered[0], round(quartiles[0], 1), round(quartiles[1], 1),
                   round(quartiles[2], 1), ordered[-1], {c: categories.count(c) for c in CATEGORIES})


@dataclass
class Separation:
    """A detector of planted intent (sellers and buyers together, and each alone)."""

    planted: int
    hot: int
    true_positives: int
    precision: float | None
    recall: float | None
    per_intent: dict[str, dict[str, Any]] = field(default_factory=dict)


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def separation(rows: list[Scored], flagged) -> Separation:
    """How `flagged(row)` finds planted intent: precision, recall, recall per intent."""
    per_intent = {kind: {"planted": 0, "hot": 0} for kind in ("seller", "buyer")}
    hot = true_positives = 0
    for row in rows:
        intent = PLANTED_INTENT.get(row.archetype)
        is_flagged = bool(flagged(row, intent))
        hot += is_flagged
        if intent:
            per_intent[intent]["planted"] += 1
            per_intent[intent]["hot"] += is_flagged
            true_positives += is_flagged
    for counts in per_intent.values():
        counts["recall"] = ratio(counts["hot"], counts["planted"])
    planted = sum(c["planted"] for c in per_intent.values())
    return Separation(planted, hot, true_positives, ratio(true_positives, hot), ratio(true_positives, planted),
                      per_intent)


def auc(positives: list[float], negatives: list[float]) -> float | None:
    """The probability that a random positive outranks a random negative (ties count half)."""
    if not positives or not negatives:
        return None
    ranked = sorted([(value, 1) for value in positives] + [(value, 0) for value in negatives])
    rank_sum = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mean_rank = (i + 1 + j) / 2  # ranks i+1 .. j share their mean
        rank_sum += mean_rank * sum(flag for _, flag in ranked[i:j])
        i = j
    p, n = len(positives), len(negatives)
    return round((rank_sum - p * (p + 1) / 2) / (p * n), 4)


def weekly_change_rate(rows: Iterable[Scored]) -> float | None:
    changes = pairs = 0
    for row in rows:
        if row.archetype in CONSTANT_ARCHETYPES:
            for before, after in zip(row.weekly, row.weekly[1:]):
                pairs += 1
                changes += before != after
    return ratio(changes, pairs)


def headline(rows: list[Scored]) -> dict[str, float | None]:
    """The figures the issue names, with exactly those names."""
    hot = separation(rows, lambda row, _intent: row.propensity_category == "hot")
    steady = [r for r in rows if r.archetype == "steady" and r.open_rate >= STEADY_READER_OPEN_RATE]
    sellers = [r.seller_likelihood for r in rows if r.archetype == "surging_seller"]
    other_owners = [r.seller_likelihood for r in rows
                    if r.archetype != "surging_seller" and r.contact_type in ("owner", "seller")]
    buyers = [r.buyer_activity_score for r in rows if r.archetype == "active_buyer"]
    other_buyers = [r.buyer_activity_score for r in rows if r.archetype != "active_buyer" and r.contact_type == "buyer"]
    return {
        "hot_precision": hot.precision,
        "hot_recall": hot.recall,
        "hot_recall_sellers": hot.per_intent["seller"]["recall"],
        "hot_recall_buyers": hot.per_intent["buyer"]["recall"],
        "auc_seller": auc(sellers, other_owners),
        "auc_buyer": auc(buyers, other_buyers),
        "weekly_category_change_rate": weekly_change_rate(rows),
        "steady_cold_share": ratio(sum(r.propensity_category == "cold" for r in steady), len(steady)),
    }
