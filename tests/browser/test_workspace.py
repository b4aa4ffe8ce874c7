"""The workspace in real headless Chromium: sign in, live hot list, timeline, tasks, sequences."""

from __future__ import annotations

import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sequences import runtime
from sequences.clock import FrozenClock
from sequences.models import Enrollment, Task
from sequences.sending.compose import TrackingUrls
from sequences.tasks import log_call

from ..webkit import (
    PASSWORD,
    Team,
    add_prospect,
    add_sequence,
    enrolled,
    hit,
    scalar,
    seed_team,
    send,
)
from .conftest import screenshot

pytestmark = pytest.mark.browser

HUMAN_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Safari/605.1.15"
)
APPLE_PROXY_UA = "Mozilla/5.0"  # Apple Mail Privacy Protection: a machine, not a person
EMAIL_STEP = {
    "type": "email",
    "delay": "PT0S",
    "subject": "Hi {{ first_name }}",
    "body_html": "<p>Hi</p>",
}


@pytest.fixture
def team(session: Session) -> Team:
    return seed_team(session)


def sign_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def open_pixel(base: str, rt: runtime.Runtime, token_id: str, agent: str) -> None:
    """Fetch an email's open pixel over HTTP, as a mail client would."""
    settings = rt.settings
    url = TrackingUrls(settings.base_url, settings.secret_keys, settings.mail_domain).pixel(
        token_id
    )
    path = url.removeprefix(settings.base_url)
    request = urllib.request.Request(base + path, headers={"User-Agent": agent})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_sign_in_shows_the_hot_list_and_a_wrong_password_does_not(
    page_factory: Any, team: Team, tmp_path: Path
) -> None:
    page = page_factory()
    page.goto("/tasks")
    assert "/login" in page.url
    page.fill("#email", team.rep_email)
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "Wrong email or password."
    screenshot(page, "login", tmp_path)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/tasks")
    page.click("text=Log out")
    page.wait_for_url("**/login")


def test_hot_list_shows_a_prospect_seconds_after_a_human_open_but_not_a_machine_open(
    page_factory: Any,
    live_server: str,
    team: Team,
    session: Session,
    rt: runtime.Runtime,
    clock: FrozenClock,
) -> None:
    from playwright.sync_api import expect

    now = clock.now()
    sequence = add_sequence(session, team.rep_id, now, [EMAIL_STEP])
    human = add_prospect(
        session, team.rep_id, "hana@example.com", first_name="Hana", phone="555-0101"
    )
    machine = add_prospect(session, team.rep_id, "mac@example.com", first_name="Mac")
    to_human = send(session, enrolled(session, human, sequence, now), 0, now - timedelta(hours=2))
    to_machine = send(
        session, enrolled(session, machine, sequence, now), 0, now - timedelta(hours=2)
    )
    session.commit()

    page = page_factory()
    sign_in(page, team.rep_email)
    hotlist = page.locator("#hotlist")
    expect(hotlist).to_contain_text("Nobody has engaged")

    open_pixel(live_server, rt, to_machine.token_id, APPLE_PROXY_UA)
    # Two polls answered after the machine open: the list had its chance to change, and did not.
    for _ in range(2):
        with page.expect_response(lambda r: "/hot/fragment" in r.url):
            pass
    expect(hotlist).not_to_contain_text("Mac")

    open_pixel(live_server, rt, to_human.token_id, HUMAN_UA)
    expect(hotlist).to_contain_text("Hana", timeout=10_000)
    expect(hotlist).to_contain_text("555-0101")
    expect(hotlist).not_to_contain_text("Mac")


