"""The claim rules: what a due step of a locked enrollment becomes (an email, a task, a wait)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from ..enrollment import (
    SUPPRESSED,
    advance,
    email_opening,
    record,
    report_problem,
    schedule_problem,
    stop_prospect,
)
from ..failures import GAVE_UP, MAILBOX_CAP, MAILBOX_PAUSED, UNKNOWN, Problem, explain
from ..metrics import count_takeover
from ..models import (
    Enrollment,
    EnrollmentStatus,
    Mailbox,
    Message,
    MessageStatus,
    Sequence,
    Step,
    Task,
)
from ..runtime import Runtime
from ..schedule import ScheduleError
from ..tasks import skip as skip_task
from ..tracking import new_token_id
from .limits import reserve
from .mime import new_message_id

# A probe answers whether a Message-ID reached the server: True, False, or None (can't tell).
DeliveryProbe = Callable[[str], bool | None]


@dataclass(slots=True)
class NewMessage:
    """A message row the batch is about to insert (with the batch's other new ones, in one
    statement): a plain object with the columns' names, cheaper than a transient ORM one."""

    token_id: str
    prospect_id: int
    enrollment_id: int
    step_position: int
    mailbox_id: int | None
    message_id: str
    to_email: str
    variant: str | None
    lease_until: datetime | None
    created_at: datetime
    direction: str = "out"
    status: str = MessageStatus.CLAIMED
    attempts: int = 1
    subject: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    error: str | None = None
    id: int = 0  # set once inserted


class Claimed(NamedTuple):
    message: Message | NewMessage
    step: Step


def locked_enrollments(
    session: Session, ids: Iterable[int]
) -> tuple[dict[int, Enrollment], list[Sequence]]:
    """The enrollments, row-locked in id order, with prospects; and their sequences with steps.

    The sequences (a batch has one or a few) are loaded apart, once each, rather than joined
    into every enrollment's row; `enrollment.sequence` then comes from the identity map, as
    long as the caller keeps the returned list (the identity map holds objects weakly).
    """
    found = list(
        session.scalars(
            select(Enrollment)
            .where(Enrollment.id.in_(sorted(set(ids))))
            .options(joinedload(Enrollment.prospect, innerjoin=True))
            .order_by(Enrollment.id)
            .with_for_update(of=Enrollment)
        )
    )
    sequences = list(
        session.scalars(
            select(Sequence)
            .where(Sequence.id.in_(sorted({e.sequence_id for e in found})))
            .options(selectinload(Sequence.steps))
        )
    )
    return {e.id: e for e in found}, sequences


def run_task_step(session: Session, enrollment: Enrollment, step: Step, now: datetime) -> str:
    """A call/task step came due: create the owner's task once; the sequence waits for it.

    With the step option `auto_advance_days: N`, the scheduler comes back after N days and a
    task still open then is skipped automatically, so the sequence moves on.
    """
    task = session.scalar(
        select(Task).where(Task.enrollment_id == enrollment.id, Task.step_position == step.position)
    )
    days = (step.options or {}).get("auto_advance_days")
    wait = timedelta(days=days) if isinstance(days, int | float) and days > 0 else None
    if task is not None:
        if task.status != "open":
            advance(session, enrollment, step.position, now)
            return f"task already {task.status}"
        if wait is not None and now >= task.due_at + wait:
            skip_task(session, task, now, notes="moved on automatically: nobody completed it")
            return "task auto-advanced"
        # Due again before its time (the enrollment was resumed): keep waiting for the task.
        enrollment.next_due_at = task.due_at + wait if wait else None
        enrollment.enqueued_at = None
        return "waiting for the task"
    prospect = enrollment.prospect
    task = Task(
        enrollment_id=enrollment.id,
        step_position=step.position,
        prospect_id=prospect.id,
        owner_id=prospect.owner_id or enrollment.sequence.owner_id,
        type=step.type,
        title=(step.subject or f"{step.type.title()} {prospect.first_name or prospect.email}"),
        notes=step.notes,
        due_at=now,
        status="open",
    )
    session.add(task)
    session.flush()
    record(
        session,
        "task_due",
        now,
        prospect_id=prospect.id,
        enrollment_id=enrollment.id,
        task_id=task.id,
        task_type=step.type,
    )
    # Without auto-advance the scheduler must not pick this enrollment again until the task
    # is completed or skipped (sequences.tasks advances it then).
    enrollment.next_due_at = now + wait if wait else None
    enrollment.enqueued_at = None
    return "task created"


