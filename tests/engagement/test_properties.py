"""Properties that must hold for every history, not just the stories."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.categories import LOWER_BOUND, category_for, rank
from integration.engagement import (DEFAULT_SCORING_CONFIG, AccountBaseline, ContactActivity, EngagementEvent,
                                    categorise, engagement_metrics, natural_event_id, prepare, score)

UTC = timezone.utc
AS_OF = datetime(2026, 1, 15, 14, 35, tzinfo=UTC)
START = AS_OF - timedelta(days=100)  # histories stay inside the 120 days of detail the state keeps
HUMAN_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36"
URLS = ("https://x.example/listings/ab_prop_1", "https://x.example/listings/ab_prop_2",
        "https://x.example/listings/ab_prop_3", "https://x.example/home-worth", "https://x.example/mortgage",
        "https://x.example/market-report", "https://x.example/blog")
KINDS = ("market_update", "listing_alert", "newsletter", None)
BASELINES = (AccountBaseline.default(), AccountBaseline(0.5, 0.2), AccountBaseline(0.05, 0.01))
SETTINGS = settings(max_examples=int(os.environ.get("AB_ENGAGEMENT_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])

seconds = st.integers(min_value=0, max_value=100 * 86_400)


def _event(kind: str, email: int, at: datetime, url: str | None = None, ua: str | None = HUMAN_UA,
           email_kind: str | None = None) -> EngagementEvent:
    email_id = f"e{email}"
    return prepare(EngagementEvent(
        event_id=natural_event_id(email_id, kind, at, url), event_type=kind, occurred_at=at,
        email_id=email_id, contact_id="ab_contact_1", campaign_id=f"bc_campaign_{email}",
        campaign_name=f"Campaign {email}", campaign_kind=email_kind, url=url,
        user_agent=ua if kind in ("opened", "clicked") else None))


@st.composite
def histories(draw) -> list[EngagementEvent]:
    """A few emails with any mix of sent/delivered/bounced/opens/clicks, human or machine."""
    events = []
    for email in range(draw(st.integers(min_value=0, max_value=10))):
        kind = draw(st.sampled_from(KINDS))
        sent = START + timedelta(seconds=draw(seconds))
        if draw(st.booleans()):
            events.append(_event("sent", email, sent, email_kind=kind))
        if draw(st.integers(0, 4)):
            events.append(_event("delivered", email, sent + timedelta(seconds=draw(st.integers(0, 600))), email_kind=kind))
        elif draw(st.booleans()):
            events.append(_event("bounced", email, sent + timedelta(seconds=5), email_kind=kind))
        for _ in range(draw(st.integers(0, 3))):
            at = sent + timedelta(seconds=draw(st.integers(0, 20 * 86_400)))
            ua = draw(st.sampled_from((HUMAN_UA, HUMAN_UA, "Mozilla/5.0")))
            events.append(_event("opened", email, at, ua=ua, email_kind=kind))
        for _ in range(draw(st.integers(0, 3))):
            at = sent + timedelta(seconds=draw(st.integers(0, 20 * 86_400)))
            ua = draw(st.sampled_from((HUMAN_UA, HUMAN_UA, "python-requests/2.32")))
            events.append(_event("clicked", email, at, url=draw(st.sampled_from(URLS)), ua=ua, email_kind=kind))
    return [e for e in events if e.occurred_at <= AS_OF]


def replay(events) -> ContactActivity:
    act = ContactActivity("ab_contact_1")
    for event in events:
        act.apply(event)
    return act


def all_scores(act: ContactActivity, contact_type, baseline) -> tuple[int, int, int]:
    p = score(act, contact_type, baseline, AS_OF)
    return p.propensity_score, p.seller_likelihood, p.buyer_activity_score


contact_types = st.sampled_from(("owner", "buyer", "lead", None))


@SETTINGS
@given(histories(), contact_types, st.sampled_from(BASELINES))
def test_scores_stay_in_range_and_category_matches_score(events, contact_type, baseline):
    p = score(replay(events), contact_type, baseline, AS_OF)
    for value in (p.propensity_score, p.seller_likelihood, p.buyer_activity_score):
        assert 0 <= value <= 100 and isinstance(value, int)
    assert p.propensity_category == categorise(p.propensity_score)  # nothing held: the plain band
    assert p.recommended_action and len(p.contributing_factors) >= 1


@SETTINGS
@given(histories(), contact_types, st.sampled_from(BASELINES), st.data())
def test_a_more_recent_human_open_or_click_never_lowers_a_score(events, contact_type, baseline, data):
    act = replay(events)
    before = all_scores(act, contact_type, baseline)
    latest = max((e.occurred_at for e in events), default=START)
    at = latest + timedelta(seconds=data.draw(st.integers(0, int((AS_OF - latest).total_seconds()))))
    email = data.draw(st.integers(0, 11))
    known = {e.email_id: e.campaign_kind for e in events}
    kind = known.get(f"e{email}", data.draw(st.sampled_from(KINDS)))
    if data.draw(st.booleans()):
        new = _event("opened", email, at, email_kind=kind)
    else:
        new = _event("clicked", email, at, url=data.draw(st.sampled_from(URLS)), email_kind=kind)
    act.apply(new)
    after = all_scores(act, contact_type, baseline)
    assert all(a >= b for a, b in zip(after, before)), (before, after, new, events)


@SETTINGS
@given(histories(), contact_types, st.sampled_from(BASELINES), st.data())
def test_machine_events_never_raise_any_score(events, contact_type, baseline, data):
    act = replay(events)
    before = all_scores(act, contact_type, baseline)
    known = {e.email_id: e.campaign_kind for e in events}
    for _ in range(data.draw(st.integers(1, 4))):
        email = data.draw(st.integers(0, 11))
        at = START + timedelta(seconds=data.draw(seconds))
        kind = known.get(f"e{email}", data.draw(st.sampled_from(KINDS)))
        if data.draw(st.booleans()):
            machine = _event("opened", email, at, ua="Mozilla/5.0", email_kind=kind)
        else:
            machine = _event("clicked", email, at, url=data.draw(st.sampled_from(URLS)),
                             ua="Mozilla/5.0 (compatible; Barracuda)", email_kind=kind)
        assert machine.machine
        act.apply(machine)
        after = all_scores(act, contact_type, baseline)
        assert all(a <= b for a, b in zip(after, before)), (before, after, machine)
        before = after


@SETTINGS
@given(histories(), st.randoms(use_true_random=False))
def test_metrics_and_scores_do_not_depend_on_arrival_order(events, rnd):
    shuffled = events[:]
    rnd.shuffle(shuffled)
    a, b = replay(events), replay(shuffled)
    assert engagement_metrics(a, AS_OF) == engagement_metrics(b, AS_OF)
    assert score(a, "owner", BASELINES[0], AS_OF) == score(b, "owner", BASELINES[0], AS_OF)
    assert json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)


@SETTINGS
@given(histories())
def test_apply_is_idempotent_and_state_round_trips(events):
    act = replay(events)
    state = json.dumps(act.to_dict(), sort_keys=True)
    for event in events:
        assert act.apply(event) is False
    assert json.dumps(act.to_dict(), sort_keys=True) == state
    restored = ContactActivity.from_dict(json.loads(state))
    assert json.dumps(restored.to_dict(), sort_keys=True) == state
    assert score(restored, "buyer", BASELINES[0], AS_OF) == score(act, "buyer", BASELINES[0], AS_OF)


ACTIONS = {"hot": ("Call this week - high seller intent", "Call today - active buyer"),
           "warm": ("Schedule follow-up this week",), "cool": ("Continue nurturing",),
           "cold": ("Re-engagement campaign",)}


@SETTINGS
@given(histories(), contact_types, st.sampled_from(BASELINES), st.sampled_from((None, "hot", "warm", "cool", "cold")))
def test_category_and_action_come_from_one_rule(events, contact_type, baseline, held):
    """An agent never sees "warm" next to "call": the action is the category's (or the email status's)."""
    p = score(replay(events), contact_type, baseline, AS_OF, previous_category=held)
    assert p.propensity_category == category_for(p.propensity_score)  # the contract's rule, held or not
    if p.recommended_action not in ("Update email address - last email hard-bounced",
                                    "Call instead - unsubscribed from email"):
        assert p.recommended_action in ACTIONS[p.propensity_category], p
    leading = max(p.seller_likelihood, p.buyer_activity_score)
    margin = DEFAULT_SCORING_CONFIG.category_hysteresis
    # the larger intent score or, kept in a higher category within the margin, that band's floor
    assert p.propensity_score == max(leading, LOWER_BOUND[p.propensity_category]) <= leading + margin


@SETTINGS
@given(histories(), contact_types, st.sampled_from(BASELINES), st.data())
def test_a_click_never_lowers_a_score(events, contact_type, baseline, data):
    """A human click - on an email already opened, one never opened, or one never seen - later than
    everything recorded never lowers any score, nor the category held (click implies open)."""
    act = replay(events)
    held = data.draw(st.sampled_from((None, "hot", "warm", "cool", "cold")))
    before = score(act, contact_type, baseline, AS_OF, previous_category=held)
    latest = max((e.occurred_at for e in events), default=START)
    at = latest + timedelta(seconds=data.draw(st.integers(0, int((AS_OF - latest).total_seconds()))))
    email = data.draw(st.integers(0, 11))
    known = {e.email_id: e.campaign_kind for e in events}
    click = _event("clicked", email, at, url=data.draw(st.sampled_from(URLS)),
                   email_kind=known.get(f"e{email}", data.draw(st.sampled_from(KINDS))))
    act.apply(click)
    after = score(act, contact_type, baseline, AS_OF, previous_category=held)
    for name in ("propensity_score", "seller_likelihood", "buyer_activity_score"):
        assert getattr(after, name) >= getattr(before, name), (name, before, after, click)
    assert rank(after.propensity_category) <= rank(before.propensity_category)


@st.composite
def constant_behaviours(draw) -> dict:
    """Someone who does the same thing every week: a fixed cadence of email, the same share of it
    opened and clicked (every n-th email, so at least once a week when at all), with privacy-proxy
    opens or a link scanner or neither."""
    per_week = draw(st.integers(1, 3))
    return {
        "per_week": per_week,
        "kind": draw(st.sampled_from(("market_update", "listing_alert", "newsletter", "mortgage"))),
        "open_every": draw(st.one_of(st.none(), st.integers(1, per_week))),
        "click_every": draw(st.one_of(st.none(), st.integers(1, per_week))),
        "url": draw(st.sampled_from(URLS)),
        "mpp": draw(st.booleans()),
        "scanner": draw(st.booleans()),
        "hour": draw(st.integers(6, 22)),
    }


def constant_history(b: dict, weeks: int) -> list[EngagementEvent]:
    events = []
    first = AS_OF - timedelta(weeks=weeks)
    for n in range(weeks * b["per_week"]):
        sent = first + timedelta(days=7 * n / b["per_week"], hours=b["hour"] - first.hour)
        kind = b["kind"]
        events += [_event("sent", n, sent, email_kind=kind), _event("delivered", n, sent + timedelta(seconds=4), email_kind=kind)]
        if b["mpp"]:
            events.append(_event("opened", n, sent + timedelta(seconds=6), ua="Mozilla/5.0", email_kind=kind))
        if b["scanner"]:
            events.append(_event("clicked", n, sent + timedelta(seconds=9), url=b["url"], ua="python-requests/2.32",
                                 email_kind=kind))
        if b["open_every"] and n % b["open_every"] == 0:
            events.append(_event("opened", n, sent + timedelta(hours=3), email_kind=kind))
        if b["click_every"] and n % b["click_every"] == 0:
            url = URLS[(URLS.index(b["url"]) + n // b["click_every"]) % 3] if "listings" in b["url"] else b["url"]
            events.append(_event("clicked", n, sent + timedelta(hours=3, minutes=5), url=url, email_kind=kind))
    return sorted(events, key=lambda e: e.occurred_at)


@SETTINGS
@given(constant_behaviours(), contact_types)
def test_constant_behaviour_gives_a_constant_category(behaviour, contact_type):
    """Once the scoring windows (120 days) are full and the week's pattern has gone round once,
    someone whose behaviour does not change keeps one category, re-scored every day as the daily
    batch does (with the category it held): what repeats within a week moves the score by less than
    the hysteresis margin."""
    weeks = 30
    events = constant_history(behaviour, weeks)
    act, held, seen, i = ContactActivity("ab_contact_1"), None, [], 0
    for day in range(weeks * 7 + 1):
        moment = AS_OF - timedelta(days=weeks * 7 - day)
        while i < len(events) and events[i].occurred_at <= moment:
            act.apply(events[i])
            i += 1
        held = score(act, contact_type, BASELINES[0], moment, previous_category=held).propensity_category
        if day >= 20 * 7:
            seen.append(held)
    assert len(set(seen)) == 1, (behaviour, seen)
