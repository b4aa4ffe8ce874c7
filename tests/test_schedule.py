"""Scheduling math: delays, business days, holidays, send windows in the prospect's zone, jitter."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sequences.schedule import (
    ScheduleError,
    add_business_days,
    apply_delay,
    country_holidays,
    is_valid_country,
    jitter,
    next_opening,
    parse_duration,
    parse_window,
)

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WORKDAY = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00"}


def at(*args: int, tz: ZoneInfo = UTC_ZONE) -> datetime:
    return datetime(*args, tzinfo=tz)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P3D", timedelta(days=3)),
        ("PT4H", timedelta(hours=4)),
        ("PT30S", timedelta(seconds=30)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("PT0S", timedelta(0)),
    ],
)
def test_iso_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["3 days", "", "P", "PXD", "P1M", "P1Y", "-P1D", "p3d", None, 3])
def test_bad_or_ambiguous_durations_are_refused(text: object) -> None:
    with pytest.raises(ScheduleError):
        parse_duration(text)  # type: ignore[arg-type]


def test_business_days_skip_the_weekend() -> None:
    friday = at(2026, 1, 9, 10)
    assert add_business_days(friday, 1, UTC_ZONE) == at(2026, 1, 12, 10)  # Monday
    assert add_business_days(friday, 5, UTC_ZONE) == at(2026, 1, 16, 10)
    assert apply_delay(friday, "P2D", business_days=True) == at(2026, 1, 13, 10)
    assert apply_delay(friday, "P2D") == at(2026, 1, 11, 10)  # calendar days land on Sunday


def test_business_days_keep_the_hours_of_the_delay() -> None:
    friday = at(2026, 1, 9, 10)
    assert apply_delay(friday, "P1DT4H", business_days=True) == at(2026, 1, 12, 14)


def test_business_days_skip_the_countrys_holidays() -> None:
    german = country_holidays("DE")
    assert date(2026, 12, 25) in german and date(2026, 12, 26) in german
    # Wed 23 Dec 2026 + 2 business days: Thu 24, then Fri 25 and Sat/Sun skipped... Mon 28.
    assert add_business_days(at(2026, 12, 23, 9), 2, UTC_ZONE, german) == at(2026, 12, 28, 9)
    assert add_business_days(at(2026, 12, 23, 9), 2, UTC_ZONE) == at(2026, 12, 25, 9)
    # A subdivision's own holidays: 31 March is Cesar Chavez Day in California only.
    california = country_holidays("US", "CA")
    assert date(2026, 3, 31) in california and date(2026, 3, 31) not in country_holidays("US")


def test_unknown_holiday_calendars_are_refused() -> None:
    assert is_valid_country("FR") and is_valid_country("us", "ny")
    assert not is_valid_country("XX") and not is_valid_country("US", "ZZ")
    with pytest.raises(ScheduleError):
        country_holidays("XX")
    assert country_holidays(None) == ()


def test_business_days_are_counted_in_the_prospects_zone() -> None:
    # Friday 23:30 in New York is already Saturday in UTC: one business day is Monday in NY.
    friday_night_ny = at(2026, 1, 9, 23, 30, tz=NEW_YORK)
    moved = add_business_days(friday_night_ny.astimezone(UTC), 1, NEW_YORK)
    assert moved.astimezone(NEW_YORK) == at(2026, 1, 12, 23, 30, tz=NEW_YORK)


def test_inside_the_window_sends_now() -> None:
    tuesday_noon = at(2026, 1, 6, 12)
    assert next_opening(tuesday_noon, WORKDAY, UTC_ZONE) == tuesday_noon


def test_before_opening_waits_for_the_morning() -> None:
    assert next_opening(at(2026, 1, 6, 6), WORKDAY, UTC_ZONE) == at(2026, 1, 6, 8)


def test_after_closing_waits_for_the_next_working_morning() -> None:
    assert next_opening(at(2026, 1, 6, 17), WORKDAY, UTC_ZONE) == at(2026, 1, 7, 8)
    friday_evening = at(2026, 1, 9, 18)
    assert next_opening(friday_evening, WORKDAY, UTC_ZONE) == at(2026, 1, 12, 8)


def test_window_is_in_the_prospects_time_zone() -> None:
    # 09:00 UTC is 04:00 in New York: the email waits until 08:00 New York (13:00 UTC).
    when = next_opening(at(2026, 1, 6, 9), WORKDAY, NEW_YORK)
    assert when == at(2026, 1, 6, 13) and when.utcoffset() == timedelta(0)
    # 09:00 UTC is 10:00 in Berlin: inside the window already.
    assert next_opening(at(2026, 1, 6, 9), WORKDAY, BERLIN) == at(2026, 1, 6, 9)


def test_window_follows_daylight_saving_time() -> None:
    # Berlin is UTC+1 in winter and UTC+2 in summer: 08:00 local is 07:00 or 06:00 UTC.
    assert next_opening(at(2026, 1, 6, 3), WORKDAY, BERLIN) == at(2026, 1, 6, 7)
    assert next_opening(at(2026, 7, 7, 3), WORKDAY, BERLIN) == at(2026, 7, 7, 6)


def test_window_skips_holidays() -> None:
    german = country_holidays("DE")
    # Thursday 24 Dec 2026 at 18:00: Friday 25 and Saturday/Sunday closed; 26 is a holiday too.
    assert next_opening(at(2026, 12, 24, 18), WORKDAY, UTC_ZONE, german) == at(2026, 12, 28, 8)
    assert next_opening(at(2026, 12, 24, 18), WORKDAY, UTC_ZONE) == at(2026, 12, 25, 8)


def test_no_window_means_any_hour() -> None:
    sunday_night = at(2026, 1, 11, 3)
    assert next_opening(sunday_night, None, UTC_ZONE) == sunday_night


@pytest.mark.parametrize(
    "window",
    [
        {"days": [], "start": "08:00", "end": "17:00"},
        {"days": ["mon"], "start": "17:00", "end": "08:00"},
        {"days": ["funday"], "start": "08:00", "end": "17:00"},
        {"days": ["mon"], "start": "8 am", "end": "17:00"},
        {"days": [9], "start": "08:00", "end": "17:00"},
    ],
)
def test_bad_windows_are_refused(window: dict[str, object]) -> None:
    with pytest.raises(ScheduleError):
        parse_window(window)


def test_jitter_stays_within_its_bound_and_spreads_a_batch() -> None:
    start = at(2026, 1, 6, 9)
    rng = random.Random(7)
    spread = [jitter(start, 120, rng) for _ in range(200)]
    assert all(start <= when <= start + timedelta(seconds=120) for when in spread)
    assert len({when.replace(microsecond=0) for when in spread}) > 50
    assert jitter(start, 0) == start


@settings(max_examples=300, deadline=None)
@given(
    when=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
    tz_name=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
    start_hour=st.integers(0, 22),
    length=st.integers(1, 10),
    days=st.sets(st.integers(0, 6), min_size=1),
)
def test_next_opening_is_never_earlier_and_always_inside_the_window(
    when: datetime, tz_name: str, start_hour: int, length: int, days: set[int]
) -> None:
    end_hour = min(start_hour + length, 23)
    window = {"days": sorted(days), "start": f"{start_hour:02}:00", "end": f"{end_hour:02}:59"}
    tz = ZoneInfo(tz_name)
    opening = next_opening(when, window, tz)
    assert opening >= when
    local = opening.astimezone(tz)
    assert local.weekday() in days
    # Inside the window, allowing for an opening that falls in a DST gap (moved by an hour).
    assert start_hour - 1 <= local.hour <= end_hour
    assert opening - when <= timedelta(days=8)


@settings(max_examples=200, deadline=None)
@given(
    when=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
    days=st.integers(0, 30),
)
def test_business_day_delays_land_on_working_days_and_never_go_back(
    when: datetime, days: int
) -> None:
    german = country_holidays("DE")
    moved = add_business_days(when, days, BERLIN, german)
    assert moved >= when
    if days:
        local = moved.astimezone(BERLIN)
        assert local.weekday() < 5 and local.date() not in german
        # n business days take at least n calendar days and, with holidays, not many more.
        assert timedelta(days=days) - timedelta(hours=2) <= moved - when
        assert moved - when <= timedelta(days=days * 7 // 5 + 8)
