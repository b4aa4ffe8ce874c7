"""The prospects list's bulk status change through the test client: the ticked prospects move
together (each a timeline event, each firing its status rules once), one the user may not change
refuses the whole form, and the list filters by lead status."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sequences.leads import fire_due, save_rule
from sequences.models import Event, Prospect, Task, User
from sequences.runtime import Runtime

from .webkit import Team, add_prospect, login, seed_team, token


@pytest.fixture
def team(session: Session) -> Team:
    return seed_team(session)


def _client(app: Any, email: str) -> Any:
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def _statuses(session: Session, ids: list[int]) -> dict[int, str]:
    found = {
        pid: status
        for pid, status in session.execute(
            select(Prospect.id, Prospect.lead_status).where(Prospect.id.in_(ids))
        )
    }
    session.rollback()
    return found


def test_a_rep_moves_the_ticked_prospects_to_a_status_and_each_fires_its_rule_once(
    app: Any, team: Team, session: Session, rt: Runtime
) -> None:
    rep = session.get(User, team.rep_id)
    assert rep is not None
    save_rule(
        session,
        rep.team_id,
        {"status": "interested", "action": "task", "title": "Send the brochure"},
        rt.clock.now(),
        by_user_id=team.manager_id,
    )
    ids = [add_prospect(session, team.rep_id, f"bulk{i}@acme.example").id for i in range(3)]
    session.commit()
    client = _client(app, team.rep_email)
    csrf = token(client, "/prospects")
    got = client.post(
        "/prospects/status",
        data={
            "csrf_token": csrf,
            "prospect_id": [str(i) for i in ids[:2]],
            "status": "interested",
            "note": "asked at the fair",
            "next": "/prospects?q=bulk",
        },
    )
    assert got.status_code == 302 and got.headers["Location"].endswith("/prospects?q=bulk")
    assert "Status interested: 2 of 2 changed." in client.get("/prospects").text
    assert _statuses(session, ids) == {ids[0]: "interested", ids[1]: "interested", ids[2]: "new"}
    notes = session.scalars(
        select(Event.data).where(
            Event.type == "prospect.status_changed", Event.prospect_id.in_(ids)
        )
    ).all()
    session.rollback()
    assert [(n["to"], n["note"], n["source"], n["by_user_id"]) for n in notes] == [
        ("interested", "asked at the fair", "bulk", team.rep_id)
    ] * 2
    assert fire_due(rt.sessions, rt.clock.now()) == 2
    assert fire_due(rt.sessions, rt.clock.now()) == 0
    again = client.post(
        "/prospects/status",
        data={"csrf_token": csrf, "prospect_id": [str(ids[0])], "status": "interested"},
    )
    assert again.status_code == 302
    assert "1 already interested" in client.get("/prospects").text
    assert fire_due(rt.sessions, rt.clock.now()) == 0  # no change, no new entry, no firing
    tasks = session.scalar(select(func.count()).select_from(Task).where(Task.prospect_id.in_(ids)))
    session.rollback()
    assert tasks == 2


def test_another_reps_prospect_among_the_ticked_ones_changes_nothing(
    app: Any, team: Team, session: Session
) -> None:
    mine = add_prospect(session, team.rep_id, "mine@acme.example").id
    theirs = add_prospect(session, team.other_rep_id, "theirs@acme.example").id
    session.commit()
    client = _client(app, team.rep_email)
    csrf = token(client, "/prospects")
    got = client.post(
        "/prospects/status",
        data={"csrf_token": csrf, "prospect_id": [str(mine), str(theirs)], "status": "lost"},
    )
    assert got.status_code == 302
    page = client.get("/prospects").text
    assert f"Nothing changed: prospect {theirs} is not one you may change" in page
    assert _statuses(session, [mine, theirs]) == {mine: "new", theirs: "new"}


def test_the_bulk_form_refuses_an_unknown_status_a_missing_token_and_an_empty_tick(
    app: Any, team: Team, session: Session
) -> None:
    mine = add_prospect(session, team.rep_id, "mine@acme.example").id
    session.commit()
    client = _client(app, team.rep_email)
    no_token = client.post("/prospects/status", data={"prospect_id": [str(mine)], "status": "lost"})
    assert no_token.status_code in (400, 403)
    csrf = token(client, "/prospects")
    client.post(
        "/prospects/status", data={"csrf_token": csrf, "prospect_id": [str(mine)], "status": "hot"}
    )
    assert "unknown status &#34;hot&#34;" in client.get("/prospects").text
    client.post("/prospects/status", data={"csrf_token": csrf, "status": "lost"})
    assert "Tick between 1 and 1000 prospects" in client.get("/prospects").text
    assert _statuses(session, [mine]) == {mine: "new"}


def test_the_prospects_list_filters_by_lead_status(app: Any, team: Team, session: Session) -> None:
    hot = add_prospect(session, team.rep_id, "hot@acme.example", lead_status="qualified")
    add_prospect(session, team.rep_id, "cold@acme.example")
    session.commit()
    client = _client(app, team.rep_email)
    page = client.get("/prospects?status=qualified").text
    assert hot.email in page and "cold@acme.example" not in page
    bad = client.get("/prospects?status=warmish")
    assert bad.status_code == 200 and "unknown status &#34;warmish&#34;" in bad.text
