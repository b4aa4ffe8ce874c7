"""The editor's delay box read as a rep types it, checked against the scheduler's own due times:
what "2 business days" is parsed into is what `enrollment.due_time` waits, and the words shown
beside the box are the ones `schedule_words.delay_text` writes everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sequences.delay_input import delay_box_text, input_delay_text, iso_duration, parse_delay
from sequences.enrollment import due_time
from sequences.models import Prospect, Sequence, Step
from sequences.schedule import LONGEST_DELAY, DelayTooLong, ScheduleError, parse_duration
from sequences.schedule_words import delay_text

FRIDAY = datetime(2026, 1, 9, 10, 0, tzinfo=UTC)  # a Friday, no holiday calendar


def _due(text: str, business_select: bool = False) -> datetime:
    """When a step whose box says `text` comes due after FRIDAY, as the scheduler computes it."""
    parsed = parse_delay(text)
    business = parsed.business_days if parsed.business_days is not None else business_select
    sequence = Sequence(name="s", team_id=1, timezone="UTC", send_window=None, settings={})
    step = Step(type="call", delay=parsed.delay, business_days=business, position=1)
    return due_time(sequence, step, Prospect(email="a@b.example", timezone="UTC"), FRIDAY)


@pytest.mark.parametrize(
    ("typed", "due", "words"),
    [
        ("2 days", FRIDAY + timedelta(days=2), "2 days after the previous step"),
        ("3 business days", datetime(2026, 1, 14, 10, 0, tzinfo=UTC), "3 business days after"),
        ("2 business days", datetime(2026, 1, 13, 10, 0, tzinfo=UTC), "2 business days after"),
        ("immediately", FRIDAY, "immediately after the previous step"),
        ("1 hour", FRIDAY + timedelta(hours=1), "1 hour after the previous step"),
        ("90 minutes", FRIDAY + timedelta(minutes=90), "1 hour and 30 minutes after"),
        ("1 day and 4 hours", FRIDAY + timedelta(days=1, hours=4), "1 day and 4 hours after"),
        ("2 weeks", FRIDAY + timedelta(days=14), "2 weeks after the previous step"),
        ("P2D", FRIDAY + timedelta(days=2), "2 days after the previous step"),
        ("PT0S", FRIDAY, "immediately after the previous step"),
        ("p3d", FRIDAY + timedelta(days=3), "3 days after the previous step"),
        ("2 days after the previous step", FRIDAY + timedelta(days=2), "2 days after"),
        ("in an hour", FRIDAY + timedelta(hours=1), "1 hour after the previous step"),
        ("5 working days", datetime(2026, 1, 16, 10, 0, tzinfo=UTC), "5 business days after"),
        ("1 business day and 2 hours", datetime(2026, 1, 12, 12, 0, tzinfo=UTC), "1 business"),
    ],
)
def test_what_a_rep_types_is_what_the_scheduler_waits_and_the_words_say_it(
    typed: str, due: datetime, words: str
) -> None:
    assert _due(typed) == due
    shown, error = input_delay_text(typed, False)
    assert error is None and shown.startswith(words)
    parsed = parse_delay(typed)
    assert shown == delay_text(parsed.delay, bool(parsed.business_days))


def test_the_business_days_choice_decides_when_the_words_do_not_say() -> None:
    assert parse_delay("2 days").business_days is None
    assert _due("2 days", business_select=True) == datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
    assert input_delay_text("2 days", True)[0] == "2 business days after the previous step"
    # Words that say it win over the choice.
    assert input_delay_text("2 calendar days", True)[0] == "2 days after the previous step"
    assert (
        input_delay_text("2 business days", False)[0] == "2 business days after the previous step"
    )
    assert input_delay_text("2 days", False, first=True)[0] == "2 days after enrollment"


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("", "it is empty"),
        ("soon", ""),
        ("2 dayz", "`dayz` is not a unit we know"),
        ("3 months", "months and years differ in length"),
        ("P1M", "months and years are ambiguous"),
        ("P2X", "not an ISO 8601 duration"),
        ("2 business weeks", "write 5 business days"),
        ("1.5 hours", ""),
        ("2 business days and 3 calendar days", "both business and calendar days"),
    ],
)
def test_a_delay_that_cannot_be_read_says_so_with_an_example(typed: str, why: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_delay(typed)
    message = str(caught.value)
    assert message.startswith(f'"{typed.strip()}" is not a delay we can read')
    assert why in message
    assert 'Write it like "2 days", "3 business days"' in message
    words, error = input_delay_text(typed, False)
    assert words == "" and error == message


@pytest.mark.parametrize(
    "typed",
    ["100000 days", "3651 days", "99999999999999999999999 days", "P999999999D", "P99999999999999D"],
)
def test_a_delay_beyond_ten_years_is_refused_with_the_bound_and_an_example(typed: str) -> None:
    with pytest.raises(DelayTooLong) as caught:
        parse_delay(typed)
    assert str(caught.value) == (
        f"A delay can be at most 10 years; '{typed}' is longer. Write e.g. '3 days' or 'P3D'."
    )
    assert input_delay_text(typed, False) == ("", str(caught.value))


def test_ten_years_is_the_longest_delay_words_and_iso_alike() -> None:
    assert timedelta(days=3650) == LONGEST_DELAY
    assert parse_delay("3650 days").delay == "P3650D"
    assert parse_delay("P3650D").delay == "P3650D"
    with pytest.raises(DelayTooLong):
        parse_duration("P3650DT1S")


@pytest.mark.parametrize("typed", ["-2 days", "-P2D", " -90 minutes"])
def test_a_negative_delay_is_refused_with_an_example(typed: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_delay(typed)
    assert "is negative" in str(caught.value)
    assert 'Write it like "2 days"' in str(caught.value)


@given(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)).map(
        lambda d: timedelta(seconds=int(d.total_seconds()))
    ),
    st.booleans(),
)
def test_the_box_shows_words_that_read_back_as_the_same_delay(
    duration: timedelta, business: bool
) -> None:
    iso = iso_duration(duration)
    assert parse_duration(iso) == duration
    shown = delay_box_text(iso, business)
    parsed = parse_delay(shown)
    assert parse_duration(parsed.delay) == duration
    # The box says business days only when the days are business days and there are some.
    if business and duration.days:
        assert parsed.business_days is True
    else:
        assert parsed.business_days is None
