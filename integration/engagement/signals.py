"""What scoring reads about one contact at one moment, in one pass over the ledger.

Everything is human-only (machine opens and clicks never reach the ledger's buckets or logs) and
a click counts as an open of its email: the ledger's "opened" and "engaged" already include
emails that were only clicked.

Windows fade instead of ending: an email weighs `2^(-age / half-life)` in the rates and the
trend, so an email leaving a window never moves a score by itself. The plain counts of the last
30 and 90 days are kept too, for the sentences in `contributing_factors`.

* rates: decayed delivered, opened and clicked emails, by send day (half-life
  `rate_half_life_days`); scoring shrinks them toward the account average.
* trend: the engagement rate (emails first opened or clicked, by the day it happened, plus one
  per link clicked, per email delivered) over a short half-life against a long one; the short
  rate is shrunk toward the long one by `trend_prior_emails`, so two opens in a row are a hint
  and a month of them a trend. `inactive` with no human engagement in `trend_inactive_days`.
* the rates and the trend leave out the last `fresh_days` (deliveries and engagement alike):
  a delivery is not a miss before its reader had time to open it, and an open must not count
  before its delivery does, else every new email would dip or spike the score for a few hours.
  Recency, content and surge see everything at once.
* recency: the newest human open or click (folded-away emails included), and every human click
  of the last `recency_zero_days` by link category (their ages feed the fading clicked-recency
  and content terms; distinct links of the last `surge_window_days` feed the buyer surge).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .activity import DAY, ContactActivity
from .content import CATEGORY_CODE
from .ledger import C_DELIVERED, C_MACHINE_CLICKS, C_MACHINE_OPENS
from .scoring_config import DEFAULT_SCORING_CONFIG, ScoringConfig

TRENDS = ("increasing", "stable", "decreasing", "inactive")
_N_CATEGORIES = len(CATEGORY_CODE)


@dataclass(frozen=True)
class Signals:
    """Everything scoring reads about one contact at one moment (all human-only)."""

    as_of_ts: int
    delivered_ever: int
    rate_delivered: float          # decayed, by send day
    rate_opened: float             # ... emails opened or clicked
    rate_clicked: float
    window_delivered: int          # plain counts of the last `factor_rate_days`, by send day
    window_opened: int
    recent_delivered: int          # plain counts of the last `factor_recent_days`, by send day
    recent_opened: int
    trend: str                     # 5.2 engagement_trend
    trend_delta: float             # short engagement rate minus long (see module docstring)
    last_engaged_ts: int | None    # any human open or click, ever
    last_click_ts: int | None
    click_ages_by_category: tuple[tuple[int, ...], ...]  # seconds, human clicks within `recency_zero_days`
    distinct_links_by_category: tuple[int, ...]     # in the surge window
    engaged_by_kind_recent: tuple[int, ...]         # emails first engaged in the surge window, per kind
    machine_opens: int
    machine_clicks: int
    machine_reasons: dict[str, int]


def signals(activity: ContactActivity, as_of: datetime,
            config: ScoringConfig = DEFAULT_SCORING_CONFIG) -> Signals:
    """One pass over buckets and logs; events after `as_of` are ignored."""
    now = int(as_of.timestamp())
    today = now // DAY
    ledger = activity.ledger
    decay = config.decay
    lookback = len(decay.rate)
    window_from = today - config.factor_rate_days + 1
    recent_from = today - config.factor_recent_days + 1
    rate_w, short_w, long_w = decay.rate, decay.short, decay.long
    r_del = r_open = r_click = s_del = s_eng = l_del = l_eng = 0.0
    w_del = w_open = n_del = n_open = 0
    fresh = config.fresh_days
    for day, (delivered, opened, clicked, engaged) in ledger.buckets.items():
        age = today - day
        if age < 0 or age >= lookback:
            continue
        if day >= window_from:
            w_del += delivered
            w_open += opened
            if day >= recent_from:
                n_del += delivered
                n_open += opened
        if age < fresh:  # the rates and the trend see the last days once they are settled
            continue
        if engaged:
            s_eng += short_w[age] * engaged
            l_eng += long_w[age] * engaged
        if delivered:
            r_del += rate_w[age] * delivered
            s_del += short_w[age] * delivered
            l_del += long_w[age] * delivered
        if opened:
            weight = rate_w[age]
            r_open += weight * opened
            if clicked:
                r_click += weight * clicked

    surge_from = now - config.surge_window_days * DAY
    engaged_recent_by_kind = [0] * _N_CATEGORIES
    last_engaged = last_click = None
    for ts, kind, _email in ledger.open_log:
        if ts > now:
            continue
        if last_engaged is None or ts > last_engaged:
            last_engaged = ts
        if ts > surge_from:
            engaged_recent_by_kind[kind] += 1
    click_from = now - config.recency_zero_days * DAY
    ages: list[list[int]] = [[] for _ in range(_N_CATEGORIES)]
    links: list[set[int]] = [set() for _ in range(_N_CATEGORIES)]
    clicked: set[tuple[str, int]] = set()
    click_weight = config.trend_click_weight
    for ts, category, key, email in ledger.click_log:
        if ts > now:
            continue
        if last_click is None or ts > last_click:
            last_click = ts
        age = today - ts // DAY
        if fresh <= age < lookback and (email, key) not in clicked:  # each link of an email once
            clicked.add((email, key))
            s_eng += click_weight * short_w[age]
            l_eng += click_weight * long_w[age]
        if ts <= click_from:
            continue
        ages[category].append(now - ts)
        if ts > surge_from:
            links[category].add(key)
    last_engaged, last_click = _with_folded(activity, now, last_engaged, last_click)
    delta = _trend_delta(s_del, s_eng, l_del, l_eng, config)
    return Signals(
        as_of_ts=now, delivered_ever=ledger.counters[C_DELIVERED],
        rate_delivered=r_del, rate_opened=r_open, rate_clicked=r_click,
        window_delivered=w_del, window_opened=w_open, recent_delivered=n_del, recent_opened=n_open,
        trend=_trend(delta, last_engaged, now, config), trend_delta=delta,
        last_engaged_ts=last_engaged, last_click_ts=last_click,
        click_ages_by_category=tuple(tuple(sorted(a)) for a in ages),
        distinct_links_by_category=tuple(len(s) for s in links),
        engaged_by_kind_recent=tuple(engaged_recent_by_kind),
        machine_opens=ledger.counters[C_MACHINE_OPENS], machine_clicks=ledger.counters[C_MACHINE_CLICKS],
        machine_reasons=ledger.machine_reason_counts(),
    )


def _with_folded(activity: ContactActivity, now: int, last_engaged: int | None,
                 last_click: int | None) -> tuple[int | None, int | None]:
    """Engagement older than the logs' retention still counts as "last engaged" (inactivity)."""
    _sent, last_open_all, last_click_all = activity.last_times()
    for candidate in (last_open_all, last_click_all):
        if candidate is not None and candidate <= now and (last_engaged is None or candidate > last_engaged):
            last_engaged = candidate
    if last_click_all is not None and last_click_all <= now and (last_click is None or last_click_all > last_click):
        last_click = last_click_all
    return last_engaged, last_click


