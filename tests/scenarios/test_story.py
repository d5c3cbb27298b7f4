"""Maria's story reads as a story: category stretches, not every one-day wobble."""
from __future__ import annotations

from scenarios.views.tell import category_runs


def point(day: int, category: str, score: int = 50) -> dict:
    return {"day": day, "propensity_category": category, "propensity_score": score}


def test_one_day_swings_are_left_out_and_the_stretches_around_them_joined():
    points = [point(0, "cold"), point(1, "cool"), point(8, "cold"), point(20, "cool"), point(21, "cold"),
              point(30, "hot")]
    kept, swings = category_runs(points)
    assert [(p["day"], p["propensity_category"]) for p in kept] == [(1, "cool"), (8, "cold"), (30, "hot")]
    assert swings == 2  # day 0 cold and day 20 cool held one day each


def test_the_last_category_is_always_shown_even_when_new():
    kept, swings = category_runs([point(0, "cool"), point(5, "hot")])
    assert [p["propensity_category"] for p in kept] == ["cool", "hot"] and swings == 0


def test_passing_through_a_category_on_the_way_up_is_no_swing():
    kept, swings = category_runs([point(0, "cool"), point(10, "warm"), point(11, "hot"), point(20, "hot")])
    assert [p["propensity_category"] for p in kept] == ["cool", "hot"] and swings == 0