def test_prospect_page_shows_the_summary_and_the_timeline(
    page_factory: Any, team: Team, session: Session, clock: FrozenClock, tmp_path: Path
) -> None:
    now = clock.now()
    sequence = add_sequence(session, team.rep_id, now, [EMAIL_STEP, {**EMAIL_STEP, "delay": "P3D"}])
    prospect = add_prospect(
        session,
        team.rep_id,
        "zoe@initech.example",
        first_name="Zoe",
        last_name="Park",
        company="Initech",
        phone="+1 555 0100",
    )
    message = send(
        session,
        enrolled(session, prospect, sequence, now),
        0,
        now - timedelta(days=1),
        subject="Faster onboarding for Initech",
    )
    hit(
        session,
        message,
        "open",
        now - timedelta(days=1) + timedelta(seconds=2),
        "machine",
        "apple_privacy_proxy",
    )
    hit(session, message, "open", now - timedelta(minutes=12))
    hit(session, message, "open", now - timedelta(hours=3))
    hit(session, message, "click", now - timedelta(minutes=10), url="https://example.com/pricing")
    log_call(
        session,
        prospect.id,
        now - timedelta(hours=2),
        "voicemail",
        "Left a voicemail about pricing",
    )
    session.commit()

    page = page_factory()
    sign_in(page, team.rep_email)
    page.goto(f"/prospects/{prospect.id}")
    brief = page.locator("#brief").inner_text()
    assert "last opened 12 min ago" in brief and "2 human opens" in brief
    assert "clicked example.com/pricing once" in brief
    assert "1 open by a machine" in page.locator("#machine-note").inner_text()
    timeline = page.locator("#timeline > li")
    assert (
        "Clicked example.com/pricing" in timeline.nth(0).inner_text()
        or "Call" in timeline.nth(0).inner_text()
    )
    text = page.locator("#timeline").inner_text()
    assert "Faster onboarding for Initech" in text and "Left a voicemail about pricing" in text
    assert text.index("Left a voicemail") < text.index("Faster onboarding")  # newest first
    screenshot(page, "prospect", tmp_path)
    phone = page_factory(phone=True)
    sign_in(phone, team.rep_email)
    phone.goto(f"/prospects/{prospect.id}")
    # Nothing wider than the phone's screen: the page never scrolls sideways.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "prospect-phone", tmp_path)


def test_completing_a_call_task_in_the_browser(
    page_factory: Any, team: Team, session: Session, clock: FrozenClock, tmp_path: Path
) -> None:
    now = clock.now()
    sequence = add_sequence(
        session,
        team.rep_id,
        now,
        [{"type": "call", "delay": "PT0S", "title": "Qualify Cal"}, {**EMAIL_STEP, "delay": "P2D"}],
    )
    prospect = add_prospect(
        session, team.rep_id, "cal@example.com", first_name="Cal", phone="555-0199"
    )
    enrollment = enrolled(session, prospect, sequence, now)
    enrollment.next_due_at = None
    task = Task(
        enrollment_id=enrollment.id,
        step_position=0,
        prospect_id=prospect.id,
        owner_id=team.rep_id,
        type="call",
        title="Qualify Cal",
        due_at=now,
    )
    session.add(task)
    session.commit()

    page = page_factory()
    sign_in(page, team.rep_email)
    page.goto("/tasks")
    item = page.locator(f"[data-task='{task.id}']")
    item.locator("select[name=outcome]").select_option("connected")
    item.locator("input[name=notes]").fill("Wants a demo next week")
    screenshot(page, "tasks", tmp_path)
    item.locator("button:has-text('Complete')").click()
    page.wait_for_selector("text=Done: the sequence moves on.")
    assert page.locator(f"[data-task='{task.id}']").count() == 0
    assert (
        scalar(
            session,
            Task.__table__.select().with_only_columns(Task.status).where(Task.id == task.id),
        )
        == "done"
    )
    page.goto(f"/prospects/{prospect.id}")
    assert "Wants a demo next week" in page.locator("#timeline").inner_text()


