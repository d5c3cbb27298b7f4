"""From a contact's activity to what AgentBuddy is told (5.2, 5.4) and what scoring reads.

Definitions (docs/scoring.md has the long form):

* `open_rate` = emails with a human open (or a human click: a click is proof of an open) /
  delivered emails (provider `delivered`, or a complaint), lifetime, as a percentage with one
  decimal, capped at 100 (an open whose delivery webhook was lost counts as opened but adds no
  delivered email, so it can only raise the rate). `click_rate` likewise with human clicks.
  Machine opens and clicks count nowhere.
* `engagement_trend`: the engagement rate of the last `trend_recent_days` against the
  `trend_previous_days` before. Rate of a window = (emails whose *first* human open/click fell in
  the window) / (emails delivered in the window, by send day), capped at 1. `inactive` when there
  is no human open/click in `trend_inactive_days` (so also when nothing was delivered); `decreasing`
  when no email was first engaged with in the recent window; with no history in the previous
  window, `increasing` when the recent rate reaches `trend_new_contact_rate`, else `stable`.

`signals()` makes one pass over the activity's day buckets and logs and returns everything the
scorer needs, so scoring a contact costs a few dozen integer operations.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .activity import DAY, ContactActivity
from .ledger import (B_CLICKED, B_DELIVERED, B_ENGAGED, B_OPENED, C_CLICKED, C_CLICKS, C_DELIVERED,
                     C_MACHINE_CLICKS, C_MACHINE_OPENS, C_OPENED, C_OPENS, C_SENT)
from .email_record import CAMPAIGN_STATUSES
from .content import CATEGORY_CODE
from .events import iso
from .scoring_config import DEFAULT_SCORING_CONFIG, ScoringConfig

TRENDS = ("increasing", "stable", "decreasing", "inactive")
_N_CATEGORIES = len(CATEGORY_CODE)


@dataclass(frozen=True)
class EngagementMetrics:
    """The contract's 5.2 aggregate, field for field."""

    contact_id: str | None
    total_emails_sent: int
    total_opens: int
    total_clicks: int
    open_rate: float
    click_rate: float
    last_email_sent_at: datetime | None
    last_opened_at: datetime | None
    last_clicked_at: datetime | None
    engagement_trend: str

    def to_contract(self) -> dict[str, Any]:
        """The contract's `EngagementMetricsInput` (the contact is named by the path or the update)."""
        # Field by field, not `asdict`: asdict deep-copies every value, which dominated a full
        # re-score of 100,000 contacts.
        return {
            "total_emails_sent": self.total_emails_sent, "total_opens": self.total_opens,
            "total_clicks": self.total_clicks, "open_rate": self.open_rate, "click_rate": self.click_rate,
            "last_email_sent_at": None if self.last_email_sent_at is None else iso(self.last_email_sent_at),
            "last_opened_at": None if self.last_opened_at is None else iso(self.last_opened_at),
            "last_clicked_at": None if self.last_clicked_at is None else iso(self.last_clicked_at),
            "engagement_trend": self.engagement_trend,
        }


@dataclass(frozen=True)
class CampaignParticipation:
    """One row of 5.4: a campaign this contact received and how far they got with it."""

    id: str
    name: str | None
    sent_at: datetime
    status: str  # delivered | opened | clicked | bounced

    def to_contract(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "sent_at": iso(self.sent_at), "status": self.status}


@dataclass(frozen=True)
class Signals:
    """Everything scoring reads about one contact at one moment (all human-only)."""

    as_of_ts: int
    delivered_ever: int
    window_delivered: int          # rate window, by send day
    window_opened: int
    window_clicked: int
    recent_delivered: int          # trend recent window, by send day
    recent_opened: int             # ... emails of those opened
    recent_engaged: int            # first engagements in the recent window (by when they happened)
    previous_delivered: int
    previous_engaged: int
    trend: str
    last_engaged_ts: int | None    # any human open or click
    last_click_ts: int | None
    last_engaged_by_kind: tuple[int | None, ...]  # per email category
    last_click_by_category: tuple[int | None, ...]
    clicks_by_category: tuple[tuple[int, ...], ...]  # ages (seconds) of human clicks in the content window
    distinct_links_by_category: tuple[int, ...]     # in the surge window
    engaged_by_kind_recent: tuple[int, ...]          # emails first engaged in the surge window, per kind
    machine_opens: int
    machine_clicks: int
    machine_reasons: dict[str, int]


def engagement_metrics(activity: ContactActivity, as_of: datetime,
                       config: ScoringConfig = DEFAULT_SCORING_CONFIG, *, trend: str | None = None) -> EngagementMetrics:
    """The 5.2 metrics of `activity` as of `as_of` (only the trend depends on `as_of`; a caller
    that already holds `signals(activity, as_of).trend` passes it to skip a second pass)."""
    c = activity.counters
    delivered = c[C_DELIVERED]
    last_sent, last_open, last_click = activity.last_times()
    return EngagementMetrics(
        contact_id=activity.contact_id,
        total_emails_sent=c[C_SENT],
        total_opens=c[C_OPENS],
        total_clicks=c[C_CLICKS],
        open_rate=_percent(c[C_OPENED], delivered),
        click_rate=_percent(c[C_CLICKED], delivered),
        last_email_sent_at=_dt(last_sent),
        last_opened_at=_dt(last_open),
        last_clicked_at=_dt(last_click),
        engagement_trend=trend if trend is not None else signals(activity, as_of, config).trend,
    )


