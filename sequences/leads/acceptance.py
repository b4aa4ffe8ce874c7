"""A rep accepts or rejects an assigned lead within the team's deadline; silence is a "no"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..enrollment import (
    due_time,
    fail_unscheduled,
    record,
    resume,
    schedule_problem,
    sequence_jitter,
)
from ..errors import Conflict, NotFound, ValidationError
from ..models import Enrollment, EnrollmentStatus, Lead, LeadState, Message, Prospect, User
from ..schedule import ScheduleError
from .assignment import AWAITING, Rotation, _close_task, _forget_owner, reassign
from .deadlines import next_due


def _pending(session: Session, user: User, prospect_id: int) -> tuple[Lead, Prospect]:
    """The lead, if it is this rep's to answer; anything else is refused, nothing changed."""
    lead = session.get(Lead, prospect_id, populate_existing=True)
    prospect = session.get(Prospect, prospect_id)
    if lead is None or prospect is None or prospect.team_id != user.team_id:
        raise NotFound("no such lead")
    if lead.owner_id != user.id:
        raise PermissionError("this lead is not assigned to you")
    if lead.state != LeadState.PENDING:
        raise Conflict(f"this lead is not waiting for an answer (it is {lead.state})")
    return lead, prospect


def answerable(session: Session, user: User, prospect_id: int) -> Lead:
    """The lead if `user` may accept or reject it now; the same refusals as accept and reject
    (so a view can refuse who before it reads what the answer says)."""
    return _pending(session, user, prospect_id)[0]


def _start_sequences(session: Session, prospect: Prospect, now: datetime) -> list[int]:
    """Enrollments held while the lead waited start now; one that never sent begins with its
    first step's delay counted from now."""
    started = []
    for enrollment in session.scalars(
        select(Enrollment).where(
            Enrollment.prospect_id == prospect.id,
            Enrollment.status == EnrollmentStatus.PAUSED,
            Enrollment.reason == AWAITING,
        )
    ):
        resume(session, enrollment, now)
        if enrollment.status != EnrollmentStatus.ACTIVE:
            continue  # its schedule is broken: resume failed it with a Needs-attention item
        sent = session.scalar(
            select(Message.id).where(Message.enrollment_id == enrollment.id).limit(1)
        )
        steps = enrollment.sequence.steps
        if sent is None and steps and enrollment.current_step == steps[0].position:
            try:
                enrollment.next_due_at = due_time(
                    enrollment.sequence,
                    steps[0],
                    prospect,
                    now,
                    sequence_jitter(enrollment.sequence),
                )
            except ScheduleError as exc:
                # An old row's delay beyond ten years, an unknown calendar, a broken window:
                # failed with a Needs-attention item, not a crash of the acceptance.
                problem = schedule_problem(enrollment.sequence, steps[0], exc)
                fail_unscheduled(session, enrollment, steps[0], now, problem)
                continue
        started.append(enrollment.id)
    return started


def accept(session: Session, user: User, prospect_id: int, now: datetime) -> Lead:
    rotation = Rotation(session, user.team_id, now)  # the team's lock: no race with the scheduler
    lead, prospect = _pending(session, user, prospect_id)
    lead.state = LeadState.ACCEPTED
    lead.accepted_at = now
    lead.version += 1
    _close_task(session, lead, now, "done")
    lead.due_at = next_due(lead, rotation.settings, now)
    started = _start_sequences(session, prospect, now)
    session.flush()
    _forget_owner(session, prospect.id)
    record(
        session,
        "lead.accepted",
        now,
        prospect_id=prospect.id,
        extra={"user_id": user.id, "enrollments_started": started},
    )
    rotation.finish()
    return lead


def clean_reason(data: Any) -> str:
    reason = data.get("reason") if isinstance(data, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("reason: say why you reject the lead", field="reason")
    if len(reason) > 500:
        raise ValidationError("reason: at most 500 characters", field="reason")
    return reason.strip()


def reject(
    session: Session, user: User, prospect_id: int, reason: str, now: datetime
) -> int | None:
    """The rep says no: the lead goes to the next rep by the rules. Returns the new owner."""
    rotation = Rotation(session, user.team_id, now)
    lead, prospect = _pending(session, user, prospect_id)
    _close_task(session, lead, now, "done")
    record(
        session,
        "lead.rejected",
        now,
        prospect_id=prospect.id,
        extra={"user_id": user.id, "reason": reason},
    )
    target = reassign(
        session, rotation, lead, prospect, "rejected", now, detail=reason, by_user_id=user.id
    )
    rotation.finish()
    return target


def expire(
    session: Session, rotation: Rotation, lead: Lead, prospect: Prospect, now: datetime
) -> int | None:
    """No answer by the deadline: counted as a rejection, the lead moves on (scheduler)."""
    record(
        session,
        "lead.rejected",
        now,
        prospect_id=prospect.id,
        extra={"user_id": lead.owner_id, "reason": "no answer by the deadline"},
    )
    return reassign(
        session, rotation, lead, prospect, "not_accepted", now, detail="no answer by the deadline"
    )
