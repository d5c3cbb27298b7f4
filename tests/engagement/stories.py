"""The spec's two stories as exact event histories (docs/scoring.md, "The stories").

The simulator replays these same histories through the whole system; the tests here check that
the scoring rules, not special cases, turn them into the spec's numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from integration.engagement import ContactActivity, EngagementEvent, natural_event_id

UTC = timezone.utc
#: The moment both stories are scored (the spec's propensity example is stamped 14:35 that day).
AS_OF = datetime(2026, 1, 15, 14, 35, tzinfo=UTC)
#: Maria's "before": a month earlier, before her month of market-update reading.
MARIA_BEFORE_AS_OF = datetime(2025, 12, 16, 14, 35, tzinfo=UTC)

DELIVERY_DELAY = timedelta(seconds=4)
BROWSER_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0.0.0 Safari/537.36")
GMAIL_PROXY_UA = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
IPHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")

MARKET_REPORT_URL = "https://go.broadcast.example/r/austin-market-report"
HOME_WORTH_URL = "https://go.broadcast.example/r/whats-your-home-worth"


@dataclass(frozen=True)
class StoryEmail:
    """One email: sent, delivered 4 s later, then the contact's own opens and clicks."""

    email_id: str
    campaign_id: str
    campaign_name: str
    kind: str
    sent_at: datetime
    opens: tuple[datetime, ...] = ()
    clicks: tuple[tuple[datetime, str], ...] = field(default=())


@dataclass(frozen=True)
class Story:
    contact_id: str
    contact_type: str
    emails: tuple[StoryEmail, ...]
    open_user_agent: str
    click_user_agent: str

    def events(self) -> list[EngagementEvent]:
        out = []
        for mail in self.emails:
            common = dict(email_id=mail.email_id, contact_id=self.contact_id, campaign_id=mail.campaign_id,
                          campaign_name=mail.campaign_name, campaign_kind=mail.kind)
            out.append(_event("sent", mail.sent_at, **common))
            out.append(_event("delivered", mail.sent_at + DELIVERY_DELAY, **common))
            for moment in mail.opens:
                out.append(_event("opened", moment, user_agent=self.open_user_agent, ip="66.249.84.1", **common))
            for moment, url in mail.clicks:
                out.append(_event("clicked", moment, url=url, user_agent=self.click_user_agent,
                                  ip="203.0.113.24", **common))
        out.sort(key=lambda e: (e.occurred_at, e.event_id))
        return out

    def activity(self, until: datetime | None = None) -> ContactActivity:
        act = ContactActivity(self.contact_id)
        for event in self.events():
            if until is None or event.occurred_at <= until:
                act.apply(event)
        return act


def _event(event_type: str, moment: datetime, **fields) -> EngagementEvent:
    return EngagementEvent(
        event_id=natural_event_id(fields["email_id"], event_type, moment, fields.get("url")),
        event_type=event_type, occurred_at=moment, **fields)


def _at(moment: datetime, hours: float) -> datetime:
    return moment + timedelta(hours=hours)


# --------------------------------------------------------------------------- Maria
# Owner for 8 years, on the weekly "Austin Market Update" list (Wednesdays 15:00 UTC, 9 am in
# Austin) since 2025-09-03. Until mid-December she read every other issue and once clicked
# the market report; from December 17 she opens every one (5 of 5) and clicks "What's Your Home
# Worth?" twice (in the December 24 and January 7 issues).

#: Before December 17 she opened every other issue (8 of the first 15)...
MARIA_OPENED_BEFORE = {(2025, 9, 3), (2025, 9, 17), (2025, 10, 1), (2025, 10, 15), (2025, 10, 29),
                       (2025, 11, 12), (2025, 11, 26), (2025, 12, 10)}
#: ...and clicked the market report once, in the September 24 issue (which she had not opened:
#: the click proves she read it).