def test_create_a_sequence_with_preview_and_enroll_from_a_csv(
    page_factory: Any, team: Team, session: Session, tmp_path: Path
) -> None:
    add_prospect(session, team.rep_id, "pia@initech.example", first_name="Pia", company="Initech")
    session.commit()
    page = page_factory()
    sign_in(page, team.rep_email)
    page.goto("/sequences/new")
    page.fill("#name", "New lead playbook")
    step = page.locator("#steps .step").first
    step.locator("input[name=step_subject]").fill("Thanks, {{ first_name | default('there') }}")
    step.locator("textarea[name=step_body_html]").fill(
        "<p style=\"color:#333\">Hi {{ first_name | default('there') }}, here is our brochure"
        " for {{ company | default('you') }}.</p>"
    )
    page.select_option("#preview-prospect", label="Pia · Initech")
    page.wait_for_function(
        "() => (document.querySelector('#preview-subject') || {}).textContent === 'Thanks, Pia'"
    )
    frame = page.frame_locator("#preview iframe")
    assert "brochure for Initech" in frame.locator("body").inner_text()
    page.click("#add-step")
    second = page.locator("#steps .step").nth(1)
    second.locator("select[name=step_type]").select_option("call")
    second.locator("input[name=step_delay]").fill("P7D")
    second.locator("input[name=step_subject]").fill("Qualify")
    screenshot(page, "sequence-editor", tmp_path)
    page.click("#save")
    page.wait_for_selector("text=Sequence saved.")
    assert "Step 2 · call" in page.locator("main").inner_text()

    page.click("text=Enroll prospects")
    csv_path = tmp_path / "leads.csv"
    csv_path.write_text(
        "email,first_name,company,need\n"
        "ana@acme.example,Ana,Acme,faster onboarding\n"
        "ben@globex.example,Ben,Globex,\n"
        "not an email,X,,\n"
    )
    page.set_input_files("input[type=file]", str(csv_path))
    page.click("#upload")
    summary = page.locator("#summary").inner_text()
    assert "2 enrolled" in summary and "2 new prospects" in summary
    assert "1 skipped of 3 rows" in summary and "Skipped 1: bad address" in summary
    assert "row 4, column 1 (email)" in summary and "not a valid email" in summary
    # An Excel export (BOM, semicolons, CRLF) from the corpus, then the same file again.
    excel = Path(__file__).resolve().parent.parent / "data" / "csv" / "excel.csv"
    for _ in range(2):
        page.set_input_files("input[type=file]", str(excel))
        page.click("#upload")
        page.wait_for_selector("#summary")
    again = page.locator("#summary").inner_text()
    assert "0 skipped of 2 rows" in again and "2 already enrolled" in again
    assert "Nothing changed: every row was imported before." in again
    assert "columns separated by ';'" in again
    screenshot(page, "enroll-summary", tmp_path)


def test_another_reps_prospect_is_not_found_for_a_rep_while_a_manager_opens_it(
    page_factory: Any, team: Team, session: Session, tmp_path: Path
) -> None:
    theirs = add_prospect(session, team.other_rep_id, "tia@example.com", first_name="Tia")
    session.commit()
    rep = page_factory()
    sign_in(rep, team.rep_email)
    response = rep.goto(f"/prospects/{theirs.id}")
    assert response is not None and response.status == 404
    manager = page_factory()
    sign_in(manager, team.manager_email)
    response = manager.goto(f"/prospects/{theirs.id}")
    assert response is not None and response.status == 200
    assert "Tia" in manager.locator("h1").inner_text()
    manager.goto("/report")
    assert "Omar Other" in manager.locator("#report-table").inner_text()
    screenshot(manager, "report", tmp_path)