def step_variant(step: Step, enrollment_id: int) -> tuple[str | None, str, str, str | None]:
    """(variant letter, subject, html, text) for this enrollment: A/B/... split evenly by id."""
    variants = (step.options or {}).get("variants") or []
    base = (step.subject or "", step.body_html or "", step.body_text)
    if not variants:
        return None, *base
    index = enrollment_id % (len(variants) + 1)
    if index == 0:
        return "A", *base
    chosen = variants[index - 1]
    return (
        chr(ord("A") + index),
        chosen.get("subject") or base[0],
        chosen.get("body_html") or base[1],
        chosen.get("body_text") or base[2],
    )


def sending_mailbox_id(session: Session, enrollment: Enrollment) -> int | None:
    """The mailbox a step goes from: its sequence's. A status trigger's email (a hidden
    sequence) with none named goes from the prospect owner's mailbox (their first in the team),
    else, like any sequence without one, from the install's default sender."""
    sequence = enrollment.sequence
    if sequence.mailbox_id is not None or not sequence.hidden:
        return sequence.mailbox_id
    owner_id = enrollment.prospect.owner_id
    if owner_id is None:
        return None
    found: int | None = session.scalar(
        select(Mailbox.id)
        .where(Mailbox.owner_id == owner_id, Mailbox.team_id == sequence.team_id)
        .order_by(Mailbox.id)
        .limit(1)
    )
    return found


def take_slot(
    session: Session, enrollment: Enrollment, mailbox_id: int | None, now: datetime
) -> str | None:
    """Reserve a send slot in the mailbox's shared limits, or roll the step to the next opening."""
    if mailbox_id is None:
        return None
    slot = reserve(session, mailbox_id, now)
    if slot.taken:
        return None
    assert slot.retry_at is not None
    try:
        enrollment.next_due_at = email_opening(
            enrollment.sequence, enrollment.prospect, slot.retry_at
        )
    except ScheduleError as exc:  # a broken calendar or window: failed, the batch goes on
        step = next(s for s in enrollment.sequence.steps if s.position == enrollment.current_step)
        fail_enrollment(session, enrollment, schedule_problem(enrollment.sequence, step, exc), now)
        return "failed: cannot be scheduled"
    enrollment.enqueued_at = None
    # The wait goes on the timeline once, when it starts (not at every roll of the same wait).
    reason = slot.reason or ""
    kind = MAILBOX_PAUSED if reason.startswith("mailbox paused") else MAILBOX_CAP
    problem = explain(kind, enrollment.current_step + 1, who=who(enrollment))
    if not (enrollment.reason or "").startswith(problem.message):
        enrollment.reason = problem.text
        report_problem(session, enrollment, problem, now)
    return f"rolled to {enrollment.next_due_at.isoformat()} ({slot.reason})"


