"""Work shared between processes, results in the order asked: replays and evaluations.

A replay or an evaluation is CPU-bound Python in one process (the fake, Broadcast and the
simulator share its GIL), so they only get faster with processes. Workers send progress items
with `report(...)` over a queue; the caller decides how to show them. Imports nothing of
`scenarios`: the engine and the verdicts both use it.
"""
from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Callable, Sequence

_queue = None  # the worker process's end of the progress queue (set by the pool initializer)


def default_jobs(count: int) -> int:
    """Two processes on a laptop is enough to halve the library; never more than the work."""
    env = os.environ.get("AB_HARNESS_REPLAY_JOBS")
    if env and env.isdigit() and int(env) > 0:
        return min(int(env), max(count, 1))
    return max(1, min(os.cpu_count() or 1, 2, count))


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
