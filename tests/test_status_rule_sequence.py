"""A status rule's hidden sequence opened by id: readable (an enrollment names it), but its
email is edited on the rule and only the rule enrolls: the editor and the enroll pages are a
404 in words, PATCH a 409, hand enrollment a 422, and the sequence's page is read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from sequences import runtime
from sequences.leads import delete_rule, get_rule, save_rule
from sequences.models import Enrollment, Sequence, StatusRule, Team, User
from sequences.workspace import create_api_key, create_user, default_team

from .conftest import Cast, make_env
from .sending_helpers import make_prospect
from .webkit import CHEAP_HASH, csrf_of, login

BROCHURE: dict[str, Any] = {
    "status": "interested",
    "action": "send_email",
    "subject": "The brochure",
    "body_html": "<p>Here it is.</p>",
}


def _rule(rt: runtime.Runtime, cast: Cast) -> tuple[int, int]:
    """(rule id, its hidden sequence id), saved by the manager (the sequence's owner)."""
    with rt.sessions.begin() as s:
        rule = save_rule(
            s, default_team(s).id, BROCHURE, rt.clock.now(), by_user_id=cast.manager_id
        )
        assert rule.sequence_id is not None
        return rule.id, rule.sequence_id


def _subject(rt: runtime.Runtime, sequence_id: int) -> str | None:
    with rt.sessions() as s:
        sequence = s.get(Sequence, sequence_id)
        assert sequence is not None
        return sequence.steps[0].subject


def _enrollments(rt: runtime.Runtime) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Enrollment)) or 0)


def test_the_api_reads_it_with_its_rule_and_refuses_edits_and_hand_enrollment(
    rt: runtime.Runtime, client: Any, cast: Cast
) -> None:
    rule_id, hidden = _rule(rt, cast)
    prospect = make_prospect(rt, "ann@acme.example", owner_id=cast.rep_id)

    read = client.get(f"/api/v1/sequences/{hidden}", headers=cast.auth())
    assert read.status_code == 200
    trigger = read.json["status_trigger"]
    assert trigger["rule_id"] == rule_id and trigger["status"] == "interested"
    assert f"status rule {rule_id}" in trigger["note"]
    assert [s["subject"] for s in read.json["steps"]] == ["The brochure"]
    listed = client.get("/api/v1/sequences", headers=cast.auth()).json["items"]
    assert hidden not in [s["id"] for s in listed]

    # Even its owner (the manager who saved the rule) changes it on the rule only.
    manager = cast.auth(cast.manager_key)
    patched = client.patch(
        f"/api/v1/sequences/{hidden}", json={"name": "Mine now"}, headers=manager
    )
    assert patched.status_code == 409
    message = patched.json["error"]["message"]
    assert f"PUT /api/v1/leads/status-rules/{rule_id}" in message and "Traceback" not in message
    assert _subject(rt, hidden) == "The brochure"

    one = client.post(
        "/api/v1/enrollments",
        json={"prospect_id": prospect, "sequence_id": hidden},
        headers=manager,
    )
    assert one.status_code == 422 and one.json["error"]["field"] == "sequence_id"
    assert f"status rule {rule_id}" in one.json["error"]["message"]
    bulk = client.post(
        "/api/v1/enrollments/bulk",
        json={"sequence_id": hidden, "prospect_ids": [prospect]},
        headers=cast.auth(),
    )
    assert bulk.status_code == 422 and bulk.json["error"]["field"] == "sequence_id"
    assert _enrollments(rt) == 0
    # Its figures stay readable.
    assert client.get(f"/api/v1/sequences/{hidden}/stats", headers=cast.auth()).status_code == 200


def test_another_team_still_gets_a_plain_404(rt: runtime.Runtime, client: Any, cast: Cast) -> None:
    _, hidden = _rule(rt, cast)
    with rt.sessions.begin() as s:
        east = Team(name="East")
        s.add(east)
        s.flush()
        boss = create_user(s, "eve@east.example", name="Eve", manager=True, team=east)
        key = create_api_key(s, boss, rt.clock.now())
    for method, path in (("get", ""), ("patch", "")):
        answer = getattr(client, method)(
            f"/api/v1/sequences/{hidden}{path}", json={"name": "x"}, headers=cast.auth(key)
        )
        assert answer.status_code == 404
        assert "status rule" not in answer.json["error"]["message"]  # nothing about it leaks


def test_its_page_is_read_only_and_the_editor_and_enroll_pages_say_where_to_go(
    rt: runtime.Runtime, client: Any, cast: Cast
) -> None:
    rule_id, hidden = _rule(rt, cast)
    prospect = make_prospect(rt, "ann@acme.example", owner_id=cast.manager_id)
    with rt.sessions.begin() as s:
        s.execute(update(User).where(User.id == cast.manager_id).values(password_hash=CHEAP_HASH))
    login(client, "max@example.com")

    page = client.get(f"/sequences/{hidden}")
    assert page.status_code == 200
    assert f"sends the email of status rule {rule_id}" in page.text and "read-only" in page.text
    assert f"/sequences/{hidden}/edit" not in page.text
    assert f"/sequences/{hidden}/enroll" not in page.text
    assert "The brochure" in page.text  # the email itself is shown

    token = csrf_of(page.text)
    for method, path, data in (
        ("get", "edit", None),
        ("post", "edit", {"csrf_token": token, "name": "Mine now"}),
        ("get", "enroll", None),
        ("post", "enroll", {"csrf_token": token, "prospect_id": str(prospect)}),
        ("post", "enroll/csv", {"csrf_token": token}),
    ):
        answer = getattr(client, method)(f"/sequences/{hidden}/{path}", data=data)
        assert answer.status_code == 404, (method, path)
        assert "a status rule&#39;s email" in answer.text or "a status rule's email" in answer.text
        assert f"PUT /api/v1/leads/status-rules/{rule_id}" in answer.text
        assert f'href="/sequences/{hidden}"' in answer.text
    assert _subject(rt, hidden) == "The brochure" and _enrollments(rt) == 0


def test_after_the_rule_is_removed_the_page_says_so(
    rt: runtime.Runtime, client: Any, cast: Cast
) -> None:
    rule_id, hidden = _rule(rt, cast)
    with rt.sessions.begin() as s:
        delete_rule(s, get_rule(s, default_team(s).id, rule_id))
        assert s.scalars(select(StatusRule)).all() == []
    read = client.get(f"/api/v1/sequences/{hidden}", headers=cast.auth())
    assert read.json["status_trigger"]["rule_id"] is None
    assert "has since been removed" in read.json["status_trigger"]["note"]
    with rt.sessions.begin() as s:
        s.execute(update(User).where(User.id == cast.rep_id).values(password_hash=CHEAP_HASH))
    login(client, "rita@example.com")
    page = client.get(f"/sequences/{hidden}")
    assert page.status_code == 200 and "has since been removed" in page.text
    assert client.get(f"/sequences/{hidden}/enroll").status_code == 404


def test_the_cli_does_not_enroll_a_csv_into_it(
    rt: runtime.Runtime, cast: Cast, database_url: str, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from tracker.cli.main import main

    rule_id, hidden = _rule(rt, cast)
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("email\nann@acme.example\n")
    env = make_env(database_url, 2525, tmp_path)
    result = CliRunner().invoke(main, ["enroll", "--sequence", str(hidden), str(csv_path)], env=env)
    assert result.exit_code != 0 and f"status rule {rule_id}" in result.output
    assert _enrollments(rt) == 0
