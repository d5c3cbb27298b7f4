"""Many replays: the library, side by side in processes, results in the order asked.

Each replay starts its own fake and its own Broadcast on free ports with a fresh database,
exactly as a lone replay does, so running them side by side changes nothing in any result.
Progress travels back as `(scenario, day, days)` tuples; the caller decides how to show it.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from scenarios.processes import default_jobs, map_in_processes, report
from scenarios.story import model as m
from scenarios.story.loader import library_paths, load
from scenarios.views.console import print_result

from .replay import replay
from .story import DayProgress


def _cost(scenario: m.Scenario) -> int:
    """A rough size, so the longest replays start first and the pool finishes together."""
    return len(scenario.all_contacts()) * scenario.days + sum(c.schedule.count for c in scenario.campaigns)


def _replay_one(scenario: m.Scenario, seed: int | None) -> dict[str, Any]:
    return replay(scenario, seed=seed, progress=report)


def replay_many(scenarios: Sequence[m.Scenario], *, seed: int | None = None, jobs: int | None = None,
                agentbuddy_url: str | None = None, progress: DayProgress | None = None,
                on_result: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Replay `scenarios`; `progress(name, day, days)` as days end, `on_result` as each finishes.

    A shared running fake (`agentbuddy_url`) holds one world at a time, so it means one at a time.
    """
    jobs = 1 if agentbuddy_url else (jobs or default_jobs(len(scenarios)))
    if jobs <= 1 or len(scenarios) <= 1:
        results = []
        for scenario in scenarios:
            result = replay(scenario, agentbuddy_url=agentbuddy_url, seed=seed, progress=progress)
            if on_result:
                on_result(result)
            results.append(result)
        return results
    order = sorted(range(len(scenarios)), key=lambda i: -_cost(scenarios[i]))  # longest first
    done = map_in_processes(_replay_one, [(scenarios[i], seed) for i in order], jobs, progress,
                            on_done=lambda _position, result: on_result(result) if on_result else None)
    results: list[dict[str, Any]] = [{}] * len(scenarios)
    for index, result in zip(order, done):
        results[index] = result
    return results


def replay_library(names: Iterable[str] | None = None, *, console=None, agentbuddy_url: str | None = None,
                   seed: int | None = None, jobs: int | None = None, progress: DayProgress | None = None,
                   on_result: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Replay the named library scenarios (all of them by default) and return their JSON results.

    `progress(name, day, days)` hears each simulated day end, `on_result(result)` each replay as
    it finishes. With a `console` and no `on_result`, each result's table is printed as it arrives.
    """
    paths = library_paths()
    if names is not None:
        wanted = list(names)
        by_name = {p.stem: p for p in paths}
        missing = [n for n in wanted if n not in by_name]
        if missing:
            raise KeyError(f"no library scenario named {', '.join(missing)}; have {', '.join(sorted(by_name))}")
        paths = [by_name[n] for n in wanted]
    if on_result is None and console is not None:
        on_result = lambda result: print_result(result, console)  # noqa: E731
    return replay_many([load(p) for p in paths], seed=seed, jobs=jobs, agentbuddy_url=agentbuddy_url,
                       progress=progress, on_result=on_result)