def claim_step(
    session: Session,
    rt: Runtime,
    enrollment: Enrollment | None,
    message: Message | None,
    position: int,
    now: datetime,
    probe: DeliveryProbe | None,
) -> Claimed | str:
    """Decide one step of a locked enrollment: a claimed message to send, or what happened.

    `message` is the step's existing message, if any; a new one is returned as a NewMessage
    for the caller to insert.
    """
    lease = timedelta(seconds=rt.settings.send_lease_seconds)
    if enrollment is None:
        return "missing"
    if enrollment.status != EnrollmentStatus.ACTIVE:
        return f"not active ({enrollment.status})"
    if enrollment.current_step != position:
        return "stale (step already done)"
    if enrollment.next_due_at is None or enrollment.next_due_at > now:
        return "not due"
    prospect = enrollment.prospect
    if prospect.status in SUPPRESSED:
        stop_prospect(session, prospect.id, str(prospect.status), now, f"address {prospect.status}")
        return f"prospect {prospect.status}"
    step = next((s for s in enrollment.sequence.steps if s.position == position), None)
    if step is None:
        advance(session, enrollment, position, now)
        return "step removed"
    if step.type != "email":
        return run_task_step(session, enrollment, step, now)
    mailbox_id = sending_mailbox_id(session, enrollment)

    if message is None:
        rolled = take_slot(session, enrollment, mailbox_id, now)
        if rolled:
            return rolled
        created = NewMessage(
            token_id=new_token_id(),
            prospect_id=prospect.id,
            enrollment_id=enrollment.id,
            step_position=position,
            mailbox_id=mailbox_id,
            message_id=new_message_id(rt.settings.mail_domain),
            to_email=prospect.email,
            variant=step_variant(step, enrollment.id)[0],
            lease_until=now + lease,
            created_at=now,
        )
        # No other worker can insert this (enrollment, step) meanwhile: they lock the
        # enrollment first (the unique constraint stays the last word). The caller inserts
        # the batch's new messages together.
        return Claimed(created, step)
    if message.status == MessageStatus.SENT:
        advance(session, enrollment, position, now)
        return "already sent"
    if message.status in (MessageStatus.FAILED, MessageStatus.UNKNOWN):
        return f"message {message.status}"
    if message.lease_until is not None and message.lease_until > now:
        return "in progress elsewhere"
    if message.lease_until is not None:
        count_takeover(message.status)  # its worker vanished with the lease (metrics only)
    if message.status == MessageStatus.SENDING:
        # Its worker died during DATA. Did the server take it?
        delivered = probe(message.message_id) if probe else None
        if delivered:
            mark_sent(session, message, enrollment, position, now)
            return "sent (recovered by probe)"
        if delivered is None:
            message.status = MessageStatus.UNKNOWN
            message.error = "worker stopped during DATA; delivery unknown"
            problem = explain(UNKNOWN, position + 1, detail=message.error, who=who(enrollment))
            enrollment.needs_review = True
            enrollment.next_due_at = None
            enrollment.reason = problem.text
            record(
                session,
                "send_unknown",
                now,
                prospect_id=prospect.id,
                enrollment_id=enrollment.id,
                message_id=message.id,
                step=position,
            )
            report_problem(session, enrollment, problem, now)
            return "unknown: flagged for review"
    elif message.attempts >= rt.settings.max_send_attempts:
        # claimed with an expired or released lease, or cancelled earlier: too often
        message.status = MessageStatus.FAILED
        problem = explain(
            GAVE_UP,
            position + 1,
            detail=f"gave up after {message.attempts} attempts ({message.error})",
            who=who(enrollment),
        )
        fail_enrollment(session, enrollment, problem, now)
        return "failed: too many attempts"
    rolled = take_slot(session, enrollment, mailbox_id, now)
    if rolled:
        return rolled
    message.status = MessageStatus.CLAIMED
    message.attempts += 1
    message.lease_until = now + lease
    return Claimed(message, step)


def mark_sent(
    session: Session, message: Message, enrollment: Enrollment, position: int, now: datetime
) -> None:
    message.status = MessageStatus.SENT
    message.sent_at = now
    message.lease_until = None
    record(
        session,
        "sent",
        now,
        prospect_id=enrollment.prospect_id,
        enrollment_id=enrollment.id,
        message_id=message.id,
        subject=message.subject,
        step=position,
    )
    advance(session, enrollment, position, now)


def fail_enrollment(
    session: Session, enrollment: Enrollment, problem: Problem, now: datetime
) -> None:
    """A step failed for good (not a bounce): the enrollment stops as failed, and the problem,
    in a rep's words, goes on the timeline and into the "Needs attention" list."""
    if enrollment.status == EnrollmentStatus.ACTIVE:
        enrollment.status = EnrollmentStatus.FAILED
        enrollment.next_due_at = None
        enrollment.reason = problem.text
        record(
            session,
            "status_change",
            now,
            prospect_id=enrollment.prospect_id,
            enrollment_id=enrollment.id,
            extra={"from": "active", "to": "failed", "reason": enrollment.reason},
        )
    report_problem(session, enrollment, problem, now)


def who(enrollment: Enrollment) -> str:
    """The prospect as a rep names them in a message."""
    prospect = enrollment.prospect
    return prospect.first_name or prospect.email
