"""Propensity scoring: spec section 6's methodology, its free parameters chosen to be steady.

Each intent score is the spec's sum over the signals of that intent (docs/scoring.md, section 6)::

    seller_likelihood    = affinity_seller x clamp(shared + clicked[seller] + content[seller])
    buyer_activity_score = affinity_buyer  x clamp(shared + clicked[buyer]  + content[buyer] + surge)
    shared   = open points (+20 / -10) + click points (+20 / -10): the contact's rates, shrunk toward
               the account average by the evidence behind them, against that average
             + 15 x fading recency of the newest human open or click
             + trend: 15 +/- 15 in proportion to how far the short engagement rate is above or
               below the long one, beyond a stable band (inactive: 0)
    clicked  = 15 x the intent's clicks as a fading count, capped at one fresh click
    content  = the spec's valuation 10 / listing 10 / financing 5, fading like recency
    surge    = 5 per distinct property clicked in 7 days beyond the first (max 20)

`propensity_score` is the larger intent score: the propensity of the contact to do what its
strongest intent says. One rule then gives everything the agent reads: its band
(`contract.categories`) is `propensity_category` and the category with that intent is
`recommended_action`, so "warm" never comes with "call". Hysteresis: a contact keeps the category
it held until the score falls more than `category_hysteresis` points below that band, and
meanwhile `propensity_score` shows the band's lower bound, so the category is always the band of
the score AgentBuddy sees.

Every term only grows with more human engagement later than what is already recorded, so a new
open or click never lowers a score; machine events only ever remove engagement. Every number is
in `ScoringConfig`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from contract.categories import CATEGORIES, LOWER_BOUND, category_for, rank

from .activity import DAY, ContactActivity
from .content import CATEGORY_CODE
from .events import iso
from .factors import factors
from .ledger import B_CLICKED, B_DELIVERED, B_OPENED
from .scoring_config import DEFAULT_SCORING_CONFIG, ScoringConfig
from .signals import Signals, recency, signals

__all__ = ["CATEGORIES", "AccountBaseline", "Breakdown", "Propensity", "categorise", "score", "score_signals"]


@dataclass(frozen=True)
class AccountBaseline:
    """The account's average human open and click rates (per delivered email, last 90 days).

    Pooled with the configured default weighted as `baseline_prior_deliveries` emails, so a new
    or small account scores against a sensible average and a big one against its own.
    """

    open_rate: float
    click_rate: float
    delivered: int = 0

    @classmethod
    def default(cls, config: ScoringConfig = DEFAULT_SCORING_CONFIG) -> AccountBaseline:
        return cls.pooled(0, 0, 0, config)

    @classmethod
    def pooled(cls, delivered: int, opened: int, clicked: int,
               config: ScoringConfig = DEFAULT_SCORING_CONFIG) -> AccountBaseline:
        prior = config.baseline_prior_deliveries
        total = delivered + prior
        open_rate = (opened + prior * config.default_open_rate) / total if total else config.default_open_rate
        click_rate = (clicked + prior * config.default_click_rate) / total if total else config.default_click_rate
        return cls(max(open_rate, config.min_open_rate), max(click_rate, config.min_click_rate), delivered)

    @classmethod
    def from_activities(cls, activities: Iterable[ContactActivity], as_of: datetime,
                        config: ScoringConfig = DEFAULT_SCORING_CONFIG) -> AccountBaseline:
        """Sum the last 90 days' buckets of every contact of the account (one pass, no sorting)."""
        today = int(as_of.timestamp()) // DAY
        first = today - config.factor_rate_days + 1
        delivered = opened = clicked = 0
        for activity in activities:
            for day, row in activity.ledger.buckets.items():
                if first <= day <= today:
                    delivered += row[B_DELIVERED]
                    opened += row[B_OPENED]
                    clicked += row[B_CLICKED]
        return cls.pooled(delivered, opened, clicked, config)


