"""When the outbox tries a message again, and when it gives up.

The schedule is Svix's published one (https://docs.svix.com/retries): a first attempt
immediately, then retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h — eight attempts
spread over about 27.6 hours, long enough to ride out an AgentBuddy outage without
hammering it while it recovers.

Each retry waits its step times a factor uniform in ``[1 - JITTER, 1 + JITTER]`` (±20 %):
messages that failed together (a 5xx burst) spread out instead of coming back as one
thundering herd, yet every wait is at least 0.8x its step. "Full jitter" (uniform in
``[0, step]``) was used before and was wrong for an outbox: the eight waits could all come out
short and spend the whole budget in a few hours, dead-lettering messages during a six-hour
outage that Svix's ~27.6 h schedule exists to ride out. With bounded jitter the total span of
the retries is never below 0.8 x 27.6 h = 22 h. The factor is derived from
``(seed, message id, attempt)``, not from a shared random generator, so a run is reproducible
no matter which worker thread retries which message first.

A ``Retry-After`` from the receiver (429 or 503; read by `agentbuddy.session.parse_retry_after`)
is a floor, not a suggestion: the next try is never earlier than the server asked, capped at
``MAX_RETRY_AFTER`` so a bogus header cannot park a message for a week.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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
JITTER = 0.2  # each wait is step x (1 +/- JITTER)


@dataclass(frozen=True)
class RetrySchedule:
    """``steps[n]`` is the nominal wait before attempt ``n + 1`` (attempt 1 = index 0); the
    actual wait is ``steps[n] x (1 ± jitter_fraction)``."""

    steps: tuple[timedelta, ...] = SVIX_SCHEDULE
    seed: int = 0
    jitter: bool = True
    jitter_fraction: float = JITTER
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
        factor = 1 + self.jitter_fraction * (2 * random.Random(digest).random() - 1)
        return timedelta(seconds=step.total_seconds() * factor)

    def minimum_span(self) -> timedelta:
        """The shortest time from the first failure to giving up (every wait at its lowest)."""
        low = 1 - self.jitter_fraction if self.jitter else 1
        return sum((step * low for step in self.steps[1:]), timedelta(0))
