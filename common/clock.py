"""Injected time: every server and the simulator ask a clock, never the wall.

Token expiry, webhook tolerance, `updated_at` stamps, sync windows and retry schedules all read
`clock.now()`, so a replay can run months of a story in seconds and a test can stand at any
instant. Three clocks cover every use:

* `SystemClock` — wall time, the only reader of it;
* `ManualClock` — moves only when told (Broadcast in tests and replays);
* `AdjustableClock` — wall time plus an offset that can be frozen, set or advanced; the fake
  AgentBuddy's, because a fake that a person clicks through must tick on its own while tests
  and replays still pin it through `/__admin/clock`.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Callable, Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time as a timezone-aware UTC datetime."""
        ...


class SystemClock:
    """Wall time."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("clock times must be timezone-aware (UTC)")
    return value.astimezone(timezone.utc)


def _delta(step: timedelta | float) -> timedelta:
    return step if isinstance(step, timedelta) else timedelta(seconds=step)


class ManualClock:
    """A clock that moves only when told to; safe to share between threads."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, value: datetime) -> None:
        with self._lock:
            self._now = as_utc(value)

    def advance(self, step: timedelta | float) -> datetime:
        """Move forward by `step` (a timedelta or seconds); returns the new now."""
        with self._lock:
            self._now = self._now + _delta(step)
            return self._now


class AdjustableClock:
    """Wall time plus an offset; frozen, the offset is pinned to one instant."""

    def __init__(self, wall: Callable[[], datetime] = SystemClock().now) -> None:
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
        instant = as_utc(instant)
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = instant
            else:
                self._offset = instant - self._wall()

    def advance(self, step: timedelta | float) -> datetime:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += _delta(step)
            else:
                self._offset += _delta(step)
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)
            self._frozen_at = None
