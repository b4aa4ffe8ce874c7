"""The backoff policy of failed sign-ins and API keys, without a server or a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sequences.workspace.throttle import LOGIN_PAIR, Policy, with_timing

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_the_first_failures_are_free_then_each_one_doubles_the_wait() -> None:
    policy = Policy(free=3, base=timedelta(seconds=2), cap=timedelta(minutes=15))
    waits = [policy.wait_after(n).total_seconds() for n in range(8)]
    assert waits == [0, 0, 0, 2, 4, 8, 16, 32]


def test_the_wait_stops_growing_at_the_cap() -> None:
    policy = Policy(free=1, base=timedelta(seconds=1), cap=timedelta(minutes=15))
    assert policy.wait_after(11) == timedelta(minutes=15)
    assert policy.wait_after(10_000) == timedelta(minutes=15)  # no overflow


def test_the_wait_counts_from_the_latest_failure() -> None:
    policy = Policy(free=2, base=timedelta(seconds=10))
    assert policy.retry_after(2, T0, T0) == timedelta(seconds=10)
    assert policy.retry_after(2, T0, T0 + timedelta(seconds=4)) == timedelta(seconds=6)
    assert policy.retry_after(2, T0, T0 + timedelta(seconds=10)) == timedelta(0)
    assert policy.retry_after(1, T0, T0) == timedelta(0)
    assert policy.retry_after(0, None, T0) == timedelta(0)


def test_a_counter_left_alone_long_enough_starts_again() -> None:
    policy = Policy(free=2, forget=timedelta(hours=24))
    assert policy.current(9, T0, T0 + timedelta(hours=23)) == 9
    assert policy.current(9, T0, T0 + timedelta(hours=24)) == 0
    assert policy.retry_after(9, T0, T0 + timedelta(hours=24)) == timedelta(0)


def test_the_timing_comes_from_the_settings_and_the_free_count_stays() -> None:
    slow = with_timing(LOGIN_PAIR, timedelta(minutes=1), timedelta(hours=1))
    assert slow.free == LOGIN_PAIR.free
    assert slow.wait_after(LOGIN_PAIR.free + 1) == timedelta(minutes=2)
