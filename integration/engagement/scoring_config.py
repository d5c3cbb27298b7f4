"""Every free parameter of engagement metrics and propensity scoring, in one place.

docs/scoring.md explains each one and shows the arithmetic they produce for the spec's stories.
Change a value here and the stories' tests say whether Maria and James still come out right.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .activity import RETENTION_DAYS


@dataclass(frozen=True)
class ScoringConfig:
    # --- rates (base score) -------------------------------------------------------------
    #: Window, in days of send date, over which the scoring open/click rates are measured.
    rate_window_days: int = 90
    #: Most points the open rate (and the click rate) can add or take away (spec: +/- 20).
    open_points_max: float = 20.0
    click_points_max: float = 20.0
    #: Above the average, the relative excess that earns full points: 2.0 means an open rate
    #: three times the average is +20. Below the average the scale is the average itself: no
    #: opens at all is -20. (Rates are skewed: far more room above the mean than below it.)
    open_full_scale: float = 2.0
    #: Click rates spread much wider around their small mean: +20 needs five times the average.
    click_full_scale: float = 4.0

    # --- account baseline ---------------------------------------------------------------
    #: The average assumed for an account with no history (human opens, human clicks per
    #: delivered email; machine opens excluded, so lower than provider dashboards show).
    default_open_rate: float = 0.30
    default_click_rate: float = 0.05
    #: The default counts as this many delivered emails when pooled with the account's own,
    #: so a small account's average stays near the default and a large one's is its own.
    baseline_prior_deliveries: int = 500
    #: Floors under the average so a dead account cannot make every open look heroic.
    min_open_rate: float = 0.05
    min_click_rate: float = 0.01

    # --- recency bonus ------------------------------------------------------------------
    #: The two recency tiers; a contact earns the short tier or the long one, not both.
    recency_short_days: int = 7
    recency_long_days: int = 30
    opened_short_points: float = 15.0
    opened_long_points: float = 10.0
    clicked_short_points: float = 15.0
    clicked_long_points: float = 10.0

    # --- trend ---------------------------------------------------------------------------
    #: Recent window and the window before it (days); rates are compared between the two.
    trend_recent_days: int = 30
    trend_previous_days: int = 60
    #: No human open or click in this many days (or nothing ever delivered) is `inactive`.
    trend_inactive_days: int = 90
    #: A change counts when it is at least this many rate points (0.10 = 10 percentage points)...
    trend_min_delta: float = 0.10
    #: ...and at least this fraction of the previous rate.
    trend_relative_delta: float = 0.25
    #: With no previous-window history, a recent rate this high is `increasing`, else `stable`.
    trend_new_contact_rate: float = 0.5
    trend_points: dict[str, float] = field(default_factory=lambda: {
        "increasing": 30.0, "stable": 15.0, "decreasing": 0.0, "inactive": 0.0})

    # --- content signals ----------------------------------------------------------------
    #: Clicks on these categories within `content_window_days` earn the points once each.
    content_window_days: int = 30
    content_points: dict[str, float] = field(default_factory=lambda: {
        "valuation": 10.0, "listing": 10.0, "financing": 5.0})

    # --- intent scores ------------------------------------------------------------------
    #: Email and link categories that count toward seller likelihood / buyer activity recency.
    seller_categories: tuple[str, ...] = ("valuation", "market_update")
    buyer_categories: tuple[str, ...] = ("listing", "financing")
    #: Content points each intent score earns (seller: valuation; buyer: listings).
    seller_content_points: dict[str, float] = field(default_factory=lambda: {
        "valuation": 10.0, "financing": 5.0})
    buyer_content_points: dict[str, float] = field(default_factory=lambda: {
        "listing": 10.0, "financing": 5.0})
    #: Buyer emphasis on listing clicks: points per distinct property clicked beyond the first
    #: within `surge_window_days`, capped.
    surge_window_days: int = 7
    property_points: float = 2.0
    property_points_max: float = 10.0
    #: Buyer "recent surge": this many buyer-category emails first opened or clicked within
    #: `surge_window_days` earns `surge_points`.
    surge_min_emails: int = 3
    surge_points: float = 10.0
    #: How much each intent applies to a contact type: (seller factor, buyer factor).
    intent_affinity: dict[str, tuple[float, float]] = field(default_factory=lambda: {
        "owner": (1.0, 0.3), "seller": (1.0, 0.3), "buyer": (0.3, 1.0), "lead": (0.7, 0.7)})
    #: Affinity for a contact of unknown type.
    default_affinity: tuple[float, float] = (0.7, 0.7)

    # --- categories and actions ---------------------------------------------------------
    #: Lower bounds of the categories (spec: hot 80-100, warm 60-79, cool 40-59, cold 0-39).
    hot_min: int = 80
    warm_min: int = 60
    cool_min: int = 40
    actions: dict[str, str] = field(default_factory=lambda: {
        "hot_seller": "Call this week - high seller intent",
        "hot_buyer": "Call today - active buyer",
        "warm": "Schedule follow-up this week",
        "cool": "Continue nurturing",
        "cool_fading": "Add to nurture sequence",
        "cold": "Re-engagement campaign",
        "bounced": "Update email address - last email hard-bounced",
        "unsubscribed": "Call instead - unsubscribed from email",
    })
    #: At most this many contributing factors are reported.
    max_factors: int = 6

    def __post_init__(self) -> None:
        longest = max(self.rate_window_days, self.trend_recent_days + self.trend_previous_days,
                      self.content_window_days, self.surge_window_days, self.recency_long_days)
        if longest > RETENTION_DAYS:
            raise ValueError(f"windows reach back {longest} days, longer than activity retention ({RETENTION_DAYS})")
        if not (0 < self.cool_min < self.warm_min < self.hot_min <= 100):
            raise ValueError("category bounds must satisfy 0 < cool < warm < hot <= 100")
        if self.recency_short_days >= self.recency_long_days:
            raise ValueError("recency_short_days must be shorter than recency_long_days")


DEFAULT_SCORING_CONFIG = ScoringConfig()