def _trend_delta(s_del: float, s_eng: float, l_del: float, l_eng: float, config: ScoringConfig) -> float:
    """Short engagement rate minus long. The short rate is shrunk toward the long one, so a
    contact with little recent mail shows little trend either way. Rates are not capped (late
    opens and several clicks per email can take them past 1), which keeps this monotone: an
    engagement later than every delivery weighs 1 in both sums and the short rate's denominator
    is the smaller, so a new open or click never makes the trend fall.
    """
    long_rate = l_eng / l_del if l_del > 0 else (1.0 if l_eng > 0 else 0.0)
    k = config.trend_prior_emails
    short_rate = (s_eng + k * long_rate) / (s_del + k) if s_del + k > 0 else long_rate
    return short_rate - long_rate


def _trend(delta: float, last_engaged: int | None, now: int, config: ScoringConfig) -> str:
    if last_engaged is None or now - last_engaged >= config.trend_inactive_days * DAY:
        return "inactive"
    if delta >= config.trend_label_delta:
        return "increasing"
    if delta <= -config.trend_label_delta:
        return "decreasing"
    return "stable"


def recency(age_seconds: float, config: ScoringConfig = DEFAULT_SCORING_CONFIG) -> float:
    """Share (0-1) of the recency points something `age_seconds` old earns: the spec's tiers
    ("last 7 days" full, "last 30 days" two thirds) joined by straight lines, fading to 0."""
    days = age_seconds / DAY
    full, tier, zero = config.recency_full_days, config.recency_tier_days, config.recency_zero_days
    share = config.recency_tier_share
    if days <= full:
        return 1.0
    if days <= tier:
        return 1.0 - (1.0 - share) * (days - full) / (tier - full)
    if days < zero:
        return share * (zero - days) / (zero - tier)
    return 0.0
