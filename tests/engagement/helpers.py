"""Small builders for engagement events in tests."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from integration.engagement import EngagementEvent, natural_event_id, prepare

UTC = timezone.utc
T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
HUMAN_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


def ev(event_type: str, at: datetime, email: str = "e1", *, contact: str = "ab_contact_1",
       campaign: str | None = None, kind: str | None = "market_update", url: str | None = None,
       ua: str | None = HUMAN_UA, ip: str | None = None, bounce_type: str | None = None,
       machine: bool = False) -> EngagementEvent:
    event = EngagementEvent(
        event_id=natural_event_id(email, event_type, at, url, contact_id=contact),
        event_type=event_type, occurred_at=at, email_id=email, contact_id=contact,
        campaign_id=campaign or f"bc_campaign_{email}", campaign_name=f"Campaign {email}", campaign_kind=kind,
        url=url, user_agent=ua if event_type in ("opened", "clicked") else None, ip=ip,
        bounce_type=bounce_type, machine=machine)
    return prepare(event)


def delivered_email(email: str, sent: datetime, **kw) -> list[EngagementEvent]:
    return [ev("sent", sent, email, **kw), ev("delivered", sent + timedelta(seconds=4), email, **kw)]


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def days(n: float) -> timedelta:
    return timedelta(days=n)
