"""Delays and windows in words, read back and checked against the scheduler's own due times.

Each case computes the due time with `enrollment.due_time` (what enrolling and advancing use)
and, separately, with a small reader of the sentences: it knows only what the words say
(business or calendar days, the days and hours of the window, the prospect's zone or the
fallback named, the holiday calendar named) and walks the clock minute by minute. The two
must agree, so a sentence cannot promise what the scheduler does not do.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sequences.enrollment import due_time
from sequences.models import Prospect, Sequence, Step
from sequences.schedule import DAY_NAMES, country_holidays, is_valid_timezone
from sequences.schedule_words import (
    ANY_TIME,
    delay_text,
    duration_text,
    sequence_window_text,
    step_delay_text,
    window_text,
)

WORKDAY = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00"}
LABELS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UNITS = {"week": 7 * 86400, "day": 86400, "hour": 3600, "minute": 60, "second": 1}


def at(*args: int, tz: str = "UTC") -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz))  # type: ignore[misc]


# The reader: what a rep understands from the words, computed without the scheduler's code.


def read_delay(words: str, start: datetime, tz: ZoneInfo) -> datetime:
    if words.startswith("immediately"):
        return start
    holidays = _holidays(words)
    business = re.search(r"(\d+) business days?", words)
    rest = sum(
        int(n) * UNITS[unit]
        for n, unit in re.findall(r"(\d+) (week|day|hour|minute|second)s?\b", words)
        if not (business and unit == "day")
    )
    when = start
    if business:
        local, counted = start.astimezone(tz), 0
        while counted < int(business.group(1)):
            local += timedelta(days=1)  # the next day, same wall-clock time
            if local.weekday() < 5 and local.date() not in holidays:
                counted += 1
        when = local.astimezone(start.tzinfo)
    return when + timedelta(seconds=rest)


def _known(name: str | None) -> str | None:
    """A prospect's zone, if it is one (a prospect with a zone nobody knows has none)."""
    return name if name and is_valid_timezone(name) else None


def _holidays(words: str) -> Any:
    found = re.search(r"public holidays in ([A-Z]{2})(?:-([A-Z]+))?", words)
    return country_holidays(found.group(1), found.group(2)) if found else ()


def _days(spec: str) -> set[int]:
    if spec == "every day":
        return set(range(7))
    days: set[int] = set()
    for part in spec.split(", "):
        first, _, last = part.lower().partition("-")
        a = LABELS.index(first)
        b = LABELS.index(last) if last else a
        days.update(range(a, b + 1))
    return days


def read_window(words: str, when: datetime, prospect_zone: str | None) -> datetime:
    if words == ANY_TIME:
        return when
    found = re.match(
        r"(.+) (\d\d:\d\d)-(\d\d:\d\d) in the prospect's time zone \((\S+) for a prospect "
        r"without one\)",
        words,
    )
    assert found, words
    days = _days(found.group(1))
    opens, closes = time.fromisoformat(found.group(2)), time.fromisoformat(found.group(3))
    tz = ZoneInfo(_known(prospect_zone) or found.group(4))
    holidays = _holidays(words)

    def open_at(moment: datetime) -> bool:
        local = moment.astimezone(tz)
        return (
            local.weekday() in days
            and local.date() not in holidays
            and opens <= local.time().replace(tzinfo=None) < closes
        )

    if open_at(when):
        return when
    minute = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(60 * 24 * 40):
        if open_at(minute):
            return minute
        minute += timedelta(minutes=1)
    raise AssertionError(f"the words never open: {words}")


def scheduled_and_read(
    *,
    start: datetime,
    delay: str,
    business: bool = False,
    window: dict[str, Any] | None = None,
    prospect_zone: str | None = None,
    sequence_zone: str = "UTC",
    country: str | None = None,
    first: bool = False,
) -> tuple[datetime, datetime, str, str]:
    """(the scheduler's due time, the reader's, the delay words, the window words)."""
    settings_ = {"holidays_country": country} if country else {}
    sequence = Sequence(
        name="s", timezone=sequence_zone, send_window=window, settings=settings_, steps=[]
    )
    step = Step(type="email", position=0 if first else 1, delay=delay, business_days=business)
    prospect = Prospect(email="p@example.com", timezone=prospect_zone, fields={})
    due = due_time(sequence, step, prospect, start)
    delay_words = step_delay_text(sequence, step)
    window_words = sequence_window_text(sequence)
    tz = ZoneInfo(_known(prospect_zone) or sequence_zone)
    read = read_window(window_words, read_delay(delay_words, start, tz), prospect_zone)
    return due, read, delay_words, window_words


