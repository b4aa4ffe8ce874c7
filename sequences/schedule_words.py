"""Delays and send windows in a rep's words, read from the definitions the scheduler reads.

`delay_text` and `window_text` are the only writers of these sentences: the sequence pages,
the editor, the API's `delay_text` / `window_text` fields and the CLI all call them, and
tests/test_schedule_words.py reads each sentence back and checks it against the due time
`enrollment.due_time` computes, so the words cannot say something the scheduler does not do.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time, timedelta
from typing import Any

from .schedule import DAY_NAMES, ScheduleError, is_valid_timezone, parse_duration, parse_window

DAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ANY_TIME = "any day, any time"


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _clock_parts(rest: timedelta) -> list[str]:
    """Hours, minutes and seconds of a duration shorter than a day."""
    seconds = int(rest.total_seconds())
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = []
    for amount, unit in ((hours, "hour"), (minutes, "minute"), (seconds, "second")):
        if amount:
            parts.append(_plural(amount, unit))
    return parts


def holidays_label(settings: Mapping[str, Any] | None) -> str | None:
    """The holiday calendar a sequence skips, as a rep names it: "DE", "US-CA", or None."""
    country = (settings or {}).get("holidays_country")
    if not isinstance(country, str) or not country:
        return None
    subdivision = (settings or {}).get("holidays_subdivision")
    if isinstance(subdivision, str) and subdivision:
        return f"{country.upper()}-{subdivision.upper()}"
    return country.upper()


def _amount_parts(duration: timedelta, business_days: bool = False) -> list[str]:
    """ "30 days", "2 weeks", "1 day and 4 hours": whole weeks when the days are a multiple of 7
    (not for business days, which count days only)."""
    days = duration.days
    parts: list[str] = []
    if business_days and days:
        parts.append(_plural(days, "business day"))
    elif days and days % 7 == 0:
        parts.append(_plural(days // 7, "week"))
    elif days:
        parts.append(_plural(days, "day"))
    return parts + _clock_parts(duration - timedelta(days=days))


def duration_text(value: str) -> str:
    """An ISO 8601 duration of a setting in words: "P30D" -> "30 days", "PT4H" -> "4 hours".

    For the intervals a rep reads in a message (a sequence's re-enroll interval); a step's
    delay, which is relative to something, is `delay_text`.
    """
    try:
        duration = parse_duration(value)
    except ScheduleError:
        return str(value)
    return _join(_amount_parts(duration)) or "no time at all"


def delay_text(
    delay: str, business_days: bool = False, *, first: bool = False, holidays: str | None = None
) -> str:
    """ "immediately", "3 days after enrollment", "2 business days after the previous step".

    Business days count whole days only (P1W is 7 business days) and the hours of the delay
    are added after them, as `schedule.apply_delay` does; `holidays` names the calendar that
    business days skip besides weekends.
    """
    try:
        duration = parse_duration(delay)
    except ScheduleError:
        return f"after {delay} (not a delay the scheduler can use)"
    after = "after enrollment" if first else "after the previous step"
    if duration == timedelta(0):
        return "immediately" if first else "immediately after the previous step"
    text = f"{_join(_amount_parts(duration, business_days))} {after}"
    if business_days and duration.days and holidays:
        text += f", not counting public holidays in {holidays}"
    return text


def _day_runs(days: frozenset[int]) -> str:
    """{0..4} -> "Mon-Fri"; {0, 2, 4} -> "Mon, Wed, Fri"; runs of three or more as ranges."""
    if days == frozenset(range(7)):
        return "every day"
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    words: list[str] = []
    for run in runs:
        if len(run) >= 3:
            words.append(f"{DAY_LABELS[run[0]]}-{DAY_LABELS[run[-1]]}")
        else:
            words.extend(DAY_LABELS[d] for d in run)
    return ", ".join(words)


def _clock(value: time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def window_text(
    window: Mapping[str, Any] | None, timezone: str | None = None, *, holidays: str | None = None
) -> str:
    """ "Mon-Fri 09:00-17:00 in the prospect's time zone (UTC for a prospect without one)".

    The window opens at its start and closes at its end (an email due at 17:00 waits for the
    next opening); a window without days means Monday to Friday, as `schedule.parse_window`
    reads it.
    """
    try:
        parsed = parse_window(window)
    except ScheduleError:
        return "a send window the scheduler cannot read"
    if parsed is None:
        return ANY_TIME
    days, start, end = parsed
    # `schedule.zone` falls back to UTC for a zone it does not know, and so do the words.
    fallback = timezone if timezone and is_valid_timezone(timezone) else "UTC"
    text = (
        f"{_day_runs(days)} {_clock(start)}-{_clock(end)} in the prospect's time zone "
        f"({fallback} for a prospect without one)"
    )
    if holidays:
        text += f", except public holidays in {holidays}"
    return text


def window_form_days(window: Mapping[str, Any] | None) -> list[str]:
    """The window's days as the editor's checkboxes name them (what the scheduler reads)."""
    try:
        parsed = parse_window(window)
    except ScheduleError:
        return []
    return [DAY_NAMES[d] for d in sorted(parsed[0])] if parsed else []


def window_form_hours(window: Mapping[str, Any] | None) -> tuple[str, str]:
    """(start, end) for the editor's fields; blank when there is no window."""
    try:
        parsed = parse_window(window)
    except ScheduleError:
        return "", ""
    return (_clock(parsed[1]), _clock(parsed[2])) if parsed else ("", "")


def step_delay_text(sequence: Any, step: Any) -> str:
    """The delay of one of `sequence`'s steps (a Step row, or its JSON) in words."""
    position = _get(step, "position")
    first = position == 0 if position is not None else step is _first(sequence)
    return delay_text(
        str(_get(step, "delay") or "PT0S"),
        bool(_get(step, "business_days")),
        first=first,
        holidays=holidays_label(getattr(sequence, "settings", None)),
    )


def sequence_window_text(sequence: Any) -> str:
    """When a sequence's emails go out, in words (calls and tasks are not held by it)."""
    return window_text(
        getattr(sequence, "send_window", None),
        getattr(sequence, "timezone", None),
        holidays=holidays_label(getattr(sequence, "settings", None)),
    )


def _get(step: Any, name: str) -> Any:
    return step.get(name) if isinstance(step, Mapping) else getattr(step, name, None)


def _first(sequence: Any) -> Any:
    steps = getattr(sequence, "steps", None) or []
    return steps[0] if steps else None
