"""`make demo`: the project's main job on embedded defaults, for a person to watch."""
from __future__ import annotations

import click
from rich.console import Console

from harness import tour


@click.command()
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the fake's world.")
def demo(seed: int) -> None:
    """Start the fake in-process, tour it (OAuth, contacts, a signed webhook) and stop."""
    console = Console()
    server = tour.start_fake(seed)
    try:
        result = tour.run_tour(server.url, seed)
        tour.print_tour(console, server.url, result)
    finally:
        server.stop()
