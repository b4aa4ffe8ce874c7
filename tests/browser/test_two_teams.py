"""Two teams side by side in real Chromium: neither rep sees the other team's work, ids are 404."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import pytest
from sqlalchemy.orm import Session

from sequences import runtime
from sequences.definitions import create_sequence
from sequences.inbound import receive
from sequences.models import Mailbox, Prospect, Task
from sequences.workspace import create_team, create_user, default_team

from ..webkit import CHEAP_HASH
from .test_workspace import EMAIL_STEP, sign_in

pytestmark = pytest.mark.browser


@dataclass
class Side:
    """One team's rep and what they own, with the words only that team should ever see."""

    email: str
    prospect_id: int
    sequence_id: int
    words: tuple[str, ...]


def _side(
    session: Session, rt: runtime.Runtime, team_name: str | None, who: str, mark: str
) -> Side:
    now = rt.clock.now()
    team = default_team(session) if team_name is None else create_team(session, team_name)
    rep = create_user(session, f"{who}@{mark}.example", name=f"{who.title()} Rep", team=team)
    rep.password_hash = CHEAP_HASH
    session.add(Mailbox(team_id=team.id, owner_id=rep.id, from_name=who, from_email=rep.email))
    prospect = Prospect(
        team_id=team.id, owner_id=rep.id, email="zoe@prospect.example", first_name=f"Zoe{mark}"
    )
    session.add(prospect)
    sequence = create_sequence(
        session, team.id, rep.id, {"name": f"{mark} playbook", "steps": [EMAIL_STEP]}, now
    )
    session.flush()
    session.add(
        Task(
            prospect_id=prospect.id,
            owner_id=rep.id,
            type="call",
            title=f"Call about {mark} pricing",
            due_at=now - timedelta(hours=1),
            status="open",
        )
    )
    session.commit()
    words = (f"Zoe{mark}", f"{mark} playbook", f"{mark} pricing", f"{mark} budget")
    return Side(rep.email, prospect.id, sequence.id, words)


def _reply(rt: runtime.Runtime, to: str, mark: str) -> None:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Zoe <zoe@prospect.example>"
    msg["To"] = to
    msg["Subject"] = "Re: hello"
    msg["Message-ID"] = f"<{mark}@prospect.example>"
    msg.set_content(f"Our {mark} budget is approved, call me.")
    assert receive(rt, msg.as_bytes(), source="smtp").verdict == "reply"


def _texts(page: Any, paths: list[str]) -> str:
    seen = []
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        seen.append(page.locator("body").inner_text())
    return "\n".join(seen)


def test_reps_of_two_teams_side_by_side_never_see_each_others_work(
    page_factory: Any, session: Session, rt: runtime.Runtime
) -> None:
    west = _side(session, rt, None, "rita", "West")
    east = _side(session, rt, "East", "bea", "East")
    # The same person writes to each team's mailbox: each reply is its own team's.
    _reply(rt, west.email, "West")
    _reply(rt, east.email, "East")
    pages = {}
    for side in (west, east):
        pages[side.email] = page_factory()
        sign_in(pages[side.email], side.email)
    for mine, theirs in ((west, east), (east, west)):
        page = pages[mine.email]
        seen = _texts(
            page,
            ["/", "/prospects", "/sequences", "/tasks", f"/prospects/{mine.prospect_id}"],
        )
        for word in mine.words:
            assert word in seen, f"{mine.email} should see {word}"
        for word in theirs.words:
            assert word not in seen, f"{mine.email} sees {word} of the other team"
        for path in (
            f"/prospects/{theirs.prospect_id}",
            f"/sequences/{theirs.sequence_id}",
            f"/sequences/{theirs.sequence_id}/edit",
            f"/sequences/{theirs.sequence_id}/enroll",
        ):
            response = page.goto(path)
            assert response is not None and response.status == 404, path
