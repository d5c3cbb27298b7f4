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


def report(*item: Any) -> None:
    """Send a progress item from a worker to the parent (a no-op outside a pool)."""
    if _queue is not None:
        _queue.put(item)


def map_in_processes(work: Callable[..., Any], arguments: Sequence[tuple], jobs: int,
                     progress: Callable[..., None] | None = None,
                     on_done: Callable[[int, Any], None] | None = None) -> list[Any]:
    """`[work(*args) for args in arguments]`, `jobs` at a time in forked processes, in order.

    Workers send progress with `report(...)`; the parent passes each item to `progress(*item)`,
    and each result to `on_done(index, result)` as soon as it is ready.
    """
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    progress_queue = context.Queue()
    results: list[Any] = [None] * len(arguments)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init,
                             initargs=(progress_queue,)) as pool:
        pending: dict[Future, int] = {pool.submit(work, *args): i for i, args in enumerate(arguments)}
        while pending:
            done, _ = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            _drain_items(progress_queue, progress)
            for future in done:
                index = pending.pop(future)
                results[index] = future.result()
                if on_done:
                    on_done(index, results[index])
        _drain_items(progress_queue, progress)
    return results


def _drain_items(progress_queue, progress: Callable[..., None] | None) -> None:
    while True:
        try:
            item = progress_queue.get_nowait()
        except queue_module.Empty:
            return
        if progress:
            progress(*item)


def _replay_one(scenario: m.Scenario, seed: int | None) -> dict[str, Any]:
    from .replay import replay

    return replay(scenario, seed=seed, progress=report)


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
    order = sorted(range(len(scenarios)), key=lambda i: -_cost(scenarios[i]))  # longest first
    done = map_in_processes(_replay_one, [(scenarios[i], seed) for i in order], jobs, progress,
                            on_done=lambda _position, result: on_result(result) if on_result else None)
    results: list[dict[str, Any]] = [{}] * len(scenarios)
    for index, result in zip(order, done):
        results[index] = result
    return results
