"""When the outbox tries a message again, and when it gives up.

The schedule is Svix's published one (https://docs.svix.com/retries): a first attempt
immediately, then retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h — eight attempts
spread over about a day and a half, long enough to ride out an AgentBuddy outage without
hammering it while it recovers.

Each retry waits a "full jitter" delay, uniform in ``[0, step]`` (AWS Architecture Blog,
"Exponential Backoff And Jitter"): many messages that failed together (a 5xx burst) spread
out instead of coming back as one thundering herd. The jitter is derived from
``(seed, message id, attempt)``, not from a shared random generator, so a run is reproducible
no matter which worker thread retries which message first.

A ``Retry-After`` from the receiver (429 or 503) is a floor, not a suggestion: the next try is
never earlier than the server asked, capped at ``MAX_RETRY_AFTER`` so a bogus header cannot
park a message for a week.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

SVIX_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_RETRY_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class RetrySchedule:
    """``steps[n]`` is the upper bound of the wait before attempt ``n + 1`` (attempt 1 = index 0)."""

    steps: tuple[timedelta, ...] = SVIX_SCHEDULE
    seed: int = 0
    jitter: bool = True
    max_retry_after: timedelta = field(default=MAX_RETRY_AFTER)

    @property
    def max_attempts(self) -> int:
        return len(self.steps)

    def next_attempt_at(
        self,
        message_id: str,
        attempts_made: int,
        now: datetime,
        retry_after: timedelta | None = None,
    ) -> datetime | None:
        """The time of the next try after ``attempts_made`` failed attempts; None means give up."""
        if attempts_made >= self.max_attempts:
            return None
        step = self.steps[attempts_made]
        delay = self._jittered(step, message_id, attempts_made) if self.jitter else step
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return now + delay

    def _jittered(self, step: timedelta, message_id: str, attempt: int) -> timedelta:
        if step <= timedelta(0):
            return timedelta(0)
        digest = hashlib.sha256(f"{self.seed}:{message_id}:{attempt}".encode()).digest()
        fraction = random.Random(digest).random()
        return timedelta(seconds=step.total_seconds() * fraction)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """RFC 9110 Retry-After: delay-seconds or an HTTP-date; anything unreadable is ignored."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - now, timedelta(0))
