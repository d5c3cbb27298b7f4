"""`replay(scenario)`: a story played from start to finish on a stack of its own."""
from __future__ import annotations

import dataclasses
from typing import Any

from scenarios.story import model as m

from .stack import local_stack
from .story import DayProgress, Story


def replay(scenario: m.Scenario, *, agentbuddy_url: str | None = None, seed: int | None = None,
           console=None, progress: DayProgress | None = None) -> dict[str, Any]:
    """Replay one scenario; returns the JSON-ready result (see `verdicts.results.build`).

    A failure on the way (a server that would not answer, a piece of the pipeline missing) is
    reported in the result's `error`, judged on what was seen until then.
    """
    if seed is not None:
        scenario = dataclasses.replace(scenario, seed=seed)
    with local_stack(scenario, agentbuddy_url) as stack:
        story = Story(scenario, stack, on_day=progress or console_progress(console))
        try:
            return story.finish()
        finally:
            story.close()


def console_progress(console) -> DayProgress | None:
    """Every tenth of the story's days, a dim line on `console`."""
    if console is None:
        return None

    def report(name: str, day: int, days: int) -> None:
        step = max(1, days // 10)
        if day % step == 0 or day == days:
            console.print(f"[dim]{name}: day {day}/{days}[/]")

    return report
