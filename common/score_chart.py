"""A contact's 0-100 scores over time as inline-SVG chart geometry.

Both sides' pages draw the same chart, and neither server may import the other, so the geometry
lives here. The category bands are passed in (`contract.categories.BANDS`): this module knows
how to draw a scale, not what the contract says the scale means.
"""
from __future__ import annotations

from typing import Sequence

from .timestamps import parse_rfc3339

Band = tuple[str, int, int]  # (name, lowest score, highest score)


def _timestamp(when: str) -> float:
    """Seconds since the epoch of an RFC 3339 time; an unreadable one sorts first, never raises."""
    try:
        return parse_rfc3339(when).timestamp()
    except (TypeError, ValueError):
        return 0.0


def score_chart(points: list[tuple[str, int]], bands: Sequence[Band], width: int = 600,
                height: int = 190) -> dict | None:
    """Coordinates for an inline SVG line chart of `(time, score)` points; None when empty."""
    if not points:
        return None
    left, right, top, bottom = 36, 12, 10, 24
    inner_w, inner_h = width - left - right, height - top - bottom
    times = [_timestamp(when) for when, _ in points]
    span = (times[-1] - times[0]) or 1.0

    def x(index: int) -> float:
        if len(points) == 1:
            return round(left + inner_w / 2, 1)
        return round(left + inner_w * (times[index] - times[0]) / span, 1)

    def y(value: float) -> float:
        return round(top + inner_h * (1 - value / 100), 1)

    dots = [{"x": x(i), "y": y(v), "score": v, "label": when} for i, (when, v) in enumerate(points)]
    drawn = [{"name": name, "y": y(min(high + 1, 100)), "h": round(y(low) - y(min(high + 1, 100)), 1)}
             for name, low, high in bands]
    return {"width": width, "height": height, "left": left, "right": width - right, "bottom": height - bottom,
            "dots": dots, "bands": drawn, "ticks": [{"y": y(v), "v": v} for v in sorted({0, 100, *(low for _, low, _ in bands)})],
            "path": " ".join(f"{d['x']},{d['y']}" for d in dots),
            "first": points[0][0], "last": points[-1][0]}
