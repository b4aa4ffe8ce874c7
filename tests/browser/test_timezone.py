"""Time zones in real Chromium: a rep picks hers on /settings and her tasks move to her day."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sequences import runtime
from sequences.clock import FrozenClock
from sequences.models import Prospect, Task
from sequences.workspace import create_user, default_team

from ..webkit import CHEAP_HASH
from .test_workspace import sign_in

pytestmark = pytest.mark.browser


def test_a_rep_in_la_and_one_in_brisbane_see_the_same_call_on_different_days(
    rt: runtime.Runtime, clock: FrozenClock, page_factory: Any
) -> None:
    # 00:30 UTC on Tuesday 6 January: 16:30 Monday in LA, 10:30 Tuesday in Brisbane.
    clock.set(datetime(2026, 1, 6, 0, 30, tzinfo=UTC))
    due = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # 04:00 Monday in LA, 22:00 Monday in Brisbane
    with rt.sessions.begin() as s:
        team = default_team(s)
        for who in ("lara", "bruce"):
            rep = create_user(s, f"{who}@example.com", name=who.title(), team=team)
            rep.password_hash = CHEAP_HASH
            s.flush()
            prospect = Prospect(team_id=team.id, owner_id=rep.id, email=f"p.{who}@prospect.example")
            s.add(prospect)
            s.flush()
            s.add(
                Task(
                    prospect_id=prospect.id, owner_id=rep.id, type="call", title="Call", due_at=due
                )
            )

    pages = {}
    for who, zone in (("lara", "America/Los_Angeles"), ("bruce", "Australia/Brisbane")):
        page = pages[who] = page_factory()
        sign_in(page, f"{who}@example.com")
        page.goto("/settings")
        page.fill("input[name=timezone]", "Mars/Olympus")
        page.click("#timezone button[type=submit]")
        assert "unknown time zone 'Mars/Olympus'" in page.inner_text("#zone-error")
        assert page.inner_text("#zone-now") == "UTC"  # nothing changed
        page.fill("input[name=timezone]", zone)
        page.click("#timezone button[type=submit]")
        page.wait_for_url("**/settings#timezone")
        assert page.inner_text("#zone-now") == zone

    lara, bruce = pages["lara"], pages["bruce"]
    lara.goto("/tasks")
    assert "Call" in lara.inner_text("#today") and "Nothing overdue" in lara.inner_text("#overdue")
    assert "2026-01-05 04:00 PST" in lara.inner_text("#today")
    bruce.goto("/tasks")
    assert "Call" in bruce.inner_text("#overdue") and "Nothing today" in bruce.inner_text("#today")
    assert "2026-01-05 22:00 AEST" in bruce.inner_text("#overdue")
