"""Shared helpers for the workspace tests: users with passwords, sign-in, seeded activity."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from sequences.definitions import create_sequence
from sequences.enrollment import enroll, record
from sequences.models import Enrollment, Message, MessageStatus, Prospect, User
from sequences.tracking.tokens import new_token_id
from sequences.workspace.accounts import create_user, default_team

PASSWORD = "correct horse battery staple"
# A cheap hash keeps fixtures fast; production uses werkzeug's default (scrypt).
CHEAP_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36"


@dataclass
class Team:
    """Two reps and a manager, each with a password, and a prospect for each rep."""

    rep_id: int
    other_rep_id: int
    manager_id: int
    rep_email: str = "rita@example.com"
    other_email: str = "omar@example.com"
    manager_email: str = "max@example.com"


def seed_team(session: Session) -> Team:
    team = default_team(session)
    rep = create_user(session, "rita@example.com", name="Rita Rep", team=team)
    other = create_user(session, "omar@example.com", name="Omar Other", team=team)
    manager = create_user(session, "max@example.com", name="Max Manager", manager=True, team=team)
    for u in (rep, other, manager):
        u.password_hash = CHEAP_HASH
    session.commit()
    return Team(rep.id, other.id, manager.id)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client: Any, email: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
    )


def token(client: Any, path: str = "/settings") -> str:
    return csrf_of(client.get(path).text)


def add_prospect(session: Session, owner: User | int | None, email: str, **kw: Any) -> Prospect:
    owner_id = owner.id if isinstance(owner, User) else owner
    prospect = Prospect(
        team_id=default_team(session).id, owner_id=owner_id, email=email, fields={}, **kw
    )
    session.add(prospect)
    session.flush()
    return prospect


def add_sequence(session: Session, owner_id: int, now: datetime, steps: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    return create_sequence(
        session,
        default_team(session).id,
        owner_id,
        {"name": f"Seq {uuid4().hex[:6]}", "steps": steps},
        now,
    )


def send(
    session: Session,
    enrollment: Enrollment,
    position: int,
    at: datetime,
    subject: str = "Hello",
    variant: str | None = None,
) -> Message:
    """A sent message and its 'sent' event, as the worker would leave them."""
    message = Message(
        token_id=new_token_id(),
        prospect_id=enrollment.prospect_id,
        enrollment_id=enrollment.id,
        step_position=position,
        message_id=f"<{uuid4().hex}@mail.example.test>",
        subject=subject,
        status=MessageStatus.SENT,
        variant=variant,
        created_at=at,
        sent_at=at,
    )
    session.add(message)
    session.flush()
    record(
        session,
        "sent",
        at,
        prospect_id=enrollment.prospect_id,
        enrollment_id=enrollment.id,
        message_id=message.id,
        subject=subject,
        step=position,
    )
    return message


def hit(
    session: Session,
    message: Message,
    kind: str,
    at: datetime,
    verdict: str = "human",
    reason: str | None = None,
    **data: Any,
) -> None:
    event = record(
        session,
        kind,
        at,
        prospect_id=message.prospect_id,
        enrollment_id=message.enrollment_id,
        message_id=message.id,
        **data,
    )
    event.verdict, event.reason = verdict, reason


def enrolled(session: Session, prospect: Prospect, sequence: Any, now: datetime) -> Enrollment:
    return enroll(session, prospect, sequence, now - timedelta(days=1))


def fresh(session: Session, *objects: Any) -> None:
    """Reload objects and end the read transaction (SQLite takes its write lock at BEGIN, so
    an open test transaction would block the app's requests)."""
    for obj in objects:
        session.refresh(obj)
    session.commit()


def scalar(session: Session, statement: Any) -> Any:
    """One value, read in a transaction that ends at once (see fresh)."""
    value = session.scalar(statement)
    session.commit()
    return value
