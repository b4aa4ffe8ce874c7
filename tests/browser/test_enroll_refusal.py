"""The web enroll form in Chromium: a refused enrollment in a rep's words, and a confirm that
never restarts a prospect already in the sequence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sequences.clock import FrozenClock
from sequences.enrollment import record
from sequences.models import Enrollment

from ..webkit import Team, add_prospect, add_sequence, enrolled, seed_team
from .test_workspace import sign_in

pytestmark = pytest.mark.browser

NEEDS_COMPANY = [
    {
        "type": "email",
        "delay": "PT0S",
        "subject": "Hello {{ first_name | default('there') }}",
        "body_html": "<p>Hi {{ first_name | default('there') }}</p>",
    },
    {
        "type": "email",
        "delay": "P2D",
        "subject": "A plan for {{ company }}",
        "body_html": "<p>Hi {{ first_name | default('there') }}</p>",
    },
]


def _enrollments(session: Session) -> list[tuple[int, str, int]]:
    session.expire_all()
    rows = [
        (e.id, e.status, e.current_step)
        for e in session.scalars(select(Enrollment).order_by(Enrollment.id))
    ]
    session.commit()  # end the read: SQLite's lock would block the app's requests
    return rows


def test_enrolling_a_prospect_who_lacks_a_field_shows_the_step_the_field_and_the_fix(
    page_factory: Any, session: Session, clock: FrozenClock
) -> None:
    team: Team = seed_team(session)
    sequence = add_sequence(session, team.rep_id, clock.now(), NEEDS_COMPANY)
    add_prospect(session, team.rep_id, "ben@acme.example", first_name="Ben")
    sequence_id = sequence.id
    session.commit()
    page = page_factory()
    sign_in(page, team.rep_email)
    page.goto(f"/sequences/{sequence_id}/enroll?q=ben")
    page.locator("input[name=prospect_id]").check()
    page.click("#enroll-selected")

    summary = page.locator("#summary").inner_text()
    assert "0 enrolled" in summary and "1 not enrolled" in summary
    problem = page.locator("#problems tbody tr").inner_text()
    assert "ben@acme.example" in problem
    # The step (the second, counted as a rep counts), the field, and both fixes.
    assert "cannot be enrolled: step 2 (subject): the prospect has no `company`" in problem
    assert "add `company` to the prospect" in problem
    assert "or write `{{ company | default('your team') }}` in step 2's subject" in problem
    # Nothing technical reaches the page.
    for raw in ("UndefinedError", "Traceback", "jinja2", "'dict object'", "422"):
        assert raw not in page.content()
    assert _enrollments(session) == []


def test_confirming_a_prospect_already_in_the_sequence_leaves_her_as_she_is(
    page_factory: Any, session: Session, clock: FrozenClock
) -> None:
    team: Team = seed_team(session)
    now = clock.now()
    sequence = add_sequence(session, team.rep_id, now, NEEDS_COMPANY)
    ray = add_prospect(session, team.rep_id, "ray@acme.example", first_name="Ray", company="R")
    record(session, "reply", now - timedelta(days=2), prospect_id=ray.id)
    live = enrolled(session, ray, sequence, now - timedelta(days=1))
    sequence_id, live_id = sequence.id, live.id
    session.commit()
    before = _enrollments(session)
    page = page_factory()
    sign_in(page, team.rep_email)
    page.goto(f"/sequences/{sequence_id}/enroll?q=ray")
    page.locator("input[name=prospect_id]").check()
    page.click("#enroll-selected")
    # Not offered for confirmation: enrolling anyway would only have restarted her at step 1.
    assert page.locator("#confirm").count() == 0
    problem = page.locator("#problems tbody tr").inner_text()
    assert f"already active in this sequence (enrollment {live_id}), left as is" in problem
    assert _enrollments(session) == before
