"""The day boundary in a user's zone: around midnight at UTC-8 and UTC+10, and across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sequences.clock import FrozenClock
from sequences.workspace import OVERDUE, TODAY, when_due
from sequences.workspace import local_day_bounds as local_day

LA = ZoneInfo("America/Los_Angeles")
SYDNEY = ZoneInfo("Australia/Sydney")
BRISBANE = ZoneInfo("Australia/Brisbane")


def test_just_before_and_after_midnight_in_los_angeles() -> None:
    clock = FrozenClock(datetime(2026, 1, 6, 7, 59, tzinfo=UTC))  # 23:59 on the 5th in LA
    assert local_day(clock.now(), LA).day == date(2026, 1, 5)
    clock.advance(minutes=1)  # 00:00 on the 6th
    today = local_day(clock.now(), LA)
    assert today.day == date(2026, 1, 6)
    assert today.start == datetime(2026, 1, 6, 8, 0, tzinfo=UTC)
    assert today.hours == 24


def test_a_task_due_last_evening_in_la_is_overdue_after_local_midnight_only() -> None:
    due = datetime(2026, 1, 6, 4, 0, tzinfo=UTC)  # 20:00 on the 5th in LA
    clock = FrozenClock(datetime(2026, 1, 6, 7, 30, tzinfo=UTC))  # 23:30 on the 5th in LA
    assert when_due(due, clock.now(), LA) == TODAY
    assert when_due(due, clock.now(), ZoneInfo("UTC")) == TODAY  # 04:00 and 07:30 on the 6th
    clock.advance(minutes=31)  # 00:01 on the 6th in LA
    assert when_due(due, clock.now(), LA) == OVERDUE


def test_brisbane_is_ten_hours_ahead_so_its_day_starts_at_14_utc() -> None:
    clock = FrozenClock(datetime(2026, 1, 5, 13, 59, tzinfo=UTC))  # 23:59 on the 5th
    assert local_day(clock.now(), BRISBANE).day == date(2026, 1, 5)
    clock.advance(minutes=1)
    today = local_day(clock.now(), BRISBANE)
    assert today.day == date(2026, 1, 6)
    assert today.start == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    # A task due at 09:00 UTC on the 5th is 19:00 yesterday in Brisbane: overdue there already.
    assert when_due(datetime(2026, 1, 5, 9, 0, tzinfo=UTC), clock.now(), BRISBANE) == OVERDUE
    assert when_due(datetime(2026, 1, 5, 9, 0, tzinfo=UTC), clock.now(), LA) == TODAY


def test_sydney_in_winter_is_utc_plus_ten_and_the_spring_forward_day_has_23_hours() -> None:
    winter = local_day(datetime(2026, 7, 1, 13, 59, tzinfo=UTC), SYDNEY)
    assert winter.day == date(2026, 7, 1) and winter.end == datetime(2026, 7, 1, 14, tzinfo=UTC)
    change = local_day(datetime(2026, 10, 4, 12, 0, tzinfo=UTC), SYDNEY)  # clocks go forward
    assert change.day == date(2026, 10, 4) and change.hours == 23
    assert change.end == datetime(2026, 10, 4, 13, 0, tzinfo=UTC)  # midnight at UTC+11


def test_los_angeles_fall_back_day_has_25_hours_and_boundaries_stay_exact() -> None:
    clock = FrozenClock(datetime(2026, 11, 1, 7, 0, tzinfo=UTC))  # 00:00 PDT on Nov 1
    day = local_day(clock.now(), LA)
    assert day.day == date(2026, 11, 1) and day.hours == 25
    assert day.end == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # midnight PST
    clock.advance(timedelta(hours=24, minutes=59))  # 23:59 PST, still Nov 1
    assert local_day(clock.now(), LA).day == date(2026, 11, 1)
    clock.advance(minutes=1)
    assert local_day(clock.now(), LA).day == date(2026, 11, 2)
