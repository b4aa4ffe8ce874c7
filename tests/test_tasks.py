"""Call and task steps: a task in the owner's list, the sequence waits, completing moves it on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from sequences import runtime
from sequences.clock import FrozenClock
from sequences.models import Task

from .conftest import Cast, Sink
from .sending_helpers import drain, email, enrollment


def _setup(client: Any, cast: Cast, call_options: dict[str, Any] | None = None) -> dict[str, Any]:
    prospect = client.post(
        "/api/v1/prospects",
        json={"email": "zoe@initech.example", "first_name": "Zo\u00eb"},
        headers=cast.auth(),
    ).json
    call: dict[str, Any] = {
        "type": "call",
        "delay": "P1D",
        "title": "Qualify Zo\u00eb",
        "notes": "Ask about budget and deadline.",
    }
    if call_options:
        call["options"] = call_options
    sequence = client.post(
        "/api/v1/sequences",
        json={
            "name": "With a call",
            "steps": [email(), call, email(delay="P2D", subject="After the call")],
        },
        headers=cast.auth(),
    ).json
    enrolled = client.post(
        "/api/v1/enrollments",
        json={"prospect_id": prospect["id"], "sequence_id": sequence["id"]},
        headers=cast.auth(),
    ).json
    return {"prospect": prospect["id"], "enrollment": enrolled["id"]}


def _my_tasks(client: Any, key: str, **args: str) -> Any:
    return client.get(
        "/api/v1/tasks", query_string=args, headers={"Authorization": f"Bearer {key}"}
    )


def test_call_step_waits_for_the_owner_then_completing_it_logs_and_moves_on(
    client: Any, cast: Cast, rt: runtime.Runtime, clock: FrozenClock, smtp_sink: Sink
) -> None:
    made = _setup(client, cast)
    assert drain(rt) == ["sent"]
    clock.advance(days=1)
    assert drain(rt) == ["task created"]
    clock.advance(days=10)
    assert drain(rt) == []  # the sequence waits for the call, however long
    [task] = _my_tasks(client, cast.rep_key).json["items"]
    assert task["type"] == "call" and task["title"] == "Qualify Zo\u00eb"
    assert task["notes"] == "Ask about budget and deadline." and task["owner_id"] == cast.rep_id
    assert _my_tasks(client, cast.manager_key).json["items"] == []

    done = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"outcome": "connected", "notes": "Budget approved; decides in March."},
        headers=cast.auth(),
    )
    assert done.status_code == 200, done.json
    assert done.json["status"] == "done" and done.json["outcome"] == "connected"
    again = client.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"outcome": "connected"}, headers=cast.auth()
    )
    assert again.status_code == 409
    assert _my_tasks(client, cast.rep_key).json["items"] == []
    assert len(_my_tasks(client, cast.rep_key, status="done").json["items"]) == 1

    timeline = client.get(
        f"/api/v1/prospects/{made['prospect']}/activity", headers=cast.auth()
    ).json
    call = next(e for e in timeline["events"] if e["type"] == "call")
    assert call["outcome"] == "connected" and call["notes"] == "Budget approved; decides in March."
    assert "task_due" in [e["type"] for e in timeline["events"]]
    moved = enrollment(rt, made["enrollment"])
    assert moved.current_step == 2 and moved.next_due_at == clock.now() + timedelta(days=2)
    clock.advance(days=2)
    assert drain(rt) == ["sent"]
    assert [str(s.message["Subject"]) for s in smtp_sink.messages()][-1] == "After the call"
    assert enrollment(rt, made["enrollment"]).status == "finished"


def test_skipping_a_task_moves_the_sequence_on(
    client: Any, cast: Cast, rt: runtime.Runtime, clock: FrozenClock, smtp_sink: Sink
) -> None:
    made = _setup(client, cast)
    drain(rt)
    clock.advance(days=1)
    drain(rt)
    [task] = _my_tasks(client, cast.rep_key).json["items"]
    skipped = client.post(
        f"/api/v1/tasks/{task['id']}/skip", json={"notes": "No phone number."}, headers=cast.auth()
    )
    assert skipped.status_code == 200 and skipped.json["status"] == "skipped"
    clock.advance(days=2)
    assert drain(rt) == ["sent"]
    timeline = client.get(
        f"/api/v1/prospects/{made['prospect']}/activity", headers=cast.auth()
    ).json
    assert "task_skipped" in [e["type"] for e in timeline["events"]]


def test_a_task_left_open_moves_on_by_itself_after_n_days(
    client: Any, cast: Cast, rt: runtime.Runtime, clock: FrozenClock, smtp_sink: Sink
) -> None:
    made = _setup(client, cast, {"auto_advance_days": 3})
    drain(rt)
    clock.advance(days=1)
    assert drain(rt) == ["task created"]
    clock.advance(days=2, hours=23)
    assert drain(rt) == []
    clock.advance(hours=1)
    assert drain(rt) == ["task auto-advanced"]
    with rt.sessions() as s:
        [task] = s.scalars(select(Task))
        assert task.status == "skipped"
    assert enrollment(rt, made["enrollment"]).current_step == 2
    clock.advance(days=2)
    assert drain(rt) == ["sent"]


def test_task_visibility_and_input_checks(
    client: Any, cast: Cast, rt: runtime.Runtime, clock: FrozenClock, smtp_sink: Sink
) -> None:
    _setup(client, cast)
    drain(rt)
    clock.advance(days=1)
    drain(rt)
    team = _my_tasks(client, cast.manager_key, owner="all").json["items"]
    assert len(team) == 1
    assert _my_tasks(client, cast.rep_key, owner="all").status_code == 422
    assert _my_tasks(client, cast.rep_key, status="later").status_code == 422
    assert _my_tasks(client, cast.rep_key, due_before="tomorrow").status_code == 422
    assert (
        _my_tasks(client, cast.rep_key, due_before="2026-01-01T00:00:00+00:00").json["items"] == []
    )
    task_id = team[0]["id"]
    missing_outcome = client.post(f"/api/v1/tasks/{task_id}/complete", json={}, headers=cast.auth())
    assert missing_outcome.status_code == 422
    assert missing_outcome.json["error"]["field"] == "outcome"
    bad_notes = client.post(
        f"/api/v1/tasks/{task_id}/complete",
        json={"outcome": "connected", "notes": 5},
        headers=cast.auth(),
    )
    assert bad_notes.status_code == 422
    assert client.post("/api/v1/tasks/999/skip", headers=cast.auth()).status_code == 404
    # The manager may close a rep's task; the task stays open until someone does.
    by_manager = client.post(
        f"/api/v1/tasks/{task_id}/skip", headers={"Authorization": f"Bearer {cast.manager_key}"}
    )
    assert by_manager.status_code == 200


def test_resuming_a_paused_enrollment_keeps_waiting_for_its_open_task(
    client: Any, cast: Cast, rt: runtime.Runtime, clock: FrozenClock, smtp_sink: Sink
) -> None:
    made = _setup(client, cast)
    drain(rt)
    clock.advance(days=1)
    assert drain(rt) == ["task created"]
    for action in ("pause", "resume"):
        response = client.post(
            f"/api/v1/enrollments/{made['enrollment']}/{action}", headers=cast.auth()
        )
        assert response.status_code == 200
    assert drain(rt) == ["waiting for the task"]
    [task] = _my_tasks(client, cast.rep_key).json["items"]
    assert task["status"] == "open"
    assert enrollment(rt, made["enrollment"]).current_step == 1
    clock.advance(days=30)
    assert drain(rt) == []


def test_the_bundled_playbook_runs_end_to_end(
    client: Any, cast: Cast, rt: runtime.Runtime, clock: FrozenClock, smtp_sink: Sink
) -> None:
    from pathlib import Path

    from sequences.definitions import create_sequence, load_definition
    from sequences.models import User

    playbook = Path(__file__).resolve().parent.parent / "sequences" / "data" / "playbook.yaml"
    with rt.sessions.begin() as s:
        rep = s.get(User, cast.rep_id)
        assert rep is not None
        data = load_definition(playbook.read_text(encoding="utf-8"), playbook.name)
        assert isinstance(data, dict)
        data.pop("status_rules")  # the team's status triggers, not the sequence's
        sequence_id = create_sequence(s, rep.team_id, rep.id, data, clock.now()).id
    prospect = client.post(
        "/api/v1/prospects",
        json={
            "email": "zoe@initech.example",
            "first_name": "Zo\u00eb",
            "company": "Initech",
            "fields": {"need": "faster onboarding", "deadline": "31 March"},
        },
        headers=cast.auth(),
    ).json
    enrolled = client.post(
        "/api/v1/enrollments",
        json={"prospect_id": prospect["id"], "sequence_id": sequence_id},
        headers=cast.auth(),
    ).json

    def complete_call() -> None:
        [task] = _my_tasks(client, cast.rep_key).json["items"]
        response = client.post(
            f"/api/v1/tasks/{task['id']}/complete",
            json={"outcome": "connected", "notes": "Interested."},
            headers=cast.auth(),
        )
        assert response.status_code == 200, response.json

    clock.advance(minutes=10)  # past the jitter
    assert drain(rt) == ["sent"]  # thank you and material, at once
    clock.advance(days=7, minutes=10)
    assert drain(rt) == ["sent", "task created"]  # a week later: benefits email, then the call
    complete_call()
    clock.advance(days=23, minutes=10)
    assert drain(rt) == ["sent", "task created"]  # a month in: the reminder, then the call
    complete_call()
    assert enrollment(rt, enrolled["id"]).status == "finished"

    thanks, benefits, reminder = (s.message for s in smtp_sink.messages())
    assert str(thanks["Subject"]) == "Thank you, Zo\u00eb"
    assert "on behalf of Initech" in thanks.get_body(("html",)).get_content()
    assert "for faster onboarding" in thanks.get_body(("html",)).get_content()
    assert "Rita Rep" in thanks.get_body(("html",)).get_content()
    assert str(benefits["Subject"]) == "What Initech gets from it"
    assert str(reminder["Subject"]) == "Re: What Initech gets from it"
    assert reminder["In-Reply-To"] == benefits["Message-ID"]
    assert "31 March" in reminder.get_body(("plain",)).get_content()
