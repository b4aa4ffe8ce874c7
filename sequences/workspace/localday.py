"""A user's day in their own time zone: where "today" starts and ends, and what is overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A task due on an earlier local day than today is overdue; one due later today is for today.
TODAY = "today"
OVERDUE = "overdue"
LATER = "later"


@dataclass(frozen=True)
class LocalDay:
    """One calendar day in a zone, as the UTC instants that bound it: [start, end)."""

    day: date
    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        """23 or 25 on a daylight-saving change, 24 otherwise."""
        return (self.end - self.start).total_seconds() / 3600


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    # fold=0 is the first of two midnights, or, where a zone skips midnight, the instant the
    # day begins: either way the UTC instant of the local day's start.
    local = datetime.combine(day, time(0), tzinfo=tz)
    return local.astimezone(UTC)


def day_bounds(day: date, tz: ZoneInfo) -> LocalDay:
    """The calendar day `day` in `tz`, with its UTC bounds (DST days are 23 or 25 hours)."""
    return LocalDay(day, _midnight(day, tz), _midnight(day + timedelta(days=1), tz))


def local_day(now: datetime, tz: ZoneInfo) -> LocalDay:
    """The day `now` falls on in `tz`, with its UTC bounds (DST days are 23 or 25 hours)."""
    return day_bounds(now.astimezone(tz).date(), tz)


def period_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The days [start, end] (inclusive) in `tz` as UTC instants [begin, finish): a report's."""
    return _midnight(start, tz), _midnight(end + timedelta(days=1), tz)


def local_time(value: datetime, tz: ZoneInfo) -> str:
    """'2026-01-05 17:00 PST': a due time as the user reads it, with the zone's abbreviation."""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def when_due(due_at: datetime, now: datetime, tz: ZoneInfo) -> str:
    """OVERDUE, TODAY or LATER, by the user's calendar: due before today began is overdue."""
    today = local_day(now, tz)
    if due_at < today.start:
        return OVERDUE
    if due_at < today.end:
        return TODAY
    return LATER
