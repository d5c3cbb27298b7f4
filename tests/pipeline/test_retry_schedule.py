"""When a failed message is tried again, and when Broadcast gives up on it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from integration.outbox.retry_schedule import SVIX_SCHEDULE, RetrySchedule
from integration.agentbuddy.session import parse_retry_after

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


def test_the_schedule_is_svix_eight_attempts_over_a_day_and_a_half():
    assert [s.total_seconds() for s in SVIX_SCHEDULE] == [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    assert RetrySchedule().max_attempts == 8


def test_each_wait_is_its_step_plus_or_minus_a_fifth_and_reproducible():
    schedule = RetrySchedule(seed=3)
    for attempt, step in enumerate(SVIX_SCHEDULE):
        when = schedule.next_attempt_at("msg_a", attempt, NOW)
        assert NOW + step * 0.8 <= when <= NOW + step * 1.2
        assert when == RetrySchedule(seed=3).next_attempt_at("msg_a", attempt, NOW), "same seed, same time"
    spread = {RetrySchedule(seed=3).next_attempt_at(f"msg_{i}", 3, NOW) for i in range(50)}
    assert len(spread) > 40, "messages that failed together do not come back together"


def test_without_jitter_the_steps_are_exact():
    schedule = RetrySchedule(jitter=False)
    assert schedule.next_attempt_at("m", 2, NOW) == NOW + timedelta(minutes=5)


def test_after_the_last_attempt_the_message_is_given_up():
    assert RetrySchedule().next_attempt_at("m", 8, NOW) is None


def test_retry_after_is_a_floor_and_is_capped():
    schedule = RetrySchedule(jitter=False)
    assert schedule.next_attempt_at("m", 1, NOW, timedelta(seconds=90)) == NOW + timedelta(seconds=90)
    assert schedule.next_attempt_at("m", 3, NOW, timedelta(seconds=1)) == NOW + timedelta(minutes=30)
    assert schedule.next_attempt_at("m", 1, NOW, timedelta(days=7)) == NOW + timedelta(hours=1)


def test_retry_after_reads_seconds_and_http_dates_and_ignores_nonsense():
    assert parse_retry_after("120", NOW) == timedelta(seconds=120)
    assert parse_retry_after("Thu, 15 Jan 2026 12:01:00 GMT", NOW) == timedelta(minutes=1)
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_a_six_hour_outage_cannot_use_up_the_attempts():
    """The retries of any message span at least ~22 h (0.8 x Svix's 27.5 h), whatever the jitter."""
    schedule = RetrySchedule(seed=0)
    assert schedule.minimum_span() >= timedelta(hours=22)
    shortest = timedelta(days=99)
    for i in range(300):
        now, attempts = NOW, 1  # the first attempt failed at NOW
        while (later := schedule.next_attempt_at(f"msg_{i}", attempts, now)) is not None:
            now, attempts = later, attempts + 1
        assert attempts == 8
        shortest = min(shortest, now - NOW)
    assert shortest >= schedule.minimum_span() > timedelta(hours=6)


def test_messages_queued_during_a_six_hour_outage_are_delivered_not_dead_lettered(broadcast):
    """AgentBuddy answers 503 for six hours; every message still arrives afterwards."""
    from integration.engagement.pipeline import ingest
    from integration import outbox
    from integration.outbox.delivery import DeliveryWorker
    from integration.outbox.transports import Outcome
    from integration.engagement import EngagementEvent, natural_event_id

    outage_ends = broadcast.clock.now() + timedelta(hours=6)

    class DownForSixHours:
        def send(self, message, now):
            return Outcome(503, "HTTP 503: down") if now < outage_ends else Outcome(200)

    for contact in ("ab_contact_maria", "ab_contact_james"):
        email_id = broadcast.send(contact)
        at = broadcast.clock.now()
        ingest.ingest_events(broadcast.db, broadcast.org, [EngagementEvent(
            event_id=natural_event_id(email_id, kind, at), event_type=kind, occurred_at=at, email_id=email_id)
            for kind in ("sent", "delivered")], broadcast.clock)
    worker = DeliveryWorker(broadcast.db, broadcast.clock, DownForSixHours(), schedule=RetrySchedule(seed=0))
    for _ in range(100):
        worker.drain()
        due = outbox.next_due(broadcast.db, broadcast.org)
        if due is None:
            break
        broadcast.clock.set(max(due, broadcast.clock.now()))
    counts = outbox.counts(broadcast.db, broadcast.org)
    assert counts["dead"] == 0 and counts["delivered"] >= 6 and worker.stats.retried > 0, counts
