"""The lead pages through the test client: the pool and assigning (managers), accept and reject
forms at the top of a rep's hot list and tasks, and the lead figures of the report and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sequences.clock import FrozenClock
from sequences.leads import change_status, intake, update_settings
from sequences.models import Lead, LeadAssignment, User

from .webkit import Team, add_prospect, login, seed_team, token


@pytest.fixture
def team(session: Session) -> Team:
    return seed_team(session)


def _pool(session: Session, team: Team, clock: FrozenClock, count: int) -> list[int]:
    manager = session.get(User, team.manager_id)
    assert manager is not None
    now = clock.now()
    update_settings(
        session, manager.team_id, {"auto_assign": False, "acceptance_required": True}, now
    )
    ids = [
        intake(
            session, manager.team_id, {"email": f"lead{i}@c{i}.example", "company": f"C{i}"}, now
        )[0].id
        for i in range(count)
    ]
    session.commit()
    return ids


def _owners(session: Session) -> dict[int, int | None]:
    """Who owns each lead now (the read ends its transaction: SQLite's writer lock is freed)."""
    found = {pid: owner for pid, owner in session.execute(select(Lead.prospect_id, Lead.owner_id))}
    session.rollback()
    return found


def _client(app: Any, email: str) -> Any:
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def test_a_manager_assigns_from_the_pool_one_and_in_bulk(
    app: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    ids = _pool(session, team, clock, 4)
    manager = _client(app, team.manager_email)
    page = manager.get("/leads/pool")
    assert page.status_code == 200 and "lead0@c0.example" in page.text
    csrf = token(manager, "/leads/pool")
    one = manager.post(
        "/leads/assign", data={"csrf_token": csrf, "prospect_id": ids[0], "user_id": team.rep_id}
    )
    assert one.status_code == 302
    bulk = manager.post(
        "/leads/assign",
        data={"csrf_token": csrf, "prospect_id": [str(i) for i in ids[1:]], "user_id": "rules"},
    )
    assert bulk.status_code == 302
    owners = _owners(session)
    assert owners[ids[0]] == team.rep_id
    assert sorted(owners[i] for i in ids[1:]).count(team.rep_id) in (1, 2)  # two reps share
    assert "The pool is empty" in manager.get("/leads/pool").text
    # Nonsense is told, nothing changed; no CSRF token is refused.
    bad = manager.post("/leads/assign", data={"csrf_token": csrf, "prospect_id": "x"})
    assert bad.status_code == 302
    assert "Tick between 1 and" in manager.get("/leads/pool").text
    assert manager.post("/leads/assign", data={"prospect_id": ids[0]}).status_code == 400
    rep = _client(app, team.rep_email)
    assert rep.get("/leads/pool").status_code == 403


def test_a_rep_accepts_and_rejects_pending_leads_from_the_hot_list(
    app: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    ids = _pool(session, team, clock, 2)
    manager = _client(app, team.manager_email)
    csrf = token(manager, "/leads/pool")
    manager.post(
        "/leads/assign",
        data={"csrf_token": csrf, "prospect_id": [str(i) for i in ids], "user_id": team.rep_id},
    )
    rep = _client(app, team.rep_email)
    hot = rep.get("/").text
    assert 'id="pending-leads"' in hot and "lead0@c0.example" in hot
    assert "Accept" in rep.get("/tasks").text
    csrf = token(rep, "/")
    # The manager cannot answer for the rep; nobody answers without a reason to reject.
    assert (
        manager.post(f"/leads/{ids[0]}/accept", data={"csrf_token": token(manager)}).status_code
        == 403
    )
    assert (
        rep.post(f"/leads/{ids[0]}/accept", data={"csrf_token": csrf, "next": "/tasks"})
        .headers["Location"]
        .endswith("/tasks")
    )
    empty = rep.post(f"/leads/{ids[1]}/reject", data={"csrf_token": csrf, "reason": " "})
    assert empty.status_code == 302 and "say why you reject" in rep.get("/").text
    rep.post(f"/leads/{ids[1]}/reject", data={"csrf_token": csrf, "reason": "a competitor"})
    states = _owners(session)
    assert states[ids[0]] == team.rep_id and states[ids[1]] == team.other_rep_id
    reasons = list(session.scalars(select(LeadAssignment.reason).order_by(LeadAssignment.id)))
    session.rollback()
    assert reasons == ["manual", "manual", "rejected"]
    again = rep.post(f"/leads/{ids[0]}/accept", data={"csrf_token": csrf})
    assert again.status_code == 302 and "not waiting for an answer" in rep.get("/").text
    assert 'id="pending-leads"' not in rep.get("/").text


def test_the_report_shows_the_lead_figures_and_the_csv_carries_them(
    app: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    ids = _pool(session, team, clock, 3)
    manager = _client(app, team.manager_email)
    csrf = token(manager, "/leads/pool")
    manager.post(
        "/leads/assign", data={"csrf_token": csrf, "prospect_id": ids[0], "user_id": team.rep_id}
    )
    page = manager.get("/report").text
    assert 'id="speed-chart"' in page and 'id="leads-table"' in page
    assert '<strong id="pool-now">2</strong>' in page
    rows = list(csv.DictReader(io.StringIO(manager.get("/report.csv").text)))
    rita = next(r for r in rows if r["rep"] == "Rita Rep")
    assert (rita["lead_pending"], rita["lead_assigned"], rita["pool_size"]) == ("1", "1", "2")
    assert "lead_reassigned_rejected" in rita


def test_the_report_charts_conversions_by_status_path_and_exports_them(
    app: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    now = clock.now()
    for i, statuses in enumerate(
        (["contacted", "interested", "converted"], ["contacted", "interested"])
    ):
        prospect = add_prospect(session, team.rep_id, f"path{i}@acme.example")
        for j, status in enumerate(statuses):
            change_status(
                session, prospect, status, now + timedelta(minutes=j), by_user_id=team.rep_id
            )
    session.commit()
    manager = _client(app, team.manager_email)
    page = manager.get("/report").text
    assert 'id="paths-chart"' in page and 'id="rep-paths"' in page
    assert "new → contacted → interested → converted" in page
    assert "1 · 50% of 2" in page
    rows = list(csv.DictReader(io.StringIO(manager.get("/report.csv?table=status_paths").text)))
    assert [(r["rep"], r["path"], r["converted"], r["conversion_rate"]) for r in rows] == [
        ("(team)", "new > contacted > interested > converted", "1", "0.5"),
        ("Rita Rep", "new > contacted > interested > converted", "1", "0.5"),
    ]
