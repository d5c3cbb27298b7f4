"""Propensity scoring, spec section 6, as written.

    propensity = clamp(base + recency + trend + content, 0, 100)
    base     = open points (+/-20) + click points (+/-20): the contact's rates against the account's
    recency  = opened in 7 days 15, else in 30 days 10; clicked likewise (max 30)
    trend    = increasing 30, stable 15, decreasing 0, inactive 0
    content  = clicked valuation 10, listing 10, financing 5 (within 30 days)

`seller_likelihood` and `buyer_activity_score` are the same sum taken over the intent's own
content (seller: market updates and valuation; buyer: listings and financing, plus a surge bonus
for many distinct properties in a week), then weighed by how well the intent fits the contact's
type (an owner's buyer score counts for 0.3). Every number is in `ScoringConfig`.

All terms only grow with more human engagement, so a later human open or click never lowers a
score at a fixed `as_of`; machine events only ever remove engagement.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from .activity import DAY, ContactActivity
from .ledger import B_CLICKED, B_DELIVERED, B_OPENED
from .content import CATEGORY_CODE
from .events import iso
from .machine import REASON_WORDS
from .metrics import Signals, signals
from .scoring_config import DEFAULT_SCORING_CONFIG, ScoringConfig

CATEGORIES = ("hot", "warm", "cool", "cold")
_LISTING = CATEGORY_CODE["listing"]


@dataclass(frozen=True)
class AccountBaseline:
    """The account's average human open and click rates (per delivered email, rate window).

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
        """Sum the rate-window buckets of every contact of the account (one pass, no sorting)."""
        today = int(as_of.timestamp()) // DAY
        first = today - config.rate_window_days + 1
        delivered = opened = clicked = 0
        for activity in activities:
            for day, row in activity.buckets.items():
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
class Breakdown:
    """The terms of each score, for docs, debugging and the stories' arithmetic."""

    open_points: float
    click_points: float
    recency: float
    trend: float
    content: float
    seller_recency: float
    seller_content: float
    buyer_recency: float
    buyer_content: float
    buyer_surge: float
    seller_raw: float
    buyer_raw: float
    affinity: tuple[float, float]


def score(activity: ContactActivity, contact_type: str | None, baseline: AccountBaseline,
          as_of: datetime, config: ScoringConfig = DEFAULT_SCORING_CONFIG) -> Propensity:
    """Score one contact as of `as_of` (`score_updated_at`)."""
    return score_signals(signals(activity, as_of, config), contact_type, baseline, as_of,
                         activity.email_status, config)[0]


def score_signals(sig: Signals, contact_type: str | None, baseline: AccountBaseline, as_of: datetime,
                  email_status: str = "subscribed", config: ScoringConfig = DEFAULT_SCORING_CONFIG,
                  ) -> tuple[Propensity, Breakdown]:
    open_pts = _rate_points(sig.window_opened, sig.window_delivered, baseline.open_rate,
                            config.open_points_max, config.open_full_scale)
    click_pts = _rate_points(sig.window_clicked, sig.window_delivered, baseline.click_rate,
                             config.click_points_max, config.click_full_scale)
    base = open_pts + click_pts
    trend = config.trend_points[sig.trend]
    now = sig.as_of_ts

    recency = _recency(now, sig.last_engaged_ts, sig.last_click_ts, config)
    content = _content(sig, config.content_points)
    propensity = _clamp(base + recency + trend + content)

    seller_codes = [CATEGORY_CODE[c] for c in config.seller_categories]
    buyer_codes = [CATEGORY_CODE[c] for c in config.buyer_categories]
    seller_recency = _recency(now, _latest(sig.last_engaged_by_kind, seller_codes),
                              _latest(sig.last_click_by_category, seller_codes), config)
    buyer_recency = _recency(now, _latest(sig.last_engaged_by_kind, buyer_codes),
                             _latest(sig.last_click_by_category, buyer_codes), config)
    seller_content = _content(sig, config.seller_content_points)
    buyer_content = _content(sig, config.buyer_content_points)
    surge = _buyer_surge(sig, buyer_codes, config)
    seller_raw = _clamp(base + seller_recency + trend + seller_content)
    buyer_raw = _clamp(base + buyer_recency + trend + buyer_content + surge)
    affinity = config.intent_affinity.get(contact_type or "", config.default_affinity)
    seller = round(affinity[0] * seller_raw)
    buyer = round(affinity[1] * buyer_raw)

    category = categorise(propensity, config)
    action = _action(propensity, seller, buyer, contact_type, sig, email_status, config)
    factors = _factors(sig, open_pts, baseline, seller >= buyer, config)
    breakdown = Breakdown(open_pts, click_pts, recency, trend, content, seller_recency, seller_content,
                          buyer_recency, buyer_content, surge, seller_raw, buyer_raw, affinity)
    result = Propensity(propensity, category, seller, buyer, action, as_of.astimezone(timezone.utc), factors)
    return result, breakdown


def categorise(value: int, config: ScoringConfig = DEFAULT_SCORING_CONFIG) -> str:
    if value >= config.hot_min:
        return "hot"
    if value >= config.warm_min:
        return "warm"
    if value >= config.cool_min:
        return "cool"
    return "cold"


