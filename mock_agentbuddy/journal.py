"""Bounded, numbered logs the admin API exposes: what the fake was asked and what it did.

Entries carry a sequence number so a test can read only what happened after a point
(`?since=<seq>`), even when older entries have rolled off.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any


class Log:
    def __init__(self, size: int) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._seq = 0
        self._lock = threading.Lock()

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, **entry}
            self._entries.append(entry)
            return entry

    def since(self, seq: int = 0, limit: int | None = None, **equals: Any) -> list[dict[str, Any]]:
        with self._lock:
            rows = [e for e in self._entries if e["seq"] > seq
                    and all(e.get(k) == v for k, v in equals.items() if v is not None)]
        return rows[-limit:] if limit else rows

    @property
    def last_seq(self) -> int:
        return self._seq

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