# The cases of tests/test_schedule.py, as a rep would set them up in a sequence.
CASES = [
    # friday 10:00 + 2 business days: Tuesday; 2 calendar days: Sunday
    (
        dict(start=at(2026, 1, 9, 10), delay="P2D", business=True),
        "2 business days after the previous step",
        at(2026, 1, 13, 10),
    ),
    (dict(start=at(2026, 1, 9, 10), delay="P2D"), "2 days after the previous step", None),
    (
        dict(start=at(2026, 1, 9, 10), delay="P1DT4H", business=True),
        "1 business day and 4 hours after the previous step",
        at(2026, 1, 12, 14),
    ),
    (
        dict(start=at(2026, 12, 23, 9), delay="P2D", business=True, country="DE"),
        "2 business days after the previous step, not counting public holidays in DE",
        at(2026, 12, 28, 9),
    ),
    (
        dict(start=at(2026, 12, 23, 9), delay="P2D", business=True),
        "2 business days after the previous step",
        at(2026, 12, 25, 9),
    ),
    # Friday 23:30 in New York is Saturday in UTC: one business day is Monday in New York.
    (
        dict(
            start=at(2026, 1, 9, 23, 30, tz="America/New_York").astimezone(UTC),
            delay="P1D",
            business=True,
            prospect_zone="America/New_York",
        ),
        "1 business day after the previous step",
        at(2026, 1, 12, 23, 30, tz="America/New_York"),
    ),
    (
        dict(start=at(2026, 1, 6, 12), delay="PT0S", window=WORKDAY, first=True),
        "immediately",
        at(2026, 1, 6, 12),
    ),
    (dict(start=at(2026, 1, 6, 6), delay="PT0S", window=WORKDAY), None, at(2026, 1, 6, 8)),
    (dict(start=at(2026, 1, 6, 17), delay="PT0S", window=WORKDAY), None, at(2026, 1, 7, 8)),
    (dict(start=at(2026, 1, 9, 18), delay="PT0S", window=WORKDAY), None, at(2026, 1, 12, 8)),
    (
        dict(
            start=at(2026, 1, 6, 9), delay="PT0S", window=WORKDAY, prospect_zone="America/New_York"
        ),
        None,
        at(2026, 1, 6, 13),
    ),
    (
        dict(start=at(2026, 1, 6, 9), delay="PT0S", window=WORKDAY, sequence_zone="Europe/Berlin"),
        None,
        at(2026, 1, 6, 9),
    ),
    (
        dict(start=at(2026, 7, 7, 3), delay="PT0S", window=WORKDAY, prospect_zone="Europe/Berlin"),
        None,
        at(2026, 7, 7, 6),
    ),
    (
        dict(start=at(2026, 12, 24, 18), delay="PT0S", window=WORKDAY, country="DE"),
        None,
        at(2026, 12, 28, 8),
    ),
    (dict(start=at(2026, 1, 11, 3), delay="PT0S"), None, at(2026, 1, 11, 3)),
    # A week of business days is seven of them, not a calendar week.
    (
        dict(start=at(2026, 1, 5, 10), delay="P1W", business=True),
        "7 business days after the previous step",
        at(2026, 1, 14, 10),
    ),
    (dict(start=at(2026, 1, 5, 10), delay="P1W"), "1 week after the previous step", None),
    (
        dict(start=at(2026, 1, 5, 10), delay="PT90M", business=True, first=True),
        "1 hour and 30 minutes after enrollment",
        at(2026, 1, 5, 11, 30),
    ),
]


@pytest.mark.parametrize(("case", "words", "expected"), CASES)
def test_the_words_of_each_schedule_case_lead_to_the_time_the_scheduler_picks(
    case: dict[str, Any], words: str | None, expected: datetime | None
) -> None:
    due, read, delay_words, _ = scheduled_and_read(**case)
    if words is not None:
        assert delay_words == words
    if expected is not None:
        assert due == expected
    assert read == due, f"the words say {read}, the scheduler picks {due}"