def _rate_points(part: int, delivered: int, average: float, maximum: float, full_scale: float) -> float:
    """Piecewise linear in the rate: -maximum at 0, 0 at the average, +maximum at (1 + full_scale) x
    the average and beyond. The rate is capped at 1 (opens of emails whose delivery webhook was
    lost); with nothing delivered it is 1 if anything was opened, else there is no evidence: 0."""
    if delivered == 0:
        if part == 0:
            return 0.0
        rate = 1.0
    else:
        rate = min(1.0, part / delivered)
    if rate <= average:
        return maximum * (rate - average) / average
    return maximum * min(1.0, (rate - average) / (average * full_scale))


def _buyer_surge(sig: Signals, buyer_codes: list[int], config: ScoringConfig) -> float:
    """Many properties in a week, and a burst of listing emails read: an active search."""
    extra_properties = max(0, sig.distinct_links_by_category[_LISTING] - 1)
    points = min(config.property_points_max, config.property_points * extra_properties)
    if sum(sig.engaged_by_kind_recent[c] for c in buyer_codes) >= config.surge_min_emails:
        points += config.surge_points
    return points


def _recency(now: int, last_engaged: int | None, last_click: int | None, config: ScoringConfig) -> float:
    points = 0.0
    for last, short, long_ in ((last_engaged, config.opened_short_points, config.opened_long_points),
                               (last_click, config.clicked_short_points, config.clicked_long_points)):
        if last is None:
            continue
        age = now - last
        if age < config.recency_short_days * DAY:
            points += short
        elif age < config.recency_long_days * DAY:
            points += long_
    return points


def _content(sig: Signals, points: dict[str, float]) -> float:
    return sum(value for name, value in points.items() if sig.clicks_by_category[CATEGORY_CODE[name]])


def _latest(values: tuple[int | None, ...], codes: list[int]) -> int | None:
    found = [values[c] for c in codes if values[c] is not None]
    return max(found) if found else None


def _clamp(value: float) -> int:
    return int(max(0, min(100, round(value))))


def _action(propensity: int, seller: int, buyer: int, contact_type: str | None, sig: Signals,
            email_status: str, config: ScoringConfig) -> str:
    """By the category of the contact's strongest reading (overall or its primary intent)."""
    actions = config.actions
    if email_status == "bounced":
        return actions["bounced"]
    if email_status in ("unsubscribed", "complained"):
        return actions["unsubscribed"]
    if contact_type in ("owner", "seller"):
        intent = "seller"
    elif contact_type == "buyer":
        intent = "buyer"
    else:
        intent = "seller" if seller >= buyer else "buyer"
    category = categorise(max(propensity, seller if intent == "seller" else buyer), config)
    if category == "hot":
        return actions[f"hot_{intent}"]
    if category == "cool" and sig.trend in ("decreasing", "inactive"):
        return actions["cool_fading"]
    return actions[category]


def _within(ages: tuple[int, ...]) -> str:
    """The tightest of 7 / 14 / 30 days that holds every age."""
    oldest = max(ages)
    for days in (7, 14, 30):
        if oldest < days * DAY:
            return f"{days} days"
    return f"{-(-oldest // DAY)} days"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _factors(sig: Signals, open_pts: float, baseline: AccountBaseline, seller_first: bool,
             config: ScoringConfig) -> tuple[str, ...]:
    """Short sentences in the spec's style, strongest signal of the contact's intent first."""
    out: list[str] = []
    clicks = {name: sig.clicks_by_category[code] for name, code in CATEGORY_CODE.items()}
    seller_lines, buyer_lines = [], []
    if clicks["valuation"]:
        seller_lines.append(f"{_plural(len(clicks['valuation']), 'valuation link click')} in {_within(clicks['valuation'])}")
    if clicks["market_update"]:
        seller_lines.append(f"{_plural(len(clicks['market_update']), 'market update click')} in {_within(clicks['market_update'])}")
    if clicks["listing"]:
        buyer_lines.append(f"{_plural(len(clicks['listing']), 'property click')} in {_within(clicks['listing'])}")
    listing_opened = sig.engaged_by_kind_recent[_LISTING]
    if listing_opened >= 2:
        buyer_lines.append(f"{listing_opened} listing emails opened in {config.surge_window_days} days")
    if clicks["financing"]:
        buyer_lines.append(f"{_plural(len(clicks['financing']), 'financing link click')} in {_within(clicks['financing'])}")
    out += seller_lines + buyer_lines if seller_first else buyer_lines + seller_lines
    if sig.recent_delivered and sig.recent_opened:
        out.insert(0 if seller_first else len(out),
                   f"{sig.recent_opened}/{sig.recent_delivered} emails opened in {config.trend_recent_days} days")
    if sig.window_delivered and abs(open_pts) >= config.open_points_max / 4:
        rate = round(100 * sig.window_opened / sig.window_delivered)
        side = "above" if open_pts > 0 else "below"
        out.append(f"{rate}% open rate ({side} average)")
    out.append(f"engagement trend: {sig.trend}")
    if sig.trend == "inactive" and sig.delivered_ever:
        out.append(f"no opens or clicks in {config.trend_inactive_days} days")
    for kind, total in (("open", sig.machine_opens), ("click", sig.machine_clicks)):
        if total:
            words = sorted({REASON_WORDS[r] for r, n in sig.machine_reasons.items()
                            if n and r != "provider_flagged" and (r in _OPEN_REASONS) == (kind == "open")})
            reason = f" ({', '.join(words)})" if words else ""
            out.append(f"{_plural(total, 'machine ' + kind)} excluded{reason}")
    return tuple(out[: config.max_factors])


_OPEN_REASONS = frozenset({"privacy_proxy", "apple_proxy_ip", "open_at_delivery"})
