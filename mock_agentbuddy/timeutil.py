"""Instants as integer microseconds since the Unix epoch (cheap to compare and sort), rendered
as RFC 3339 UTC strings with milliseconds. Sorting always uses the integer."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

_UNIX = datetime(1970, 1, 1, tzinfo=timezone.utc)
_UNIX_NAIVE = datetime(1970, 1, 1)


def to_us(instant: datetime) -> int:
    delta = instant.astimezone(timezone.utc) - _UNIX
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, timezone.utc).replace(microsecond=us % 1_000_000)


def iso(us: int) -> str:
    """Always `YYYY-MM-DDTHH:MM:SS.mmmZ`: one fixed width, so text order is time order even for
    clients that compare the strings."""
    seconds, micro = divmod(us, 1_000_000)
    base = (_UNIX_NAIVE + timedelta(seconds=seconds)).isoformat()  # much faster than strftime
    return f"{base}.{micro // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """RFC 3339 date-time; raises ValueError for anything else (including naive times)."""
    if not isinstance(text, str) or "T" not in text.upper():
        raise ValueError("expected an RFC 3339 date-time such as 2026-01-15T14:30:00Z")
    value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("date-time must carry a timezone offset (e.g. Z)")
    return value.astimezone(timezone.utc)


def iso_dt(instant: datetime) -> str:
    return iso(to_us(instant))
