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


def local_day(now: datetime, tz: ZoneInfo) -> LocalDay:
    """The day `now` falls on in `tz`, with its UTC bounds (DST days are 23 or 25 hours)."""
    day = now.astimezone(tz).date()
    return LocalDay(day, _midnight(day, tz), _midnight(day + timedelta(days=1), tz))


def when_due(due_at: datetime, now: datetime, tz: ZoneInfo) -> str:
    """OVERDUE, TODAY or LATER, by the user's calendar: due before today began is overdue."""
    today = local_day(now, tz)
    if due_at < today.start:
        return OVERDUE
    if due_at < today.end:
        return TODAY
    return LATER
