"""One RFC 3339 shape: fixed width, UTC, `Z`; parsing refuses what is not RFC 3339."""
from datetime import datetime, timedelta, timezone

import pytest

from common.timestamps import format_rfc3339, format_us, from_us, parse_rfc3339, to_us

AT = datetime(2026, 1, 15, 14, 30, 0, 123456, tzinfo=timezone.utc)


@pytest.mark.parametrize("digits, text", [(0, "2026-01-15T14:30:00Z"), (3, "2026-01-15T14:30:00.123Z"),
                                          (6, "2026-01-15T14:30:00.123456Z")])
def test_fixed_width_utc_with_z(digits, text):
    assert format_rfc3339(AT, digits) == text
    assert format_rfc3339(AT.astimezone(timezone(timedelta(hours=-6))), digits) == text


def test_text_order_is_time_order_across_whole_seconds():
    earlier, later = AT.replace(microsecond=0), AT.replace(microsecond=0) + timedelta(milliseconds=1)
    assert format_rfc3339(earlier) < format_rfc3339(later)


def test_round_trip_through_microseconds():
    assert from_us(to_us(AT)) == AT
    assert parse_rfc3339(format_us(to_us(AT), 6)) == AT


@pytest.mark.parametrize("text", ["2026-01-15", "2026-01-15T14:30:00", "yesterday", 12, None])
def test_parse_refuses_what_is_not_an_rfc3339_instant(text):
    with pytest.raises(ValueError):
        parse_rfc3339(text)


def test_parse_accepts_offsets_and_lowercase_z():
    assert parse_rfc3339("2026-01-15T08:30:00-06:00") == AT.replace(microsecond=0)
    assert parse_rfc3339("2026-01-15t14:30:00z") == AT.replace(microsecond=0)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        format_rfc3339(datetime(2026, 1, 1))
