"""Runs one due step: claim it in the database, render, send through SMTP, record, advance.

Exactly one email per (enrollment, step), whatever crashes:
- the claim is a row in `messages`, unique per (enrollment, step), with a lease and a version;
- right before SMTP DATA the claim moves to "sending" in a transaction that also re-checks that
  the enrollment is still active (a reply recorded at any moment before that stops the send);
- a claim left in "claimed" by a dead worker is safe to take over (DATA never began);
- one left in "sending" may or may not have been delivered: a delivery probe (the Message-ID)
  decides when it can, and otherwise the enrollment is flagged for review, never resent.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from .compose import TrackingUrls, compose
from .db import session_scope
from .enrollment import SUPPRESSED, advance, email_opening, mark_prospect, record, stop_prospect
from .limits import check_bounce_rate, reserve
from .mailer import OutgoingEmail, build, new_message_id
from .models import (
    Enrollment,
    EnrollmentStatus,
    Link,
    Mailbox,
    Message,
    MessageStatus,
    Prospect,
    ProspectStatus,
    Sequence,
    Step,
    Task,
    User,
)
from .rendering import RenderError
from .runtime import Runtime
from .tasks import skip as skip_task
from .tokens import new_token_id
from .transport import OutcomeUnknown, PermanentFailure, TemporaryFailure

log = logging.getLogger(__name__)

# A probe answers whether a Message-ID reached the server: True, False, or None (can't tell).
DeliveryProbe = Callable[[str], bool | None]


class RetryLater(Exception):
    """A temporary failure: the actor raises it so Dramatiq retries with backoff."""


class _Cancelled(Exception):
    """The enrollment stopped (reply, conversion...) between the claim and DATA."""


@dataclass
class _Job:
    message_pk: int
    attempt: int
    token_id: str
    message_id: str
    to_email: str
    to_name: str | None
    subject_template: str
    html_template: str
    text_template: str | None
    thread_subject: str | None
    in_reply_to: str | None
    references: list[str]
    sender: dict[str, str]
    from_email: str
    from_name: str
    reply_to: str | None
    prospect: Prospect


def _locked_enrollment(session: Session, enrollment_id: int) -> Enrollment | None:
    """The enrollment, row-locked, with its prospect and its sequence's steps in two queries."""
    return session.scalars(
        select(Enrollment)
        .where(Enrollment.id == enrollment_id)
        .options(
            joinedload(Enrollment.prospect, innerjoin=True),
            joinedload(Enrollment.sequence, innerjoin=True).selectinload(Sequence.steps),
        )
        .with_for_update(of=Enrollment)
    ).first()


def _not_durable(session: Session) -> None:
    """Let this transaction's commit skip the WAL flush (PostgreSQL).

    Only for the claim and the "sent" record: losing either to a database crash is harmless
    (a lost claim is claimed again; a lost "sent" leaves the message "sending", which the probe
    or a review decides). The "sending" mark before DATA stays fully durable, and its flush
    carries every earlier commit with it.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def _changed(session: Session, statement: Any) -> int:
    """Run an UPDATE and return how many rows it changed (the compare-and-set's answer)."""
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount)


def urls_for(rt: Runtime) -> TrackingUrls:
    s = rt.settings
    return TrackingUrls(s.base_url, s.secret_keys, s.mail_domain)


def _sender(
    session: Session, rt: Runtime, enrollment: Enrollment
) -> tuple[Mailbox | None, dict[str, str]]:
    sequence = enrollment.sequence
    mailbox = session.get(Mailbox, sequence.mailbox_id) if sequence.mailbox_id else None
    owner_id = enrollment.prospect.owner_id or sequence.owner_id
    owner = session.get(User, owner_id) if owner_id else None
    name = (
        mailbox.from_name
        if mailbox
        else (owner.name if owner and owner.name else rt.settings.default_from_name)
    )
    email = mailbox.from_email if mailbox else rt.settings.default_from_email
    sender = {
        "name": name,
        "email": email,
        "signature": owner.signature if owner else "",
        "first_name": (owner.name.split()[0] if owner and owner.name else name),
    }
    return mailbox, sender


def _run_task_step(session: Session, enrollment: Enrollment, step: Step, now: datetime) -> str:
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


def _variant(step: Step, enrollment_id: int) -> tuple[str | None, str, str, str | None]:
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


