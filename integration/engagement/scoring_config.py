"""Every free parameter of engagement metrics and propensity scoring, in one place.

docs/scoring.md explains each one, why it has its value, and the arithmetic they produce for the
spec's stories; `ab-harness evaluate` measures what they do to a seeded population. Change a value
here and the stories' tests and the library scenarios say whether Maria and James still come
out right. The category bands themselves (80/60/40) are the contract's: `contract.categories`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .activity import RETENTION_DAYS


@dataclass(frozen=True)
class Decay:
    """Weights by age in days (index 0 = today), precomputed once per configuration."""

    rate: tuple[float, ...]
    short: tuple[float, ...]
    long: tuple[float, ...]


def _halving(half_life_days: float, days: int) -> tuple[float, ...]:
    return tuple(0.5 ** (age / half_life_days) for age in range(days))


@dataclass(frozen=True)
class ScoringConfig:
    # --- rates (base score: "open rate vs. average +/- 20", "click rate vs. average +/- 20") ---
    #: An email's weight in the rates halves every this many days (by send day), up to `lookback_days`.
    rate_half_life_days: float = 60.0
    #: How far back the rates and the trend look at all (at most the activity's retention).
    lookback_days: int = 120
    #: The rates and the trend leave out the last this many days (by day, 2 = today and
    #: yesterday): most opens come within a day of delivery, and a delivery must not look like a
    #: miss (nor an open count before its delivery) while the reader has not had the time.
    fresh_days: int = 2
    #: Points at and above `(1 + full_scale) x` the average; below the average the points fall
    #: linearly to minus the shortfall points at a rate of 0. Every above-average reader earns the
    #: opens' 20 from 1.5x the average on, so a steady reader's score does not wander with each
    #: open. A missing open or click is weak evidence (privacy proxies hide real opens, most
    #: readers never click), so falling short costs at most 10, not the spec's 20.
    open_points_max: float = 20.0
    open_shortfall_points: float = 10.0
    open_full_scale: float = 0.5
    click_points_max: float = 20.0
    click_shortfall_points: float = 10.0
    click_full_scale: float = 4.0
    #: A contact's rates are shrunk toward the account average as if this many (decayed) emails
    #: at the average had been added: one email moves a short history a little, not all the way.
    #: Opens vary a lot between people (a few emails tell); a click rate is the noisiest number
    #: there is and intent clicks already count in recency and content, so it takes many.
    open_prior_emails: float = 4.0
    click_prior_emails: float = 250.0

    # --- account baseline ----------------------------------------------------------------
    #: The average assumed for an account with no history (human opens and clicks per delivered
    #: email): Mailchimp's published real-estate benchmark, measured before privacy proxies
    #: inflated open counts (docs/scoring.md, section 9).
    default_open_rate: float = 0.20
    default_click_rate: float = 0.02
    #: The default counts as this many delivered emails when pooled with the account's own.
    baseline_prior_deliveries: int = 500
    #: Floors under the average so a dead account cannot make every open look heroic.
    min_open_rate: float = 0.05
    min_click_rate: float = 0.01

    # --- recency ("opened/clicked in the last 7 days +15, last 30 days +10") ---------------
    #: Full points up to `recency_full_days`, `recency_tier_share` of them at `recency_tier_days`,
    #: none from `recency_zero_days`: the spec's tiers joined by straight lines, so nothing drops
    #: by a third overnight.
    recency_full_days: float = 7.0
    recency_tier_days: float = 30.0
    recency_tier_share: float = 2 / 3
    recency_zero_days: float = 60.0
    opened_points: float = 15.0
    clicked_points: float = 15.0

    # --- trend ("increasing +30, stable +15, decreasing +0") ------------------------------
    trend_short_half_life_days: float = 14.0
    trend_long_half_life_days: float = 90.0
    #: The short rate is shrunk toward the long one as if this many emails at the long rate
    #: had been added.
    trend_prior_emails: float = 10.0
    #: Each link clicked counts this much engagement in the trend, on top of the open its click
    #: proves: six properties clicked in a week is a surge even if only two emails were opened.
    trend_click_weight: float = 1.0
    #: A short rate this far above (below) the long one earns all of the increasing (decreasing)
    #: points; in between the points are proportional.
    trend_full_delta: float = 0.13
    #: Falling takes a bigger drop for all of the decreasing points: a lull of two or three weeks
    #: is ordinary (holidays, a busy month), a rise is news.
    trend_full_drop: float = 0.25
    #: Within this much of the long rate the trend is plainly stable (15 points): week-to-week
    #: noise of a steady reader stays inside it.
    trend_stable_band: float = 0.04
    #: The 5.2 label: `increasing` / `decreasing` from this far apart, else `stable`.
    trend_label_delta: float = 0.06
    #: No human open or click in this many days (or nothing ever) is `inactive`.
    trend_inactive_days: int = 90
    trend_points: dict[str, float] = field(default_factory=lambda: {
        "increasing": 30.0, "stable": 15.0, "decreasing": 0.0, "inactive": 0.0})

    # --- content signals and intent -------------------------------------------------------
    #: The spec's content signals. Each intent score earns its own (seller: valuation; buyer:
    #: listing and financing), scaled by the decaying recency of the clicks behind it (capped at
    #: one click's worth), so a signal fades over weeks instead of vanishing on day 31.
    content_points: dict[str, float] = field(default_factory=lambda: {
        "valuation": 10.0, "listing": 10.0, "financing": 5.0})
    #: Content points count up to this many fresh clicks: a second valuation click is intent,
    #: the first may be curiosity.
    content_clicks_max: dict[str, float] = field(default_factory=lambda: {"valuation": 1.5})
    #: The links whose clicks speak for each intent.
    seller_click_categories: tuple[str, ...] = ("valuation",)
    buyer_click_categories: tuple[str, ...] = ("listing", "financing")
    #: Buyer emphasis on listing clicks: points per distinct property clicked beyond the first
    #: within `surge_window_days`, capped.
    surge_window_days: int = 7
    property_points: float = 5.0
    property_points_max: float = 20.0
    #: How much each intent applies to a contact type: (seller factor, buyer factor).
    intent_affinity: dict[str, tuple[float, float]] = field(default_factory=lambda: {
        "owner": (1.0, 0.3), "seller": (1.0, 0.3), "buyer": (0.3, 1.0), "lead": (1.0, 1.0)})
    #: Affinity for a contact of unknown type.
    default_affinity: tuple[float, float] = (1.0, 1.0)

    # --- categories and actions -------------------------------------------------------------
    #: A contact keeps its category until its score is more than this many points below the
    #: category's lower bound (moving up needs only the bound): no flip-flopping on noise.
    category_hysteresis: float = 5.0
    actions: dict[str, str] = field(default_factory=lambda: {
        "hot_seller": "Call this week - high seller intent",
        "hot_buyer": "Call today - active buyer",
        "warm": "Schedule follow-up this week",
        "cool": "Continue nurturing",
        "cold": "Re-engagement campaign",
        "bounced": "Update email address - last email hard-bounced",
        "unsubscribed": "Call instead - unsubscribed from email",
    })

    # --- contributing factors ---------------------------------------------------------------
    #: At most this many contributing factors are reported.
    max_factors: int = 6
    #: Windows of the plain counts quoted in factors ("69% open rate", "5/5 emails opened in 30 days").
    factor_rate_days: int = 90
    factor_recent_days: int = 30

    decay: Decay = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        longest = max(self.lookback_days, self.factor_rate_days, self.recency_zero_days, self.surge_window_days)
        if longest > RETENTION_DAYS:
            raise ValueError(f"windows reach back {longest} days, longer than activity retention ({RETENTION_DAYS})")
        if not self.recency_full_days < self.recency_tier_days < self.recency_zero_days:
            raise ValueError("recency days must satisfy full < tier < zero")
        if self.trend_short_half_life_days >= self.trend_long_half_life_days:
            raise ValueError("the trend's short half-life must be shorter than its long one")
        object.__setattr__(self, "decay", Decay(
            _halving(self.rate_half_life_days, self.lookback_days),
            _halving(self.trend_short_half_life_days, self.lookback_days),
            _halving(self.trend_long_half_life_days, self.lookback_days)))


DEFAULT_SCORING_CONFIG = ScoringConfig()
