"""Spec section 9, Phase 4 (Propensity Intelligence): the success criteria software can check.

- Propensity scores calculated for all contacts
- Scores update within 24 hours of engagement
("Agents report finding value in recommendations" is a survey of people, not a test.)
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from .support import Broadcast, parse_iso
from contract.categories import category_for
from integration.engagement.pipeline import rescore
from integration.sync.conflicts import is_emailable
from integration.web.service import rescore_due


def _daily_service_pass(broadcast: Broadcast) -> list[rescore.RescoreSummary]:
    """What the running service does on its re-score poll, then its workers deliver the result."""
    done = rescore_due(broadcast.db, broadcast.clock, interval_hours=24)
    broadcast.deliver_until_done()
    return done


def _agentbuddy_propensity(broadcast: Broadcast) -> dict[str, dict[str, Any] | None]:
    return {c["id"]: c.get("propensity") for c in broadcast.fake.records("contacts", include_deleted=False)}


def test_propensity_scores_calculated_for_all_contacts(synced: Broadcast):
    """After some engagement and the daily re-score, every live contact has a score in Broadcast
    (0–100, the spec's category for its range, an action, reasons), and AgentBuddy holds the same
    score for every one of them, emailable or not (owners with a seller likelihood, buyers with an
    activity score)."""
    synced.engage(synced.emailable_contacts(6), lambda i: [(2, 1), (1, 0), (0, 0)][i % 3], live=True)
    synced.deliver_until_done()
    synced.advance(24 * 3600)
    [summary] = _daily_service_pass(synced)
    assert summary.scored > 0

    contacts = {c["id"]: c for c in synced.rows("contacts") if c["deleted_at"] is None}
    scores = synced.scores()
    assert set(contacts) <= set(scores), f"unscored: {sorted(set(contacts) - set(scores))[:5]}"
    for contact_id in contacts:
        score = scores[contact_id]
        assert 0 <= score["propensity_score"] <= 100
        assert score["propensity_category"] == category_for(score["propensity_score"]), contact_id  # spec 6 bands
        assert score["recommended_action"], contact_id

    theirs = _agentbuddy_propensity(synced)
    emailable = [cid for cid, row in contacts.items() if is_emailable(row)]
    assert len(emailable) >= len(contacts) // 2 and len(emailable) < len(contacts), "both kinds are present"
    for contact_id in contacts:  # the emailable ones, and those Broadcast may not email, alike
        held = theirs[contact_id]
        assert held is not None, f"{contact_id}: AgentBuddy has no score"
        assert (held["propensity_score"], held["propensity_category"]) == (
            scores[contact_id]["propensity_score"], scores[contact_id]["propensity_category"]), contact_id
        assert held["recommended_action"] and isinstance(held["contributing_factors"], list)
        kind = contacts[contact_id]["contact_type"]
        if kind == "owner":
            assert held["seller_likelihood"] is not None, contact_id
        if kind == "buyer":
            assert held["buyer_activity_score"] is not None, contact_id


def test_scores_update_within_24_hours_of_engagement(synced: Broadcast):
    """A quiet contact, scored and known to AgentBuddy, suddenly opens and clicks the home
    valuation link. Running the service hour by hour, AgentBuddy holds the new (higher) score —
    Broadcast's own — no later than 24 hours of clock after the engagement."""
    _daily_service_pass(synced)
    contact_id = next(c for c in synced.emailable_contacts() if synced.row("contacts", c)["contact_type"] == "owner")
    before = synced.fake.get(f"contacts/{contact_id}")["propensity"]
    assert before is not None, "the first daily pass told AgentBuddy the quiet contact's score"

    synced.advance(2 * 3600)
    engaged_at = synced.clock.now()
    synced.engage([contact_id], lambda _i: (3, 2), live=True)
    updated_at = None
    while synced.clock.now() <= engaged_at + timedelta(hours=24):
        _daily_service_pass(synced)
        held = synced.fake.get(f"contacts/{contact_id}")["propensity"]
        if held["propensity_score"] != before["propensity_score"]:
            updated_at = synced.clock.now()
            break
        synced.advance(3600)
    assert updated_at is not None, "AgentBuddy still had the old score 24 hours after the engagement"
    assert updated_at - engaged_at <= timedelta(hours=24)
    ours = synced.scores()[contact_id]
    assert held["propensity_score"] == ours["propensity_score"] > before["propensity_score"]
    assert parse_iso(held["score_updated_at"]) <= engaged_at + timedelta(hours=24)


def test_scores_at_agentbuddy_are_never_more_than_24_hours_behind_as_engagement_ages(synced: Broadcast):
    """Time alone moves scores (recency bonuses lapse, trends turn): day after day with no new
    engagement, each daily pass leaves AgentBuddy holding exactly Broadcast's current score."""
    synced.engage(synced.emailable_contacts(8), lambda i: [(3, 2), (2, 1), (1, 0), (0, 0)][i % 4], live=True)
    synced.deliver_until_done()
    history: list[dict[str, int]] = []
    for _day in range(12):
        synced.advance(24 * 3600)
        assert _daily_service_pass(synced), "a day later the daily re-score is due"
        ours = {cid: s["propensity_score"] for cid, s in synced.scores().items()}
        theirs = _agentbuddy_propensity(synced)
        for contact_id in synced.emailable_contacts():
            assert theirs[contact_id] is not None and theirs[contact_id]["propensity_score"] == ours[contact_id], \
                (contact_id, _day)
        history.append(ours)
    assert history[0] != history[-1], "scores moved with time, and AgentBuddy followed"
