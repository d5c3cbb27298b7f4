"""Expectations over a run of days: they pass on what they promise and fail on what they rule out."""
from __future__ import annotations

import pytest

from scenarios.verdicts.checks import check_all
from scenarios.verdicts.observations import Observations
from scenarios.story.loader import ScenarioError, loads
from tests.scenarios.samples import pat

STORY = pat(28, 4, """
expect:
  - {contact: pat, day: 7, until_day: 28, category_not: [hot]}
  - {contact: pat, day: 7, weekly_moves_at_most: MOVES}
""")


def held(categories: dict[int, str]) -> Observations:
    """What AgentBuddy held at each day's end: the category of the latest day listed."""
    snaps, current = [], None
    for day in range(29):
        current = categories.get(day, current)
        snaps.append({"day": day, "record": {"propensity": {"propensity_category": current, "propensity_score": 50}},
                      "events": []})
    return Observations({"pat": snaps}, [], [])


def outcomes(moves: int, categories: dict[int, str]) -> list[bool]:
    scenario = loads(STORY.replace("MOVES", str(moves)))
    return [o["passed"] for o in check_all(scenario, held(categories))]


def test_a_category_that_stays_put_passes_both():
    assert outcomes(0, {0: "cool"}) == [True, True]


def test_one_hot_day_in_the_run_fails_the_every_day_check():
    assert outcomes(3, {0: "cool", 17: "hot", 18: "cool"}) == [False, True]


def test_a_two_band_jump_between_week_ends_fails_at_most_one_and_passes_at_most_two():
    jump = {0: "cold", 14: "warm"}
    assert outcomes(1, jump) == [True, False]
    assert outcomes(2, jump) == [True, True]


def test_until_day_before_day_is_refused_with_the_path():
    with pytest.raises(ScenarioError) as error:
        loads(STORY.replace("MOVES", "0").replace("day: 7, until_day: 28", "day: 20, until_day: 10"))
    assert any("until_day 10 is before day 20" in m for m in error.value.messages)
