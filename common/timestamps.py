"""RFC 3339 instants, written and read in one place.

Everything the project stores or sends is UTC with a `Z` and a fixed number of fractional digits,
so text order is time order for clients that compare strings: the fake emits milliseconds (what
the contract's examples show), Broadcast's database keeps microseconds (so nothing an event
carried is rounded away). Parsing is strict: a time without an offset is refused, because a naive
time read as local time is the classic off-by-hours sync bug.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_FRACTION_DIGITS = (0, 3, 6)


def to_us(instant: datetime) -> int:
    """Integer microseconds since the Unix epoch: cheap to compare, sort and store."""
    delta = _utc(instant) - UNIX_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return UNIX_EPOCH + timedelta(microseconds=us)


def format_us(us: int, digits: int = 3) -> str:
    """`YYYY-MM-DDTHH:MM:SS[.f…]Z` with `digits` (0, 3 or 6) fractional digits, truncated."""
    if digits not in _FRACTION_DIGITS:
        raise ValueError(f"digits must be one of {_FRACTION_DIGITS}")
    seconds, micro = divmod(us, 1_000_000)
    base = (_NAIVE_EPOCH + timedelta(seconds=seconds)).isoformat()  # much faster than strftime
    if digits == 0:
        return f"{base}Z"
    if digits == 3:
        return f"{base}.{micro // 1000:03d}Z"
    return f"{base}.{micro:06d}Z"


def format_rfc3339(instant: datetime, digits: int = 3) -> str:
    """An aware datetime as fixed-width RFC 3339 UTC (see `format_us`)."""
    return format_us(to_us(instant), digits)


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 date-time as an aware UTC datetime; ValueError for anything else."""
    if not isinstance(text, str) or "T" not in text.upper():
        raise ValueError("expected an RFC 3339 date-time such as 2026-01-15T14:30:00Z")
    value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("date-time must carry a timezone offset (e.g. Z)")
    return value.astimezone(timezone.utc)


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant!r}: instants must be timezone-aware")
    return instant.astimezone(timezone.utc)
