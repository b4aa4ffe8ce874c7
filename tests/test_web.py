"""The rep's workspace pages through Flask's test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sequences.clock import FrozenClock
from sequences.enrollment import advance
from sequences.models import ApiKey, Enrollment, Event, Task

from .webkit import (
    Team,
    add_prospect,
    add_sequence,
    enrolled,
    fresh,
    hit,
    login,
    scalar,
    seed_team,
    send,
    token,
)

EMAIL_STEP = {
    "type": "email",
    "delay": "PT0S",
    "subject": "Hi {{ first_name }}",
    "body_html": "<p>Hi</p>",
}


@pytest.fixture
def team(session: Session) -> Team:
    return seed_team(session)


def test_pages_redirect_to_login_until_signed_in(client: Any, team: Team) -> None:
    response = client.get("/tasks")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/tasks")
    assert client.get("/hot/fragment").status_code == 302


def test_wrong_password_is_refused_and_the_right_one_signs_in(client: Any, team: Team) -> None:
    response = login(client, team.rep_email, "wrong")
    assert response.status_code == 401 and "Wrong email or password" in response.text
    response = login(client, "nobody@example.com", "wrong")
    assert response.status_code == 401
    response = login(client, team.rep_email)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Hot list" in client.get("/").text


def test_login_never_redirects_to_another_site(client: Any, team: Team) -> None:
    page = client.get("/login?next=https://evil.example/x")
    assert "evil.example" not in page.text
    response = client.post(
        "/login",
        data={
            "email": team.rep_email,
            "password": "correct horse battery staple",
            "csrf_token": token(client, "/login"),
            "next": "//evil.example/",
        },
    )
    assert response.headers["Location"] == "/"


def test_forms_without_the_csrf_token_are_refused(
    client: Any, team: Team, session: Session
) -> None:
    response = client.post("/login", data={"email": team.rep_email, "password": "x"})
    assert response.status_code == 400
    login(client, team.rep_email)
    prospect = add_prospect(session, team.rep_id, "p@example.com")
    session.commit()
    response = client.post(f"/prospects/{prospect.id}/convert")
    assert response.status_code == 400
    assert scalar(session, select(func.count()).select_from(Event)) == 0


def test_logout_ends_the_session(client: Any, team: Team) -> None:
    login(client, team.rep_email)
    csrf = token(client)
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert client.get("/settings").status_code == 302


def test_another_reps_prospect_is_not_found_for_a_rep_while_a_manager_sees_it(
    app: Any, team: Team, session: Session
) -> None:
    theirs = add_prospect(session, team.other_rep_id, "theirs@example.com", first_name="Tia")
    mine = add_prospect(session, team.rep_id, "mine@example.com", first_name="Mia")
    session.commit()
    rep = app.test_client()
    login(rep, team.rep_email)
    assert rep.get(f"/prospects/{mine.id}").status_code == 200
    # 404, as in the API: a rep cannot tell another rep's prospect from one that is not there.
    assert rep.get(f"/prospects/{theirs.id}").status_code == 404
    assert (
        rep.post(f"/prospects/{theirs.id}/convert", data={"csrf_token": token(rep)}).status_code
        == 404
    )
    assert "Tia" not in rep.get("/prospects").text
    assert rep.get("/prospects/999999").status_code == 404
    manager = app.test_client()
    login(manager, team.manager_email)
    assert manager.get(f"/prospects/{theirs.id}").status_code == 200
    assert "Tia" in manager.get("/prospects").text


def test_prospect_page_has_the_pre_call_summary_with_machine_opens_apart(
    client: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    now = clock.now()
    prospect = add_prospect(
        session, team.rep_id, "zoe@example.com", first_name="Zoe", phone="+1 555 0100"
    )
    sequence = add_sequence(session, team.rep_id, now, [EMAIL_STEP, {**EMAIL_STEP, "delay": "P3D"}])
    enrollment = enrolled(session, prospect, sequence, now)
    message = send(session, enrollment, 0, now - timedelta(hours=5), subject="Pricing for Zoe")
    advance(session, enrollment, 0, now - timedelta(hours=5))
    hit(
        session,
        message,
        "open",
        now - timedelta(hours=5, seconds=-2),
        "machine",
        "apple_privacy_proxy",
    )
    for minutes in (12, 50, 90):
        hit(session, message, "open", now - timedelta(minutes=minutes))
    for minutes in (10, 40):
        hit(
            session,
            message,
            "click",
            now - timedelta(minutes=minutes),
            url="https://example.com/pricing",
        )
    record_call = {"outcome": "voicemail", "notes": "Left a message about the demo"}
    from sequences.tasks import log_call

    log_call(
        session, prospect.id, now - timedelta(hours=1), record_call["outcome"], record_call["notes"]
    )
    session.commit()

    login(client, team.rep_email)
    page = client.get(f"/prospects/{prospect.id}").text
    assert "last opened 12 min ago, 3 human opens, clicked example.com/pricing twice" in page
    assert "1 open by a machine (Apple Mail Privacy Protection x1)" in page
    assert "Opened by a machine (Apple Mail Privacy Protection)" in page
    assert 'href="tel:+1 555 0100"' in page
    assert sequence.name in page and "Next: step 2 of 2" in page
    assert "Pricing for Zoe" in page and "Left a message about the demo" in page
    # Newest first: the call (1 h ago) comes before the email (5 h ago).
    assert page.index("Left a message") < page.index("Pricing for Zoe")


def test_pause_resume_unenroll_and_convert_from_the_prospect_page(
    client: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    now = clock.now()
    prospect = add_prospect(session, team.rep_id, "ann@example.com")
    sequence = add_sequence(session, team.rep_id, now, [EMAIL_STEP])
    enrollment = enrolled(session, prospect, sequence, now)
    session.commit()
    login(client, team.rep_email)
    base = f"/prospects/{prospect.id}/enrollments/{enrollment.id}"
    assert client.post(f"{base}/pause", data={"csrf_token": token(client)}).status_code == 302
    fresh(session, enrollment)
    assert enrollment.status == "paused"
    client.post(f"{base}/pause", data={"csrf_token": token(client)})  # already paused: a message
    assert "only an active enrollment" in client.get(f"/prospects/{prospect.id}").text
    client.post(f"{base}/resume", data={"csrf_token": token(client)})
    fresh(session, enrollment)
    assert enrollment.status == "active"
    assert client.post(f"{base}/explode", data={"csrf_token": token(client)}).status_code == 404
    client.post(f"/prospects/{prospect.id}/convert", data={"csrf_token": token(client)})
    fresh(session, enrollment, prospect)
    assert enrollment.status == "converted" and prospect.status == "converted"


def test_hot_list_ranks_human_engagement_and_ignores_machine_opens(
    client: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    now = clock.now()
    sequence = add_sequence(session, team.rep_id, now, [EMAIL_STEP])
    warm = add_prospect(session, team.rep_id, "warm@example.com", first_name="Warm", phone="555-1")
    hot = add_prospect(session, team.rep_id, "hot@example.com", first_name="Hot", phone="555-2")
    bot = add_prospect(session, team.rep_id, "bot@example.com", first_name="Botty")
    other = add_prospect(session, team.other_rep_id, "other@example.com", first_name="Otto")
    messages = {}
    for p in (warm, hot, bot, other):
        messages[p.id] = send(
            session, enrolled(session, p, sequence, now), 0, now - timedelta(hours=30)
        )
    hit(session, messages[warm.id], "open", now - timedelta(hours=20))
    hit(session, messages[hot.id], "open", now - timedelta(minutes=5))
    hit(session, messages[hot.id], "click", now - timedelta(minutes=4), url="https://x.example/")
    hit(
        session, messages[bot.id], "open", now - timedelta(minutes=1), "machine", "security_scanner"
    )
    hit(session, messages[other.id], "open", now - timedelta(minutes=1))
    session.commit()

    login(client, team.rep_email)
    page = client.get("/").text
    assert page.index("Hot</strong>") < page.index("Warm</strong>")
    assert "Botty" not in page and "Otto" not in page and "555-2" in page

    # The database's banded sums give exactly the pure ranking of the same signals.
    from sequences.workspace.engagement import rank, recent_heat, recent_signals

    for owner in (team.rep_id, None):
        in_sql = recent_heat(session, 1, owner, now)
        in_python = rank(recent_signals(session, 1, owner, now), now)
        session.commit()
        assert [(h.prospect_id, round(h.score, 9), h.opens, h.clicks) for h in in_sql] == [
            (h.prospect_id, round(h.score, 9), h.opens, h.clicks) for h in in_python
        ]

    first = client.get("/hot/fragment")
    etag = first.headers["ETag"]
    assert client.get("/hot/fragment", headers={"If-None-Match": etag}).status_code == 304
    hit(session, messages[bot.id], "open", now, "machine", "apple_privacy_proxy")
    session.commit()
    assert client.get("/hot/fragment", headers={"If-None-Match": etag}).status_code == 304
    hit(session, messages[bot.id], "open", now)
    session.commit()
    changed = client.get("/hot/fragment", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "Botty" in changed.text


def test_completing_a_call_task_logs_the_outcome_and_advances_the_sequence(
    client: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    now = clock.now()
    prospect = add_prospect(session, team.rep_id, "cal@example.com", first_name="Cal")
    sequence = add_sequence(
        session,
        team.rep_id,
        now,
        [{"type": "call", "delay": "PT0S", "title": "Qualify"}, {**EMAIL_STEP, "delay": "P2D"}],
    )
    enrollment = enrolled(session, prospect, sequence, now)
    enrollment.next_due_at = None  # waiting on the task, as the worker leaves it
    task = Task(
        enrollment_id=enrollment.id,
        step_position=0,
        prospect_id=prospect.id,
        owner_id=team.rep_id,
        type="call",
        title="Qualify",
        due_at=now - timedelta(days=1),
    )
    session.add(task)
    session.commit()

    login(client, team.rep_email)
    page = client.get("/tasks").text
    assert "Qualify" in page and 'id="overdue"' in page
    response = client.post(
        f"/tasks/{task.id}/complete", data={"csrf_token": token(client), "outcome": "nonsense"}
    )
    assert response.status_code == 302
    fresh(session, task)
    assert task.status == "open"
    client.post(
        f"/tasks/{task.id}/complete",
        data={"csrf_token": token(client), "outcome": "connected", "notes": "Wants a demo"},
    )
    fresh(session, task, enrollment)
    assert task.status == "done" and task.outcome == "connected"
    assert enrollment.current_step == 1 and enrollment.next_due_at is not None
    call = scalar(session, select(Event).where(Event.type == "call"))
    assert call is not None and call.data["notes"] == "Wants a demo"
    assert "Cal" not in client.get("/tasks").text
    again = client.post(
        f"/tasks/{task.id}/complete", data={"csrf_token": token(client), "outcome": "connected"}
    )
    assert again.status_code == 302  # already done: a message, not an error page


def _sequence_form(csrf: str, name: str, **extra: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "csrf_token": csrf,
        "name": name,
        "timezone": "Europe/Paris",
        "window_days": ["mon", "tue", "wed", "thu", "fri"],
        "window_start": "08:00",
        "window_end": "17:00",
        "step_type": ["email", "call"],
        "step_delay": ["PT0S", "P3D"],
        "step_business_days": ["no", "yes"],
        "step_subject": ["Hello {{ first_name | default('there') }}", "Call them"],
        "step_body_html": ["<p>Hi</p>", ""],
        "step_body_text": ["", ""],
        "step_notes": ["", "Ask about timing"],
        "step_options": ["", ""],
    }
    form.update(extra)
    return form


def test_create_and_edit_a_sequence_with_errors_shown_on_the_form(
    client: Any, team: Team, session: Session
) -> None:
    login(client, team.rep_email)
    csrf = token(client, "/sequences/new")
    bad = client.post(
        "/sequences/new",
        data=_sequence_form(csrf, "Bad", step_body_html=["<p>{{ nope }}</p>", ""]),
    )
    assert bad.status_code == 422 and "unknown variable" in bad.text and "nope" in bad.text
    bad_json = client.post(
        "/sequences/new", data=_sequence_form(csrf, "Bad", step_options=["{", ""])
    )
    assert bad_json.status_code == 422 and "not valid JSON" in bad_json.text
    created = client.post("/sequences/new", data=_sequence_form(csrf, "Onboarding"))
    assert created.status_code == 302
    sequence_path = created.headers["Location"]
    page = client.get(sequence_path).text
    assert "Onboarding" in page and "Step 2 · call" in page
    edit = client.get(sequence_path + "/edit").text
    assert "Ask about timing" in edit and 'value="fri" checked' in edit
    saved = client.post(sequence_path + "/edit", data=_sequence_form(csrf, "Onboarding v2"))
    assert saved.status_code == 302
    assert "Onboarding v2" in client.get("/sequences").text


def test_preview_renders_for_a_prospect_without_tracking_or_events(
    client: Any, team: Team, session: Session
) -> None:
    prospect = add_prospect(
        session, team.rep_id, "pia@example.com", first_name="Pia", company="Initech"
    )
    session.commit()
    login(client, team.rep_email)
    csrf = token(client)
    response = client.post(
        "/sequences/preview",
        data={
            "subject": "Hi {{ first_name }}",
            "body_html": '<p>{{ company }}: <a href="https://example.com/pricing">pricing</a></p>',
            "prospect_id": str(prospect.id),
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200
    assert 'Hi <mark class="field">Pia</mark>' in response.text and "Initech" in response.text
    assert "https://example.com/pricing" in response.text and "/c/" not in response.text
    assert "/o/" not in response.text
    broken = client.post(
        "/sequences/preview",
        data={"subject": "{{ first_name", "body_html": "x"},
        headers={"X-CSRF-Token": csrf},
    )
    assert "syntax error" in broken.text
    missing = client.post(
        "/sequences/preview",
        data={"subject": "x", "body_html": "{{ fields.need }}"},
        headers={"X-CSRF-Token": csrf},
    )
    assert "Missing for the sample prospect: need" in missing.text
    assert "missing value" not in missing.text  # the words, not Jinja's
    assert scalar(session, select(func.count()).select_from(Event)) == 0


def test_csv_upload_creates_updates_and_enrolls_with_a_summary(
    client: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    sequence = add_sequence(session, team.rep_id, clock.now(), [EMAIL_STEP])
    add_prospect(session, team.rep_id, "known@example.com", first_name="Old")
    add_prospect(session, team.other_rep_id, "taken@example.com")
    session.commit()
    login(client, team.rep_email)
    csv_text = (
        "Email,First_Name,Company,Need\n"
        "new@example.com,Nina,Acme,speed\n"
        "known@example.com,Kim,,\n"
        "not-an-email,X,,\n"
        "taken@example.com,T,,\n"
    )
    response = client.post(
        f"/sequences/{sequence.id}/enroll/csv",
        data={"csrf_token": token(client), "file": (io.BytesIO(csv_text.encode()), "leads.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert (
        "<strong>2</strong> enrolled · 1 new prospects · 1 updated · 2 skipped of 4 rows"
        in response.text
    )
    assert "not a valid email" in response.text and "belongs to another rep" in response.text
    assert "Skipped 1: bad address" in response.text
    assert scalar(session, select(func.count()).select_from(Enrollment)) == 2
    again = client.post(
        f"/sequences/{sequence.id}/enroll/csv",
        data={"csrf_token": token(client), "file": (io.BytesIO(csv_text.encode()), "leads.csv")},
        content_type="multipart/form-data",
    )
    assert "Nothing changed: every row was imported before." in again.text
    assert "2 already enrolled" in again.text
    garbage = client.post(
        f"/sequences/{sequence.id}/enroll/csv",
        data={"csrf_token": token(client), "file": (io.BytesIO(b"\xff\xfe\x00bad"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert garbage.status_code == 422 and "name the columns" in garbage.text
    binary = client.post(
        f"/sequences/{sequence.id}/enroll/csv",
        data={"csrf_token": token(client), "file": (io.BytesIO(b"PK\x03\x04xl/"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert binary.status_code == 422 and "Not a CSV file (it is binary" in binary.text


def test_enroll_from_search(client: Any, team: Team, session: Session, clock: FrozenClock) -> None:
    sequence = add_sequence(session, team.rep_id, clock.now(), [EMAIL_STEP])
    prospect = add_prospect(session, team.rep_id, "sam@example.com", first_name="Samira")
    session.commit()
    login(client, team.rep_email)
    page = client.get(f"/sequences/{sequence.id}/enroll?q=samir").text
    assert "Samira" in page
    response = client.post(
        f"/sequences/{sequence.id}/enroll",
        data={"csrf_token": token(client), "prospect_id": [str(prospect.id), "abc"]},
    )
    assert "<strong>1</strong> enrolled" in response.text


def test_step_stats_count_messages_per_variant_with_rates(
    client: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    now = clock.now()
    sequence = add_sequence(session, team.rep_id, now, [EMAIL_STEP])
    for i in range(4):
        p = add_prospect(session, team.rep_id, f"s{i}@example.com")
        m = send(
            session, enrolled(session, p, sequence, now), 0, now, variant="A" if i < 2 else "B"
        )
        hit(session, m, "open", now)
        hit(session, m, "open", now)  # twice: still one opened message
        if i == 0:
            hit(session, m, "click", now, url="https://x.example/")
        if i == 3:
            hit(session, m, "open", now, "machine", "bot")
            hit(session, m, "bounce", now)
    session.commit()
    from sequences.workspace.reports import step_stats

    stats = {s.variant: s for s in step_stats(session, sequence.id)}
    session.commit()
    assert (stats["A"].sent, stats["A"].opened, stats["A"].clicked) == (2, 2, 1)
    assert (stats["B"].sent, stats["B"].delivered, stats["B"].bounced) == (2, 1, 1)
    assert stats["B"].machine_opened == 1 and stats["A"].rate(stats["A"].clicked) == 0.5
    login(client, team.rep_email)
    page = client.get(f"/sequences/{sequence.id}").text
    assert "Variant A" in page and "Variant B" in page and "<svg" in page


def test_manager_report_and_csv_while_reps_get_403(
    app: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    now = clock.now()
    sequence = add_sequence(session, team.rep_id, now, [EMAIL_STEP])
    from sequences.tasks import log_call

    replied = add_prospect(session, team.other_rep_id, "answered@example.com", status="replied")
    send(session, enrolled(session, replied, sequence, now), 0, now - timedelta(days=3))
    for days_ago in (2, 0):  # Omar's prospect: touched 3, 2 and 0 days ago
        log_call(session, replied.id, now - timedelta(days=days_ago), "connected", "")
    for i in range(3):
        p = add_prospect(session, team.rep_id, f"r{i}@example.com")
        p.created_at = now - timedelta(days=2)
        e = enrolled(session, p, sequence, now)
        send(session, e, 0, now - timedelta(days=4))
        if i == 0:
            for d in (3, 2, 1, 0):
                log_call(session, p.id, now - timedelta(days=d), "no_answer", "")
    session.commit()
    rep = app.test_client()
    login(rep, team.rep_email)
    assert rep.get("/report").status_code == 403
    manager = app.test_client()
    login(manager, team.manager_email)
    page = manager.get("/report")
    assert page.status_code == 200 and "Rita Rep" in page.text and "<svg" in page.text
    csv_text = manager.get("/report.csv").text
    header, *rows = csv_text.strip().splitlines()
    assert header.startswith("period_start,period_end,rep,new_leads")
    rita = next(r for r in rows if "Rita Rep" in r).split(",")
    # 3 new leads, all touched; 7 touches; 2 of 3 dropped after one touch; 1 of 3 reached five
    # (an email then four calls a day apart: 1 day between touches); 3 emails, 4 calls.
    assert rita[3:12] == ["3", "3", "7", "2.33", "0.6667", "0.3333", "1.0", "3", "4"]
    omar = next(r for r in rows if "Omar Other" in r).split(",")
    # One prospect, 3 touches over 3 days: 1.5 days between; it replied, so not "dropped".
    assert omar[4:10] == ["1", "3", "3.0", "0.0", "0.0", "1.5"]
    assert manager.get("/report?start=yesterday&end=2026-13-45").status_code == 200


def test_api_keys_are_created_once_shown_and_revoked(
    client: Any, team: Team, session: Session
) -> None:
    login(client, team.rep_email)
    page = client.post("/settings/keys", data={"csrf_token": token(client), "name": "CRM"})
    key = page.text.split("<code>fu_", 1)[1].split("</code>", 1)[0]
    key = "fu_" + key
    auth = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/sequences", headers=auth).status_code == 200
    row = scalar(session, select(ApiKey).where(ApiKey.name == "CRM"))
    assert row is not None
    client.post(f"/settings/keys/{row.id}/revoke", data={"csrf_token": token(client)})
    assert client.get("/api/v1/sequences", headers=auth).status_code == 401
    assert key not in client.get("/settings").text


def test_bad_input_gets_a_clear_answer_never_a_500(
    app: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    manager = app.test_client()
    login(manager, team.manager_email)
    csrf = token(manager)
    for path in (
        "/prospects/99999999999",
        "/prospects/2147483648",
        "/sequences/99999999999",
        "/sequences/99999999999/enroll",
    ):
        assert manager.get(path).status_code == 404, path
    for path in ("/tasks/99999999999/complete", "/settings/keys/99999999999/revoke"):
        assert manager.post(path, data={"csrf_token": csrf}).status_code == 404, path
    for query in (
        "start=9999-12-31&end=9999-12-31",
        "start=0001-01-01&end=0001-01-02",
        "start=2026-01-01&end=2020-01-01",
        "start=%00&end=x",
    ):
        assert manager.get(f"/report?{query}").status_code == 200, query
        assert manager.get(f"/report.csv?{query}").status_code == 200, query
    preview = manager.post(
        "/sequences/preview",
        data={"subject": "x", "body_html": "y", "prospect_id": "99999999999999"},
        headers={"X-CSRF-Token": csrf},
    )
    assert preview.status_code == 200
    response = manager.post(
        "/login",
        data={
            "email": team.manager_email,
            "password": "correct horse battery staple",
            "csrf_token": token(manager, "/login"),
            "next": "/\\evil.example",
        },
    )
    assert response.headers["Location"] == "/"


def test_forged_sequence_forms_get_422_not_500(client: Any, team: Team) -> None:
    login(client, team.rep_email)
    csrf = token(client, "/sequences/new")
    forged = {"csrf_token": csrf, "name": "X", "step_type": ["email", "email"], "step_delay": []}
    assert client.post("/sequences/new", data=forged).status_code == 422
    assert client.post("/sequences/new", data={"csrf_token": csrf, "name": "X"}).status_code == 422
    weird = _sequence_form(csrf, "W", step_type=["sms", "call"], window_start=["25:99"])
    assert client.post("/sequences/new", data=weird).status_code == 422


def test_one_click_unsubscribe_and_the_api_need_no_csrf_token(
    client: Any, team: Team, session: Session, rt: Any, clock: FrozenClock
) -> None:
    from sequences.sending.compose import TrackingUrls

    now = clock.now()
    prospect = add_prospect(session, team.rep_id, "leave@example.com")
    sequence = add_sequence(session, team.rep_id, now, [EMAIL_STEP])
    message = send(session, enrolled(session, prospect, sequence, now), 0, now)
    session.commit()
    s = rt.settings
    url = TrackingUrls(s.base_url, s.secret_keys, s.mail_domain).unsubscribe(message.token_id)
    response = client.post(
        url.removeprefix(s.base_url), data={"List-Unsubscribe": "One-Click"}
    )  # RFC 8058: no cookie, no token, no login
    assert response.status_code == 200
    fresh(session, prospect)
    assert prospect.status == "unsubscribed"
    assert client.post("/api/v1/prospects", json={"email": "x@example.com"}).status_code == 401


def test_repeated_wrong_passwords_hold_back_that_client_only(
    client: Any, app: Any, team: Team, clock: FrozenClock
) -> None:
    from sequences.workspace import LOGIN_PAIR

    for _ in range(LOGIN_PAIR.free):
        assert login(client, team.rep_email, "guess").status_code == 401
    refused = login(client, team.rep_email)  # even the right password, from this client
    assert refused.status_code == 429 and "Too many failed attempts" in refused.text
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert login(elsewhere, team.rep_email).status_code == 302  # the user, from elsewhere
    assert login(client, team.manager_email).status_code == 302  # other emails unaffected
    clock.advance(seconds=2)
    assert login(client, team.rep_email).status_code == 302  # after this client's cool-down
