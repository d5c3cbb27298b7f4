"""Section 6 of the spec: the stories come out as the spec tells them, because of the rules."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from integration.engagement import (AccountBaseline, ContactActivity, ScoringConfig, campaign_participation,
                                    categorise, engagement_metrics, prepare, score, unsubscribe_event)
from tests.engagement.helpers import delivered_email, ev
from tests.engagement.stories import AS_OF, JAMES, MARIA, MARIA_BEFORE_AS_OF

DEFAULT = AccountBaseline.default()


def test_maria_owner_reading_every_market_update_is_a_hot_seller():
    result = score(MARIA.activity(), "owner", DEFAULT, AS_OF)
    assert abs(result.propensity_score - 87) <= 3
    assert result.propensity_category == "hot"
    assert abs(result.seller_likelihood - 87) <= 3
    assert result.buyer_activity_score < 40
    assert result.recommended_action == "Call this week - high seller intent"
    assert result.contributing_factors[:2] == ("5/5 emails opened in 30 days", "2 valuation link clicks in 30 days")
    assert "engagement trend: increasing" in result.contributing_factors
    assert result.score_updated_at == AS_OF


def test_maria_a_month_earlier_was_a_moderate_reader_near_45():
    before = score(MARIA.activity(until=MARIA_BEFORE_AS_OF), "owner", DEFAULT, MARIA_BEFORE_AS_OF)
    assert 40 <= before.propensity_score <= 50 and before.propensity_category == "cool"
    assert "engagement trend: stable" in before.contributing_factors


def test_maria_is_hot_within_two_weeks_of_her_change_and_steady_before_it():
    """Read at 14:35 every day as AgentBuddy would hold it: cool (never hot, never two bands a week)
    while she reads every other issue; hot from the evening of her first valuation click."""
    readings = maria_day_by_day()
    before = [p for day, p in readings if day < datetime(2025, 12, 17, tzinfo=timezone.utc)][7:]
    assert {p.propensity_category for p in before} == {"cool"}
    assert max(p.propensity_score for p in before) - min(p.propensity_score for p in before) <= 10
    held = dict(readings)
    assert held[datetime(2025, 12, 31, 14, 35, tzinfo=timezone.utc)].propensity_category == "hot"
    assert all(p.propensity_category == "hot" for day, p in readings if day >= datetime(2025, 12, 28, tzinfo=timezone.utc))


def maria_day_by_day() -> list:
    events = MARIA.events()
    activity = ContactActivity(MARIA.contact_id)
    moment, held, readings = datetime(2025, 9, 3, 14, 35, tzinfo=timezone.utc), None, []
    while moment <= AS_OF:
        for event in [e for e in events if moment - timedelta(days=1) < e.occurred_at <= moment]:
            activity.apply(event)
        propensity = score(activity, "owner", DEFAULT, moment, previous_category=held)
        held = propensity.propensity_category
        readings.append((moment, propensity))
        moment += timedelta(days=1)
    return readings


def test_james_quiet_buyer_who_surges_is_an_active_buyer():
    activity = JAMES.activity()
    result = score(activity, "buyer", DEFAULT, AS_OF)
    assert abs(result.buyer_activity_score - 92) <= 3
    assert result.contributing_factors[0] == "6 property clicks in 7 days"
    assert "engagement trend: increasing" in result.contributing_factors
    assert result.recommended_action == "Call today - active buyer"
    assert (result.propensity_score, result.propensity_category) == (result.buyer_activity_score, "hot")
    assert result.seller_likelihood < 40
    assert engagement_metrics(activity, AS_OF).engagement_trend == "increasing"


def test_an_apple_mail_buyer_whose_opens_are_all_machine_opens_is_as_active_as_james():
    """Every open of his arrives through Apple's proxy and is excluded; each click proves a human open."""
    mpp = [replace(e, user_agent="Mozilla/5.0", ip="17.58.101.22") if e.event_type == "opened" else e
           for e in JAMES.events()]
    activity = ContactActivity(JAMES.contact_id)
    for event in mpp:
        activity.apply(prepare(event))
    result = score(activity, "buyer", DEFAULT, AS_OF)
    assert result.propensity_category == "hot" and result.recommended_action == "Call today - active buyer"
    assert result.buyer_activity_score >= score(JAMES.activity(), "buyer", DEFAULT, AS_OF).buyer_activity_score - 5
    assert engagement_metrics(activity, AS_OF).last_opened_at is None  # no human open was seen: clicks carried it


