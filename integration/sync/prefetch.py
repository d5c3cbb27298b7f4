"""Fetch the next page in a background thread while the current one is written.

Pages are still applied (and checkpointed) strictly in order; only the network wait overlaps
with our own work. The source iterator runs entirely in the helper thread; an error it raises
is raised in the consumer, where the page loop handles it.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Iterator, TypeVar

T = TypeVar("T")


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def prefetched(items: Iterator[T]) -> Iterator[T]:
    """`items`, produced one ahead in a helper thread."""
    slot: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                slot.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failed(exc))

    thread = threading.Thread(target=work, name="sync-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = slot.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
