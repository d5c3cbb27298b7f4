"""Machine opens and clicks are kept but never counted; links land in the right content category."""
from __future__ import annotations

from datetime import timedelta

import pytest

from integration.engagement import ContactActivity, MachineRules, categorise_link, engagement_metrics
from integration.engagement.content import ContentRule, ContentRules
from tests.engagement.helpers import T0, days, delivered_email, ev, minutes

MPP_UA = "Mozilla/5.0"
GMAIL_UA = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


def activity_of(events) -> ContactActivity:
    act = ContactActivity("ab_contact_1")
    for event in events:
        act.apply(event)
    return act


@pytest.mark.parametrize("ua, ip, reason", [
    (MPP_UA, None, "privacy_proxy"),
    ("Mozilla/5.0 (iPhone) AppleWebKit", "17.58.101.3", "apple_proxy_ip"),
])
def test_privacy_proxy_opens_are_flagged_with_a_reason(ua, ip, reason):
    event = ev("opened", T0 + minutes(30), ua=ua, ip=ip)
    assert (event.machine, event.machine_reason) == (True, reason)


def test_gmail_image_proxy_is_a_human_open_even_right_at_delivery():
    event = ev("opened", T0 + timedelta(seconds=20), ua=GMAIL_UA, ip="17.1.1.1")
    assert not event.machine
    act = activity_of([*delivered_email("e1", T0), event])
    assert act.ledger.counter("opens") == 1 and act.ledger.counter("machine_opens") == 0


def test_an_open_seconds_after_delivery_is_a_prefetch_whichever_arrives_first():
    events = [*delivered_email("e1", T0), ev("opened", T0 + timedelta(seconds=30))]
    for order in (events, list(reversed(events))):
        act = activity_of(order)
        assert (act.ledger.counter("opens"), act.ledger.counter("machine_opens")) == (0, 1)
        assert act.ledger.machine_reason_counts() == {"open_at_delivery": 1}
        assert engagement_metrics(act, T0 + days(1)).open_rate == 0.0


def test_scanner_clicks_are_excluded_by_agent_by_timing_and_by_burst():
    url = "https://go.broadcast.example/listings/ab_prop_{}"
    scanner = ev("clicked", T0 + minutes(10), url=url.format(1), ua="Mozilla/5.0 (compatible; Barracuda)")
    at_delivery = ev("clicked", T0 + timedelta(seconds=12), url=url.format(2))
    burst = [ev("clicked", T0 + minutes(60) + timedelta(seconds=i), url=url.format(10 + i)) for i in range(4)]
    act = activity_of([*delivered_email("e1", T0), scanner, at_delivery, *burst])
    reasons = act.ledger.machine_reason_counts()
    assert reasons == {"scanner_user_agent": 1, "click_at_delivery": 1, "click_burst": 2}
    # The first two clicks of the burst could be a person; from the third distinct link it is a crawler.
    assert act.ledger.counter("clicks") == 2 and act.ledger.counter("machine_clicks") == 4


def test_thresholds_are_configuration():
    strict = MachineRules(open_after_delivery_seconds=0, click_burst_links=0)
    act = ContactActivity("c", machine_rules=strict)
    for event in [*delivered_email("e1", T0), ev("opened", T0 + timedelta(seconds=30))]:
        act.apply(event)
    assert act.ledger.counter("opens") == 1


@pytest.mark.parametrize("url, kind, category", [
    ("https://go.broadcast.example/r/whats-your-home-worth?issue=1", "market_update", "valuation"),
    ("https://acme.example/home-value", None, "valuation"),
    ("https://acme.example/listings/ab_prop_789", "market_update", "listing"),
    ("https://acme.example/property/123?utm=x", None, "listing"),
    ("https://acme.example/mortgage-rates", "listing_alert", "financing"),
    ("https://acme.example/get-pre-approved", None, "financing"),
    ("https://acme.example/austin-market-report", None, "market_update"),
    ("https://acme.example/unsubscribe?listing_id=4", "listing_alert", "other"),
    ("https://acme.example/blog/spring-cleaning", "listing_alert", "listing"),
    ("https://acme.example/blog/spring-cleaning", None, "other"),
    ("https://homeworth.example/blog", None, "other"),  # hosts are not content
])
def test_links_are_categorised_by_path_query_then_campaign_kind(url, kind, category):
    assert categorise_link(url, kind) == category


def test_accounts_can_bring_their_own_url_rules():
    rules = ContentRules(url_rules=(ContentRule("valuation", r"/cma-request"),))
    assert categorise_link("https://x.example/cma-request", None, rules) == "valuation"
    with pytest.raises(ValueError):
        ContentRule("luxury", "x")
    with pytest.raises(Exception):
        ContentRule("listing", "(unclosed")