def test_james_before_his_surge_was_inactive_and_cold():
    quiet = datetime(2026, 1, 8, 12, 0, tzinfo=timezone.utc)
    result = score(JAMES.activity(until=quiet), "buyer", DEFAULT, quiet)
    assert result.propensity_category == "cold"
    assert result.recommended_action == "Re-engagement campaign"
    assert "engagement trend: inactive" in result.contributing_factors


def appendix_b_contact() -> ContactActivity:
    """24 emails twice a week, 18 opened, 7 clicked (2 of them valuation in the last 14 days)."""
    act = ContactActivity("ab_contact_12345")
    first = datetime(2025, 10, 23, 15, 0, tzinfo=timezone.utc)
    sends = [first + timedelta(days=3.5 * i) for i in range(24)]
    unopened = {1, 3, 5, 7, 9, 11}  # early on, every other email went unread
    clicked = {0, 4, 8, 12, 16}      # a market report link now and then ...
    for i, sent in enumerate(sends):
        email = f"appb_{i}"
        for event in delivered_email(email, sent):
            act.apply(event)
        if i in unopened:
            continue
        act.apply(ev("opened", sent + timedelta(hours=2), email))
        if i in clicked:
            act.apply(ev("clicked", sent + timedelta(hours=2, minutes=3), email, url="https://x.example/market-report"))
        if i in (20, 22):  # ... and "What's your home worth?" twice in the last two weeks
            act.apply(ev("clicked", sent + timedelta(hours=2, minutes=3), email, url="https://x.example/home-worth"))
    act.apply(ev("opened", datetime(2026, 1, 14, 16, 45, tzinfo=timezone.utc), "appb_23"))
    return act


def test_appendix_b_contact_scores_87_against_the_default_average():
    act = appendix_b_contact()
    m = engagement_metrics(act, AS_OF)
    assert (m.total_emails_sent, m.open_rate, m.click_rate) == (24, 75.0, 29.2)
    assert m.last_opened_at == datetime(2026, 1, 14, 16, 45, tzinfo=timezone.utc)
    result = score(act, "owner", DEFAULT, AS_OF)
    assert abs(result.propensity_score - 87) <= 3 and result.propensity_category == "hot"
    assert result.seller_likelihood == result.propensity_score
    assert result.recommended_action == "Call this week - high seller intent"
    for factor in ("75% open rate (above average)", "2 valuation link clicks in 14 days",
                   "engagement trend: increasing"):
        assert factor in result.contributing_factors


@pytest.mark.parametrize("value, category", [(100, "hot"), (80, "hot"), (79, "warm"), (60, "warm"),
                                             (59, "cool"), (40, "cool"), (39, "cold"), (0, "cold")])
def test_categories_follow_the_spec_table(value, category):
    assert categorise(value) == category


def test_contacts_who_left_email_get_a_different_action():
    act = MARIA.activity()
    act.apply(unsubscribe_event(contact_id=MARIA.contact_id, occurred_at=AS_OF - timedelta(hours=1)))
    assert score(act, "owner", DEFAULT, AS_OF).recommended_action == "Call instead - unsubscribed from email"


