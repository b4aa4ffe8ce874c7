"""A status trigger's email names the mailbox it goes from (default: the prospect owner's), and
only one of the team's: checked at save, used by the sequences' send path."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from sequences import runtime
from sequences.errors import ValidationError
from sequences.leads import change_status, fire_due, rule_json, save_rule
from sequences.models import (
    Enrollment,
    Mailbox,
    Message,
    Prospect,
    Sequence,
    StatusRule,
    Team,
    User,
)
from sequences.runtime import Runtime
from sequences.workspace.accounts import create_user, default_team

from .conftest import Cast, Sink
from .sending_helpers import drain, make_mailbox, make_prospect
from .webkit import CHEAP_HASH, csrf_of, login

BROCHURE: dict[str, Any] = {
    "status": "interested",
    "action": "send_email",
    "subject": "The brochure",
    "body_html": "<p>Here it is.</p>",
}


def _team_id(rt: runtime.Runtime) -> int:
    with rt.sessions.begin() as s:
        return default_team(s).id


def _save(rt: runtime.Runtime, data: dict[str, Any]) -> dict[str, Any]:
    with rt.sessions.begin() as s:
        rule = save_rule(s, _team_id(rt), data, rt.clock.now(), by_user_id=None)
        return rule_json(s, rule)


def _interested(rt: runtime.Runtime, prospect_id: int) -> None:
    with rt.sessions.begin() as s:
        prospect = s.get(Prospect, prospect_id)
        assert prospect is not None
        change_status(s, prospect, "interested", rt.clock.now(), by_user_id=None)


def _sent_from(rt: runtime.Runtime, sink: Sink) -> tuple[str, int | None]:
    assert fire_due(rt.sessions, rt.clock.now()) == 1
    assert drain(rt) == ["sent"]
    [stored] = sink.messages()
    with rt.sessions() as s:
        mailbox_id = s.scalar(select(Message.mailbox_id))
    return str(stored.message["From"]), mailbox_id


def test_a_rule_naming_a_team_mailbox_sends_from_it(rt: runtime.Runtime, smtp_sink: Sink) -> None:
    events = make_mailbox(rt, from_name="Events Desk", from_email="events@sales.example")
    saved = _save(rt, {**BROCHURE, "mailbox_id": events})
    assert saved["mailbox_id"] == events
    prospect_id = make_prospect(rt, "ann@acme.example")
    _interested(rt, prospect_id)
    sender, used = _sent_from(rt, smtp_sink)
    assert "events@sales.example" in sender and used == events


def test_without_a_mailbox_the_email_goes_from_the_prospect_owners(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    with rt.sessions.begin() as s:
        rita = create_user(s, "rita@example.com", name="Rita Rep", team=default_team(s))
        rita_id = rita.id
    make_mailbox(rt, from_name="Someone Else", from_email="other@sales.example")
    ritas = make_mailbox(rt, owner_id=rita_id, from_email="rita@sales.example")
    assert _save(rt, BROCHURE)["mailbox_id"] is None
    prospect_id = make_prospect(rt, "ann@acme.example", owner_id=rita_id)
    _interested(rt, prospect_id)
    sender, used = _sent_from(rt, smtp_sink)
    assert "rita@sales.example" in sender and used == ritas


def test_another_teams_or_an_unknown_mailbox_is_refused_and_nothing_saved(
    rt: runtime.Runtime,
) -> None:
    _team_id(rt)  # the default team first: it is the install's first team
    with rt.sessions.begin() as s:
        east = Team(name="East")
        s.add(east)
        s.flush()
        theirs = Mailbox(team_id=east.id, from_name="East", from_email="east@east.example")
        s.add(theirs)
        s.flush()
        theirs_id = theirs.id
    for value, message in (
        (theirs_id, f"the team has no mailbox {theirs_id}"),
        (999_999, "the team has no mailbox 999999"),
        ("main", "the id of one of the team's mailboxes"),
    ):
        with pytest.raises(ValidationError, match=message) as caught:
            _save(rt, {**BROCHURE, "mailbox_id": value})
        assert caught.value.field == "mailbox_id"
    with pytest.raises(ValidationError, match="only a send_email rule"):
        _save(rt, {"status": "interested", "action": "task", "title": "Call", "mailbox_id": 1})
    with rt.sessions() as s:
        assert s.scalars(select(StatusRule)).all() == []
        assert s.scalars(select(Sequence).where(Sequence.hidden)).all() == []


def test_the_api_saves_and_shows_the_rules_mailbox(client: Any, cast: Any, rt: Runtime) -> None:
    box = make_mailbox(rt)
    created = client.post(
        "/api/v1/leads/status-rules",
        json={**BROCHURE, "mailbox_id": box},
        headers=cast.auth(cast.manager_key),
    )
    assert created.status_code == 201, created.json
    assert created.json["mailbox_id"] == box
    refused = client.post(
        "/api/v1/leads/status-rules",
        json={**BROCHURE, "mailbox_id": box + 1000},
        headers=cast.auth(cast.manager_key),
    )
    assert refused.status_code == 422 and "mailbox_id" in refused.json["error"]["message"]


def test_a_paused_owner_mailbox_holding_a_rules_email_needs_attention_and_resumes(
    rt: runtime.Runtime, client: Any, cast: Cast, smtp_sink: Sink
) -> None:
    # The rule names no mailbox, so its email goes from the prospect owner's, which is paused:
    # the email waits, and the owner must see why and be able to resume it.
    ritas = make_mailbox(
        rt, owner_id=cast.rep_id, paused=True, paused_reason="bounce rate 9.0% over 40 sends"
    )
    _save(rt, BROCHURE)
    prospect_id = make_prospect(rt, "ann@acme.example", first_name="Ann", owner_id=cast.rep_id)
    _interested(rt, prospect_id)
    assert fire_due(rt.sessions, rt.clock.now()) == 1
    [outcome] = drain(rt)
    assert "(mailbox paused: " in outcome and smtp_sink.messages() == []
    with rt.sessions() as s:
        enrolled = s.scalars(
            select(Enrollment.id).where(Enrollment.prospect_id == prospect_id)
        ).one()

    [item] = client.get("/api/v1/attention", headers=cast.auth()).json["items"]
    assert item["kind"] == "mailbox_paused" and item["mailbox_id"] == ritas
    assert item["enrollment_id"] == enrolled and item["actions"] == ["resume_mailbox", "skip"]
    with rt.sessions.begin() as s:
        s.execute(update(User).where(User.id == cast.rep_id).values(password_hash=CHEAP_HASH))
    login(client, "rita@example.com")
    page = client.get("/")
    assert "Needs attention" in page.text and "Resume the mailbox" in page.text

    # The owner resumes their own mailbox from the list; the held email goes out from it.
    answer = client.post(
        f"/prospects/{prospect_id}/enrollments/{enrolled}/resume_mailbox",
        data={"csrf_token": csrf_of(page.text), "next": "/"},
    )
    assert answer.status_code == 302
    assert "Needs attention" not in client.get("/").text
    assert drain(rt) == ["sent"]
    [stored] = smtp_sink.messages()
    assert "rita@sales.example" in str(stored.message["From"])


def test_a_rules_email_from_another_reps_paused_mailbox_is_not_on_my_list(
    rt: runtime.Runtime, client: Any, cast: Cast
) -> None:
    # Needs attention lists the user's own prospects: a manager's prospect held by the manager's
    # paused mailbox is the manager's item, not the rep's.
    maxs = make_mailbox(rt, owner_id=cast.manager_id, from_email="max@sales.example", paused=True)
    _save(rt, BROCHURE)
    prospect_id = make_prospect(rt, "bob@acme.example", owner_id=cast.manager_id)
    _interested(rt, prospect_id)
    assert fire_due(rt.sessions, rt.clock.now()) == 1
    drain(rt)
    assert client.get("/api/v1/attention", headers=cast.auth()).json["items"] == []
    [item] = client.get("/api/v1/attention", headers=cast.auth(cast.manager_key)).json["items"]
    assert item["mailbox_id"] == maxs and item["kind"] == "mailbox_paused"
