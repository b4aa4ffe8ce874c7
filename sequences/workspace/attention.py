"""The "Needs attention" list: enrollments stopped or held by a failure a rep can fix, and the
retry that first checks the fix was made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from ..enroll_checks import delay_problems, render_problems
from ..enrollment import InvalidTransition, record, retry_step
from ..errors import Forbidden
from ..failures import MAILBOX_PAUSED, Problem, explain
from ..models import (
    Enrollment,
    EnrollmentStatus,
    Event,
    Mailbox,
    Prospect,
    Sequence,
    User,
)
from ..sending import sending_mailbox_id
from .permissions import prospect_filter

LIMIT = 200


@dataclass(frozen=True)
class Item:
    """One enrollment a rep should look at: who, which sequence, what went wrong and when."""

    enrollment_id: int
    prospect_id: int
    prospect: str  # the name a rep knows them by
    email: str
    sequence_id: int
    sequence: str
    problem: Problem
    at: datetime | None
    # The mailbox the enrollment sends from (the one to resume when paused): the sequence's, or
    # for a status trigger's email naming none, the prospect owner's.
    mailbox_id: int | None = None
    # A status trigger's email (a hidden sequence): its template is the rule's, so the page
    # links to the sequence's read-only page rather than to an editor it does not have.
    status_trigger: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "enrollment_id": self.enrollment_id,
            "prospect_id": self.prospect_id,
            "prospect": self.prospect,
            "email": self.email,
            "sequence_id": self.sequence_id,
            "sequence": self.sequence,
            "at": self.at.isoformat() if self.at else None,
            "mailbox_id": self.mailbox_id,
            **self.problem.to_json(),
        }


def needs_attention(session: Session, user: User, limit: int = LIMIT) -> list[Item]:
    """The user's enrollments that failed, wait for a review, or wait on a paused mailbox,
    newest problem first, each with the problem as the timeline recorded it."""
    paused = select(Mailbox.id).where(Mailbox.paused.is_(True))
    # A status trigger's email (a hidden sequence) naming no mailbox goes from the prospect
    # owner's first mailbox in the team (sending/claim.py sending_mailbox_id): held by that one.
    owners_mailbox = (
        select(func.min(Mailbox.id))
        .where(Mailbox.owner_id == Prospect.owner_id, Mailbox.team_id == Sequence.team_id)
        .correlate(Prospect, Sequence)
        .scalar_subquery()
    )
    enrollments = list(
        session.scalars(
            select(Enrollment)
            .join(Prospect, Prospect.id == Enrollment.prospect_id)
            .join(Sequence, Sequence.id == Enrollment.sequence_id)
            .where(
                prospect_filter(user),
                or_(
                    Enrollment.status == EnrollmentStatus.FAILED,
                    and_(Enrollment.needs_review.is_(True), Enrollment.status.in_(_LIVE)),
                    and_(
                        Enrollment.status == EnrollmentStatus.ACTIVE,
                        Sequence.mailbox_id.in_(paused),
                    ),
                    and_(
                        Enrollment.status == EnrollmentStatus.ACTIVE,
                        Sequence.hidden.is_(True),
                        Sequence.mailbox_id.is_(None),
                        owners_mailbox.in_(paused),
                    ),
                ),
            )
            .options(joinedload(Enrollment.prospect), joinedload(Enrollment.sequence))
            .order_by(Enrollment.updated_at.desc(), Enrollment.id.desc())
            .limit(limit)
        ).unique()
    )
    latest = _latest_problems(session, [e.id for e in enrollments])
    items = []
    for enrollment in enrollments:
        found = latest.get(enrollment.id)
        if found is None:  # stopped before problems were recorded, or no event yet
            kind = MAILBOX_PAUSED if enrollment.status == EnrollmentStatus.ACTIVE else ""
            found = (explain(kind, enrollment.current_step + 1), enrollment.updated_at)
        prospect = enrollment.prospect
        name = " ".join(filter(None, (prospect.first_name, prospect.last_name)))
        items.append(
            Item(
                enrollment.id,
                prospect.id,
                name or prospect.email,
                prospect.email,
                enrollment.sequence_id,
                enrollment.sequence.name,
                found[0],
                found[1],
                sending_mailbox_id(session, enrollment),
                enrollment.sequence.hidden,
            )
        )
    items.sort(key=lambda i: (i.at is not None, i.at), reverse=True)
    return items


_LIVE = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)


def _latest_problems(
    session: Session, enrollment_ids: list[int]
) -> dict[int, tuple[Problem, datetime]]:
    """The newest "attention" event of each enrollment, as a Problem."""
    found: dict[int, tuple[Problem, datetime]] = {}
    if not enrollment_ids:
        return found
    for event in session.scalars(
        select(Event)
        .where(Event.type == "attention", Event.enrollment_id.in_(enrollment_ids))
        .order_by(Event.at, Event.id)
    ):
        assert event.enrollment_id is not None
        found[event.enrollment_id] = (Problem.from_json(dict(event.data or {})), event.at)
    return found


def retry(session: Session, enrollment: Enrollment, now: datetime) -> None:
    """Retry the failed step, once it can be written for the prospect again (else
    InvalidTransition with what is still missing and the fix)."""
    steps = enrollment.sequence.steps
    number = next(
        (i for i, s in enumerate(steps, start=1) if s.position == enrollment.current_step), None
    )
    still = [
        p
        for p in [
            *delay_problems(enrollment.sequence),
            *render_problems(enrollment.sequence, enrollment.prospect),
        ]
        if p.step == number
    ]
    if still:
        raise InvalidTransition(
            "; ".join(f"step {p.step} still cannot be sent: {p.message}; {p.fix}" for p in still)
        )
    retry_step(session, enrollment, now)


def resume_mailbox(session: Session, enrollment: Enrollment, user: User, now: datetime) -> Mailbox:
    """Resume the paused mailbox this enrollment sends from (its sequence's, or for a status
    trigger's email the prospect owner's; its owner or a manager of its team may), and make this
    enrollment's waiting step due now; the other waiting steps go out at their next try.
    InvalidTransition when there is nothing to resume."""
    mailbox_id = sending_mailbox_id(session, enrollment)
    mailbox = session.get(Mailbox, mailbox_id, with_for_update=True) if mailbox_id else None
    if mailbox is None or not mailbox.paused:
        raise InvalidTransition("the mailbox of this sequence is not paused: nothing to resume")
    if mailbox.owner_id != user.id and not (user.is_manager and user.team_id == mailbox.team_id):
        raise Forbidden(
            f"only the owner of {mailbox.from_email} or a manager can resume it; ask them"
        )
    was = mailbox.paused_reason
    mailbox.paused, mailbox.paused_reason = False, None
    record(
        session,
        "mailbox_resumed",
        now,
        prospect_id=None,
        mailbox_id=mailbox.id,
        user_id=user.id,
        paused_reason=was,
    )
    # Only a step the pause held back comes due now; a later step keeps its own time.
    held = _latest_problems(session, [enrollment.id]).get(enrollment.id)
    if (
        held is not None
        and held[0].kind == MAILBOX_PAUSED
        and enrollment.status == EnrollmentStatus.ACTIVE
        and (enrollment.next_due_at is None or enrollment.next_due_at > now)
    ):
        enrollment.next_due_at = now
    return mailbox