def _take_slot(
    session: Session, enrollment: Enrollment, mailbox_id: int | None, now: datetime
) -> str | None:
    """Reserve a send slot in the mailbox's shared limits, or roll the step to the next opening."""
    if mailbox_id is None:
        return None
    slot = reserve(session, mailbox_id, now)
    if slot.taken:
        return None
    assert slot.retry_at is not None
    enrollment.next_due_at = email_opening(enrollment.sequence, enrollment.prospect, slot.retry_at)
    enrollment.enqueued_at = None
    return f"rolled to {enrollment.next_due_at.isoformat()} ({slot.reason})"


def _claim(
    session: Session,
    rt: Runtime,
    enrollment_id: int,
    position: int,
    now: datetime,
    probe: DeliveryProbe | None,
) -> _Job | str:
    lease = timedelta(seconds=rt.settings.send_lease_seconds)
    enrollment = _locked_enrollment(session, enrollment_id)
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
        return _run_task_step(session, enrollment, step, now)
    mailbox_id = enrollment.sequence.mailbox_id

    message = session.scalar(
        select(Message).where(
            Message.enrollment_id == enrollment.id, Message.step_position == position
        )
    )
    if message is None:
        rolled = _take_slot(session, enrollment, mailbox_id, now)
        if rolled:
            return rolled
        variant = _variant(step, enrollment.id)[0]
        message = Message(
            token_id=new_token_id(),
            direction="out",
            prospect_id=prospect.id,
            enrollment_id=enrollment.id,
            step_position=position,
            mailbox_id=mailbox_id,
            message_id=new_message_id(rt.settings.mail_domain),
            to_email=prospect.email,
            status=MessageStatus.CLAIMED,
            variant=variant,
            attempts=1,
            lease_until=now + lease,
            created_at=now,
        )
        session.add(message)
        try:
            session.flush()
        except IntegrityError:
            return "claimed by another worker"
    elif message.status == MessageStatus.SENT:
        advance(session, enrollment, position, now)
        return "already sent"
    elif message.status in (MessageStatus.FAILED, MessageStatus.UNKNOWN):
        return f"message {message.status}"
    elif message.lease_until is not None and message.lease_until > now:
        return "in progress elsewhere"
    elif message.status == MessageStatus.SENDING:
        # Its worker died during DATA. Did the server take it?
        delivered = probe(message.message_id) if probe else None
        if delivered:
            _mark_sent(session, message, enrollment, position, now)
            return "sent (recovered by probe)"
        if delivered is None:
            message.status = MessageStatus.UNKNOWN
            message.error = "worker stopped during DATA; delivery unknown"
            enrollment.needs_review = True
            enrollment.next_due_at = None
            enrollment.reason = f"step {position}: delivery unknown, review before resending"
            record(
                session,
                "send_unknown",
                now,
                prospect_id=prospect.id,
                enrollment_id=enrollment.id,
                message_id=message.id,
                step=position,
            )
            return "unknown: flagged for review"
        rolled = _take_slot(session, enrollment, mailbox_id, now)
        if rolled:
            return rolled
        message.status = MessageStatus.CLAIMED
        message.attempts += 1
        message.lease_until = now + lease
    else:  # claimed with an expired or released lease, or cancelled earlier
        if message.attempts >= rt.settings.max_send_attempts:
            message.status = MessageStatus.FAILED
            enrollment.status = EnrollmentStatus.FAILED
            enrollment.next_due_at = None
            enrollment.reason = (
                f"step {position}: gave up after {message.attempts} attempts ({message.error})"
            )
            record(
                session,
                "status_change",
                now,
                prospect_id=prospect.id,
                enrollment_id=enrollment.id,
                extra={"from": "active", "to": "failed", "reason": enrollment.reason},
            )
            return "failed: too many attempts"
        rolled = _take_slot(session, enrollment, mailbox_id, now)
        if rolled:
            return rolled
        message.status = MessageStatus.CLAIMED
        message.attempts += 1
        message.lease_until = now + lease

    mailbox, sender = _sender(session, rt, enrollment)
    _, subject_t, html_t, text_t = _variant(step, enrollment.id)
    thread_subject = in_reply_to = None
    references: list[str] = []
    if step.thread_with is not None:
        earlier = session.scalar(
            select(Message).where(
                Message.enrollment_id == enrollment.id,
                Message.step_position == step.thread_with,
                Message.status == MessageStatus.SENT,
            )
        )
        if earlier is not None:
            thread_subject = earlier.subject
            in_reply_to = earlier.message_id
            references = [*(earlier.references or "").split(), earlier.message_id]
    session.expunge(prospect)  # a detached snapshot for rendering outside the transaction
    return _Job(
        message_pk=message.id,
        attempt=message.attempts,
        token_id=message.token_id,
        message_id=message.message_id,
        to_email=prospect.email,
        to_name=" ".join(filter(None, (prospect.first_name, prospect.last_name))) or None,
        subject_template=subject_t,
        html_template=html_t,
        text_template=text_t,
        thread_subject=thread_subject,
        in_reply_to=in_reply_to,
        references=references,
        sender=sender,
        from_email=sender["email"],
        from_name=sender["name"],
        # Opt-in: replies come to `followup inbound` via reply+<token>@ (the MX must point there).
        reply_to=(mailbox.reply_to if mailbox else None)
        or (urls_for(rt).reply_address(message.token_id) if rt.settings.reply_to_inbound else None),
        prospect=prospect,
    )


