"""Enrollment: bulk API, CSV import, double and re-enrollment, suppression, company pause, states."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from sequences import runtime
from sequences.clock import FrozenClock
from sequences.enrollment import pause_company
from sequences.models import Enrollment, Event, Prospect, Sequence
from tracker.cli.main import main

from .conftest import Cast, make_env
from .sending_helpers import email, enroll_ids, make_prospect, make_sequence

PLAYBOOK = Path(__file__).resolve().parent.parent / "sequences" / "data" / "playbook.yaml"


def _prospect(client: Any, cast: Cast, address: str, **extra: Any) -> int:
    response = client.post(
        "/api/v1/prospects", json={"email": address, **extra}, headers=cast.auth()
    )
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def _sequence(client: Any, cast: Cast, **extra: Any) -> int:
    body = {"name": "Seq", "steps": [email(delay="P1D"), email(delay="P2D")], **extra}
    response = client.post("/api/v1/sequences", json=body, headers=cast.auth())
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def test_bulk_enrollment_enrolls_each_and_says_why_it_skipped_others(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    fresh = _prospect(client, cast, "ann@acme.example")
    active = _prospect(client, cast, "bob@acme.example")
    gone = _prospect(client, cast, "cat@acme.example")
    sequence = _sequence(client, cast)
    client.post(
        "/api/v1/enrollments",
        json={"prospect_id": active, "sequence_id": sequence},
        headers=cast.auth(),
    )
    with rt.sessions.begin() as s:
        s.get(Prospect, gone).status = "unsubscribed"  # type: ignore[union-attr]

    response = client.post(
        "/api/v1/enrollments/bulk",
        json={"sequence_id": sequence, "prospect_ids": [fresh, active, gone, 999_999, fresh]},
        headers=cast.auth(),
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["enrolled"] == 1 and body["skipped"] == 3
    by_id = {r["prospect_id"]: r for r in body["results"]}
    assert by_id[fresh]["status"] == "enrolled"
    assert by_id[fresh]["enrollment"]["status"] == "active"
    assert "already active" in by_id[active]["reason"]
    assert "unsubscribed" in by_id[gone]["reason"]
    assert by_id[999_999]["reason"] == "no such prospect"


def test_bulk_enrollment_with_force_leaves_a_live_enrollment_as_is(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    prospect = _prospect(client, cast, "eli@acme.example")
    sequence = _sequence(client, cast)
    body = {"sequence_id": sequence, "prospect_ids": [prospect], "force": True}
    first = client.post("/api/v1/enrollments/bulk", json=body, headers=cast.auth())
    live_id = first.json["results"][0]["enrollment"]["id"]
    again = client.post("/api/v1/enrollments/bulk", json=body, headers=cast.auth())
    assert again.status_code == 200 and (again.json["enrolled"], again.json["skipped"]) == (0, 1)
    assert again.json["results"][0]["reason"] == (
        f"eli@acme.example: already active in this sequence (enrollment {live_id}), left as is"
    )
    with rt.sessions() as s:
        rows = s.execute(select(Enrollment.id, Enrollment.status)).all()
    assert [tuple(r) for r in rows] == [(live_id, "active")]


def test_bulk_enrollment_rejects_bad_bodies(client: Any, cast: Cast) -> None:
    sequence = _sequence(client, cast)
    for body in (
        {"sequence_id": sequence, "prospect_ids": []},
        {"sequence_id": sequence, "prospect_ids": ["1"]},
        {"sequence_id": sequence, "prospect_ids": [True]},
        {"sequence_id": "x", "prospect_ids": [1]},
        {"sequence_id": sequence, "prospect_ids": [1], "force": "yes"},
    ):
        response = client.post("/api/v1/enrollments/bulk", json=body, headers=cast.auth())
        assert response.status_code == 422, body
        assert "field" in response.json["error"]
    response = client.post("/api/v1/enrollments/bulk", json={"sequence_id": 1, "prospect_ids": [1]})
    assert response.status_code == 401


def test_already_active_prospect_is_refused_unless_forced(client: Any, cast: Cast) -> None:
    prospect = _prospect(client, cast, "dan@acme.example")
    sequence = _sequence(client, cast)
    body = {"prospect_id": prospect, "sequence_id": sequence}
    first = client.post("/api/v1/enrollments", json=body, headers=cast.auth())
    again = client.post("/api/v1/enrollments", json=body, headers=cast.auth())
    assert again.status_code == 409
    assert (
        f"already active in this sequence (enrollment {first.json['id']})"
        in again.json["error"]["message"]
    )
    forced = client.post("/api/v1/enrollments", json={**body, "force": True}, headers=cast.auth())
    assert forced.status_code == 201
    old = client.get(f"/api/v1/enrollments/{first.json['id']}", headers=cast.auth()).json
    assert old["status"] == "unenrolled" and old["reason"] == "re-enrolled with force"


def test_bounced_address_is_never_enrolled_even_with_force(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    prospect = _prospect(client, cast, "eve@acme.example")
    with rt.sessions.begin() as s:
        s.get(Prospect, prospect).status = "bounced"  # type: ignore[union-attr]
    response = client.post(
        "/api/v1/enrollments",
        json={"prospect_id": prospect, "sequence_id": _sequence(client, cast), "force": True},
        headers=cast.auth(),
    )
    assert response.status_code == 422 and "bounced" in response.json["error"]["message"]


def test_minimum_interval_before_re_enrolling(client: Any, cast: Cast, clock: FrozenClock) -> None:
    prospect = _prospect(client, cast, "fay@acme.example")
    sequence = _sequence(client, cast, settings={"min_reenroll_interval": "P30D"})
    body = {"prospect_id": prospect, "sequence_id": sequence}
    first = client.post("/api/v1/enrollments", json=body, headers=cast.auth()).json
    client.post(f"/api/v1/enrollments/{first['id']}/unenroll", headers=cast.auth())
    clock.advance(days=10)
    refused = client.post("/api/v1/enrollments", json=body, headers=cast.auth())
    assert refused.status_code == 409
    assert "re-enrolling only after 30 days" in refused.json["error"]["message"]
    clock.advance(days=21)
    assert client.post("/api/v1/enrollments", json=body, headers=cast.auth()).status_code == 201


def test_reply_at_a_company_pauses_colleagues_in_sequences_that_ask_for_it(
    rt: runtime.Runtime,
) -> None:
    pausing = make_sequence(rt, [email(delay="P1D")], settings={"pause_company_on_reply": True})
    ordinary = make_sequence(rt, [email(delay="P1D")], name="Ordinary")
    replier = make_prospect(rt, "boss@initech.example")
    colleague = make_prospect(rt, "dev@initech.example")
    elsewhere = make_prospect(rt, "dev@other.example")
    gmail_a = make_prospect(rt, "a@gmail.com")
    gmail_b = make_prospect(rt, "b@gmail.com")
    [paused_one] = enroll_ids(rt, [colleague], pausing)
    [kept_ordinary] = enroll_ids(rt, [colleague], ordinary)
    [kept_elsewhere, kept_gmail] = enroll_ids(rt, [elsewhere, gmail_b], pausing)
    enroll_ids(rt, [replier, gmail_a], pausing)

    with rt.sessions.begin() as s:
        paused = pause_company(s, s.get(Prospect, replier), rt.clock.now())  # type: ignore[arg-type]
        assert pause_company(s, s.get(Prospect, gmail_a), rt.clock.now()) == []  # type: ignore[arg-type]
    assert paused == [paused_one]
    with rt.sessions() as s:
        status = {e.id: (e.status, e.reason) for e in s.scalars(select(Enrollment))}
    assert status[paused_one] == (
        "paused",
        "a colleague at initech.example replied (boss@initech.example)",
    )
    for kept in (kept_ordinary, kept_elsewhere, kept_gmail):
        assert status[kept][0] == "active"


def test_every_status_change_is_a_timeline_event(client: Any, cast: Cast) -> None:
    prospect = _prospect(client, cast, "gil@acme.example")
    enrollment = client.post(
        "/api/v1/enrollments",
        json={"prospect_id": prospect, "sequence_id": _sequence(client, cast)},
        headers=cast.auth(),
    ).json
    for action in ("pause", "resume", "unenroll"):
        response = client.post(
            f"/api/v1/enrollments/{enrollment['id']}/{action}", headers=cast.auth()
        )
        assert response.status_code == 200, response.json
    assert (
        client.post(
            f"/api/v1/enrollments/{enrollment['id']}/resume", headers=cast.auth()
        ).status_code
        == 409
    )
    timeline = client.get(f"/api/v1/prospects/{prospect}/activity", headers=cast.auth()).json
    changes = [
        (e.get("from"), e.get("to"))
        for e in reversed(timeline["events"])
        if e["type"] == "status_change"
    ]
    assert changes == [("active", "paused"), ("paused", "active"), ("active", "unenrolled")]
    assert [e["type"] for e in timeline["events"]][-1] == "enrolled"


def test_sequence_settings_and_options_are_validated(client: Any, cast: Cast) -> None:
    bad = [
        ({"settings": {"holidays_country": "XX"}}, "settings.holidays_country"),
        # Words are read (a test below), but business days make no sense for this interval.
        (
            {"settings": {"min_reenroll_interval": "2 business days"}},
            "settings.min_reenroll_interval",
        ),
        ({"settings": {"min_reenroll_interval": "P999999999D"}}, "settings.min_reenroll_interval"),
        ({"settings": {"min_reenroll_interval": 30}}, "settings.min_reenroll_interval"),
        ({"settings": {"jitter_seconds": -1}}, "settings.jitter_seconds"),
        ({"settings": {"pause_company_on_reply": "yes"}}, "settings.pause_company_on_reply"),
        (
            {"steps": [email(options={"auto_advance_days": 2})]},
            "steps[0].options.auto_advance_days",
        ),
        (
            {"steps": [{"type": "call", "options": {"auto_advance_days": 0}}]},
            "steps[0].options.auto_advance_days",
        ),
        ({"steps": [email(options={"variants": []})]}, "steps[0].options.variants"),
        (
            {"steps": [email(options={"variants": [{"subject": "Hi\n{{ nope }}"}]})]},
            "steps[0].options.variants[0].subject",
        ),
        ({"mailbox_id": "one"}, "mailbox_id"),
    ]
    for extra, field in bad:
        body = {"name": "Bad", "steps": [email()], **extra}
        response = client.post("/api/v1/sequences", json=body, headers=cast.auth())
        assert response.status_code == 422, (extra, response.json)
        assert response.json["error"]["field"] == field
    variant = client.post(
        "/api/v1/sequences",
        json={
            "name": "Bad",
            "steps": [email(options={"variants": [{"subject": "Hi\n{{ nope }}"}]})],
        },
        headers=cast.auth(),
    ).json
    assert variant["error"]["details"][0]["line"] == 2


def test_invalid_templates_answer_422_with_the_step_and_line(client: Any, cast: Cast) -> None:
    response = client.post(
        "/api/v1/sequences",
        json={
            "name": "Broken",
            "steps": [
                email(),
                email(body_html="<p>Hi</p>\n<p>{{ first_name }</p>"),
                email(subject="About {{ budget }}"),
            ],
        },
        headers=cast.auth(),
    )
    assert response.status_code == 422
    error = response.json["error"]
    assert error["field"] == "steps[1].body_html"
    problems = {(d["field"], d.get("line")) for d in error["details"]}
    assert ("steps[1].body_html", 2) in problems and ("steps[2].subject", 1) in problems
    assert "unknown variable 'budget'" in str(error["details"])


def _cli(rt: runtime.Runtime, tmp_path: Path, *args: str) -> Any:
    env = make_env(rt.settings.database_url, rt.settings.smtp.port, tmp_path)
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_playbook_imports_and_exports_back_to_the_same_definition(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    imported = _cli(rt, tmp_path, "sequence", "import", "--playbook")
    assert imported.exit_code == 0, imported.output
    assert "imported sequence 1: New lead playbook (5 steps)" in imported.output
    assert "imported 1 status rule(s)" in imported.output  # "interested" sends the brochure
    with rt.sessions() as s:
        sequence = s.get(Sequence, 1)
        assert sequence is not None
        assert [st.type for st in sequence.steps] == ["email", "email", "call", "email", "call"]
        assert [st.delay for st in sequence.steps] == ["PT0S", "P7D", "PT0S", "P23D", "PT0S"]
        assert sequence.steps[3].thread_with == 1
        assert sequence.steps[2].options == {"auto_advance_days": 3}
    exported = _cli(rt, tmp_path, "sequence", "export", "1")
    assert exported.exit_code == 0
    copy = tmp_path / "copy.yaml"
    copy.write_text(exported.output)
    again = _cli(rt, tmp_path, "sequence", "import", str(copy))
    assert again.exit_code == 0, again.output
    copy_id = again.output.split("imported sequence ", 1)[1].split(":", 1)[0]
    as_json = _cli(rt, tmp_path, "sequence", "export", copy_id, "--format", "json")
    first_json = _cli(rt, tmp_path, "sequence", "export", "1", "--format", "json")
    assert as_json.output == first_json.output
    listed = _cli(rt, tmp_path, "sequence", "list")
    assert "New lead playbook" in listed.output
    assert "Status trigger" not in listed.output  # the rule's hidden email sequence
    every = _cli(rt, tmp_path, "sequence", "list", "--all")
    assert 'Status trigger: "interested"' in every.output and "[status trigger]" in every.output


def test_sequence_import_reports_template_errors_with_lines(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: Bad\nsteps:\n  - subject: Hi\n    body_html: |\n      <p>ok</p>\n      {% if %}\n"
    )
    result = CliRunner().invoke(
        main,
        ["sequence", "import", str(bad)],
        env=make_env(rt.settings.database_url, rt.settings.smtp.port, tmp_path),
    )
    assert result.exit_code == 1
    assert "steps[0].body_html" in result.output and "(line 2)" in result.output
    unparsable = tmp_path / "bad.json"
    unparsable.write_text("{nope")
    result = CliRunner().invoke(
        main,
        ["sequence", "import", str(unparsable)],
        env=make_env(rt.settings.database_url, rt.settings.smtp.port, tmp_path),
    )
    assert result.exit_code == 1 and "cannot parse bad.json" in result.output


def test_enroll_csv_creates_updates_enrolls_and_reports_skips(
    rt: runtime.Runtime, tmp_path: Path, cast: Cast
) -> None:
    sequence = make_sequence(rt, [email(delay="P1D")])
    existing = make_prospect(rt, "old@acme.example", first_name="Old")
    gone = make_prospect(rt, "gone@acme.example", status="unsubscribed")
    csv_file = tmp_path / "prospects.csv"
    csv_file.write_text(
        "Email,First Name,Company,Need,Deadline\n"
        "new@acme.example,Zo\u00eb,Acme,faster onboarding,March\n"
        "old@acme.example,Olga,Acme,,\n"
        "not-an-email,X,Y,,\n"
        "gone@acme.example,Gone,Acme,,\n"
        "new@acme.example,Zo\u00eb,Acme,,\n",
        encoding="utf-8",
    )
    result = _cli(rt, tmp_path, "enroll", "--sequence", str(sequence), str(csv_file))
    assert result.exit_code == 0, result.output
    assert "created 1, updated 2, enrolled 2, skipped 3 of 5 rows" in result.output
    assert "row 4, column 1 (email): `not-an-email` is not a valid email address" in result.output
    assert "row 5: gone@acme.example, the address unsubscribed on" in result.output
    assert "row 6, column 1 (email): new@acme.example, the same address as row 2" in result.output
    with rt.sessions() as s:
        new = s.scalar(select(Prospect).where(Prospect.email == "new@acme.example"))
        assert new is not None and new.first_name == "Zo\u00eb" and new.company == "Acme"
        assert new.fields == {"need": "faster onboarding", "deadline": "March"}
        old = s.get(Prospect, existing)
        assert old is not None and old.first_name == "Olga"
        assert s.scalar(select(Enrollment).where(Enrollment.prospect_id == gone)) is None
        assert len(list(s.scalars(select(Event).where(Event.type == "enrolled")))) == 2


def test_enroll_csv_without_an_email_column_fails_cleanly(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    sequence = make_sequence(rt, [email()])
    csv_file = tmp_path / "nope.csv"
    csv_file.write_text("name,company\nA,B\n")
    env = make_env(rt.settings.database_url, rt.settings.smtp.port, tmp_path)
    result = CliRunner().invoke(
        main, ["enroll", "--sequence", str(sequence), str(csv_file)], env=env
    )
    assert result.exit_code == 1 and "one of them `email`" in result.output
    result = CliRunner().invoke(main, ["enroll", "--sequence", "999", str(csv_file)], env=env)
    assert result.exit_code == 1 and "no sequence 999" in result.output


def test_jitter_spreads_a_batch_inside_the_window(rt: runtime.Runtime) -> None:
    sequence = make_sequence(
        rt,
        [email()],
        settings={"jitter_seconds": 600},
        send_window={"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00"},
    )
    prospects = [make_prospect(rt, f"p{i}@batch.example") for i in range(30)]
    enroll_ids(rt, prospects, sequence)
    with rt.sessions() as s:
        due = [e.next_due_at for e in s.scalars(select(Enrollment))]
    now = rt.clock.now()
    assert all(d is not None and now <= d <= now + timedelta(seconds=600) for d in due)
    assert len({d.replace(microsecond=0) for d in due if d}) > 10


def test_a_sequences_holiday_calendar_moves_business_day_delays_and_windows(
    rt: runtime.Runtime, clock: FrozenClock
) -> None:
    from datetime import UTC, datetime

    window = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00"}
    german = make_sequence(
        rt,
        [email(delay="P1D", business_days=True)],
        settings={"holidays_country": "DE"},
        send_window=window,
        timezone="Europe/Berlin",
    )
    plain = make_sequence(rt, [email(delay="P1D", business_days=True)], send_window=window)
    # Thursday 24 December 2026, 10:00 in Berlin.
    clock.set(datetime(2026, 12, 24, 9, 0, tzinfo=UTC))
    [with_holidays] = enroll_ids(rt, [make_prospect(rt, "de@acme.example")], german)
    [without] = enroll_ids(rt, [make_prospect(rt, "xx@acme.example")], plain)
    with rt.sessions() as s:
        due = {e.id: e.next_due_at for e in s.scalars(select(Enrollment))}
    # 25 and 26 December are German holidays and 27 is a Sunday: Monday 28, 10:00 Berlin.
    assert due[with_holidays] == datetime(2026, 12, 28, 9, 0, tzinfo=UTC)
    assert due[without] == datetime(2026, 12, 25, 9, 0, tzinfo=UTC)
