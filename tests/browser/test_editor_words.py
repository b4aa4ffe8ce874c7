"""The sequence editor in Chromium: the preview marks what a chosen prospect lacks, and the
delay and the window are written in words as they are edited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from sequences.clock import FrozenClock
from sequences.definitions import create_sequence
from sequences.workspace.accounts import default_team

from ..webkit import Team, add_prospect, seed_team
from .conftest import screenshot
from .test_workspace import sign_in

pytestmark = pytest.mark.browser


def _watch_errors(page: Any) -> list[str]:
    """Console errors and failed answers (4xx, 5xx) of the page, besides the CSP watch."""
    errors: list[str] = []
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}")
            if response.status >= 400 and not response.url.endswith("/favicon.ico")
            else None
        ),
    )
    return errors


def test_the_preview_marks_the_field_a_chosen_prospect_lacks_and_names_the_fix(
    page_factory: Any, session: Session, clock: FrozenClock, tmp_path: Path
) -> None:
    team: Team = seed_team(session)
    add_prospect(session, team.rep_id, "ana@acme.example", first_name="Ana")
    sequence = create_sequence(
        session,
        default_team(session).id,
        team.rep_id,
        {
            "name": "Welcome",
            "send_window": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00"},
            "steps": [
                {
                    "type": "email",
                    "delay": "PT0S",
                    "subject": "What {{ company }} gets from it",
                    "body_html": "<p>Hi {{ first_name }}, a word for {{ company }}.</p>",
                }
            ],
        },
        clock.now(),
    )
    session.commit()
    page = page_factory()
    errors = _watch_errors(page)
    sign_in(page, team.rep_email)
    page.goto(f"/sequences/{sequence.id}/edit")
    # The sample prospect has a company: the preview renders, the values marked.
    page.wait_for_function(
        "() => (document.querySelector('#preview-subject') || {}).textContent"
        " === 'What Example Inc gets from it'"
    )
    assert page.locator("#preview-subject mark.field").count() == 1
    assert "Mon-Fri 09:00-23:59" in page.locator("#window-words").inner_text()

    page.select_option("#preview-prospect", label="Ana")
    page.wait_for_selector("#preview-missing")
    missing = page.locator("#preview-missing").inner_text()
    assert "Missing for Ana: company" in missing
    assert "{{ company | default('your team') }}" in missing
    assert page.locator("#preview-subject").inner_text() == "What [company] gets from it"
    assert page.locator("#preview-subject mark.missing").inner_text() == "[company]"
    frame = page.frame_locator("#preview iframe")
    assert "Hi Ana, a word for [company]." in frame.locator("body").inner_text()
    assert frame.locator("mark").count() == 2  # Ana's name, and the missing company

    # Editing the delay and the window: the words follow.
    step = page.locator("#steps .step").first
    step.locator("input[name=step_delay]").fill("P2D")
    step.locator("select[name=step_business_days]").select_option("yes")
    page.wait_for_function(
        "() => document.querySelector('.step .delay-words').textContent"
        " === 'Comes due 2 business days after enrollment.'"
    )
    page.check("input[name=window_days][value=sat]")
    page.fill("#window_end", "17:00")
    page.locator("#window_end").blur()
    page.wait_for_function(
        "() => document.querySelector('#window-words').textContent"
        ".startsWith('Mon-Sat 09:00-17:00 in the prospect')"
    )
    screenshot(page, "sequence-editor-missing", tmp_path)
    assert errors == []


def test_a_rep_types_a_delay_in_words_and_the_saved_step_says_it(
    page_factory: Any, session: Session, clock: FrozenClock
) -> None:
    team: Team = seed_team(session)
    sequence = create_sequence(
        session,
        default_team(session).id,
        team.rep_id,
        {
            "name": "Words",
            "steps": [
                {"type": "email", "delay": "PT0S", "subject": "Hi", "body_html": "<p>Hi</p>"},
                {"type": "call", "delay": "P3D", "title": "Call"},
            ],
        },
        clock.now(),
    )
    session.commit()
    page = page_factory()
    sign_in(page, team.rep_email)
    page.goto(f"/sequences/{sequence.id}/edit")
    first, second = page.locator("#steps .step").nth(0), page.locator("#steps .step").nth(1)
    # The box shows words, not P3D.
    assert first.locator("input[name=step_delay]").input_value() == "immediately"
    assert second.locator("input[name=step_delay]").input_value() == "3 days"

    # A typo: the words beside the box say what is wrong and give an example.
    second.locator("input[name=step_delay]").fill("2 bizness days")
    page.wait_for_function(
        "() => document.querySelectorAll('.step .delay-words')[1].textContent"
        ".includes('is not a delay we can read')"
    )
    assert 'Write it like "2 days"' in second.locator(".delay-words").inner_text()

    second.locator("input[name=step_delay]").fill("2 business days")
    page.wait_for_function(
        "() => document.querySelectorAll('.step .delay-words')[1].textContent"
        " === 'Comes due 2 business days after the previous step.'"
    )
    page.click("#save")
    page.wait_for_selector("text=Sequence saved.")
    steps = page.locator("main .delay-words").all_inner_texts()
    assert steps[1].startswith("Comes due 2 business days after the previous step")
    page.goto(f"/sequences/{sequence.id}/edit")
    assert second.locator("input[name=step_delay]").input_value() == "2 business days"
    assert second.locator("select[name=step_business_days]").input_value() == "yes"
