"""`ab-harness replay`, `evaluate` and `generate`: the simulator's command line."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress

from scenarios.engine.many import replay_many
from scenarios.people.generator import Population
from scenarios.people.resend import payload
from scenarios.story.loader import ScenarioError, library_paths, load
from scenarios.verdicts import evaluate as ev
from scenarios.views.console import print_failure, print_result
from scenarios.views.evaluation import render as render_evaluation
from scenarios.views.progress import day_progress
from scenarios.views.report import render_html


def _width() -> int | None:
    """Rich's 80 columns when piped would cut the tables; logs and CI get 120."""
    return None if sys.stdout.isatty() else 120


@click.command("generate")
@click.option("--contacts", default=1000, show_default=True, type=click.IntRange(1, 10_000_000))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--days", default=180, show_default=True, type=click.IntRange(1, 730))
@click.option("--format", "fmt", type=click.Choice(["canonical", "resend"]), default="canonical", show_default=True,
              help="canonical: one simulated event per line; resend: the webhook body Resend would POST.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default="-",
              help="JSON Lines file (default: stdout).")
def generate(contacts: int, seed: int, days: int, fmt: str, output: str) -> None:
    """Stream a seeded population's email events as JSON Lines (same seed, same bytes)."""
    population = Population(contacts, seed, days)
    campaigns = {c.id: c for c in population.scenario().campaigns}
    stream = sys.stdout if output == "-" else open(output, "w", encoding="utf-8")
    written = 0
    try:
        for contact, events in population.people():
            for event in events:
                if fmt == "canonical":
                    line = {**event.to_json(), "archetype": contact.archetype}
                elif event.type == "unsubscribed":
                    line = {"type": "broadcast.unsubscribed", "created_at": event.to_json()["at"],
                            "data": {"email_id": event.email_id, "contact_id": contact.id}}
                else:
                    campaign = campaigns[event.campaign_id]
                    line = payload(event, contact.email, campaign.name,
                                   {"contact_id": contact.id, "campaign_id": campaign.id, "campaign_kind": campaign.kind})
                stream.write(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n")
                written += 1
    finally:
        if stream is not sys.stdout:
            stream.close()
    if output != "-":
        click.echo(f"wrote {written:,} events for {contacts:,} contacts to {output}", err=True)


@click.command("evaluate")
@click.option("--contacts", default=10_000, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--days", default=180, show_default=True, type=click.IntRange(30, 730))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON instead of tables.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Processes sharing the people (default: up to 2); the figures do not depend on it.")
def evaluate(contacts: int, seed: int, days: int, as_json: bool, jobs: int | None) -> None:
    """Score a seeded population day by day with the integration's scoring; report how 'hot' finds
    planted intent, how scores rank it, and how steady categories are for people who do not change."""
    console = Console(stderr=as_json, width=_width())
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("scoring contacts", total=contacts)
        result = ev.run(contacts, seed, days, progress=lambda n: progress.update(task, completed=n), jobs=jobs)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        render_evaluation(result, console)


@click.command("replay")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--library", is_flag=True, help="Replay every scenario of the built-in library.")
@click.option("--agentbuddy-url", default=None, help="Use a running fake AgentBuddy instead of starting one.")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the full result here.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path), help="Write an HTML report here.")
@click.option("--seed", type=int, default=None, help="Override every scenario's seed.")
@click.option("--check", is_flag=True, help="Only validate the scenario files.")
@click.option("--quiet", "-q", is_flag=True, help="No progress or tables; just the verdicts.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Replays side by side (processes); default: up to 2, one with --agentbuddy-url.")
def replay(paths, library, agentbuddy_url, json_file, report_file, seed, check, quiet, jobs) -> None:
    """Play scenario files through the real integration and the fake AgentBuddy on a simulated clock.

    PATH may be a file or the name of a library scenario (e.g. `maria`). Exits 1 when any
    expectation fails, 2 when a file is invalid.
    """
    console = Console(width=_width())
    targets = list(paths) + (library_paths() if library else [])
    if not targets:
        raise click.UsageError("give scenario files (or library names), or --library")
    scenarios = []
    invalid = False
    for target in targets:
        try:
            scenarios.append(load(target))
        except ScenarioError as error:
            invalid = True
            console.print(f"[red]{error.source}[/]: invalid scenario")
            for message in error.messages:
                console.print(f"  {message}", markup=False, highlight=False)
    if invalid:
        sys.exit(2)
    if check:
        console.print(f"{len(scenarios)} scenario file(s) valid")
        return

    def show(result: dict) -> None:
        print_result(result, console, quiet=quiet)
        if not result["passed"]:
            print_failure(result, console)

    with day_progress(console, scenarios, enabled=not quiet) as progress:
        results = replay_many(scenarios, seed=seed, jobs=jobs, agentbuddy_url=agentbuddy_url,
                              progress=progress.advance, on_result=show)
    if json_file:
        document = results[0] if len(results) == 1 else {"results": results}
        json_file.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if report_file:
        report_file.write_text(render_html(results), encoding="utf-8")
    failed = [r["scenario"] for r in results if not r["passed"]]
    if failed:
        console.print(f"[red]FAILED[/]: {', '.join(failed)}")
        sys.exit(1)
    console.print(f"[green]all {len(results)} scenario(s) passed[/]")