def campaign_participation(activity: ContactActivity) -> list[CampaignParticipation]:
    """5.4 rows, newest first; campaigns not yet known delivered or bounced are left out."""
    rows = []
    for campaign_id, (name, sent_ts, status, _email) in activity.campaigns.items():
        if status and sent_ts is not None:
            rows.append(CampaignParticipation(campaign_id, name, _dt(sent_ts), CAMPAIGN_STATUSES[status]))
    rows.sort(key=lambda r: (r.sent_at, r.id), reverse=True)
    return rows


def signals(activity: ContactActivity, as_of: datetime,
            config: ScoringConfig = DEFAULT_SCORING_CONFIG) -> Signals:
    """One pass over buckets and logs; windows end at `as_of` (events after it are ignored)."""
    now = int(as_of.timestamp())
    today = now // DAY
    rate_from = today - config.rate_window_days + 1
    recent_from = today - config.trend_recent_days + 1
    previous_from = recent_from - config.trend_previous_days
    w_del = w_open = w_click = r_del = r_open = r_eng = p_del = p_eng = 0
    for day, row in activity.buckets.items():
        if day > today or day < previous_from and day < rate_from:
            continue
        if day >= rate_from:
            w_del += row[B_DELIVERED]
            w_open += row[B_OPENED]
            w_click += row[B_CLICKED]
        if day >= recent_from:
            r_del += row[B_DELIVERED]
            r_open += row[B_OPENED]
            r_eng += row[B_ENGAGED]
        elif day >= previous_from:
            p_del += row[B_DELIVERED]
            p_eng += row[B_ENGAGED]

    surge_from = now - config.surge_window_days * DAY
    content_from = now - config.content_window_days * DAY
    last_by_kind: list[int | None] = [None] * _N_CATEGORIES
    last_engaged = None
    engaged_recent_by_kind = [0] * _N_CATEGORIES
    for ts, kind, _email in activity.ledger.open_log:
        if ts > now:
            continue
        if last_engaged is None or ts > last_engaged:
            last_engaged = ts
        prior = last_by_kind[kind]
        if prior is None or ts > prior:
            last_by_kind[kind] = ts
        if ts > surge_from:
            engaged_recent_by_kind[kind] += 1
    last_click_by_cat: list[int | None] = [None] * _N_CATEGORIES
    ages: list[list[int]] = [[] for _ in range(_N_CATEGORIES)]
    links: list[set[int]] = [set() for _ in range(_N_CATEGORIES)]
    last_click = None
    for ts, category, key, _email in activity.ledger.click_log:
        if ts > now:
            continue
        if last_click is None or ts > last_click:
            last_click = ts
        prior = last_click_by_cat[category]
        if prior is None or ts > prior:
            last_click_by_cat[category] = ts
        if ts > content_from:
            ages[category].append(now - ts)
        if ts > surge_from:
            links[category].add(key)
    # Engagement older than the logs' retention still counts for "last engaged" (inactivity).
    _sent, last_open_all, last_click_all = activity.last_times()
    for candidate in (last_open_all, last_click_all):
        if candidate is not None and candidate <= now and (last_engaged is None or candidate > last_engaged):
            last_engaged = candidate
    if last_click_all is not None and last_click_all <= now and (last_click is None or last_click_all > last_click):
        last_click = last_click_all

    counters = activity.counters
    trend = _trend(counters[C_DELIVERED], last_engaged, now, r_del, r_eng, p_del, p_eng, config)
    return Signals(
        as_of_ts=now, delivered_ever=counters[C_DELIVERED],
        window_delivered=w_del, window_opened=w_open, window_clicked=w_click,
        recent_delivered=r_del, recent_opened=r_open, recent_engaged=r_eng,
        previous_delivered=p_del, previous_engaged=p_eng, trend=trend,
        last_engaged_ts=last_engaged, last_click_ts=last_click,
        last_engaged_by_kind=tuple(last_by_kind), last_click_by_category=tuple(last_click_by_cat),
        clicks_by_category=tuple(tuple(sorted(a)) for a in ages),
        distinct_links_by_category=tuple(len(s) for s in links),
        engaged_by_kind_recent=tuple(engaged_recent_by_kind),
        machine_opens=counters[C_MACHINE_OPENS], machine_clicks=counters[C_MACHINE_CLICKS],
        machine_reasons=activity.machine_reason_counts(),
    )


def window_rate(engaged: int, delivered: int) -> float:
    """Engagement per delivered email in a window, capped at 1 (old emails opened late can exceed it)."""
    if delivered == 0:
        return 1.0 if engaged else 0.0
    return min(1.0, engaged / delivered)


def _trend(delivered_ever: int, last_engaged: int | None, now: int, r_del: int, r_eng: int,
           p_del: int, p_eng: int, config: ScoringConfig) -> str:
    if last_engaged is None or now - last_engaged >= config.trend_inactive_days * DAY:
        return "inactive"
    if r_eng == 0:
        # Engaged within the inactivity window but not lately: going quiet. (Deciding this by the
        # previous window's rate instead would let *more* old engagement lower the trend.)
        return "decreasing"
    recent = window_rate(r_eng, r_del)
    if p_del == 0 and p_eng == 0:
        return "increasing" if recent >= config.trend_new_contact_rate else "stable"
    previous = window_rate(p_eng, p_del)
    needed = max(config.trend_min_delta, config.trend_relative_delta * previous)
    if recent - previous >= needed:
        return "increasing"
    if previous - recent >= needed:
        return "decreasing"
    return "stable"


def _percent(part: int, whole: int) -> float:
    return round(min(100.0, 100.0 * part / whole), 1) if whole else 0.0


def _dt(ts: int | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=timezone.utc) if ts is not None else None
