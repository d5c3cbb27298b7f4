"""One person's replay told for a person: what happened week by week with the score AgentBuddy
held, the moments that moved it, what AgentBuddy received (and how it judged the requests), and
what it now advises. Everything shown comes from the replay's JSON result, so the story can be
re-told from a stored result and never says more than the fake AgentBuddy held.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from common.timestamps import parse_rfc3339
from contract.categories import rank

CATEGORY_STYLE = {"hot": "bold red", "warm": "dark_orange", "cool": "cyan", "cold": "grey58"}
BLOCKS = " ▏▎▍▌▋▊▉█"


def tell(result: dict[str, Any], contact_id: str, console: Console) -> None:
    contact = next(c for c in result["contacts"] if c["id"] == contact_id)
    console.rule(f"[bold]{contact['name']}[/] — {result['scenario']}")
    console.print(Text(" ".join(result.get("description", "").split()), style="italic"), highlight=False)
    console.print(week_table(result, contact))
    moments = key_moments(result, contact)
    if moments:
        console.print(Text("Moments that moved the score", style="bold"))
        for when, what in moments:
            console.print(f"  {when}  {what}", markup=False, highlight=False)
    console.print(received_panel(result, contact))
    console.print(action_panel(result, contact))


def _start(result: dict) -> date:
    return date.fromisoformat(result["start"][:10])


def _day_of(result: dict, at: str) -> int:
    return (parse_rfc3339(at).date() - _start(result)).days


def _date(result: dict, day: int) -> str:
    return (_start(result) + timedelta(days=day)).strftime("%b %d")


def _held(points: list[dict], day: int) -> dict | None:
    """The contact as AgentBuddy held it at the end of `day` (the last change on or before it)."""
    best = None
    for point in points:
        if point["day"] <= day:
            best = point
    return best


def _bar(value: Any, width: int = 10) -> str:
    if not isinstance(value, (int, float)):
        return ""
    eighths = round(max(0, min(100, value)) / 100 * width * 8)
    return BLOCKS[-1] * (eighths // 8) + (BLOCKS[eighths % 8] if eighths % 8 else "")


def week_table(result: dict, contact: dict) -> Table:
    """Week by week: emails sent, human opens and clicks, and the score AgentBuddy held at its end."""
    cid = contact["id"]
    days = result["days"]
    weeks = days // 7 + 1
    sent = [0] * weeks
    opens = [0] * weeks
    clicks = [0] * weeks
    for s in result["sends"]:
        if s["contact"] == cid and s["outcome"] == "sent":
            sent[min(_day_of(result, s["at"]) // 7, weeks - 1)] += 1
    for e in result["events"]:
        if e["contact"] != cid or e.get("machine"):
            continue
        week = min(_day_of(result, e["at"]) // 7, weeks - 1)
        if e["type"] == "opened":
            opens[week] += 1
        elif e["type"] == "clicked":
            clicks[week] += 1
    owner = contact.get("type") == "owner"
    table = Table(title="Week by week — and the score AgentBuddy held at the end of each", show_edge=False,
                  title_justify="left", pad_edge=False)
    for column, justify in (("week", "right"), ("dates", "left"), ("sent", "right"), ("opens", "right"),
                            ("clicks", "right"), ("score", "right"), ("", "left"), ("category", "left"),
                            ("seller", "right"), ("buyer", "right")):
        table.add_column(column, justify=justify)
    rows: list[dict] = []
    for week in range(weeks):
        first, last = week * 7, min(week * 7 + 6, days)
        held = _held(contact["timeline"], last) or {}
        shown = tuple(held.get(k) for k in ("propensity_score", "propensity_category", "seller_likelihood",
                                            "buyer_activity_score"))
        quiet = not opens[week] and not clicks[week]
        previous = rows[-1] if rows else None
        if previous and quiet and previous["quiet"] and previous["shown"] == shown:
            previous.update(last_week=week, last=last, sent=previous["sent"] + sent[week])  # a run of quiet weeks
            continue
        rows.append({"week": week, "last_week": week, "first": first, "last": last, "sent": sent[week],
                     "opens": opens[week], "clicks": clicks[week], "held": held, "shown": shown, "quiet": quiet})
    for row in rows:
        held = row["held"]
        score, category = held.get("propensity_score"), held.get("propensity_category")
        lead = held.get("seller_likelihood") if owner else held.get("buyer_activity_score")
        style = CATEGORY_STYLE.get(category or "", "")
        label = str(row["week"] + 1) if row["week"] == row["last_week"] else f"{row['week'] + 1}–{row['last_week'] + 1}"
        table.add_row(label, f"{_date(result, row['first'])}–{_date(result, row['last'])}", _n(row["sent"]),
                      _n(row["opens"]), _n(row["clicks"]), _s(score),
                      Text(_bar(lead if lead is not None else score), style=style), Text(category or "—", style=style),
                      _s(held.get("seller_likelihood")), _s(held.get("buyer_activity_score")))
    return table


def _n(value: int) -> str:
    """A count; quiet weeks show a dot so the busy ones stand out."""
    return str(value) if value else "·"


def _s(value: Any) -> str:
    return "—" if value is None else str(value)


def key_moments(result: dict, contact: dict) -> list[tuple[str, str]]:
    """Clicks, unsubscribes, edits and the days the category changed, in time order."""
    cid = contact["id"]
    moments: list[tuple[str, int, str]] = []
    for line in result["log"]:
        if line.get("contact") == cid:
            what = line["what"].removeprefix(contact["name"] + " ")
            moments.append((line["at"], line["day"], what))
    shown, swings = category_runs(contact["timeline"])
    for point in shown:
        at = f"{(_start(result) + timedelta(days=point['day'])).isoformat()}T23:59:59Z"
        moments.append((at, point["day"], f"AgentBuddy now holds {point['propensity_category'].upper()}: score "
                                          f"{point.get('propensity_score')}, seller {point.get('seller_likelihood')}, "
                                          f"buyer {point.get('buyer_activity_score')}"))
    if swings:
        moments.append(("9999", result["days"], f"(and {swings} one-day category swing(s), not listed)"))
    moments.sort(key=lambda m: m[0])
    return [(f"day {day:>3} {_date(result, day)}", what) for _at, day, what in moments]


def category_runs(points: list[dict]) -> tuple[list[dict], int]:
    """The first point of each stretch in one category. Stretches of a single day (unless the
    last) are left out: passing through a category on the way up or down (cool, one day warm,
    then hot) silently, a swing there and back (cool, one day warm, cool again) counted, so the
    story can say how many it left out."""
    runs: list[tuple[dict, int]] = []  # (first point, days held)
    for i, point in enumerate(points):
        category = point.get("propensity_category")
        if not category:
            continue
        if not runs or runs[-1][0]["propensity_category"] != category:
            runs.append((point, 0))
        following = points[i + 1]["day"] if i + 1 < len(points) else None
        held = (following - point["day"]) if following is not None else 10 ** 6
        runs[-1] = (runs[-1][0], runs[-1][1] + held)
    kept: list[dict] = []
    swings = 0
    for index, (first, held) in enumerate(runs):
        if held < 2 and index != len(runs) - 1:
            if not _passing_through(runs, index):
                swings += 1
            continue
        if kept and kept[-1]["propensity_category"] == first["propensity_category"]:
            continue  # the same category again once a one-day swing is left out
        kept.append(first)
    return kept, swings


def _passing_through(runs: list[tuple[dict, int]], index: int) -> bool:
    """A one-day stretch strictly between the categories before and after it."""
    if index == 0:
        return False
    before, here, after = (rank(runs[i][0]["propensity_category"]) for i in (index - 1, index, index + 1))
    return min(before, after) < here < max(before, after)


def received_panel(result: dict, contact: dict) -> Panel:
    """What AgentBuddy holds for the contact, and how it judged the requests that brought it."""
    requests = contact.get("requests") or {}
    signatures = requests.get("signatures") or {}
    valid = signatures.get("valid", 0)
    other = {k: v for k, v in signatures.items() if k != "valid"}
    counts = ", ".join(f"{k} ×{v}" for k, v in contact["received"].items()) or "nothing"
    rows = contact.get("deliveries") or []
    doubled = sum(1 for r in rows if r.get("count", 1) > 1)
    refused = sum(r.get("refused_repeats", 0) for r in rows)
    statuses = ", ".join(f"HTTP {k} ×{v}" for k, v in (requests.get("statuses") or {}).items()) or "none"
    lines = [
        f"Events AgentBuddy holds for {contact['agentbuddy_id']}: {counts}",
        f"Each event held once: {'yes' if not doubled else f'NO — {doubled} held more than once'}"
        + (f" ({refused} repeat deliveries acknowledged and ignored)" if refused else ""),
        f"Requests naming this contact: {requests.get('requests', 0)} ({statuses})",
        f"Standard Webhooks signatures verified by AgentBuddy: {valid} of {requests.get('requests', 0)}"
        + (f"; other verdicts: {other}" if other else ""),
    ]
    return Panel("\n".join(lines), title="What AgentBuddy received", title_align="left", expand=False)


def action_panel(result: dict, contact: dict) -> Panel:
    final = contact["final"]
    category = final.get("propensity_category")
    head = Text.assemble(("Recommended action: ", "bold"),
                         (final.get("recommended_action") or "—", "bold " + CATEGORY_STYLE.get(category or "", "")))
    score = Text(f"score {final.get('propensity_score')} ({category}) · seller {final.get('seller_likelihood')} · "
                 f"buyer {final.get('buyer_activity_score')} · trend {final.get('engagement_trend')}")
    factors = Text("\n".join(f"  • {f}" for f in final.get("contributing_factors") or []))
    verdicts = Text()
    for outcome in result["expectations"]:
        if outcome["contact"] == contact["id"]:
            verdicts.append("✓ " if outcome["passed"] else "✗ ", style="green" if outcome["passed"] else "red")
            verdicts.append(outcome["label"] + "\n")
    verdicts.rstrip()
    return Panel(Group(head, score, factors, verdicts), title=f"AgentBuddy's record on day {result['days']}",
                 title_align="left", expand=False)
