"""A live view of replays in flight: one bar per scenario in simulated days, and the whole run."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from scenarios.story import model as m


class DayProgress:
    """Receives `(scenario, day, days)` as each simulated day ends (from any replay process)."""

    def __init__(self, progress: Progress | None, scenarios: Sequence[m.Scenario]) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.total: TaskID | None = None
        if progress is None:
            return
        all_days = sum(s.days + 1 for s in scenarios)
        self.total = progress.add_task(f"[bold]{len(scenarios)} scenario(s)", total=all_days)
        for s in scenarios:
            self.tasks[s.name] = progress.add_task(f"  {s.name}", total=s.days + 1, visible=False)

    def advance(self, name: str, day: int, days: int) -> None:
        if self.progress is None or name not in self.tasks:
            return
        task = self.tasks[name]
        before = self.progress.tasks[task].completed
        done = day + 1
        self.progress.update(task, completed=done, visible=done < days + 1)
        if self.total is not None:
            self.progress.advance(self.total, done - before)


@contextmanager
def day_progress(console: Console, scenarios: Sequence[m.Scenario], enabled: bool = True) -> Iterator[DayProgress]:
    """Bars while replays run; they vanish when done, leaving whatever was printed meanwhile."""
    if not enabled:
        yield DayProgress(None, scenarios)
        return
    columns = (TextColumn("{task.description}"), BarColumn(bar_width=30), MofNCompleteColumn(),
               TextColumn("simulated days"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield DayProgress(progress, scenarios)
