"""Screens that say what they mean: delays and windows in words, subjects as a prospect reads
them, and an editor preview that always renders (pages, API and CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from sequences import runtime
from sequences.clock import FrozenClock
from sequences.definitions import create_sequence
from sequences.models import Sequence
from sequences.workspace.accounts import default_team
from tracker.cli.main import main

from .conftest import Cast, make_env
from .webkit import Team, add_prospect, enrolled, login, seed_team, send, token

WORKDAY = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}
STEPS = [
    {
        "type": "email",
        "delay": "PT0S",
        "subject": "Thanks, {{ first_name | default('there') }}",
        "body_html": "<p>Hi</p>",
    },
    {"type": "call", "delay": "P2D", "business_days": True, "title": "Qualify"},
    {
        "type": "email",
        "delay": "P1W",
        "subject": "What {{ company }} gets",
        "body_html": "<p>Hi {{ first_name }}</p>",
    },
]


@pytest.fixture
def team(session: Session) -> Team:
    return seed_team(session)


def _sequence(session: Session, team: Team, clock: FrozenClock, **extra: Any) -> int:
    data = {"name": "Playbook", "timezone": "Europe/Berlin", "steps": STEPS, **extra}
    sequence = create_sequence(session, default_team(session).id, team.rep_id, data, clock.now())
    session.commit()
    return sequence.id


def test_the_sequence_page_says_when_each_step_comes_due_and_shows_subjects_as_read(
    client: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    sequence_id = _sequence(
        session, team, clock, send_window=WORKDAY, settings={"holidays_country": "DE"}
    )
    login(client, team.rep_email)
    page = client.get(f"/sequences/{sequence_id}").text
    assert (
        "Emails go out Mon-Fri 09:00-17:00 in the prospect&#39;s time zone (Europe/Berlin for a "
        "prospect without one), except public holidays in DE" in page
    )
    assert "Comes due immediately;" in page
    assert (
        "Comes due 2 business days after the previous step, not counting public holidays in DE."
        in page
    )
    assert "Comes due 1 week after the previous step;" in page
    assert "PT0S" not in page and "P1W" not in page
    # The subject a prospect reads, with the values that come from the prospect marked.
    assert 'Thanks, <mark class="field">Jane</mark>' in page
    assert 'What <mark class="field">Example Inc</mark> gets' in page
    assert "{{" not in page


def test_the_editor_shows_the_window_the_scheduler_uses(
    client: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    # A window saved through the API without days is Monday to Friday for the scheduler:
    # the editor ticks those days and says so, instead of "none ticked: any day".
    hours_only = _sequence(session, team, clock, send_window={"start": "09:00", "end": "17:00"})
    login(client, team.rep_email)
    edit = client.get(f"/sequences/{hours_only}/edit").text
    for day in ("mon", "tue", "wed", "thu", "fri"):
        assert f'value="{day}" checked' in edit
    assert 'value="sat" checked' not in edit
    assert "Mon-Fri 09:00-17:00 in the prospect" in edit
    assert "Comes due 2 business days after the previous step." in edit
    # No window: no hours in the fields, and the words say any time.
    anytime = _sequence(session, team, clock)
    edit = client.get(f"/sequences/{anytime}/edit").text
    assert 'id="window_start" name="window_start" value=""' in edit
    assert 'Emails go out: <span id="window-words">any day, any time</span>' in edit


def test_the_preview_renders_for_a_prospect_who_lacks_a_field_and_names_the_fix(
    client: Any, team: Team, session: Session
) -> None:
    ana = add_prospect(session, team.rep_id, "ana@acme.example", first_name="Ana")
    session.commit()
    login(client, team.rep_email)
    answer = client.post(
        "/sequences/preview",
        data={
            "subject": "What {{ company }} gets",
            "body_html": "<p>Hi {{ first_name }}, about {{ fields.need }}</p>",
            "prospect_id": str(ana.id),
            "step": "2",
            "delay": "P2D",
            "business_days": "yes",
            "window_days": ["mon", "fri"],
            "window_start": "09:00",
            "window_end": "12:00",
            "timezone": "America/New_York",
        },
        headers={"X-CSRF-Token": token(client)},
    )
    assert answer.status_code == 200
    text = answer.text
    assert "Missing for Ana: company, need" in text
    assert "{{ company | default(&#39;your team&#39;) }}" in text
    assert "{{ fields.need | default(&#39;your need&#39;) }}" in text
    assert '<mark class="field missing">[company]</mark>' in text  # the subject still renders
    assert "[need]" in text and "Ana" in text
    assert 'data-delay="2 business days after the previous step"' in text
    assert "Mon, Fri 09:00-12:00 in the prospect&#39;s time zone (America/New_York" in text


def test_the_preview_never_shows_the_exception_and_says_what_a_call_step_is(
    client: Any, team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    login(client, team.rep_email)
    csrf = token(client)
    broken = client.post(
        "/sequences/preview",
        data={"subject": "Hi", "body_html": "{{ 1 / 0 }}", "step": "3"},
        headers={"X-CSRF-Token": csrf},
    )
    assert broken.status_code == 200
    assert "Step 3&#39;s body cannot be written: its template has an error" in broken.text
    assert "division" not in broken.text and "ZeroDivision" not in broken.text
    error_id = broken.text.split("(error ")[1].split(")")[0]
    assert error_id in caplog.text and "division" in caplog.text  # the detail is in the log
    call = client.post(
        "/sequences/preview",
        data={"type": "call", "subject": "Qualify", "delay": "P3D", "step": "2"},
        headers={"X-CSRF-Token": csrf},
    )
    assert "Step 2 is a call step: nothing is emailed" in call.text
    assert "3 days after the previous step" in call.text


def test_an_editor_form_with_hours_and_no_days_saves_those_hours_every_day(
    client: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    sequence_id = _sequence(session, team, clock)
    login(client, team.rep_email)
    form = {
        "csrf_token": token(client),
        "name": "Playbook",
        "timezone": "UTC",
        "window_start": "10:00",
        "window_end": "16:00",
        "step_type": ["email"],
        "step_delay": ["PT0S"],
        "step_business_days": ["no"],
        "step_subject": ["Hi"],
        "step_body_html": ["<p>Hi</p>"],
        "step_body_text": [""],
        "step_notes": [""],
        "step_options": [""],
    }
    assert client.post(f"/sequences/{sequence_id}/edit", data=form).status_code == 302
    page = client.get(f"/sequences/{sequence_id}").text
    assert "Emails go out every day 10:00-16:00 in the prospect" in page


def test_the_api_gives_delays_and_windows_in_words_and_takes_its_own_answer_back(
    client: Any, cast: Cast
) -> None:
    created = client.post(
        "/api/v1/sequences",
        json={"name": "Words", "send_window": WORKDAY, "steps": STEPS},
        headers=cast.auth(),
    )
    assert created.status_code == 201
    body = created.json
    assert body["window_text"] == (
        "Mon-Fri 09:00-17:00 in the prospect's time zone (UTC for a prospect without one)"
    )
    assert [s["delay_text"] for s in body["steps"]] == [
        "immediately",
        "2 business days after the previous step",
        "1 week after the previous step",
    ]
    # What GET answers can be sent back as it is: the words are read-only and ignored.
    again = {k: v for k, v in body.items() if k != "id"}
    again["steps"][2]["delay_text"] = "tomorrow, says who"
    changed = client.patch(f"/api/v1/sequences/{body['id']}", json=again, headers=cast.auth())
    assert changed.status_code == 200
    assert changed.json["steps"][2]["delay_text"] == "1 week after the previous step"


def test_the_cli_prints_the_same_words_and_export_leaves_them_out(
    rt: runtime.Runtime, cast: Cast, client: Any, tmp_path: Path
) -> None:
    created = client.post(
        "/api/v1/sequences",
        json={"name": "Words", "send_window": WORKDAY, "steps": STEPS},
        headers=cast.auth(),
    ).json
    env = make_env(rt.settings.database_url, rt.settings.smtp.port, tmp_path)
    shown = CliRunner().invoke(main, ["sequence", "show", str(created["id"])], env=env)
    assert shown.exit_code == 0, shown.output
    assert f"Words: emails go out {created['window_text']}" in shown.output
    assert "step 2 (call: Qualify): 2 business days after the previous step" in shown.output
    exported = CliRunner().invoke(main, ["sequence", "export", str(created["id"])], env=env)
    assert exported.exit_code == 0
    assert "delay_text" not in exported.output and "window_text" not in exported.output


def test_each_ab_variant_on_the_stats_page_shows_its_own_subject_as_read(
    client: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    step = {
        **STEPS[0],
        "options": {"variants": [{"subject": "A question for {{ company }}"}]},
    }
    sequence_id = _sequence(session, team, clock, steps=[step])
    sequence = session.get(Sequence, sequence_id)
    for i, variant in enumerate(("A", "B")):
        p = add_prospect(session, team.rep_id, f"p{i}@acme.example", first_name="P")
        send(session, enrolled(session, p, sequence, clock.now()), 0, clock.now(), variant=variant)
    session.commit()
    login(client, team.rep_email)
    page = client.get(f"/sequences/{sequence_id}").text
    assert 'Variant A: <span class="subject">Thanks, <mark class="field">Jane</mark>' in page
    assert 'Variant B: <span class="subject">A question for <mark class="field">Example' in page


def test_the_prospect_page_names_the_next_step_as_this_prospect_reads_it(
    client: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    sequence = session.get(Sequence, _sequence(session, team, clock))
    ana = add_prospect(session, team.rep_id, "ana@acme.example", first_name="Ana")
    enrolled(session, ana, sequence, clock.now())
    session.commit()
    login(client, team.rep_email)
    page = client.get(f"/prospects/{ana.id}").text
    assert 'Next: step 1 of 3, email “Thanks, <mark class="field">Ana</mark>”, immediately' in page


def _one_step_form(csrf: str, delay: str, business: str = "no") -> dict[str, Any]:
    return {
        "csrf_token": csrf,
        "name": "Words in the box",
        "timezone": "UTC",
        "step_type": ["email", "call"],
        "step_delay": ["immediately", delay],
        "step_business_days": ["no", business],
        "step_subject": ["Hi", "Call"],
        "step_body_html": ["<p>Hi</p>", ""],
        "step_body_text": ["", ""],
        "step_notes": ["", ""],
        "step_options": ["", ""],
    }


def test_the_editor_s_delay_box_takes_words_saves_what_the_scheduler_reads_and_shows_words(
    client: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    sequence_id = _sequence(session, team, clock)
    login(client, team.rep_email)
    url = f"/sequences/{sequence_id}/edit"
    saved = client.post(url, data=_one_step_form(token(client, url), "2 business days"))
    assert saved.status_code == 302
    session.expire_all()
    sequence = session.get(Sequence, sequence_id)
    assert sequence is not None
    assert [(s.delay, s.business_days) for s in sequence.steps] == [("PT0S", False), ("P2D", True)]
    session.commit()
    assert "2 business days after the previous step" in client.get(f"/sequences/{sequence_id}").text
    editor = client.get(url).text
    assert 'value="immediately"' in editor and 'value="2 business days"' in editor
    assert "Comes due 2 business days after the previous step." in editor
    # ISO 8601 still works, and "90 minutes" is what the scheduler waits.
    assert client.post(url, data=_one_step_form(token(client, url), "PT90M")).status_code == 302
    assert 'value="1 hour and 30 minutes"' in client.get(url).text


def test_a_delay_the_box_cannot_read_is_a_clear_message_with_an_example_not_a_500(
    client: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    sequence_id = _sequence(session, team, clock)
    login(client, team.rep_email)
    url = f"/sequences/{sequence_id}/edit"
    bad = client.post(url, data=_one_step_form(token(client, url), "2 dayz"))
    assert bad.status_code == 422
    text = bad.text.replace("&#34;", '"').replace("&quot;", '"')
    assert 'Step 2: "2 dayz" is not a delay we can read (`dayz` is not a unit we know).' in text
    assert 'Write it like "2 days", "3 business days"' in text
    assert 'value="2 dayz"' in bad.text  # what was typed stays in the box to correct
    assert "Traceback" not in text and "ScheduleError" not in text
    live = client.post(
        "/sequences/preview",
        data={"type": "call", "subject": "Call", "delay": "3 months", "step": "2"},
        headers={"X-CSRF-Token": token(client)},
    )
    assert live.status_code == 200
    assert "months and years differ in length: use days or weeks" in live.text
    words = client.post(
        "/sequences/preview",
        data={"type": "call", "subject": "Call", "delay": "90 minutes", "step": "2"},
        headers={"X-CSRF-Token": token(client)},
    )
    assert 'data-delay="1 hour and 30 minutes after the previous step"' in words.text
    assert 'data-delay-error=""' in words.text
