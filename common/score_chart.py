"""A contact's 0-100 scores over time as an inline SVG chart.

Both sides' pages draw the same chart, and neither server may import the other, so the chart
lives here: `score_chart` computes the geometry, `score_chart_svg` draws it in a server's own
colours. The category bands are passed in (`contract.categories.BANDS`): this module knows how
to draw a scale, not what the contract says the scale means.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from markupsafe import Markup, escape

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


@dataclass(frozen=True)
class Palette:
    """A server's colours: the line and dots, and the grid. Bands take `var(--<category>)` from
    the page's own stylesheet."""

    line: str
    grid: str


def score_chart_svg(points: list[tuple[str, int]], bands: Sequence[Band], palette: Palette) -> Markup | None:
    """The chart as SVG markup, safe to place in a page; None when there are no points."""
    c = score_chart(points, bands)
    if c is None:
        return None
    width, left, right = c["width"], c["left"], c["right"]
    parts = [f'<svg role="img" aria-label="Propensity score over time" width="100%" '
             f'viewBox="0 0 {width} {c["height"]}" style="max-width: {width}px">']
    parts += [f'<rect x="{left}" y="{b["y"]}" width="{right - left}" height="{b["h"]}" '
              f'fill="var(--{escape(b["name"])})" opacity=".07"/>' for b in c["bands"]]
    parts += [f'<line x1="{left}" x2="{right}" y1="{t["y"]}" y2="{t["y"]}" stroke="{escape(palette.grid)}"/>'
              f'<text x="{left - 6}" y="{t["y"] + 4}" text-anchor="end">{t["v"]}</text>' for t in c["ticks"]]
    if len(c["dots"]) > 1:
        parts.append(f'<polyline fill="none" stroke="{escape(palette.line)}" stroke-width="2" points="{c["path"]}"/>')
    parts += [f'<circle cx="{d["x"]}" cy="{d["y"]}" r="4" fill="{escape(palette.line)}">'
              f'<title>{escape(d["label"])}: {d["score"]}</title></circle>' for d in c["dots"]]
    parts.append(f'<text x="{left}" y="{c["height"] - 6}">{escape(_minute(c["first"]))}</text>')
    parts.append(f'<text x="{right}" y="{c["height"] - 6}" text-anchor="end">{escape(_minute(c["last"]))}</text>')
    parts.append("</svg>")
    return Markup("\n".join(parts))


def _minute(when: str) -> str:
    return str(when)[:16].replace("T", " ")
