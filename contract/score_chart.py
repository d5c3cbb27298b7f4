"""The spec's 0-100 propensity scale (section 6's hot/warm/cool/cold bands) as chart geometry.

Both sides' pages draw a contact's scores over time on that scale; the geometry lives here, next
to the contract the scale comes from, because neither server may import the other.
"""
from __future__ import annotations

from datetime import datetime, timezone

CATEGORY_BANDS = (("hot", 80, 100), ("warm", 60, 80), ("cool", 40, 60), ("cold", 0, 40))


def _timestamp(when: str) -> float:
    """Seconds since the epoch of an RFC 3339 time; an unreadable one sorts first, never raises."""
    try:
        return datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
    except (AttributeError, TypeError, ValueError):
        return datetime(1970, 1, 1, tzinfo=timezone.utc).timestamp()


def score_chart(points: list[tuple[str, int]], width: int = 600, height: int = 190) -> dict | None:
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
    bands = [{"name": name, "y": y(high), "h": round(y(low) - y(high), 1)} for name, low, high in CATEGORY_BANDS]
    return {"width": width, "height": height, "left": left, "right": width - right, "bottom": height - bottom,
            "dots": dots, "bands": bands, "ticks": [{"y": y(v), "v": v} for v in (0, 40, 60, 80, 100)],
            "path": " ".join(f"{d['x']},{d['y']}" for d in dots),
            "first": points[0][0], "last": points[-1][0]}