def _maria() -> Story:
    emails = []
    first = datetime(2025, 9, 3, 15, 0, tzinfo=UTC)
    for week in range(20):  # 2025-09-03 .. 2026-01-14
        sent = first + timedelta(weeks=week)
        key = (sent.year, sent.month, sent.day)
        label = sent.strftime("%b %-d, %Y")
        opens: tuple[datetime, ...] = ()
        clicks: tuple[tuple[datetime, str], ...] = ()
        if key in MARIA_OPENED_BEFORE or sent >= datetime(2025, 12, 17, tzinfo=UTC):
            opens = (_at(sent, 3.25),)  # read over lunch
        if key == (2025, 9, 24):
            clicks = ((_at(sent, 3.5), MARKET_REPORT_URL + "?issue=2025-09-24"),)
        if key == (2025, 12, 24):
            clicks = ((datetime(2025, 12, 26, 19, 10, tzinfo=UTC), HOME_WORTH_URL + "?issue=2025-12-24"),)
        if key == (2026, 1, 7):
            clicks = ((_at(sent, 3.6), HOME_WORTH_URL + "?issue=2026-01-07"),)
        emails.append(StoryEmail(
            email_id=f"re_maria_{sent:%Y%m%d}", campaign_id=f"bc_campaign_mu_{sent:%Y%m%d}",
            campaign_name=f"Austin Market Update - {label}", kind="market_update", sent_at=sent,
            opens=opens, clicks=clicks))
    return Story("ab_contact_10001", "owner", tuple(emails), GMAIL_PROXY_UA, BROWSER_UA)


# --------------------------------------------------------------------------- James
# Registered buyer on the "New Listings For You" alerts (Mondays and Thursdays 14:00 UTC) since
# 2025-08-04 (none on Christmas Day). He read some in August and September, last opened one on 2025-10-09, then nothing
# for three months. In the week of January 8 he opens 4 listing emails (the January 5, 8, 12 and
# 15 alerts) and clicks 6 different properties in them.

JAMES_SURGE = {
    # email date: (open time, [(click time, property id), ...])
    (2026, 1, 5): (datetime(2026, 1, 8, 20, 5, tzinfo=UTC), [(datetime(2026, 1, 8, 20, 7, tzinfo=UTC), "ab_prop_901")]),
    (2026, 1, 8): (datetime(2026, 1, 8, 20, 15, tzinfo=UTC), [(datetime(2026, 1, 8, 20, 17, tzinfo=UTC), "ab_prop_902"),
                                                               (datetime(2026, 1, 8, 20, 24, tzinfo=UTC), "ab_prop_903")]),
    (2026, 1, 12): (datetime(2026, 1, 12, 23, 40, tzinfo=UTC), [(datetime(2026, 1, 12, 23, 42, tzinfo=UTC), "ab_prop_904"),
                                                                 (datetime(2026, 1, 12, 23, 51, tzinfo=UTC), "ab_prop_905")]),
    (2026, 1, 15): (datetime(2026, 1, 15, 14, 20, tzinfo=UTC), [(datetime(2026, 1, 15, 14, 22, tzinfo=UTC), "ab_prop_906")]),
}
JAMES_OPENED_EARLY = {(2025, 8, 4), (2025, 8, 14), (2025, 8, 25), (2025, 9, 8), (2025, 9, 18), (2025, 10, 9)}


def _james() -> Story:
    emails = []
    monday = datetime(2025, 8, 4, 14, 0, tzinfo=UTC)
    sends = []
    for week in range(24):  # 2025-08-04 .. 2026-01-15
        sends.append(monday + timedelta(weeks=week))
        sends.append(monday + timedelta(weeks=week, days=3))
    for sent in sends:
        if sent > AS_OF or (sent.month, sent.day) == (12, 25):
            continue  # no alert on Christmas Day
        key = (sent.year, sent.month, sent.day)
        opens: tuple[datetime, ...] = ()
        clicks: tuple[tuple[datetime, str], ...] = ()
        if key in JAMES_OPENED_EARLY:
            opens = (_at(sent, 5),)
        if key in JAMES_SURGE:
            opened, viewed = JAMES_SURGE[key]
            opens = (opened,)
            clicks = tuple((moment, f"https://go.broadcast.example/listings/{prop}") for moment, prop in viewed)
        emails.append(StoryEmail(
            email_id=f"re_james_{sent:%Y%m%d}", campaign_id=f"bc_campaign_nl_{sent:%Y%m%d}",
            campaign_name=f"New Listings For You - {sent.strftime('%b %-d')}", kind="listing_alert",
            sent_at=sent, opens=opens, clicks=clicks))
    return Story("ab_contact_10002", "buyer", tuple(emails), IPHONE_UA, IPHONE_UA)


MARIA = _maria()
JAMES = _james()
