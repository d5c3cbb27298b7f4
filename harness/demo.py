"""`make demo`: the project's main job on embedded defaults, for a person to watch.

First a short tour of the fake AgentBuddy (OAuth connect, a page of contacts, one signed
webhook), then the built-in scenario library replayed through the real integration and the fake
on a simulated clock, Maria's and James's stories told from what AgentBuddy holds, a table of
every scenario, and the self-contained HTML report (with its JSON) written to disk.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness import tour
from scenarios.engine import replay_library
from scenarios.story.loader import library_paths, load
from scenarios.views.console import print_failure, story
from scenarios.views.progress import day_progress
from scenarios.views.report import render_html

STORIES = (("maria", "maria"), ("james", "james"))  # (scenario, contact) told at length
CATEGORY_STYLE = {"hot": "bold red", "warm": "dark_orange", "cool": "cyan", "cold": "grey58"}


@click.command()
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the toured fake's world.")
@click.option("--tour/--no-tour", "with_tour", default=True, show_default=True,
              help="Start with the short tour of the fake AgentBuddy.")
@click.option("--tour-only", is_flag=True, help="Only the tour of the fake (the interim demo).")
@click.option("--only", "only", multiple=True, metavar="NAME",
              help="Replay only these library scenarios (repeatable); default: the whole library.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Replays side by side (processes); default: up to 2.")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".harness"),
              show_default=True, help="Where demo-report.html and demo-report.json go.")
def demo(seed: int, with_tour: bool, tour_only: bool, only: tuple[str, ...], jobs: int | None,
         output_dir: Path) -> None:
    """Tour the fake, replay the scenario library, tell Maria's and James's stories, write the report.

    Exits 1 when any scenario's expectation fails.
    """
    console = Console(width=None if sys.stdout.isatty() else 120)
    if with_tour or tour_only:
        run_tour(console, seed)
    if tour_only:
        return
    results = replay(console, list(only) or None, jobs)
    for scenario, contact in STORIES:
        result = next((r for r in results if r["scenario"] == scenario), None)
        if result is not None and any(c["id"] == contact for c in result["contacts"]):
            story(result, contact, console)
    summary(console, results)
    html, data = write_report(results, output_dir)
    console.print(f"HTML report: [bold]{html}[/]")
    console.print(f"JSON result: [bold]{data}[/]")
    failed = [r["scenario"] for r in results if not r["passed"]]
    if failed:
        console.print(f"[red]FAILED[/]: {', '.join(failed)}")
        sys.exit(1)
    console.print(f"[green]all {len(results)} scenarios passed[/]")


def run_tour(console: Console, seed: int) -> None:
    server = tour.start_fake(seed)
    try:
        result = tour.run_tour(server.url, seed)
        tour.print_tour(console, server.url, result)
    finally:
        server.stop()


def replay(console: Console, names: list[str] | None, jobs: int | None) -> list[dict[str, Any]]:
    wanted = names or [p.stem for p in library_paths()]
    try:
        scenarios = [load(name) for name in wanted]
    except Exception as error:  # an unknown --only name: say which, not a traceback
        raise click.BadParameter(str(error), param_hint="--only") from None
    console.rule("[bold]The scenario library, replayed through Broadcast and the fake AgentBuddy")
    console.print(f"{len(scenarios)} scenarios on a simulated clock; verdicts come from what AgentBuddy holds.")
    started = time.perf_counter()

    def done(result: dict) -> None:
        verdict = "[green]PASS[/]" if result["passed"] else "[red]FAIL[/]"
        passed = sum(e["passed"] for e in result["expectations"])
        console.print(f"  {verdict} {result['scenario']} ({passed}/{len(result['expectations'])} expectations, "
                      f"{result['days']} days)", highlight=False)

    with day_progress(console, scenarios) as progress:
        try:
            results = replay_library(wanted, jobs=jobs, progress=progress.advance, on_result=done)
        except KeyError as error:
            raise click.BadParameter(str(error), param_hint="--only") from None
    console.print(f"[dim]replayed in {time.perf_counter() - started:.1f} s[/]")
    return results


def summary(console: Console, results: list[dict[str, Any]]) -> None:
    console.rule("[bold]Every scenario")
    table = Table(show_edge=False, pad_edge=False)
    for column in ("scenario", "result", "checks", "contact", "AgentBuddy holds", "recommended action"):
        table.add_column(column, overflow="fold")
    for r in results:
        passed = sum(e["passed"] for e in r["expectations"])
        verdict = Text("PASS", style="green") if r["passed"] else Text("FAIL", style="bold red")
        table.add_row(r["scenario"], verdict, f"{passed}/{len(r['expectations'])}", *_headline(r))
    console.print(table)
    for r in results:
        if not r["passed"]:
            console.print(f"[red]{r['scenario']}[/]:")
            print_failure(r, console)


def _headline(result: dict) -> tuple[str, Text, str]:
    """The first expected contact as AgentBuddy holds it at the end: who, category and score, action."""
    contact = next((c for c in result["contacts"] if c["expected"]), None) or (result["contacts"] or [None])[0]
    if contact is None:
        return "—", Text("—"), "—"
    final = contact["final"]
    category = final.get("propensity_category")
    held = Text(category or "—", style=CATEGORY_STYLE.get(category or "", ""))
    held.append(f" {final.get('propensity_score', '—')}")
    return contact["name"], held, final.get("recommended_action") or "—"


def write_report(results: list[dict[str, Any]], output_dir: Path) -> tuple[Path, Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    html = (output_dir / "demo-report.html").resolve()
    data = (output_dir / "demo-report.json").resolve()
    html.write_text(render_html(results, title="Broadcast ↔ AgentBuddy: the scenario library"), encoding="utf-8")
    data.write_text(json.dumps({"results": results}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return html, data
