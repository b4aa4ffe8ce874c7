"""A step's delay as a rep types it ("2 days", "3 business days", "immediately") read into the
ISO 8601 duration and business-day flag the scheduler reads; ISO 8601 is still accepted."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from .schedule import LONGEST_DELAY, DelayTooLong, ScheduleError, parse_duration
from .schedule_words import delay_text

# Words for "no delay at all".
_NOW = {"immediately", "now", "right away", "at once", "no delay", "0", "none"}
_UNITS: dict[str, timedelta] = {}
for _names, _size in (
    (("s", "sec", "secs", "second", "seconds"), timedelta(seconds=1)),
    (("m", "min", "mins", "minute", "minutes"), timedelta(minutes=1)),
    (("h", "hr", "hrs", "hour", "hours"), timedelta(hours=1)),
    (("d", "day", "days"), timedelta(days=1)),
    (("w", "wk", "wks", "week", "weeks"), timedelta(weeks=1)),
):
    for _name in _names:
        _UNITS[_name] = _size
_AMBIGUOUS = {"month", "months", "year", "years", "mo", "yr", "yrs"}
# "3 business days", "2 working days", "5 weekdays": days that skip weekends (and holidays).
_BUSINESS = re.compile(r"\b(?:business|working|work)\s+(days?)\b|\bweekdays?\b")
_CALENDAR = re.compile(r"\bcalendar\s+(days?)\b")
_PART = re.compile(r"(\d+|\ban?\b|\bone\b)\s*([a-z]+)")
_EXAMPLES = '"2 days", "3 business days", "4 hours", "90 minutes" or "immediately"'


@dataclass(frozen=True)
class DelayInput:
    """What the rep typed, as the scheduler stores it.

    `business_days` is None when the words do not say ("2 days", "P2D"): the editor's
    calendar / business days choice then decides.
    """

    delay: str  # ISO 8601, as Step.delay holds it
    business_days: bool | None


def iso_duration(duration: timedelta) -> str:
    """A duration as ISO 8601, days and clock time: 2 days -> "P2D", none -> "PT0S"."""
    days = duration.days
    seconds = int(duration.total_seconds()) - days * 86400
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    clock = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    if not days and not clock:
        return "PT0S"
    return "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")


def _refuse(text: str, why: str = "") -> ScheduleError:
    shown = text.strip()[:60]
    reason = f" ({why})" if why else ""
    return ScheduleError(
        f'"{shown}" is not a delay we can read{reason}. Write it like {_EXAMPLES}.'
    )


def parse_delay(text: str) -> DelayInput:
    """ "2 days", "3 business days", "1 day and 4 hours", "immediately", "P2D" -> DelayInput.

    Raises ScheduleError with the rep's words and an example; a negative delay, and one beyond
    `schedule.LONGEST_DELAY` (DelayTooLong), are refused as the API and scheduler refuse them. Business days count whole days
    only, as `schedule.apply_delay` does: "business weeks" are refused (write "5 business days").
    """
    raw = text if isinstance(text, str) else ""
    words = " ".join(raw.strip().lower().split())
    if not words:
        raise _refuse(raw, "it is empty")
    if re.fullmatch(r"pt?\d\S*", words):  # P3D, PT4H: ISO 8601, as the API takes it
        try:
            parse_duration(words.upper())  # refuses beyond LONGEST_DELAY (ten years)
        except DelayTooLong:
            raise DelayTooLong(raw) from None
        except ScheduleError as exc:
            raise _refuse(raw, str(exc).split(":")[0]) from None
        return DelayInput(words.upper(), None)
    if words.startswith("-"):  # "-2 days", "-P2D": a step cannot go out before the last one
        raise ScheduleError(
            f'"{raw.strip()[:60]}" is negative: a delay counts forward from the previous step. '
            f"Write it like {_EXAMPLES}."
        )
    # What a rep copies from the page: "2 days after the previous step", "in 2 days".
    words = re.sub(r"\s+(?:after|later)\b.*$", "", words)
    words = re.sub(r"^(?:in|after|wait)\s+", "", words)
    if words in _NOW:
        return DelayInput("PT0S", None)
    business: bool | None = None
    if _BUSINESS.search(words):
        business = True
        words = _BUSINESS.sub(lambda m: m.group(1) or "days", words)
    if _CALENDAR.search(words):
        if business:
            raise _refuse(raw, "it says both business and calendar days")
        business = False
        words = _CALENDAR.sub(lambda m: m.group(1), words)
    if re.search(r"\b(?:business|working|work)\s+weeks?\b", words):
        raise _refuse(raw, "business days are counted in days: write 5 business days")
    seconds, rest, found = 0, words, False  # whole seconds: a Python int never overflows
    for match in _PART.finditer(words):
        amount, unit = match.groups()
        if unit in _AMBIGUOUS:
            raise _refuse(raw, "months and years differ in length: use days or weeks")
        if unit not in _UNITS:
            raise _refuse(raw, f"`{unit}` is not a unit we know")
        if business and _UNITS[unit] == timedelta(weeks=1):
            raise _refuse(raw, "business days are counted in days: write 5 business days")
        count = 1 if amount in ("a", "an", "one") else int(amount)
        seconds += count * int(_UNITS[unit].total_seconds())
        rest = rest.replace(match.group(0), " ", 1)
        found = True
    # Between the amounts only separators: "1 day and 4 hours", "1h, 30m", "1 day 4 hours".
    if not found or re.sub(r"[\s,+]|\band\b", "", rest):
        raise _refuse(raw)
    if seconds > LONGEST_DELAY.total_seconds():
        raise DelayTooLong(raw)
    return DelayInput(iso_duration(timedelta(seconds=seconds)), business)


def delay_box_text(delay: str, business_days: bool = False) -> str:
    """What the editor's delay box shows for a saved delay: the words `parse_delay` reads back
    ("2 business days", "1 day and 4 hours", "immediately"), from the words functions."""
    try:
        duration = parse_duration(delay)
    except ScheduleError:
        return str(delay)
    if duration == timedelta(0):
        return "immediately"
    # delay_text's own amount words, without the "after ..." that the box does not need.
    return delay_text(delay, business_days).removesuffix(" after the previous step")


def input_delay_text(
    text: str, business_days: bool, *, first: bool = False, holidays: str | None = None
) -> tuple[str, str | None]:
    """(the delay in the words every page writes, None), or ("", what is wrong with an
    example): what the editor shows beside the box while a rep types."""
    try:
        parsed = parse_delay(text)
    except ScheduleError as exc:
        return "", str(exc)
    business = parsed.business_days if parsed.business_days is not None else business_days
    return delay_text(parsed.delay, business, first=first, holidays=holidays), None
