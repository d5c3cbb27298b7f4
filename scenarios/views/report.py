"""A replay as one self-contained HTML page: inline CSS, inline SVG, no scripts, no CDN.

It reads the same JSON document `ab-harness replay --json` writes, so a report can be rebuilt
from a stored result and the page never shows anything the JSON does not say.
"""
from __future__ import annotations

from html import escape
from typing import Any, Iterable

# (field, colour, legend, dash): propensity wide and pale underneath, so an owner's seller line
# lying on top of it stays visible.
SERIES = (("propensity_score", "#fb923c", "propensity", ""), ("seller_likelihood", "#1d4ed8", "seller", "5 3"),
          ("buyer_activity_score", "#15803d", "buyer", "2 2"))
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#1f2937;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #e5e7eb;padding-bottom:.3rem}
.pass{color:#15803d;font-weight:600}.fail{color:#b91c1c;font-weight:600}.muted{color:#6b7280}
table{border-collapse:collapse;width:100%;margin:.6rem 0}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #f3f4f6;vertical-align:top}
th{background:#f9fafb;font-weight:600}.contact{display:grid;grid-template-columns:minmax(0,1fr) 360px;gap:1rem;margin:1rem 0;padding:1rem;border:1px solid #e5e7eb;border-radius:8px}
.badge{display:inline-block;padding:0 .5rem;border-radius:999px;font-size:.8rem;font-weight:600}
.hot{background:#fee2e2;color:#991b1b}.warm{background:#ffedd5;color:#9a3412}.cool{background:#e0f2fe;color:#075985}.cold{background:#e5e7eb;color:#374151}
.legend span{margin-right:1rem}.legend i{display:inline-block;width:12px;height:3px;vertical-align:middle;margin-right:.3rem}
code{background:#f3f4f6;padding:0 .25rem;border-radius:3px}ul{margin:.2rem 0;padding-left:1.2rem}
"""


def render_html(results: Iterable[dict[str, Any]], title: str = "Scenario replay") -> str:
    results = list(results)
    passed = sum(1 for r in results if r["passed"])
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>",
             f"<p>{passed} of {len(results)} scenario(s) passed. Scores are what the fake AgentBuddy held "
             "at the end of each simulated day.</p>", _summary_table(results)]
    for result in results:
        parts.append(_scenario(result))
    parts.append("</body></html>")
    return "\n".join(parts)


def _verdict(ok: bool) -> str:
    return '<span class="pass">PASS</span>' if ok else '<span class="fail">FAIL</span>'


def _badge(category: str | None) -> str:
    if not category:
        return '<span class="muted">—</span>'
    return f'<span class="badge {escape(category)}">{escape(category)}</span>'


def _summary_table(results: list[dict]) -> str:
    rows = "".join(
        f"<tr><td><a href='#{escape(r['scenario'])}'>{escape(r['scenario'])}</a></td><td>{_verdict(r['passed'])}</td>"
        f"<td>{sum(e['passed'] for e in r['expectations'])}/{len(r['expectations'])}</td><td>{r['days']}</td></tr>"
        for r in results)
    return f"<table><tr><th>Scenario</th><th>Result</th><th>Expectations</th><th>Days</th></tr>{rows}</table>"


def _scenario(r: dict) -> str:
    out = [f"<h2 id='{escape(r['scenario'])}'>{escape(r['scenario'])} {_verdict(r['passed'])}</h2>",
           f"<p>{escape(r.get('description', ''))}</p>",
           f"<p class=muted>seed {r['seed']} · day 0 = {escape(r['start'])} · {r['days']} days</p>"]
    if r.get("error"):
        out.append(f"<p class=fail>Replay stopped: {escape(r['error'])}</p>")
    out.append("<h3>Expectations</h3><table><tr><th></th><th>Expectation</th><th>Checks</th></tr>")
    for e in r["expectations"]:
        checks = "".join(
            f"<li>{_verdict(c['passed'])} {escape(c['check'])}: expected <code>{escape(str(c['expected']))}</code>, "
            f"got <code>{escape(str(c['actual']))}</code></li>" for c in e["checks"])
        out.append(f"<tr><td>{_verdict(e['passed'])}</td><td>{escape(e['label'])}</td><td><ul>{checks}</ul></td></tr>")
    out.append("</table><h3>Contacts</h3>")
    highlighted = [c for c in r["contacts"] if c.get("expected")] or r["contacts"][:6]
    for c in highlighted:
        out.append(_contact(c, r["days"]))
    if len(highlighted) < len(r["contacts"]):
        out.append(_others(r["contacts"], highlighted))
    return "\n".join(out)


def _contact(c: dict, days: int) -> str:
    final = c.get("final") or {}
    factors = "".join(f"<li>{escape(f)}</li>" for f in final.get("contributing_factors") or [])
    received = ", ".join(f"{k} ×{v}" for k, v in sorted((c.get("received") or {}).items())) or "nothing"
    return (
        f"<div class=contact><div><strong>{escape(c['name'])}</strong> <span class=muted>{escape(c['id'])} · "
        f"AgentBuddy {escape(str(c.get('agentbuddy_id')))} · {escape(c.get('type') or '')}</span>"
        f"<p>{_badge(final.get('propensity_category'))} score <b>{final.get('propensity_score', '—')}</b> · seller "
        f"{final.get('seller_likelihood', '—')} · buyer {final.get('buyer_activity_score', '—')}</p>"
        f"<p>Recommended action: <b>{escape(str(final.get('recommended_action') or '—'))}</b></p>"
        f"<ul>{factors}</ul><p class=muted>AgentBuddy received: {escape(received)}</p>{_requests(c)}</div>"
        f"<div>{chart(c.get('timeline') or [], days)}</div></div>")


def _requests(c: dict) -> str:
    """How AgentBuddy judged the requests that named the contact (signatures, answers, repeats)."""
    r = c.get("requests") or {}
    if not r.get("requests"):
        return ""
    signatures = ", ".join(f"{k} ×{v}" for k, v in (r.get("signatures") or {}).items())
    statuses = ", ".join(f"HTTP {k} ×{v}" for k, v in (r.get("statuses") or {}).items())
    return (f"<p class=muted>{r['requests']} request(s) named this contact · signatures: {escape(signatures)} · "
            f"{escape(statuses)} · duplicates acknowledged: {r.get('duplicates', 0)}</p>")


def _others(contacts: list[dict], shown: list[dict]) -> str:
    ids = {c["id"] for c in shown}
    rows = "".join(
        f"<tr><td>{escape(c['name'])}</td><td>{_badge((c.get('final') or {}).get('propensity_category'))}</td>"
        f"<td>{(c.get('final') or {}).get('propensity_score', '—')}</td></tr>"
        for c in contacts if c["id"] not in ids)
    return f"<details><summary>{len(contacts) - len(ids)} more contacts</summary><table>{rows}</table></details>"


def chart(points: list[dict], days: int, width: int = 360, height: int = 180) -> str:
    """Scores over simulated days as an SVG line chart, with the category bands behind."""
    left, right, top, bottom = 28, 8, 8, 22
    w, h = width - left - right, height - top - bottom
    x = lambda day: left + w * (day / max(days, 1))  # noqa: E731
    y = lambda value: top + h * (1 - value / 100)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="scores over time">']
    for low, high, colour in ((80, 100, "#fee2e2"), (60, 80, "#ffedd5"), (40, 60, "#e0f2fe"), (0, 40, "#f3f4f6")):
        parts.append(f'<rect x="{left}" y="{y(high):.1f}" width="{w}" height="{y(low) - y(high):.1f}" fill="{colour}"/>')
    for value in (0, 40, 60, 80, 100):
        parts.append(f'<text x="{left - 4}" y="{y(value) + 4:.1f}" font-size="10" text-anchor="end" fill="#6b7280">{value}</text>')
    for day, anchor in ((0, "start"), (days // 2, "middle"), (days, "end")):
        parts.append(f'<text x="{x(day):.1f}" y="{height - 6}" font-size="10" text-anchor="{anchor}" fill="#6b7280">day {day}</text>')
    for key, colour, _label, dash in SERIES:
        series = [(p["day"], p[key]) for p in points if isinstance(p.get(key), (int, float))]
        if not series:
            continue
        if series[-1][0] < days:
            series.append((days, series[-1][1]))
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(d):.1f},{y(v):.1f}" for i, (d, v) in enumerate(_steps(series)))
        width = 4 if not dash else 1.6
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="{width}"{dashing}/>')
    parts.append("</svg>")
    legend = "".join(f'<span><i style="background:{colour}"></i>{label}</span>' for _k, colour, label, _d in SERIES)
    return "".join(parts) + f"<div class=legend>{legend}</div>"


def _steps(series: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A value holds until the next one arrives: draw steps, not slopes."""
    out: list[tuple[float, float]] = []
    for day, value in series:
        if out:
            out.append((day, out[-1][1]))
        out.append((day, value))
    return out
