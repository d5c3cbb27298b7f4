"""From a contact's activity to what AgentBuddy is told: the 5.2 metrics and the 5.4 campaign rows.

Definitions (docs/scoring.md has the long form):

* `open_rate` = emails with a human open (or a human click: a click is proof of an open) /
  delivered emails (provider `delivered`, or a complaint), lifetime, as a percentage with one
  decimal, capped at 100 (an open whose delivery webhook was lost counts as opened but adds no
  delivered email, so it can only raise the rate). `click_rate` likewise with human clicks.
  Machine opens and clicks count nowhere.
* `engagement_trend`: the recent engagement rate against the long-run one (signals.py):
  `increasing` / `decreasing` when they are `trend_label_delta` apart, else `stable`; `inactive`
  with no human open or click in `trend_inactive_days` (so also when nothing was delivered).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .activity import ContactActivity
from .email_record import CAMPAIGN_STATUSES
from .events import iso
from .ledger import C_CLICKED, C_CLICKS, C_DELIVERED, C_OPENED, C_OPENS, C_SENT
from .scoring_config import DEFAULT_SCORING_CONFIG, ScoringConfig
from .signals import signals


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


def engagement_metrics(activity: ContactActivity, as_of: datetime,
                       config: ScoringConfig = DEFAULT_SCORING_CONFIG, *, trend: str | None = None) -> EngagementMetrics:
    """The 5.2 metrics of `activity` as of `as_of` (only the trend depends on `as_of`; a caller
    that already holds `signals(activity, as_of).trend` passes it to skip a second pass)."""
    c = activity.ledger.counters
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


def _percent(part: int, whole: int) -> float:
    return round(min(100.0, 100.0 * part / whole), 1) if whole else 0.0


def _dt(ts: int | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=timezone.utc) if ts is not None else None