@dataclass(frozen=True)
class Propensity:
    """The contract's 5.3 fields (contact_id travels alongside, with the activity)."""

    propensity_score: int
    propensity_category: str
    seller_likelihood: int
    buyer_activity_score: int
    recommended_action: str
    score_updated_at: datetime
    contributing_factors: tuple[str, ...]

    def to_contract(self, contact_id: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {} if contact_id is None else {"contact_id": contact_id}
        out.update(propensity_score=self.propensity_score, propensity_category=self.propensity_category,
                   seller_likelihood=self.seller_likelihood, buyer_activity_score=self.buyer_activity_score,
                   recommended_action=self.recommended_action, score_updated_at=iso(self.score_updated_at),
                   contributing_factors=list(self.contributing_factors))
        return out


@dataclass(frozen=True)
class Intent:
    """One intent score's terms (before the contact-type affinity)."""

    recency: float
    content: float
    surge: float
    raw: int
    score: int


@dataclass(frozen=True)
class Breakdown:
    """The terms of each score, for docs, debugging and the stories' arithmetic."""

    open_points: float
    click_points: float
    trend: float
    seller: Intent
    buyer: Intent
    affinity: tuple[float, float]


def score(activity: ContactActivity, contact_type: str | None, baseline: AccountBaseline, as_of: datetime,
          config: ScoringConfig = DEFAULT_SCORING_CONFIG, *, previous_category: str | None = None) -> Propensity:
    """Score one contact as of `as_of` (`score_updated_at`); `previous_category` is the category
    it held until now (for hysteresis), None when it has none."""
    return score_signals(signals(activity, as_of, config), contact_type, baseline, as_of,
                         activity.email_status, config, previous_category=previous_category)[0]


def score_signals(sig: Signals, contact_type: str | None, baseline: AccountBaseline, as_of: datetime,
                  email_status: str = "subscribed", config: ScoringConfig = DEFAULT_SCORING_CONFIG, *,
                  previous_category: str | None = None) -> tuple[Propensity, Breakdown]:
    open_pts = _rate_points(sig.rate_opened, sig.rate_delivered, baseline.open_rate, config.open_prior_emails,
                            config.open_points_max, config.open_shortfall_points, config.open_full_scale)
    click_pts = _rate_points(sig.rate_clicked, sig.rate_delivered, baseline.click_rate, config.click_prior_emails,
                             config.click_points_max, config.click_shortfall_points, config.click_full_scale)
    base = open_pts + click_pts
    trend = trend_points(sig, config)
    affinity = config.intent_affinity.get(contact_type or "", config.default_affinity)
    opened = 0.0 if sig.last_engaged_ts is None else recency(sig.as_of_ts - sig.last_engaged_ts, config)
    shared = base + trend + config.opened_points * opened
    seller = _intent(sig, shared, affinity[0], config.seller_click_categories, 0.0, config)
    buyer = _intent(sig, shared, affinity[1], config.buyer_click_categories, _surge(sig, config), config)
    seller_first = seller.score >= buyer.score
    leading = seller.score if seller_first else buyer.score
    category = categorise(leading, previous_category, config)
    # Held within the margin, the score shown is the held band's floor: score and category always
    # agree (the contract's rule), and the number does not wobble while the category holds.
    propensity = max(leading, LOWER_BOUND[category])
    action = _action(category, "seller" if seller_first else "buyer", email_status, config)
    result = Propensity(propensity, category, seller.score, buyer.score, action, as_of.astimezone(timezone.utc),
                        factors(sig, open_pts, seller_first, config))
    return result, Breakdown(open_pts, click_pts, trend, seller, buyer, affinity)


def categorise(value: float, previous: str | None = None, config: ScoringConfig = DEFAULT_SCORING_CONFIG) -> str:
    """The band of `value` (`contract.categories`), with hysteresis against `previous`.

    Moving up takes only the band's lower bound; moving down takes falling more than
    `category_hysteresis` points below the bound of the category held. So a score wandering
    around 60 does not turn a contact warm, cool, warm, cool week after week.
    """
    plain = category_for(value)
    if previous not in LOWER_BOUND or rank(plain) <= rank(previous):
        return plain
    lowered = category_for(value + config.category_hysteresis)
    return previous if rank(lowered) <= rank(previous) else lowered


def trend_points(sig: Signals, config: ScoringConfig = DEFAULT_SCORING_CONFIG) -> float:
    """Stable's points, plus or minus up to the spread to increasing/decreasing, in proportion to
    how far the short rate is from the long one beyond the stable band."""
    points = config.trend_points
    if sig.trend == "inactive":
        return points["inactive"]
    band, delta = config.trend_stable_band, sig.trend_delta
    full = config.trend_full_delta if delta >= 0 else config.trend_full_drop
    share = 0.0 if abs(delta) <= band else min(1.0, (abs(delta) - band) / (full - band))
    share = share if delta >= 0 else -share
    if share >= 0:
        return points["stable"] + share * (points["increasing"] - points["stable"])
    return points["stable"] + share * (points["stable"] - points["decreasing"])


def _rate_points(part: float, delivered: float, average: float, prior: float, maximum: float,
                 shortfall: float, full_scale: float) -> float:
    """The shrunk rate against the average: 0 at the average (and with no evidence), +maximum at
    `(1 + full_scale) x` the average and beyond, -shortfall at a rate of 0."""
    rate = min(1.0, (part + prior * average) / (delivered + prior)) if delivered + prior else average
    if rate <= average:
        return shortfall * (rate - average) / average
    return maximum * min(1.0, (rate - average) / (average * full_scale))


def _intent(sig: Signals, shared: float, affinity: float, click_categories: tuple[str, ...], surge: float,
            config: ScoringConfig) -> Intent:
    """The shared terms plus what only this intent's clicks earn: clicked recency and content."""
    clicked = config.clicked_points * _evidence(sig, click_categories, config)
    content = sum(config.content_points.get(c, 0.0) * _evidence(sig, (c,), config, config.content_clicks_max.get(c, 1.0))
                  for c in click_categories)
    raw = _clamp(shared + clicked + content + surge)
    return Intent(clicked, content, surge, raw, _clamp(affinity * raw))


def _evidence(sig: Signals, categories: tuple[str, ...], config: ScoringConfig, cap: float = 1.0) -> float:
    """Clicks in these categories as a decayed count (a fresh click is 1), capped."""
    total = 0.0
    for category in categories:
        for age in sig.click_ages_by_category[CATEGORY_CODE[category]]:
            total += recency(age, config)
            if total >= cap:
                return cap
    return total


def _surge(sig: Signals, config: ScoringConfig) -> float:
    """Many properties in a week: an active search."""
    extra = max(0, sig.distinct_links_by_category[CATEGORY_CODE["listing"]] - 1)
    return min(config.property_points_max, config.property_points * extra)


def _clamp(value: float) -> int:
    return int(max(0, min(100, round(value))))


def _action(category: str, intent: str, email_status: str, config: ScoringConfig) -> str:
    """One rule: the category (and, when hot, the intent that made it so) names the action; only
    a closed email channel overrides it, because then the advice must not be to email."""
    actions = config.actions
    if email_status == "bounced":
        return actions["bounced"]
    if email_status in ("unsubscribed", "complained"):
        return actions["unsubscribed"]
    if category == "hot":
        return actions[f"hot_{intent}"]
    return actions[category]
