"""Scheduling math: ISO 8601 delays, business days and holidays, send windows, jitter."""

from __future__ import annotations

import random
from collections.abc import Container, Mapping
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import isodate

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The longest delay or interval anything accepts: a longer one is a typo, not a plan, and a
# due date ten thousand years on would not even fit a datetime (P999999999D overflows).
LONGEST_DELAY = timedelta(days=3650)
_DELAY_EXAMPLES = "Write e.g. '3 days' or 'P3D'."


class ScheduleError(ValueError):
    """A delay, window or time zone that cannot be used."""


class DelayTooLong(ScheduleError):
    """A delay beyond LONGEST_DELAY (ten years), or one too large to compute at all."""

    def __init__(self, text: object) -> None:
        shown = str(text).strip()[:60]
        super().__init__(f"A delay can be at most 10 years; '{shown}' is longer. {_DELAY_EXAMPLES}")


class NeverOpens(ScheduleError):
    """A send window, or business days, with no open day within a year: every day allowed is
    a holiday (a stored calendar and window that leave nothing)."""

    def __init__(self, message: str, *, working_days: bool = False) -> None:
        super().__init__(message)
        self.working_days = working_days  # True: business days, not the window, never come


def parse_duration(text: str) -> timedelta:
    """P3D, PT4H, PT30S, P1W... Months and years are refused: their length is ambiguous; a
    delay beyond LONGEST_DELAY is refused with DelayTooLong (a ScheduleError)."""
    if isinstance(text, str) and text.startswith("-P"):
        raise ScheduleError(f"a delay cannot be negative: {text!r}. {_DELAY_EXAMPLES}")
    if not isinstance(text, str) or not text.startswith("P"):
        raise ScheduleError(f"not an ISO 8601 duration: {text!r} (examples: PT0S, PT4H, P3D)")
    try:
        value = isodate.parse_duration(text)
    except OverflowError:  # P999999999999D: more days than a timedelta holds
        raise DelayTooLong(text) from None
    except (isodate.ISO8601Error, ValueError):
        raise ScheduleError(
            f"not an ISO 8601 duration: {text!r} (examples: PT0S, PT4H, P3D)"
        ) from None
    if not isinstance(value, timedelta):
        raise ScheduleError(f"months and years are ambiguous; use days or weeks: {text!r}")
    if value < timedelta(0):
        raise ScheduleError(f"a delay cannot be negative: {text!r}. {_DELAY_EXAMPLES}")
    if value > LONGEST_DELAY:
        raise DelayTooLong(text)
    return value


def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def is_valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=64)
def _country_holidays(country: str, subdivision: str | None) -> Any:
    import holidays

    # expand=True (the default): the calendar fills in each year the first time it is asked.
    return holidays.country_holidays(country, subdiv=subdivision)


def country_holidays(country: str | None, subdivision: str | None = None) -> Container[date]:
    """The public holidays of a country (ISO 3166 code, e.g. "DE", "US" with "CA"); () for None."""
    if not country:
        return ()
    if not isinstance(country, str) or not isinstance(subdivision, str | None):
        # A hand-edited row (the API takes text only): as unknown as a misspelt code.
        raise ScheduleError(f"no holiday calendar for {str(country)[:20]!r}")
    try:
        return _country_holidays(country.upper(), subdivision.upper() if subdivision else None)  # type: ignore[no-any-return]
    except (NotImplementedError, KeyError) as exc:
        raise ScheduleError(
            f"no holiday calendar for {country!r} {subdivision or ''}".strip()
        ) from exc


def is_valid_country(country: str, subdivision: str | None = None) -> bool:
    try:
        country_holidays(country, subdivision)
    except ScheduleError:
        return False
    return True


def add_business_days(
    start: datetime, days: int, tz: ZoneInfo, holidays: Container[date] = ()
) -> datetime:
    """Move `days` working days forward in `tz`, skipping weekends and holidays."""
    local = start.astimezone(tz)
    moved = closed = 0
    while moved < days:
        local += timedelta(days=1)
        if local.weekday() < 5 and local.date() not in holidays:
            moved, closed = moved + 1, 0
        elif (closed := closed + 1) > 370:  # a calendar of nothing but holidays: never ends
            raise NeverOpens("no working day within a year", working_days=True)
    return local.astimezone(start.tzinfo)


def apply_delay(
    start: datetime,
    delay: str,
    *,
    business_days: bool = False,
    tz: ZoneInfo | None = None,
    holidays: Container[date] = (),
) -> datetime:
    """When a step with this delay comes due, counted from `start`."""
    duration = parse_duration(delay)
    if not business_days:
        return start + duration
    whole_days = duration.days
    rest = duration - timedelta(days=whole_days)
    return add_business_days(start, whole_days, tz or ZoneInfo("UTC"), holidays) + rest


def parse_window(window: Mapping[str, Any] | None) -> tuple[frozenset[int], time, time] | None:
    """{"days": ["mon".."fri"], "start": "08:00", "end": "17:00"} -> (weekdays, start, end)."""
    if not window:
        return None
    try:
        days_raw = window.get("days", DAY_NAMES[:5])
        days = frozenset(
            DAY_NAMES.index(d.lower()[:3]) if isinstance(d, str) else int(d) for d in days_raw
        )
        start = time.fromisoformat(str(window.get("start", "00:00")))
        end = time.fromisoformat(str(window.get("end", "23:59")))
    except (ValueError, TypeError, AttributeError):
        raise ScheduleError(
            'send window must look like {"days": ["mon", "fri"], "start": "08:00", "end": "17:00"}'
        ) from None
    if not days or not days <= set(range(7)):
        raise ScheduleError("send window needs at least one day, mon to sun")
    if end <= start:
        raise ScheduleError("send window must end after it starts")
    return days, start, end


def next_opening(
    when: datetime,
    window: Mapping[str, Any] | None,
    tz: ZoneInfo,
    holidays: Container[date] = (),
) -> datetime:
    """`when` if it lies inside the send window, else the window's next opening (holidays skipped)."""
    parsed = parse_window(window)
    if parsed is None:
        return when
    days, start, end = parsed
    local = when.astimezone(tz)
    # A window may be closed for weeks in a row of holidays; a year bounds the search.
    for offset in range(370):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in days or day in holidays:
            continue
        opens = datetime.combine(day, start, tz)
        closes = datetime.combine(day, end, tz)
        if offset == 0 and opens <= local < closes:
            return when
        if local < opens:
            return opens.astimezone(when.tzinfo)
    raise NeverOpens("send window never opens within a year")


def jitter(when: datetime, max_seconds: int, rng: random.Random | None = None) -> datetime:
    """Spread a batch so its emails do not leave in the same second."""
    if max_seconds <= 0:
        return when
    return when + timedelta(seconds=(rng or random).uniform(0, max_seconds))
