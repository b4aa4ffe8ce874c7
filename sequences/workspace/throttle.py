"""Failure backoff: how long a client must wait after n failures (pure; no clock, no storage).

A counter belongs to a scope (one client address and one account, or one client address
across every account...). The first `free` failures cost nothing; from then on each failure
doubles the wait, from `base` up to `cap`. A counter left alone for `forget` starts again.
The wait is counted from the latest failure, so the state is two values: (failures, last).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Policy:
    """One scope's limits."""

    free: int  # failures allowed back to back
    base: timedelta = timedelta(seconds=1)  # the wait after failure number `free`
    cap: timedelta = timedelta(minutes=15)  # the longest wait
    forget: timedelta = timedelta(hours=24)  # a counter idle this long starts from zero

    def wait_after(self, failures: int) -> timedelta:
        """The wait before the next attempt, after `failures` failures in a row."""
        if failures < self.free:
            return timedelta(0)
        doublings = min(failures - self.free, 40)  # 2**40 s is past any cap
        longest: timedelta = min(self.base * (2**doublings), self.cap)
        return longest

    def current(self, failures: int, last: datetime | None, now: datetime) -> int:
        """The failures that still count at `now` (0 once the counter was idle `forget`)."""
        if last is None or now - last >= self.forget:
            return 0
        return failures

    def retry_after(self, failures: int, last: datetime | None, now: datetime) -> timedelta:
        """How long until an attempt is allowed (zero: now)."""
        failures = self.current(failures, last, now)
        if last is None or failures == 0:
            return timedelta(0)
        return max(last + self.wait_after(failures) - now, timedelta(0))


# The scopes. A client that keeps failing for one account waits for itself only: the same
# account from another address is not held back. A client address failing across many
# accounts (password spraying) is held back for all of them, later. Many addresses failing for
# one account hold back every client of it except the browsers it signed in from before (a
# known-device cookie), so guessing from a botnet cannot lock the user out. Bad API keys per
# address.
LOGIN_PAIR = Policy(free=5)
LOGIN_ADDRESS = Policy(free=20)
LOGIN_ACCOUNT = Policy(free=50)
API_KEY_ADDRESS = Policy(free=10)


def with_timing(policy: Policy, base: timedelta, cap: timedelta) -> Policy:
    """`policy` with the configured first wait and longest wait."""
    return Policy(free=policy.free, base=base, cap=cap, forget=policy.forget)