def test_main_pages_fit_a_phone_screen(
    page_factory: Any,
    team: Team,
    session: Session,
    clock: FrozenClock,
    tmp_path: Path,
    database_url: str,
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("layout does not depend on the database; checked once, on SQLite")
    from .demo import seed_demo

    demo = seed_demo(session, team, clock.now())
    pages = {
        "hotlist": "/",
        "prospect": f"/prospects/{demo.prospect_ids[0]}",
        "tasks": "/tasks?all=1",
        "sequences": "/sequences",
        "sequence-stats": f"/sequences/{demo.sequence_id}",
        "sequence-editor": f"/sequences/{demo.sequence_id}/edit",
        "report": "/report",
        "settings": "/settings",
    }
    for phone in (False, True):
        page = page_factory(phone=phone)
        sign_in(page, team.manager_email)
        for name, path in pages.items():
            response = page.goto(path)
            assert response is not None and response.status == 200, path
            if name == "sequence-editor":
                page.wait_for_selector("#preview-subject")  # the live preview has rendered
            if phone:
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, f"{path} is {width}px wide on a 390px phone"
            screenshot(page, f"{name}-phone" if phone else name, tmp_path)


def test_every_page_carries_the_security_headers_and_the_policy_holds_in_the_browser(
    page_factory: Any, team: Team, session: Session
) -> None:
    """The CSP refuses inline script and style, and framing; the pages still work under it
    (page_factory fails the test on any violation the browser reports)."""
    prospect = add_prospect(session, team.rep_id, "pia@initech.example", first_name="Pia")
    sequence = add_sequence(session, team.manager_id, FrozenClock().now(), [EMAIL_STEP])
    session.commit()
    page = page_factory()
    response = page.goto("/login")
    assert response is not None
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in headers  # served over http here
    sign_in(page, team.manager_email)
    for path in (
        "/",
        "/tasks",
        "/prospects",
        f"/prospects/{prospect.id}",
        "/sequences",
        f"/sequences/{sequence.id}",
        f"/sequences/{sequence.id}/edit",
        f"/sequences/{sequence.id}/enroll",
        "/report",
        "/settings",
        "/leads/pool",
        "/sequences/new",
    ):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"], path
    # Pages that answer 404 on purpose still load their own stylesheet, script and icon
    # (page_factory fails the test on any of ours that does not).
    for path in ("/no-such-page", "/c/not-a-real-link", f"/prospects/{prospect.id + 999}"):
        response = page.goto(path)
        assert response is not None and response.status == 404, path
    # An inline script injected into a page does not run.
    page.goto("/settings")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injected = true'; document.body.append(s); }"
    )
    assert page.evaluate("() => window.injected === undefined")
    refused = [p for p in page_factory.problems if "inline script" in p]
    assert len(refused) == 1, page_factory.problems
    page_factory.problems.remove(refused[0])


def test_enroll_form_checks_then_asks_before_enrolling_a_prospect_who_replied(
    page_factory: Any, team: Team, session: Session, clock: FrozenClock, tmp_path: Path
) -> None:
    from sequences.enrollment import record

    sequence = add_sequence(
        session,
        team.rep_id,
        clock.now(),
        [{**EMAIL_STEP, "subject": "A plan for {{ company }}"}],
    )
    add_prospect(session, team.rep_id, "ana@acme.example", first_name="Ana", company="Acme")
    add_prospect(session, team.rep_id, "ben@acme.example", first_name="Ben")
    replied = add_prospect(session, team.rep_id, "ray@acme.example", first_name="Ray", company="R")
    record(session, "reply", clock.now() - timedelta(days=2), prospect_id=replied.id)
    sequence_id = sequence.id
    session.commit()
    page = page_factory()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: problems.append(r.url) if r.status >= 400 else None)
    sign_in(page, team.rep_email)
    page.goto(f"/sequences/{sequence_id}/enroll?q=acme")
    for box in page.locator("input[name=prospect_id]").all():
        box.check()
    page.click("#check-selected")
    checks = page.locator("#checks").inner_text()
    assert "be enrolled" in checks and "be refused" in checks and "need your confirmation" in checks
    assert "add `company` to the prospect" in checks
    assert scalar(session, select(func.count()).select_from(Enrollment)) == 0

    page.goto(f"/sequences/{sequence_id}/enroll?q=acme")
    for box in page.locator("input[name=prospect_id]").all():
        box.check()
    page.click("#enroll-selected")
    assert "1 enrolled" in page.locator("#summary").inner_text()
    confirm = page.locator("#confirm").inner_text()
    assert "ray@acme.example" in confirm and "replied on" in confirm
    screenshot(page, "enroll-confirm", tmp_path)
    page.click("#confirm-enroll")
    assert "1 enrolled" in page.locator("#summary").inner_text()
    assert scalar(session, select(func.count()).select_from(Enrollment)) == 2
    assert problems == []