def test_account_baseline_leans_on_the_default_until_the_account_has_history():
    small = AccountBaseline.from_activities([MARIA.activity()], AS_OF)
    assert 0.20 < small.open_rate < 0.22 and small.delivered == 13
    stories = [MARIA.activity(), JAMES.activity()]
    assert abs(score(stories[0], "owner", AccountBaseline.from_activities(stories, AS_OF), AS_OF).propensity_score - 87) <= 3
    silent = AccountBaseline.pooled(100_000, 0, 0)
    assert (silent.open_rate, silent.click_rate) == (0.05, 0.01)  # the floors


@pytest.mark.parametrize("value, held, category", [
    (78, "hot", "hot"), (75, "hot", "hot"), (74, "hot", "warm"), (56, "hot", "warm"), (54, "hot", "cool"),
    (58, "warm", "warm"), (54, "warm", "cool"), (36, "cool", "cool"), (34, "cool", "cold"),
    (80, "warm", "hot"), (60, "cold", "warm"), (40, "cold", "cool"), (39, "cold", "cold"), (79, None, "warm"),
])
def test_a_category_is_kept_until_the_score_is_clearly_below_it(value, held, category):
    assert categorise(value, held) == category


def test_a_score_with_no_email_history_is_cold_and_says_why():
    result = score(ContactActivity("ab_contact_new"), "lead", DEFAULT, AS_OF)
    assert (result.propensity_score, result.propensity_category) == (0, "cold")
    assert result.contributing_factors == ("engagement trend: inactive",)


def test_config_rejects_windows_longer_than_the_state_keeps():
    with pytest.raises(ValueError):
        ScoringConfig(lookback_days=200)
    with pytest.raises(ValueError):
        ScoringConfig(trend_short_half_life_days=90, trend_long_half_life_days=30)


def test_propensity_serialises_to_the_5_3_shape():
    wire = score(MARIA.activity(), "owner", DEFAULT, AS_OF).to_contract("ab_contact_10001")
    assert set(wire) == {"contact_id", "propensity_score", "propensity_category", "seller_likelihood",
                         "buyer_activity_score", "recommended_action", "score_updated_at", "contributing_factors"}
    assert wire["score_updated_at"] == "2026-01-15T14:35:00Z"


def test_what_goes_to_agentbuddy_matches_the_contract_schemas():
    from jsonschema import Draft202012Validator

    from contract import load_spec

    components = load_spec()["components"]

    def check(name: str, instance) -> None:
        schema = {"components": components, "$ref": f"#/components/schemas/{name}"}
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(instance)]
        assert not errors, (name, errors)

    for story, contact_type in ((MARIA, "owner"), (JAMES, "buyer")):
        activity = story.activity()
        check("EngagementMetricsInput", engagement_metrics(activity, AS_OF).to_contract())
        check("PropensityInput", score(activity, contact_type, DEFAULT, AS_OF).to_contract())
        for row in campaign_participation(activity):
            check("CampaignParticipationInput", row.to_contract())
        for event in story.events():
            check("EngagementEvent", event.to_contract())
    unsub = unsubscribe_event(contact_id="ab_contact_1", occurred_at=AS_OF, campaign_id="bc_campaign_1")
    check("EngagementEvent", unsub.to_contract())
    with pytest.raises(ValueError, match="campaign_id"):
        unsubscribe_event(contact_id="ab_contact_1", occurred_at=AS_OF).to_contract()


def test_machine_engagement_is_named_as_excluded():
    from tests.engagement.helpers import T0, minutes

    act = ContactActivity("ab_contact_1")
    for event in [*delivered_email("e1", T0), ev("opened", T0 + minutes(1), ua="Mozilla/5.0"),
                  ev("opened", T0 + minutes(2), ip="17.0.0.9"),
                  ev("clicked", T0 + minutes(3), url="https://x.example/listings/1", ua="Mimecast")]:
        act.apply(event)
    factors = score(act, "owner", DEFAULT, T0 + timedelta(days=1)).contributing_factors
    assert "2 machine opens excluded (privacy proxy)" in factors
    assert "1 machine click excluded (link scanner)" in factors
