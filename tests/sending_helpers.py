"""Small builders shared by the sequence, enrollment, sending and task tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sequences import runtime
from sequences.definitions import create_sequence
from sequences.enrollment import enroll
from sequences.leads import intake, update_settings
from sequences.models import (
    Enrollment,
    EnrollmentStatus,
    Event,
    Lead,
    Mailbox,
    Message,
    Prospect,
    Sequence,
    Step,
    User,
)
from sequences.scheduler import tick
from sequences.sending.batch import RetryLater, run_step
from sequences.workspace.accounts import create_user, default_team


def email(
    subject: str = "Hello {{ first_name | default('there') }}", **extra: Any
) -> dict[str, Any]:
    step: dict[str, Any] = {
        "type": "email",
        "delay": "PT0S",
        "subject": subject,
        "body_html": "<p>Hi {{ first_name | default('there') }}</p>",
    }
    step.update(extra)
    return step


def make_sequence(rt: runtime.Runtime, steps: list[dict[str, Any]], **extra: Any) -> int:
    with rt.sessions.begin() as s:
        team = default_team(s)
        body = {"name": extra.pop("name", "Test sequence"), "steps": steps, **extra}
        return create_sequence(s, team.id, None, body, rt.clock.now()).id


def make_prospect(rt: runtime.Runtime, address: str, **attrs: Any) -> int:
    attrs.setdefault("fields", {})
    with rt.sessions.begin() as s:
        team = default_team(s)
        prospect = Prospect(team_id=team.id, email=address, **attrs)
        s.add(prospect)
        s.flush()
        return prospect.id


def make_mailbox(rt: runtime.Runtime, **fields: Any) -> int:
    with rt.sessions.begin() as s:
        team = default_team(s)
        values: dict[str, Any] = {
            "from_name": "Rita Rep",
            "from_email": "rita@sales.example",
            "created_at": rt.clock.now(),
        }
        values.update(fields)
        mailbox = Mailbox(team_id=team.id, **values)
        s.add(mailbox)
        s.flush()
        return mailbox.id


def enroll_ids(rt: runtime.Runtime, prospect_ids: list[int], sequence_id: int) -> list[int]:
    with rt.sessions.begin() as s:
        sequence = s.get(Sequence, sequence_id)
        assert sequence is not None
        out = []
        for pid in prospect_ids:
            prospect = s.get(Prospect, pid)
            assert prospect is not None
            out.append(enroll(s, prospect, sequence, rt.clock.now()).id)
        return out


def drain(rt: runtime.Runtime, *, retry: bool = False) -> list[str]:
    """Tick and run every due step in this thread until nothing is due; return the outcomes."""
    outcomes: list[str] = []
    while True:
        due: list[tuple[int, int]] = []
        tick(rt, lambda e, p, due=due: due.append((e, p)), limit=1000)
        if not due:
            return outcomes
        for enrollment_id, position in due:
            try:
                outcomes.append(run_step(rt, enrollment_id, position))
            except RetryLater as exc:
                outcomes.append(f"retry: {exc}")
                if not retry:
                    return outcomes


def enrollment(rt: runtime.Runtime, enrollment_id: int) -> Enrollment:
    with rt.sessions() as s:
        found = s.get(Enrollment, enrollment_id)
        assert found is not None
        return found


def messages(rt: runtime.Runtime) -> list[Message]:
    with rt.sessions() as s:
        return list(s.scalars(select(Message).order_by(Message.id)))


def events(rt: runtime.Runtime, type_: str | None = None) -> list[Event]:
    with rt.sessions() as s:
        query = select(Event).order_by(Event.id)
        if type_ is not None:
            query = query.where(Event.type == type_)
        return list(s.scalars(query))


def held_for_acceptance(
    session: Session, rt: runtime.Runtime
) -> tuple[Lead, User, Sequence, Enrollment]:
    """A lead that waits for its rep's acceptance (the team requires it), enrolled in a one-step
    sequence: the enrollment is held (paused) until `accept`. (lead, owner, sequence, held)."""
    team = default_team(session)
    create_user(session, "rep@example.com", name="Rep", team=team)
    session.commit()
    update_settings(
        session, team.id, {"acceptance_required": True, "accept_within_minutes": 60}, rt.clock.now()
    )
    lead, _ = intake(session, team.id, {"email": "p@p.example"}, rt.clock.now())
    owner = session.get(User, lead.owner_id)
    assert owner is not None
    sequence = Sequence(team_id=team.id, name="Welcome", settings={})
    sequence.steps = [
        Step(position=0, type="email", delay="P1D", subject="Hi", body_html="<p>Hi</p>")
    ]
    session.add(sequence)
    session.flush()
    held = enroll(session, lead, sequence, rt.clock.now())
    session.commit()
    assert held.status == EnrollmentStatus.PAUSED
    return lead, owner, sequence, held
