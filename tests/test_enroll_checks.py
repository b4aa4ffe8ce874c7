"""Enrollment checked up front (issue 16, item 1): through the API, the CLI and the web form."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sequences import runtime
from sequences.clock import FrozenClock
from sequences.enroll_checks import check_enrollment
from sequences.enrollment import mark_prospect, record
from sequences.models import Enrollment, Prospect, Sequence, Team, User
from sequences.workspace.accounts import create_api_key, create_user, default_team
from tracker.cli.main import main

from .conftest import Cast, make_env
from .sending_helpers import email, make_prospect, make_sequence
from .webkit import Team as WebTeam
from .webkit import add_prospect, add_sequence, login, seed_team, token

NEEDY = email(
    subject="A plan for {{ company }}",
    body_html="<p>Hi {{ first_name | default('there') }}, about {{ fields.need }}.</p>",
)
KIND = email(
    subject="A plan for {{ company | default('your team') }}",
    body_html="<p>Hi {{ first_name | default('there') }}</p>",
)


def _enrollments(rt: runtime.Runtime) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Enrollment)) or 0)


def _post(client: Any, cast: Cast, key: str | None = None, **body: Any) -> Any:
    return client.post("/api/v1/enrollments", json=body, headers=cast.auth(key))


def _replied(
    rt: runtime.Runtime, prospect_id: int, days_ago: int, now: datetime | None = None
) -> None:
    with rt.sessions.begin() as s:
        at = (now or rt.clock.now()) - timedelta(days=days_ago)
        record(s, "reply", at, prospect_id=prospect_id)
        mark_prospect(s, prospect_id, "replied", at)


def test_a_step_that_cannot_render_is_422_naming_prospect_step_field_and_fix(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    sequence = make_sequence(rt, [KIND, NEEDY])
    prospect = make_prospect(rt, "zoe@acme.example", first_name="Zoe")
    response = _post(client, cast, prospect_id=prospect, sequence_id=sequence)
    assert response.status_code == 422, response.json
    error = response.json["error"]
    message = error["message"]
    assert message.startswith("zoe@acme.example cannot be enrolled")
    assert "step 2 (subject): the prospect has no `company`" in message
    assert "add `company` to the prospect, or write `{{ company | default('your team') }}`" in (
        message
    )
    assert "`{{ fields.need | default('your need') }}`" in message
    problems = error["check"]["problems"]
    assert [(p["step"], p["part"], p["field"]) for p in problems] == [
        (2, "subject", "company"),
        (2, "body_html", "fields.need"),
    ]
    assert "'dict object'" not in message and "undefined" not in message
    assert _enrollments(rt) == 0
    # With the fields the prospect has, the same request enrolls.
    with rt.sessions.begin() as s:
        found = s.get(Prospect, prospect)
        assert found is not None
        found.company, found.fields = "Acme", {"need": "faster onboarding"}
    assert _post(client, cast, prospect_id=prospect, sequence_id=sequence).status_code == 201


def test_every_variant_is_rendered_and_a_template_error_names_the_step(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    variant = {"subject": "Quick one for {{ fields.team_size }}"}
    sequence = make_sequence(rt, [email(options={"variants": [variant]})])
    prospect = make_prospect(rt, "vic@acme.example")
    response = _post(client, cast, prospect_id=prospect, sequence_id=sequence)
    assert response.status_code == 422
    assert response.json["error"]["check"]["problems"][0]["field"] == "fields.team_size"
    broken = make_sequence(rt, [email(body_html="<p>{{ 1 // 0 }}</p>")])
    response = _post(client, cast, prospect_id=prospect, sequence_id=broken)
    assert response.status_code == 422
    assert "step 1 (body)" in response.json["error"]["message"]
    assert "open step 1's body in the editor" in response.json["error"]["message"]


def test_an_unsubscribed_or_bounced_address_is_422_even_with_force(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    sequence = make_sequence(rt, [KIND])
    for status in ("unsubscribed", "bounced"):
        prospect = make_prospect(rt, f"{status}@acme.example", status=status)
        for force in (False, True):
            response = _post(client, cast, prospect_id=prospect, sequence_id=sequence, force=force)
            assert response.status_code == 422
            assert f"the address {status} on" in response.json["error"]["message"]
            assert "never mailed by a sequence again" in response.json["error"]["message"]
    assert _enrollments(rt) == 0


def test_a_reply_within_the_recontact_interval_is_409_unless_forced(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    sequence = make_sequence(rt, [KIND])
    prospect = make_prospect(rt, "ray@acme.example")
    _replied(rt, prospect, days_ago=1)
    day = (rt.clock.now() - timedelta(days=1)).strftime("%Y-%m-%d")
    refused = _post(client, cast, prospect_id=prospect, sequence_id=sequence)
    assert refused.status_code == 409
    assert (
        f"replied on {day}, within the team's re-contact interval of 30 days"
        in (refused.json["error"]["message"])
    )
    reason = refused.json["error"]["check"]["reasons"][0]
    assert reason["code"] == "reply" and reason["at"].startswith(day)
    assert _enrollments(rt) == 0
    forced = _post(client, cast, prospect_id=prospect, sequence_id=sequence, force=True)
    assert forced.status_code == 201 and forced.json["forced"] is True


def test_a_forced_enrollment_says_in_the_past_tense_what_force_overrode(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    sequence = make_sequence(rt, [KIND])
    prospect = make_prospect(rt, "ray@acme.example")
    _replied(rt, prospect, days_ago=1)
    day = (rt.clock.now() - timedelta(days=1)).strftime("%Y-%m-%d")
    forced = _post(client, cast, prospect_id=prospect, sequence_id=sequence, force=True)
    check = forced.json["check"]
    assert forced.status_code == 201 and check["outcome"] == "forced" and check["status"] == 201
    assert check["message"] == (
        f"ray@acme.example: enrolled although the prospect replied on {day}, within the team's "
        "re-contact interval of 30 days; you forced it"
    )
    assert "409" not in forced.text and "Enroll anyway" not in forced.text
    again = _post(client, cast, prospect_id=prospect, sequence_id=sequence, force=True)
    assert again.status_code == 201 and (
        f"was already active in this sequence (enrollment {forced.json['id']})"
        in again.json["check"]["message"]
    )
    # A single forced enrollment restarts the live one, and says so.
    assert (
        "that enrollment was ended and the sequence restarted from step 1; you forced it"
        in again.json["check"]["message"]
    )
    plain = _post(
        client, cast, prospect_id=make_prospect(rt, "new@acme.example"), sequence_id=sequence
    )
    assert plain.status_code == 201 and plain.json["forced"] is False
    assert (plain.json["check"]["outcome"], plain.json["check"]["status"]) == ("enrolled", 201)


def test_the_recontact_interval_is_the_teams_setting(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    sequence = make_sequence(rt, [KIND])
    old = make_prospect(rt, "old@acme.example")
    _replied(rt, old, days_ago=40)
    assert _post(client, cast, prospect_id=old, sequence_id=sequence).status_code == 201
    with rt.sessions.begin() as s:
        team = s.get(Team, default_team(s).id)
        assert team is not None and team.recontact_days == 30
        team.recontact_days = 60
    again = make_prospect(rt, "again@acme.example")
    _replied(rt, again, days_ago=40)
    refused = _post(client, cast, prospect_id=again, sequence_id=sequence)
    assert refused.status_code == 409 and "interval of 60 days" in refused.json["error"]["message"]


def test_active_in_another_sequence_or_converted_is_409_with_what_and_when(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    first = make_sequence(rt, [KIND], name="Webinar follow-up")
    second = make_sequence(rt, [KIND])
    prospect = make_prospect(rt, "amy@acme.example")
    assert _post(client, cast, prospect_id=prospect, sequence_id=first).status_code == 201
    refused = _post(client, cast, prospect_id=prospect, sequence_id=second)
    assert refused.status_code == 409
    assert 'active in the sequence "Webinar follow-up" since' in refused.json["error"]["message"]
    converted = make_prospect(rt, "cal@acme.example")
    client.post(f"/api/v1/prospects/{converted}/conversion", headers=cast.auth())
    refused = _post(client, cast, prospect_id=converted, sequence_id=second)
    assert refused.status_code == 409 and "converted on" in refused.json["error"]["message"]


def test_a_dry_run_answers_per_prospect_and_enrolls_nobody(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    sequence = make_sequence(rt, [NEEDY])
    ready = make_prospect(rt, "ok@acme.example", company="Acme", fields={"need": "speed"})
    lacking = make_prospect(rt, "no@acme.example")
    replied = make_prospect(rt, "re@acme.example", company="Acme", fields={"need": "x"})
    _replied(rt, replied, days_ago=2)
    response = _post(client, cast, prospect_id=ready, sequence_id=sequence, dry_run=True)
    assert response.status_code == 200
    assert response.json["dry_run"] is True and response.json["outcome"] == "would_enroll"
    bulk = client.post(
        "/api/v1/enrollments/bulk",
        json={"sequence_id": sequence, "prospect_ids": [ready, lacking, replied], "dry_run": True},
        headers=cast.auth(),
    )
    assert bulk.status_code == 200, bulk.json
    body = bulk.json
    assert (body["would_enroll"], body["refused"], body["needs_force"]) == (1, 1, 1)
    statuses = {r["prospect_id"]: (r["status"], r["check"]["status"]) for r in body["results"]}
    assert statuses == {
        ready: ("would_enroll", 200),
        lacking: ("refused", 422),
        replied: ("needs_force", 409),
    }
    assert _enrollments(rt) == 0


def test_bulk_enrollment_checks_each_prospect(client: Any, cast: Cast, rt: runtime.Runtime) -> None:
    sequence = make_sequence(rt, [NEEDY])
    ready = make_prospect(rt, "ok@acme.example", company="Acme", fields={"need": "speed"})
    lacking = make_prospect(rt, "no@acme.example")
    response = client.post(
        "/api/v1/enrollments/bulk",
        json={"sequence_id": sequence, "prospect_ids": [ready, lacking]},
        headers=cast.auth(),
    )
    assert response.json["enrolled"] == 1 and response.json["skipped"] == 1
    skipped = next(r for r in response.json["results"] if r["status"] == "skipped")
    assert "add `company` to the prospect" in skipped["reason"]


def test_dry_run_or_force_on_unknown_or_another_reps_prospect_is_4xx_and_changes_nothing(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    sequence = make_sequence(rt, [KIND])
    with rt.sessions.begin() as s:
        omar = create_user(s, "omar@example.com", name="Omar", team=default_team(s))
        other = omar.id
        omar_key = create_api_key(s, omar, rt.clock.now())
    theirs = make_prospect(rt, "theirs@acme.example", owner_id=other)
    mine = make_prospect(rt, "mine@acme.example", owner_id=cast.rep_id)
    for flags in ({"force": True}, {"dry_run": True}):
        unknown = _post(client, cast, prospect_id=999_999, sequence_id=sequence, **flags)
        assert unknown.status_code == 404 and "no such prospect" in unknown.json["error"]["message"]
        no_sequence = _post(client, cast, prospect_id=mine, sequence_id=999_999, **flags)
        assert no_sequence.status_code == 404
        foreign = _post(client, cast, omar_key, prospect_id=mine, sequence_id=sequence, **flags)
        # Another rep's prospect is not theirs to see: as unknown as a missing one (access.py).
        assert foreign.status_code == 404
        assert "no such prospect" in foreign.json["error"]["message"]
        bulk = client.post(
            "/api/v1/enrollments/bulk",
            json={"sequence_id": sequence, "prospect_ids": [mine, 999_999], **flags},
            headers=cast.auth(),
        )
        assert bulk.status_code == 404
        bulk = client.post(
            "/api/v1/enrollments/bulk",
            json={"sequence_id": sequence, "prospect_ids": [mine, theirs], **flags},
            headers=cast.auth(),
        )
        assert bulk.status_code == 404
    assert _post(
        client, cast, prospect_id=mine, sequence_id=sequence, dry_run="yes"
    ).status_code == (422)
    assert _enrollments(rt) == 0
    # A manager may force on anyone's prospect.
    forced = _post(
        client, cast, cast.manager_key, prospect_id=theirs, sequence_id=sequence, force=True
    )
    assert forced.status_code == 201


def test_the_check_itself_changes_nothing(session: Session, rt: runtime.Runtime) -> None:
    sequence_id = make_sequence(rt, [NEEDY])
    prospect_id = make_prospect(rt, "pure@acme.example")
    sequence, prospect = session.get(Sequence, sequence_id), session.get(Prospect, prospect_id)
    assert sequence is not None and prospect is not None
    verdict = check_enrollment(session, prospect, sequence, rt.clock.now())
    assert verdict.outcome == "refused" and verdict.status == 422
    assert not session.new and not session.dirty


# The CLI


def _cli(rt: runtime.Runtime, tmp_path: Path, *args: str) -> Any:
    env = make_env(rt.settings.database_url, rt.settings.smtp.port, tmp_path)
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_cli_enroll_refuses_with_the_fix_and_forces_a_recent_reply_with_force(
    rt: runtime.Runtime, tmp_path: Path, cast: Cast
) -> None:
    sequence = make_sequence(rt, [NEEDY])
    replied = make_prospect(rt, "re@acme.example", company="Acme", fields={"need": "x"})
    _replied(rt, replied, days_ago=3, now=datetime.now(UTC))  # the CLI runs on the system clock
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text(
        "email,company,need\n"
        "ana@acme.example,Acme,onboarding\n"
        "ben@globex.example,,\n"
        "re@acme.example,Acme,x\n",
        encoding="utf-8",
    )
    dry = _cli(rt, tmp_path, "enroll", "--sequence", str(sequence), "--dry-run", str(csv_file))
    assert dry.exit_code == 0, dry.output
    assert (
        "dry run, nothing changed: would create 2, update 0, enroll 1, skipped 2 of 3 rows"
        in dry.output
    )
    assert "row 3: ben@globex.example, cannot be enrolled: step 1 (subject)" in dry.output
    assert "add `company` to the prospect" in dry.output
    assert "row 4: re@acme.example, replied on" in dry.output
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Prospect)) == 1
    assert _enrollments(rt) == 0

    result = _cli(rt, tmp_path, "enroll", "--sequence", str(sequence), str(csv_file))
    assert "created 2, updated 0, enrolled 1, skipped 2" in result.output
    forced = _cli(rt, tmp_path, "enroll", "--sequence", str(sequence), "--force", str(csv_file))
    # ben still lacks a company (no override); ana stays in her live enrollment.
    assert "enrolled 1, skipped 2" in forced.output
    assert "enrolled with --force 1:" in forced.output
    assert "row 4: re@acme.example, enrolled although the prospect replied on" in forced.output
    assert "row 2: ana@acme.example, already active in this sequence (enrollment" in forced.output
    assert "), left as is" in forced.output
    no_sequence = _cli(rt, tmp_path, "enroll", "--sequence", "999", "--dry-run", str(csv_file))
    assert no_sequence.exit_code == 1 and "no sequence 999" in no_sequence.output


def test_cli_enroll_never_enrolls_an_unsubscribed_or_bounced_address_even_with_force(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    sequence = make_sequence(rt, [KIND])
    for status in ("unsubscribed", "bounced"):
        make_prospect(rt, f"{status}@acme.example", status=status)
    csv_file = tmp_path / "suppressed.csv"
    csv_file.write_text(
        "email\nunsubscribed@acme.example\nbounced@acme.example\n", encoding="utf-8"
    )
    for flags in ((), ("--force",)):
        result = _cli(rt, tmp_path, "enroll", "--sequence", str(sequence), *flags, str(csv_file))
        assert "enrolled 0, skipped 2" in result.output, result.output
        for row, status in ((2, "unsubscribed"), (3, "bounced")):
            assert f"row {row}: {status}@acme.example, the address {status} on" in result.output
        assert "never mailed by a sequence again" in result.output
        assert "Traceback" not in result.output
    assert _enrollments(rt) == 0


# The web form


def test_web_enroll_checks_confirms_recent_contacts_and_refuses_with_the_fix(
    client: Any, session: Session, rt: runtime.Runtime
) -> None:
    team: WebTeam = seed_team(session)
    now = rt.clock.now()
    sequence = add_sequence(session, team.rep_id, now, [NEEDY])
    ready = add_prospect(session, team.rep_id, "ok@acme.example", company="Acme")
    ready.fields = {"need": "speed"}
    lacking = add_prospect(session, team.rep_id, "no@acme.example")
    replied = add_prospect(session, team.rep_id, "re@acme.example", company="A")
    replied.fields = {"need": "x"}
    theirs = add_prospect(session, team.other_rep_id, "theirs@acme.example")
    session.flush()
    record(session, "reply", now - timedelta(days=2), prospect_id=replied.id)
    ids = [str(ready.id), str(lacking.id), str(replied.id)]
    theirs_id, sequence_id = theirs.id, sequence.id
    session.commit()
    login(client, team.rep_email)
    url = f"/sequences/{sequence_id}/enroll"

    check = client.post(
        url, data={"csrf_token": token(client, url), "prospect_id": ids, "action": "check"}
    )
    assert check.status_code == 200
    assert "Check (nothing was enrolled)" in check.text
    assert "be enrolled" in check.text and "be refused" in check.text
    assert "need your confirmation" in check.text
    assert "add `company` to the prospect" in check.text.replace("&#39;", "'")
    assert _enrollments(rt) == 0

    enrolled = client.post(
        url, data={"csrf_token": token(client, url), "prospect_id": ids, "action": "enroll"}
    )
    assert "<strong>1</strong> enrolled" in enrolled.text
    assert "Recently in touch: enroll anyway?" in enrolled.text
    assert "replied on" in enrolled.text and "1 waiting for your confirmation" in enrolled.text
    assert _enrollments(rt) == 1

    refused = client.post(
        url,
        data={
            "csrf_token": token(client, url),
            "prospect_id": [ids[2], str(theirs_id)],
            "action": "force",
        },
    )
    assert refused.status_code == 403 and "no such prospect" in refused.text
    assert _enrollments(rt) == 1
    confirmed = client.post(
        url, data={"csrf_token": token(client, url), "prospect_id": [ids[2]], "action": "force"}
    )
    assert "<strong>1</strong> enrolled" in confirmed.text
    assert "enrolled although the prospect replied on" in confirmed.text
    assert "you forced it" in confirmed.text
    assert _enrollments(rt) == 2


def _upload(client: Any, url: str, csv_text: str) -> Any:
    return client.post(
        url,
        data={"csrf_token": token(client, url), "file": (io.BytesIO(csv_text.encode()), "a.csv")},
        content_type="multipart/form-data",
    )


def _live(rt: runtime.Runtime) -> dict[int, tuple[str, int]]:
    with rt.sessions() as s:
        return {e.id: (e.status, e.current_step) for e in s.scalars(select(Enrollment))}


def test_web_import_and_its_confirm_step_never_restart_a_live_enrollment(
    client: Any, session: Session, rt: runtime.Runtime
) -> None:
    team: WebTeam = seed_team(session)
    now = rt.clock.now()
    sequence = add_sequence(session, team.rep_id, now, [KIND])
    replied = add_prospect(session, team.rep_id, "re@acme.example")
    session.flush()
    record(session, "reply", now - timedelta(days=2), prospect_id=replied.id)
    sequence_id, replied_id = sequence.id, replied.id
    session.commit()
    login(client, team.rep_email)
    page = f"/sequences/{sequence_id}/enroll"
    csv_text = "email\nana@acme.example\nre@acme.example\n"

    first = _upload(client, f"{page}/csv", csv_text)
    assert "<strong>1</strong> enrolled" in first.text
    assert "Recently in touch: enroll anyway?" in first.text
    confirmed = client.post(
        page,
        data={"csrf_token": token(client, page), "prospect_id": [replied_id], "action": "force"},
    )
    assert "<strong>1</strong> enrolled" in confirmed.text and "you forced it" in confirmed.text
    before = _live(rt)
    assert len(before) == 2

    # Re's reply is still recent, and she is live: the page no longer offers to force her in
    # again (which restarted her at step 1), and confirming anyway leaves her as she is.
    again = _upload(client, f"{page}/csv", csv_text)
    assert "Nothing changed: every row was imported before." in again.text
    assert "2 already enrolled" in again.text
    assert "Recently in touch" not in again.text
    forced = client.post(
        page,
        data={
            "csrf_token": token(client, page),
            "prospect_id": [replied_id, _prospect_id(rt, "ana@acme.example")],
            "action": "force",
        },
    )
    assert "<strong>0</strong> enrolled" in forced.text and "2 not enrolled" in forced.text
    for enrollment_id in before:
        assert f"already active in this sequence (enrollment {enrollment_id}), left as is" in (
            forced.text
        )
    assert "restarted" not in forced.text
    check = client.post(
        page,
        data={"csrf_token": token(client, page), "prospect_id": [replied_id], "action": "check"},
    )
    assert "be left as is" in check.text and "need your confirmation" not in check.text
    assert _live(rt) == before


def _prospect_id(rt: runtime.Runtime, address: str) -> int:
    with rt.sessions() as s:
        found = s.scalar(select(Prospect.id).where(Prospect.email == address))
    assert found is not None
    return found


def test_web_enroll_never_enrolls_an_unsubscribed_or_bounced_address_even_when_forced(
    client: Any, session: Session, rt: runtime.Runtime
) -> None:
    team: WebTeam = seed_team(session)
    sequence = add_sequence(session, team.rep_id, rt.clock.now(), [KIND])
    ids = [
        str(add_prospect(session, team.rep_id, f"{status}@acme.example", status=status).id)
        for status in ("unsubscribed", "bounced")
    ]
    sequence_id = sequence.id
    session.commit()
    login(client, team.rep_email)
    url = f"/sequences/{sequence_id}/enroll"
    for action in ("check", "enroll", "force"):
        page = client.post(
            url, data={"csrf_token": token(client, url), "prospect_id": ids, "action": action}
        )
        assert page.status_code == 200, (action, page.status_code)
        for status in ("unsubscribed", "bounced"):
            assert f"the address {status} on" in page.text, action
        assert "never mailed by a sequence again" in page.text
        assert "<strong>0</strong> enrolled" in page.text or action == "check"
    assert _enrollments(rt) == 0


# The re-enroll interval, in words wherever the refusal reaches a rep


def test_the_re_enroll_interval_is_said_in_days_by_the_api_the_cli_and_the_web_form(
    rt: runtime.Runtime, client: Any, cast: Cast, clock: FrozenClock, tmp_path: Path
) -> None:
    from sequences.enrollment import enroll

    from .webkit import CHEAP_HASH

    clock.set(datetime.now(UTC))  # the CLI runs on the system clock: one "now" for all three
    sequence_id = make_sequence(rt, [KIND], settings={"min_reenroll_interval": "P30D"})
    fay = make_prospect(rt, "fay@acme.example", owner_id=cast.rep_id, company="Acme")
    with rt.sessions.begin() as s:
        rep = s.get(User, cast.rep_id)
        assert rep is not None
        rep.password_hash = CHEAP_HASH
        sequence, prospect = s.get(Sequence, sequence_id), s.get(Prospect, fay)
        assert sequence is not None and prospect is not None
        done = enroll(s, prospect, sequence, clock.now() - timedelta(days=10))
        done.status = "finished"
    said = "the sequence allows re-enrolling only after 30 days"

    api = _post(client, cast, prospect_id=fay, sequence_id=sequence_id)
    assert api.status_code == 409 and said in api.json["error"]["message"]
    dry = _post(client, cast, prospect_id=fay, sequence_id=sequence_id, dry_run=True)
    assert dry.status_code == 200 and said in dry.text

    csv_file = tmp_path / "again.csv"
    csv_file.write_text("email\nfay@acme.example\n", encoding="utf-8")
    cli = _cli(rt, tmp_path, "enroll", "--sequence", str(sequence_id), "--dry-run", str(csv_file))
    assert cli.exit_code == 0 and said in cli.output, cli.output

    login(client, "rita@example.com")
    url = f"/sequences/{sequence_id}/enroll"
    page = client.post(
        url, data={"csrf_token": token(client, url), "prospect_id": [str(fay)], "action": "check"}
    )
    assert page.status_code == 200 and said in page.text
    for answer in (api.text, dry.text, cli.output, page.text):
        assert "P30D" not in answer
    assert _enrollments(rt) == 1


# The README's walkthrough shows these refusals as the API wrote them; they must stay true.


def _readme_json_blocks() -> list[Any]:
    import json
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", readme, re.S)]


def _without(answer: Any, *keys: str) -> Any:
    """The answer without what differs from run to run (ids, times, dates)."""
    import re

    if isinstance(answer, dict):
        return {k: _without(v, *keys) for k, v in answer.items() if k not in keys}
    if isinstance(answer, list):
        return [_without(v, *keys) for v in answer]
    if isinstance(answer, str):
        return re.sub(r"\d{4}-\d{2}-\d{2}", "<date>", answer)
    return answer


def test_the_readme_shows_the_refusals_the_api_answers(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    refused, recent = _readme_json_blocks()[:2]

    def post(path: str, body: dict[str, Any]) -> Any:
        return client.post(path, json=body, headers=cast.auth())

    zoe = post(
        "/api/v1/prospects",
        {"email": "zoe@example.com", "first_name": "Zoë", "fields": {"need": "faster onboarding"}},
    ).json["id"]
    welcome = post(
        "/api/v1/sequences",
        {
            "name": "Welcome",
            "steps": [
                {
                    "type": "email",
                    "delay": "PT0S",
                    "subject": "Hello {{ first_name }}",
                    "body_html": '<p>You need {{ fields.need }}: <a href="https://example.com/'
                    'pricing">pricing</a></p>',
                }
            ],
        },
    ).json["id"]
    ben = post("/api/v1/prospects", {"email": "ben@example.com", "first_name": "Ben"}).json["id"]
    answer = post("/api/v1/enrollments", {"prospect_id": ben, "sequence_id": welcome})
    assert answer.status_code == 422
    assert _without(answer.json, "prospect_id") == _without(refused, "prospect_id")

    _replied(rt, zoe, days_ago=0)
    check_in = post(
        "/api/v1/sequences",
        {
            "name": "Check-in",
            "steps": [
                {
                    "type": "email",
                    "delay": "PT0S",
                    "subject": "Hi {{ first_name }}",
                    "body_html": "<p>Hi</p>",
                }
            ],
        },
    ).json["id"]
    answer = post("/api/v1/enrollments", {"prospect_id": zoe, "sequence_id": check_in})
    assert answer.status_code == 409
    assert _without(answer.json, "prospect_id", "at") == _without(recent, "prospect_id", "at")
    forced = post(
        "/api/v1/enrollments", {"prospect_id": zoe, "sequence_id": check_in, "force": True}
    )
    assert forced.status_code == 201
    keys = ("id", "prospect_id", "sequence_id", "next_due_at", "at")
    assert _without(forced.json, *keys) == _without(_readme_json_blocks()[2], *keys)


def test_a_bulk_force_never_restarts_an_enrollment_made_after_its_check_read_the_history(
    rt: runtime.Runtime,
) -> None:
    """A file's histories are read once, up front: an enrollment made since (another import,
    the API) is still never ended by the file's --force."""
    from sequences.enroll_checks import checked_enroll, load_histories
    from sequences.enrollment import enroll

    sequence_id = make_sequence(rt, [KIND])
    prospect_id = make_prospect(rt, "race@acme.example")
    _replied(rt, prospect_id, days_ago=1)
    now = rt.clock.now()
    with rt.sessions.begin() as s:
        sequence, prospect = s.get(Sequence, sequence_id), s.get(Prospect, prospect_id)
        assert sequence is not None and prospect is not None
        stale = load_histories(s, [prospect_id], sequence, now)[prospect_id]
        live = enroll(s, prospect, sequence, now, force=True)  # made after the read
        attempt = checked_enroll(
            s, prospect, sequence, now, force=True, history=stale, restart_live=False
        )
        assert attempt.enrollment is None and attempt.verdict.outcome == "refused"
        assert f"already active in this sequence (enrollment {live.id})" in attempt.verdict.why
        live_id = live.id
    with rt.sessions() as s:
        rows = s.execute(select(Enrollment.id, Enrollment.status)).all()
    assert [tuple(r) for r in rows] == [(live_id, "active")]
