"""Teams: created by admins, users put in them and moved between them, bad input refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from sequences.errors import Conflict
from sequences.models import Prospect, User
from sequences.workspace import create_team, create_user, move_user
from sequences.workspace.accounts import create_api_key


def test_a_team_name_that_exists_is_refused_whatever_its_case(session: Session) -> None:
    create_team(session, "West Coast")
    with pytest.raises(Conflict, match="a team named west coast exists"):
        create_team(session, "west coast")


def test_a_user_who_owns_prospects_is_not_moved_and_nothing_changes(session: Session) -> None:
    west, east = create_team(session, "West"), create_team(session, "East")
    rita = create_user(session, "rita@example.com", team=west)
    session.add(Prospect(team_id=west.id, owner_id=rita.id, email="p@x.test"))
    session.flush()
    with pytest.raises(Conflict, match="owns 1 prospect in team West"):
        move_user(session, rita, east)
    assert rita.team_id == west.id
    session.query(Prospect).delete()
    move_user(session, rita, east, manager=True)
    assert (rita.team_id, rita.is_manager) == (east.id, True)


def test_only_admins_manage_teams_through_the_api(client: Any, rt: Any) -> None:
    with rt.sessions.begin() as s:
        admin = create_user(s, "ada@example.com")
        admin.is_admin = True
        rep = create_user(s, "rita@example.com")
        admin_key, rep_key = (
            create_api_key(s, admin, rt.clock.now()),
            create_api_key(s, rep, rt.clock.now()),
        )
    as_admin = {"Authorization": f"Bearer {admin_key}"}
    refused = client.post(
        "/api/v1/teams", json={"name": "East"}, headers={"Authorization": f"Bearer {rep_key}"}
    )
    assert refused.status_code == 403
    made = client.post("/api/v1/teams", json={"name": "East"}, headers=as_admin)
    assert made.status_code == 201
    again = client.post("/api/v1/teams", json={"name": "east"}, headers=as_admin)
    assert again.status_code == 409 and "exists" in again.json["error"]["message"]
    moved = client.post(
        f"/api/v1/users/{rep.id}/move", json={"team_id": made.json["id"]}, headers=as_admin
    )
    assert moved.status_code == 200 and moved.json["team_id"] == made.json["id"]
    with rt.sessions() as s:
        assert s.get(User, rep.id).team_id == made.json["id"]  # type: ignore[union-attr]
