"""Replay several scenarios side by side, one process each, results in the order asked.

A replay is CPU-bound Python in one process (the fake, Broadcast and the simulator share its
GIL), so the library only gets faster with processes. Each replay starts its own fake and its
own Broadcast on free ports with a fresh database, exactly as a lone replay does, so running
them side by side changes nothing in any result. Progress travels back over a queue as
`(scenario, day, days)` tuples; the caller decides how to show it.
"""
from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Callable, Sequence

from . import model as m

Progress = Callable[[str, int, int], None]

_queue = None  # the worker process's end of the progress queue (set by the pool initializer)


def default_jobs(count: int) -> int:
    """Two processes on a laptop is enough to halve the library; never more than the work."""
    env = os.environ.get("AB_HARNESS_REPLAY_JOBS")
    if env and env.isdigit() and int(env) > 0:
        return min(int(env), max(count, 1))
    return max(1, min(os.cpu_count() or 1, 2, count))


def _cost(scenario: m.Scenario) -> int:
    """A rough size, so the longest replays start first and the pool finishes together."""
    return len(scenario.all_contacts()) * scenario.days + sum(c.schedule.count for c in scenario.campaigns)


def _init(progress_queue) -> None:
    global _queue
    _queue = progress_queue


def _report(name: str, day: int, days: int) -> None:
    if _queue is not None:
        _queue.put((name, day, days))


def _replay_one(scenario: m.Scenario, seed: int | None) -> dict[str, Any]:
    from .replay import replay

    return replay(scenario, seed=seed, progress=_report)


def replay_many(scenarios: Sequence[m.Scenario], *, seed: int | None = None, jobs: int | None = None,
                agentbuddy_url: str | None = None, progress: Progress | None = None,
                on_result: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Replay `scenarios`; `progress(name, day, days)` as days end, `on_result` as each finishes.

    A shared running fake (`agentbuddy_url`) holds one world at a time, so it means one at a time.
    """
    from .replay import replay

    jobs = 1 if agentbuddy_url else (jobs or default_jobs(len(scenarios)))
    if jobs <= 1 or len(scenarios) <= 1:
        results = []
        for scenario in scenarios:
            result = replay(scenario, agentbuddy_url=agentbuddy_url, seed=seed, progress=progress)
            if on_result:
                on_result(result)
            results.append(result)
        return results
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    progress_queue = context.Queue()
    order = sorted(range(len(scenarios)), key=lambda i: -_cost(scenarios[i]))
    results: list[dict[str, Any] | None] = [None] * len(scenarios)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init,
                             initargs=(progress_queue,)) as pool:
        pending: dict[Future, int] = {pool.submit(_replay_one, scenarios[i], seed): i for i in order}
        while pending:
            done, _ = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            _drain(progress_queue, progress)
            for future in done:
                index = pending.pop(future)
                results[index] = future.result()
                if on_result:
                    on_result(results[index])
        _drain(progress_queue, progress)
    return [r for r in results if r is not None]


def _drain(progress_queue, progress: Progress | None) -> None:
    while True:
        try:
            name, day, days = progress_queue.get_nowait()
        except queue_module.Empty:
            return
        if progress:
            progress(name, day, days)
