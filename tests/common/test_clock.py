"""The injected clocks: a manual one that moves only when told, and the fake's adjustable one."""
from datetime import datetime, timedelta, timezone

import pytest

from common.clock import AdjustableClock, ManualClock

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_manual_clock_moves_only_when_told():
    clock = ManualClock(START)
    assert clock.now() == clock.now() == START
    assert clock.advance(timedelta(hours=1)) == START + timedelta(hours=1)
    assert clock.advance(30) == START + timedelta(hours=1, seconds=30)
    clock.set(START)
    assert clock.now() == START
    with pytest.raises(ValueError):
        ManualClock(datetime(2026, 1, 1))


def test_adjustable_clock_follows_the_wall_plus_an_offset():
    wall = ManualClock(START)
    clock = AdjustableClock(wall.now)
    clock.advance(60)
    wall.advance(5)
    assert clock.now() == START + timedelta(seconds=65)
    clock.set(START + timedelta(days=3))
    wall.advance(1)
    assert clock.now() == START + timedelta(days=3, seconds=1)


def test_a_frozen_clock_stands_still_until_moved_and_resumes_from_there():
    wall = ManualClock(START)
    clock = AdjustableClock(wall.now)
    clock.freeze()
    wall.advance(100)
    assert clock.frozen and clock.now() == START
    clock.advance(10)
    assert clock.now() == START + timedelta(seconds=10)
    clock.freeze(False)
    wall.advance(1)
    assert clock.now() == START + timedelta(seconds=11)
    clock.reset()
    assert clock.now() == wall.now()
