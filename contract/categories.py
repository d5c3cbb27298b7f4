"""The four propensity categories and the score bands that define them (spec section 6).

`propensity_category` is part of the contract: hot 80–100, warm 60–79, cool 40–59, cold 0–39.
This is the one place those numbers are written; scoring, both sides' pages and the simulator's
checks read them from here.
"""
from __future__ import annotations

from typing import Literal

Category = Literal["hot", "warm", "cool", "cold"]

# (category, lowest score in it, highest score in it), hottest first.
BANDS: tuple[tuple[Category, int, int], ...] = (("hot", 80, 100), ("warm", 60, 79), ("cool", 40, 59), ("cold", 0, 39))
CATEGORIES: tuple[Category, ...] = tuple(name for name, _, _ in BANDS)
LOWER_BOUND: dict[str, int] = {name: low for name, low, _ in BANDS}


def category_for(score: float) -> Category:
    """The band a 0–100 score falls in."""
    for name, low, _ in BANDS:
        if score >= low:
            return name
    return "cold"


def rank(category: str) -> int:
    """0 for hot … 3 for cold: how many bands below the top."""
    return CATEGORIES.index(category)  # type: ignore[arg-type]
