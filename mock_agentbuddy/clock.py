"""The fake's notion of now. Tests and scenarios freeze, set or advance it through
`/__admin/clock`, so token expiry, webhook tolerance and `updated_at` stamps are reproducible."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


def _wall() -> datetime:
    return datetime.now(timezone.utc)


class Clock:
    """Wall time plus an offset; frozen means the offset is pinned to one instant."""

    def __init__(self, wall=_wall) -> None:
        self._wall = wall
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None

    def now(self) -> datetime:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return self._wall() + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def freeze(self, frozen: bool = True) -> None:
        current = self.now()
        with self._lock:
            if frozen:
                self._frozen_at = current
            else:
                self._frozen_at = None
                self._offset = current - self._wall()

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("clock instants must be timezone-aware")
        instant = instant.astimezone(timezone.utc)
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = instant
            else:
                self._offset = instant - self._wall()

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += timedelta(seconds=seconds)
            else:
                self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)
            self._frozen_at = None
