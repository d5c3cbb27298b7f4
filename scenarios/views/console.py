"""Replays for people: a table per scenario, the story of a contact, the path to a failure."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .tell import tell

CATEGORY_STYLE = {"hot": "bold red", "warm": "dark_orange", "cool": "cyan", "cold": "grey58"}


def _category(value: str | None) -> Text:
    return Text(value or "—", style=CATEGORY_STYLE.get(value or "", ""))


def print_result(result: dict[str, Any], console: Console, quiet: bool = False) -> None:
    verdict = "[green]PASS[/]" if result["passed"] else "[red]FAIL[/]"
    passed = sum(e["passed"] for e in result["expectations"])
    console.print(f"{verdict} [bold]{result['scenario']}[/] — {passed}/{len(result['expectations'])} expectations, "
                  f"{result['days']} simulated days, {len(result['events'])} provider events")
    if quiet:
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("contact", "AgentBuddy id", "category", "score", "seller", "buyer", "recommended action"):
        table.add_column(column)
    contacts = [c for c in result["contacts"] if c["expected"]] or result["contacts"][:10]
    for c in contacts:
        f = c["final"]
        table.add_row(c["name"], str(c["agentbuddy_id"]), _category(f.get("propensity_category")),
                      _num(f.get("propensity_score")), _num(f.get("seller_likelihood")),
                      _num(f.get("buyer_activity_score")), f.get("recommended_action") or "—")
    console.print(table)
    for gap in result["gaps"]:
        console.print(f"  [yellow]gap[/]: {gap}")


def _num(value: Any) -> str:
    return "—" if value is None else str(value)


def print_failure(result: dict[str, Any], console: Console, context_days: int = 7) -> None:
    """Which expectation failed, what differed, and the timeline that led there."""
    if result.get("error"):
        console.print(f"  [red]replay stopped[/]: {result['error']}", highlight=False)
    for outcome in result["expectations"]:
        if outcome["passed"]:
            continue
        console.print(f"  [red]✗ {outcome['label']}[/]", highlight=False)
        for check in outcome["checks"]:
            if not check["passed"]:
                console.print(f"      {check['check']}: expected {check['expected']!r}, got {check['actual']!r}",
                              markup=False, highlight=False)
        first = outcome["day"] - context_days
        lines = [line for line in result["log"] if first <= line["day"] <= outcome["day"]
                 and line.get("contact") in (None, outcome["contact"])]
        contact = next((c for c in result["contacts"] if c["id"] == outcome["contact"]), None)
        points = [p for p in (contact or {}).get("timeline", []) if p["day"] <= outcome["day"]][-6:]
        if lines or points:
            console.print(f"      timeline (days {max(0, first)}–{outcome['day']}):", highlight=False)
        for line in lines[-15:]:
            console.print(f"        day {line['day']:>3} {line['at'][11:16]}  {line['what']}", markup=False, highlight=False)
        for p in points:
            console.print(f"        day {p['day']:>3} AgentBuddy held: score {p['propensity_score']} "
                          f"{p['propensity_category']}, seller {p['seller_likelihood']}, buyer {p['buyer_activity_score']}",
                          markup=False, highlight=False)


def story(result: dict[str, Any], contact_id: str, console: Console | None = None) -> None:
    """One person's story: what they did, how the score moved, what AgentBuddy received and advises."""
    tell(result, contact_id, console or Console())