def test_windows_in_words() -> None:
    assert window_text(WORKDAY, "Europe/Berlin") == (
        "Mon-Fri 08:00-17:00 in the prospect's time zone (Europe/Berlin for a prospect without one)"
    )
    assert window_text(WORKDAY, "Mars/Olympus").endswith("(UTC for a prospect without one)")
    assert window_text(None, "UTC") == "any day, any time"
    assert window_text({}, "UTC") == "any day, any time"
    weekend = {"days": ["mon", "wed", "fri", "sat", "sun"], "start": "09:30", "end": "12:00"}
    assert window_text(weekend, "UTC", holidays="US-CA").startswith(
        "Mon, Wed, Fri-Sun 09:30-12:00 in the prospect's time zone"
    )
    assert window_text(weekend, "UTC", holidays="US-CA").endswith(
        ", except public holidays in US-CA"
    )
    every = {"days": list(range(7)), "start": "00:00", "end": "23:59"}
    assert window_text(every, "UTC").startswith("every day 00:00-23:59")
    # No days given: the scheduler reads Monday to Friday, and so do the words.
    assert window_text({"start": "09:00", "end": "17:00"}, "UTC").startswith("Mon-Fri 09:00-17:00")


def test_delays_in_words() -> None:
    assert delay_text("PT0S", first=True) == "immediately"
    assert delay_text("PT0S") == "immediately after the previous step"
    assert delay_text("P3D", first=True) == "3 days after enrollment"
    assert delay_text("P1DT12H") == "1 day and 12 hours after the previous step"
    assert delay_text("PT4H", business_days=True) == "4 hours after the previous step"
    assert delay_text("P2W") == "2 weeks after the previous step"
    assert delay_text("P10D") == "10 days after the previous step"
    assert delay_text("PT1H1M1S") == "1 hour, 1 minute and 1 second after the previous step"
    assert delay_text("P1M") == "after P1M (not a delay the scheduler can use)"


@pytest.mark.parametrize(
    ("iso", "words"),
    [
        ("P30D", "30 days"),
        ("P90D", "90 days"),
        ("P1D", "1 day"),
        ("P2W", "2 weeks"),
        ("P28D", "4 weeks"),
        ("PT4H", "4 hours"),
        ("P1DT12H", "1 day and 12 hours"),
        ("PT0S", "no time at all"),
    ],
)
def test_an_interval_setting_in_words_is_the_length_the_scheduler_reads(
    iso: str, words: str
) -> None:
    from sequences.schedule import parse_duration

    assert duration_text(iso) == words
    said = sum(
        int(n) * UNITS[unit]
        for n, unit in re.findall(r"(\d+) (week|day|hour|minute|second)s?\b", words)
    )
    assert timedelta(seconds=said) == parse_duration(iso)


ZONES = [None, "UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Mars/Olympus"]


@settings(max_examples=150, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    days=st.integers(0, 12),
    hours=st.integers(0, 23),
    minutes=st.sampled_from([0, 15, 30]),
    business=st.booleans(),
    window_days=st.sets(st.integers(0, 6), max_size=7),
    opens=st.integers(5, 11),
    length=st.integers(1, 10),
    prospect_zone=st.sampled_from(ZONES),
    sequence_zone=st.sampled_from(["UTC", "Europe/Paris", "America/Chicago"]),
    country=st.sampled_from([None, "DE", "US"]),
)
def test_any_delay_and_window_in_words_leads_to_the_time_the_scheduler_picks(
    start: datetime,
    days: int,
    hours: int,
    minutes: int,
    business: bool,
    window_days: set[int],
    opens: int,
    length: int,
    prospect_zone: str | None,
    sequence_zone: str,
    country: str | None,
) -> None:
    delay = f"P{days}DT{hours}H{minutes}M"
    window = (
        {
            "days": [DAY_NAMES[d] for d in sorted(window_days)],
            "start": f"{opens:02}:00",
            "end": f"{opens + length:02}:30",
        }
        if window_days
        else None
    )
    due, read, _, _ = scheduled_and_read(
        start=start,
        delay=delay,
        business=business,
        window=window,
        prospect_zone=prospect_zone,
        sequence_zone=sequence_zone,
        country=country,
    )
    assert read == due


def test_holidays_are_named_only_when_the_sequence_has_a_calendar() -> None:
    sequence = Sequence(
        name="s",
        timezone="UTC",
        send_window=WORKDAY,
        settings={"holidays_country": "us", "holidays_subdivision": "ca"},
        steps=[],
    )
    step = Step(type="email", position=2, delay="P3D", business_days=True)
    assert step_delay_text(sequence, step).endswith("not counting public holidays in US-CA")
    assert sequence_window_text(sequence).endswith("except public holidays in US-CA")
    assert date(2026, 3, 31) in country_holidays("US", "CA")
