"""The enrollment state machine: enroll, advance, pause, resume, stop; every change is an event."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models import (
    Enrollment,
    EnrollmentStatus,
    Event,
    Prospect,
    ProspectStatus,
    Sequence,
    Step,
)
from .schedule import apply_delay, jitter, next_opening, zone

# Statuses after which an enrollment never sends again.
TERMINAL = frozenset(
    {
        EnrollmentStatus.FINISHED,
        EnrollmentStatus.REPLIED,
        EnrollmentStatus.CONVERTED,
        EnrollmentStatus.MEETING_BOOKED,
        EnrollmentStatus.BOUNCED,
        EnrollmentStatus.UNSUBSCRIBED,
        EnrollmentStatus.FAILED,
        EnrollmentStatus.UNENROLLED,
    }
)
LIVE = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)
# Prospects in these states are never mailed by a sequence again.
SUPPRESSED = frozenset({ProspectStatus.BOUNCED, ProspectStatus.UNSUBSCRIBED})


class EnrollmentRefused(ValueError):
    """The prospect cannot be enrolled; the message says why."""


class InvalidTransition(ValueError):
    """The enrollment is not in a state that allows this change."""


def record(
    session: Session,
    type_: str,
    at: datetime,
    *,
    prospect_id: int | None,
    enrollment_id: int | None = None,
    message_id: int | None = None,
    extra: Mapping[str, Any] | None = None,
    **data: Any,
) -> Event:
    """Add one event to the timeline; `extra` holds keys that are not identifiers."""
    if extra:
        data.update(extra)
    event = Event(
        type=type_,
        at=at,
        prospect_id=prospect_id,
        enrollment_id=enrollment_id,
        message_id=message_id,
        data=data,
    )
    session.add(event)
    return event


def _set_status(
    session: Session, enrollment: Enrollment, status: str, now: datetime, reason: str | None
) -> None:
    previous = enrollment.status
    enrollment.status = status
    enrollment.reason = reason
    enrollment.updated_at = now
    if status != EnrollmentStatus.ACTIVE:
        enrollment.next_due_at = None
    record(
        session,
        "status_change",
        now,
        prospect_id=enrollment.prospect_id,
        enrollment_id=enrollment.id,
        sequence_id=enrollment.sequence_id,
        extra={"from": previous, "to": status, "reason": reason},
    )


def due_time(
    sequence: Sequence, step: Step, prospect: Prospect, after: datetime, jitter_seconds: int = 0
) -> datetime:
    """When `step` should run, counted from `after`, moved into the send window."""
    tz = zone(prospect.timezone, sequence.timezone)
    when = apply_delay(after, step.delay, business_days=step.business_days, tz=tz)
    if step.type == "email":
        when = next_opening(when, sequence.send_window, tz)
        when = jitter(when, jitter_seconds)
    return when


def enroll(
    session: Session,
    prospect: Prospect,
    sequence: Sequence,
    now: datetime,
    *,
    force: bool = False,
) -> Enrollment:
    """Put a prospect into a sequence; its first step comes due after the first delay."""
    if prospect.status in SUPPRESSED:
        raise EnrollmentRefused(f"prospect's address is {prospect.status}; it is never enrolled")
    if not sequence.steps:
        raise EnrollmentRefused("sequence has no steps")
    live = session.scalars(
        select(Enrollment).where(
            Enrollment.prospect_id == prospect.id,
            Enrollment.sequence_id == sequence.id,
            Enrollment.status.in_(LIVE),
        )
    ).first()
    if live is not None and not force:
        raise EnrollmentRefused(
            f"prospect is already {live.status} in this sequence (enrollment {live.id})"
        )
    if live is not None:
        _set_status(session, live, EnrollmentStatus.UNENROLLED, now, "re-enrolled with force")
    first = sequence.steps[0]
    enrollment = Enrollment(
        prospect_id=prospect.id,
        sequence_id=sequence.id,
        status=EnrollmentStatus.ACTIVE,
        current_step=first.position,
        next_due_at=due_time(sequence, first, prospect, now),
        created_at=now,
        updated_at=now,
    )
    session.add(enrollment)
    session.flush()
    record(
        session,
        "enrolled",
        now,
        prospect_id=prospect.id,
        enrollment_id=enrollment.id,
        sequence_id=sequence.id,
        sequence=sequence.name,
    )
    return enrollment


def advance(session: Session, enrollment: Enrollment, done_position: int, now: datetime) -> None:
    """The step at `done_position` is done: move to the next one, or finish."""
    if enrollment.current_step != done_position:
        return  # already advanced (a redelivered message); nothing to do twice
    sequence = enrollment.sequence
    later = [s for s in sequence.steps if s.position > done_position]
    if not later:
        enrollment.current_step = done_position + 1
        if enrollment.status == EnrollmentStatus.ACTIVE:
            _set_status(session, enrollment, EnrollmentStatus.FINISHED, now, "all steps done")
        return
    step = later[0]
    enrollment.current_step = step.position
    enrollment.enqueued_at = None
    enrollment.updated_at = now
    if enrollment.status == EnrollmentStatus.ACTIVE:
        enrollment.next_due_at = due_time(
            sequence,
            step,
            enrollment.prospect,
            now,
            int(sequence.settings.get("jitter_seconds", 0)),
        )


def stop_prospect(
    session: Session, prospect_id: int, status: str, now: datetime, reason: str | None = None
) -> list[int]:
    """Stop every live enrollment of a prospect (replied, converted, bounced...)."""
    stopped = []
    for enrollment in session.scalars(
        select(Enrollment)
        .where(Enrollment.prospect_id == prospect_id, Enrollment.status.in_(LIVE))
        .with_for_update()
    ):
        _set_status(session, enrollment, status, now, reason)
        stopped.append(enrollment.id)
    return stopped


def pause(
    session: Session,
    enrollment: Enrollment,
    now: datetime,
    until: datetime | None = None,
    reason: str | None = None,
) -> None:
    if enrollment.status != EnrollmentStatus.ACTIVE:
        raise InvalidTransition(
            f"only an active enrollment can be paused (it is {enrollment.status})"
        )
    _set_status(session, enrollment, EnrollmentStatus.PAUSED, now, reason or "paused")
    enrollment.paused_until = until


def resume(session: Session, enrollment: Enrollment, now: datetime) -> None:
    if enrollment.status != EnrollmentStatus.PAUSED:
        raise InvalidTransition(
            f"only a paused enrollment can be resumed (it is {enrollment.status})"
        )
    prospect = enrollment.prospect
    if prospect.status in SUPPRESSED:
        raise InvalidTransition(f"prospect's address is {prospect.status}")
    _set_status(session, enrollment, EnrollmentStatus.ACTIVE, now, "resumed")
    enrollment.paused_until = None
    enrollment.enqueued_at = None
    step = next(
        (s for s in enrollment.sequence.steps if s.position == enrollment.current_step), None
    )
    if step is None:
        _set_status(session, enrollment, EnrollmentStatus.FINISHED, now, "all steps done")
        return
    enrollment.next_due_at = (
        next_opening(
            now,
            enrollment.sequence.send_window,
            zone(prospect.timezone, enrollment.sequence.timezone),
        )
        if step.type == "email"
        else now
    )


def unenroll(session: Session, enrollment: Enrollment, now: datetime) -> None:
    if enrollment.status not in LIVE:
        raise InvalidTransition(f"enrollment already ended ({enrollment.status})")
    _set_status(session, enrollment, EnrollmentStatus.UNENROLLED, now, "unenrolled")


def mark_prospect(session: Session, prospect_id: int, status: str, now: datetime) -> None:
    """Set the prospect's own status (suppressions are per address, forever)."""
    session.execute(
        update(Prospect).where(Prospect.id == prospect_id).values(status=status, updated_at=now)
    )