def _mark_sent(
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


def _release(rt: Runtime, job: _Job, status: str, error: str | None) -> None:
    with session_scope(rt.sessions) as session:
        session.execute(
            update(Message)
            .where(
                Message.id == job.message_pk,
                Message.attempts == job.attempt,
                Message.status.in_((MessageStatus.CLAIMED, MessageStatus.SENDING)),
            )
            .values(status=status, lease_until=None, error=error)
        )


def _fail(
    rt: Runtime, job: _Job, enrollment_id: int, position: int, reason: str, bounced: bool = False
) -> None:
    now = rt.clock.now()
    paused_mailbox: int | None = None
    with session_scope(rt.sessions) as session:
        session.execute(
            update(Message)
            .where(Message.id == job.message_pk, Message.attempts == job.attempt)
            .values(status=MessageStatus.FAILED, lease_until=None, error=reason)
        )
        enrollment = session.get(Enrollment, enrollment_id, with_for_update=True)
        if enrollment is None:
            return
        if bounced:
            mark_prospect(session, enrollment.prospect_id, ProspectStatus.BOUNCED, now)
            record(
                session,
                "bounce",
                now,
                prospect_id=enrollment.prospect_id,
                enrollment_id=enrollment_id,
                message_id=job.message_pk,
                reason=reason,
                permanent=True,
            )
            stop_prospect(session, enrollment.prospect_id, EnrollmentStatus.BOUNCED, now, reason)
            mailbox_id = session.scalar(
                select(Message.mailbox_id).where(Message.id == job.message_pk)
            )
            if mailbox_id is not None and check_bounce_rate(session, mailbox_id, now):
                paused_mailbox = mailbox_id
        elif enrollment.status == EnrollmentStatus.ACTIVE:
            enrollment.status = EnrollmentStatus.FAILED
            enrollment.next_due_at = None
            enrollment.reason = f"step {position}: {reason}"
            record(
                session,
                "status_change",
                now,
                prospect_id=enrollment.prospect_id,
                enrollment_id=enrollment_id,
                extra={"from": "active", "to": "failed", "reason": enrollment.reason},
            )
    if paused_mailbox is not None:
        tell_owner_mailbox_paused(rt, paused_mailbox)


def tell_owner_mailbox_paused(rt: Runtime, mailbox_id: int) -> bool:
    """Email the mailbox's owner that it was paused and why (best effort: the event is the record)."""
    with session_scope(rt.sessions) as session:
        mailbox = session.get(Mailbox, mailbox_id)
        owner = session.get(User, mailbox.owner_id) if mailbox and mailbox.owner_id else None
        if mailbox is None or owner is None:
            return False
        text = (
            f"Hello {owner.name or owner.email},\n\n"
            f"Followup paused sending from {mailbox.from_email}: {mailbox.paused_reason}.\n"
            "Sequences using this mailbox wait until it is resumed. Check the bounced addresses "
            "in the prospects' timelines and clean the list before resuming.\n"
        )
        notice = build(
            OutgoingEmail(
                from_email=rt.settings.default_from_email,
                from_name=rt.settings.default_from_name,
                to_email=owner.email,
                to_name=owner.name or None,
                subject=f"Sending paused for {mailbox.from_email}",
                html=f"<p>{html.escape(text).replace(chr(10), '<br>')}</p>",
                text=text,
                message_id=new_message_id(rt.settings.mail_domain),
                date=rt.clock.now(),
            )
        )
    try:
        rt.transport.send(notice, rt.settings.default_from_email, owner.email)
    except Exception:  # the pause and its event are recorded; the notice is a courtesy
        log.exception("could not tell the owner of mailbox %s that it was paused", mailbox_id)
        return False
    return True


def run_step(
    rt: Runtime, enrollment_id: int, position: int, probe: DeliveryProbe | None = None
) -> str:
    """Do the step at `position` of an enrollment if it is still due. Idempotent; returns what happened."""
    now = rt.clock.now()
    with session_scope(rt.sessions) as session:
        _not_durable(session)
        job = _claim(session, rt, enrollment_id, position, now, probe)
    if isinstance(job, str):
        return job

    urls = urls_for(rt)
    try:
        composed = compose(
            subject_template=job.subject_template,
            html_template=job.html_template,
            text_template=job.text_template,
            prospect=job.prospect,
            sender=job.sender,
            token_id=job.token_id,
            urls=urls,
            thread_subject=job.thread_subject,
        )
        mime = build(
            OutgoingEmail(
                from_email=job.from_email,
                from_name=job.from_name,
                to_email=job.to_email,
                to_name=job.to_name,
                subject=composed.subject,
                html=composed.html,
                text=composed.text,
                message_id=job.message_id,
                date=now,
                reply_to=job.reply_to,
                in_reply_to=job.in_reply_to,
                references=job.references,
                list_unsubscribe_url=urls.unsubscribe(job.token_id),
                list_unsubscribe_mailto=urls.unsubscribe_mailto(job.token_id),
            )
        )
    except (RenderError, ValueError) as exc:
        _fail(rt, job, enrollment_id, position, f"cannot render: {exc}")
        return f"failed: {exc}"

    def before_data() -> None:
        # The point of no return is the next command. Re-check, in the same transaction that
        # marks the message "sending", that nothing stopped the enrollment meanwhile.
        with session_scope(rt.sessions) as session:
            # One statement: lock the enrollment if it is still active at this step and its
            # prospect's address has not bounced or unsubscribed meanwhile.
            suppressed = (
                select(Prospect.id)
                .where(Prospect.id == job.prospect.id, Prospect.status.in_(SUPPRESSED))
                .exists()
            )
            locked = _changed(
                session,
                update(Enrollment)
                .where(
                    Enrollment.id == enrollment_id,
                    Enrollment.status == EnrollmentStatus.ACTIVE,
                    Enrollment.current_step == position,
                    ~suppressed,
                )
                .values(status=EnrollmentStatus.ACTIVE),
            )
            if locked != 1:
                raise _Cancelled()
            claimed = _changed(
                session,
                update(Message)
                .where(
                    Message.id == job.message_pk,
                    Message.attempts == job.attempt,
                    Message.status == MessageStatus.CLAIMED,
                )
                .values(
                    status=MessageStatus.SENDING,
                    subject=composed.subject,
                    in_reply_to=job.in_reply_to,
                    references=" ".join(job.references) or None,
                    lease_until=rt.clock.now() + timedelta(seconds=rt.settings.send_lease_seconds),
                ),
            )
            if claimed != 1:
                raise _Cancelled()
            if job.attempt > 1:  # an earlier attempt may have stored this message's links
                session.execute(delete(Link).where(Link.message_id == job.message_pk))
            session.add_all(
                Link(message_id=job.message_pk, position=p, url=u, hidden=h)
                for p, u, h in composed.links
            )

    try:
        rt.transport.send(mime, urls.bounce_address(job.token_id), job.to_email, before_data)
    except _Cancelled:
        _release(rt, job, MessageStatus.CANCELLED, "enrollment stopped before sending")
        return "cancelled: enrollment stopped"
    except TemporaryFailure as exc:
        _release(rt, job, MessageStatus.CLAIMED, str(exc))
        raise RetryLater(str(exc)) from None
    except PermanentFailure as exc:
        _fail(
            rt,
            job,
            enrollment_id,
            position,
            f"SMTP {exc.code} {exc.reply}",
            bounced=exc.recipient_bad,
        )
        return f"failed: SMTP {exc.code}"
    except OutcomeUnknown as exc:
        with session_scope(rt.sessions) as session:
            session.execute(
                update(Message)
                .where(Message.id == job.message_pk)
                .values(status=MessageStatus.UNKNOWN, error=str(exc), lease_until=None)
            )
            session.execute(
                update(Enrollment)
                .where(Enrollment.id == enrollment_id)
                .values(
                    needs_review=True,
                    next_due_at=None,
                    reason=f"step {position}: delivery unknown ({exc})",
                )
            )
        return "unknown: flagged for review"
    except Exception:
        try:
            _release(rt, job, MessageStatus.CLAIMED, "worker error before DATA")
        except Exception:  # the database may be what failed; the lease will expire
            log.exception("could not release claim on message %s", job.message_pk)
        raise

    with session_scope(rt.sessions) as session:
        _not_durable(session)
        message = session.get(Message, job.message_pk)
        enrollment = _locked_enrollment(session, enrollment_id)
        assert message is not None and enrollment is not None
        _mark_sent(session, message, enrollment, position, rt.clock.now())
    return "sent"
