"""Runs due steps: claim them in the database, render, send through SMTP, record, advance.

Exactly one email per (enrollment, step), whatever crashes:
- the claim is a row in `messages`, unique per (enrollment, step), with a lease and a version;
- right before SMTP DATA the claim moves to "sending" in a transaction of its own that also
  re-checks, under the enrollment's row lock, that the enrollment is still active at this step
  and the prospect's address usable (a reply recorded at any moment before that stops the send);
- a claim left in "claimed" by a dead worker is safe to take over (DATA never began);
- one left in "sending" may or may not have been delivered: a delivery probe (the Message-ID)
  decides when it can, and otherwise the enrollment is flagged for review, never resent.

A worker runs a batch of due steps at a time (the scheduler hands them out in batches): one
transaction locks the enrollments, claims every step, renders each email and stores its links;
then each email gets its own "sending" check right before its DATA, over the thread's reused
SMTP connection; the "sent" records (with the next step scheduled) are written together at the
end of the batch, or every SENT_FLUSH_SECONDS while a slow server keeps the batch going, so a
crash leaves few messages to the probe. The per-email work in the database is one short
transaction; the rest is shared by the batch.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Table, bindparam, delete, or_, select, text, update
from sqlalchemy.orm import Session, joinedload, selectinload

from .bulk import insert_rows, update_rows
from .compose import TrackingUrls, compose
from .db import session_scope
from .enrollment import (
    SUPPRESSED,
    advance,
    advanced,
    email_opening,
    mark_prospect,
    record,
    status_change_data,
    stop_prospect,
)
from .limits import check_bounce_rate, reserve
from .mailer import OutgoingEmail, build, new_message_id
from .models import (
    Enrollment,
    EnrollmentStatus,
    Event,
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
from .webhooks import subscribed

log = logging.getLogger(__name__)

MESSAGES = cast(Table, Message.__table__)
LINKS = cast(Table, Link.__table__)
EVENTS = cast(Table, Event.__table__)
ENROLLMENTS = cast(Table, Enrollment.__table__)

# A probe answers whether a Message-ID reached the server: True, False, or None (can't tell).
DeliveryProbe = Callable[[str], bool | None]

# While a batch is still sending after this long, the "sent" records so far are written first.
SENT_FLUSH_SECONDS = 0.25


class RetryLater(Exception):
    """A temporary failure: the actor raises it so Dramatiq retries with backoff."""


class _Cancelled(Exception):
    """The enrollment stopped (reply, conversion...) between the claim and DATA."""


@dataclass
class _Job:
    """One claimed email, rendered and serialised, ready for SMTP."""

    enrollment_id: int
    position: int
    prospect_id: int
    message_pk: int
    attempt: int
    subject: str
    to_email: str
    envelope_from: str
    payload: bytes


@dataclass(slots=True)
class _NewMessage:
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


class _Claimed(NamedTuple):
    message: Message | _NewMessage
    step: Step


# The "sending" mark: one UPDATE that moves our claim (same version, still claimed) to
# "sending" only if the enrollment, locked, is still active at this step and its prospect's
# address has not bounced or unsubscribed. A reply recorded in a transaction that holds the
# enrollment's lock makes this wait, then see the reply.
_SUPPRESSED = or_(*(Prospect.status == status for status in sorted(SUPPRESSED)))
_MARK_SENDING = (
    update(Message)
    .where(
        Message.id == bindparam("b_message"),
        Message.attempts == bindparam("b_attempt"),
        Message.status == MessageStatus.CLAIMED,
        select(Enrollment.id)
        .where(
            Enrollment.id == bindparam("b_enrollment"),
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Enrollment.current_step == bindparam("b_position"),
            ~select(Prospect.id)
            .where(Prospect.id == bindparam("b_prospect"), _SUPPRESSED)
            .exists(),
        )
        .with_for_update(of=Enrollment)
        .exists(),
    )
    .values(status=MessageStatus.SENDING, lease_until=bindparam("b_lease"))
)


def _locked_enrollments(
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


def _not_durable(session: Session) -> None:
    """Let this transaction's commit skip the WAL flush (PostgreSQL).

    Only for the claim and the "sent" record: losing either to a database crash is harmless
    (a lost claim is claimed again; a lost "sent" leaves the message "sending", which the probe
    or a review decides). Each "sending" mark before DATA stays fully durable, and its flush
    carries every earlier commit with it.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


class _MarkSending:
    """Runs the "sending" mark as its own durable transaction; returns how many rows it moved.

    On PostgreSQL the statement goes straight to the driver in autocommit mode: one round trip
    (not BEGIN, the statement, COMMIT), the same atomic, durable commit, and none of
    SQLAlchemy's per-statement work (the mark runs once per email; its SQL is compiled from
    _MARK_SENDING once per process, and psycopg prepares it on the server after a few uses).
    SQLite keeps its BEGIN IMMEDIATE transaction (it serialises writers).
    """

    def __init__(self) -> None:
        self._sql: str | None = None
        self._constants: dict[str, Any] = {}

    def _compile(self, conn: Connection) -> str:
        if self._sql is None:
            compiled = _MARK_SENDING.compile(dialect=conn.dialect)
            self._constants = {
                name: str(value)  # the statuses: plain strings for the driver
                for name, value in compiled.params.items()
                if not name.startswith("b_")
            }
            self._sql = str(compiled)
        return self._sql

    def __call__(self, conn: Connection, params: dict[str, Any]) -> int:
        if conn.dialect.name != "postgresql":
            with conn.begin():
                return int(conn.execute(_MARK_SENDING, params).rowcount)
        sql = self._compile(conn)
        lease = params["b_lease"]
        driver_params = {
            **self._constants,
            **params,
            "b_lease": lease.astimezone(UTC).replace(tzinfo=None),  # as UTCDateTime stores it
        }
        raw: Any = conn.connection.driver_connection
        # The batch's connection is between transactions here (the claim committed; the
        # records run later), so the driver may switch to autocommit and back.
        raw.autocommit = True
        try:
            return int(raw.execute(sql, driver_params).rowcount)
        except BaseException:
            if raw.broken or raw.closed:
                conn.invalidate()  # let SQLAlchemy know this connection is gone
            raise
        finally:
            if not (raw.broken or raw.closed):
                raw.autocommit = False


_mark_sending = _MarkSending()


@contextmanager
def _transaction(rt: Runtime, conn: Connection) -> Iterator[Session]:
    """An ORM unit of work on the batch's connection: commit on success, roll back on error."""
    with rt.sessions(bind=conn) as session, session.begin():
        yield session


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
    enrollment: Enrollment | None,
    message: Message | None,
    position: int,
    now: datetime,
    probe: DeliveryProbe | None,
) -> _Claimed | str:
    """Decide one step of a locked enrollment: a claimed message to send, or what happened.

    `message` is the step's existing message, if any; a new one is returned as a _NewMessage
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
        return _run_task_step(session, enrollment, step, now)
    mailbox_id = enrollment.sequence.mailbox_id

    if message is None:
        rolled = _take_slot(session, enrollment, mailbox_id, now)
        if rolled:
            return rolled
        created = _NewMessage(
            token_id=new_token_id(),
            prospect_id=prospect.id,
            enrollment_id=enrollment.id,
            step_position=position,
            mailbox_id=mailbox_id,
            message_id=new_message_id(rt.settings.mail_domain),
            to_email=prospect.email,
            variant=_variant(step, enrollment.id)[0],
            lease_until=now + lease,
            created_at=now,
        )
        # No other worker can insert this (enrollment, step) meanwhile: they lock the
        # enrollment first (the unique constraint stays the last word). The caller inserts
        # the batch's new messages together.
        return _Claimed(created, step)
    if message.status == MessageStatus.SENT:
        advance(session, enrollment, position, now)
        return "already sent"
    if message.status in (MessageStatus.FAILED, MessageStatus.UNKNOWN):
        return f"message {message.status}"
    if message.lease_until is not None and message.lease_until > now:
        return "in progress elsewhere"
    if message.status == MessageStatus.SENDING:
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
    elif message.attempts >= rt.settings.max_send_attempts:
        # claimed with an expired or released lease, or cancelled earlier: too often
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
    return _Claimed(message, step)


def _prepare(
    session: Session,
    rt: Runtime,
    urls: TrackingUrls,
    enrollment: Enrollment,
    claimed: _Claimed,
    earlier: Message | None,
    now: datetime,
) -> tuple[_Job, list[tuple[int, str, bool]]]:
    """Render and serialise one claimed email and store its subject and threading; return the
    job and its links (stored by the caller once the message has its id).

    Raises RenderError or ValueError when the step cannot be rendered for this prospect.
    """
    message, step = claimed
    prospect = enrollment.prospect
    mailbox, sender = _sender(session, rt, enrollment)
    _, subject_t, html_t, text_t = _variant(step, enrollment.id)
    thread_subject = in_reply_to = None
    references: list[str] = []
    if step.thread_with is not None and earlier is not None:
        thread_subject = earlier.subject
        in_reply_to = earlier.message_id
        references = [*(earlier.references or "").split(), earlier.message_id]
    composed = compose(
        subject_template=subject_t,
        html_template=html_t,
        text_template=text_t,
        prospect=prospect,
        sender=sender,
        token_id=message.token_id,
        urls=urls,
        thread_subject=thread_subject,
    )
    # Opt-in: replies come to `followup inbound` via reply+<token>@ (the MX must point there).
    reply_to = (mailbox.reply_to if mailbox else None) or (
        urls.reply_address(message.token_id) if rt.settings.reply_to_inbound else None
    )
    payload = build(
        OutgoingEmail(
            from_email=sender["email"],
            from_name=sender["name"],
            to_email=prospect.email,
            to_name=" ".join(filter(None, (prospect.first_name, prospect.last_name))) or None,
            subject=composed.subject,
            html=composed.html,
            text=composed.text,
            message_id=message.message_id,
            date=now,
            reply_to=reply_to,
            in_reply_to=in_reply_to,
            references=references,
            list_unsubscribe_url=urls.unsubscribe(message.token_id),
            list_unsubscribe_mailto=urls.unsubscribe_mailto(message.token_id),
        )
    )
    message.subject = composed.subject
    message.in_reply_to = in_reply_to
    message.references = " ".join(references) or None
    if message.attempts > 1:  # an earlier attempt may have stored this message's links
        session.execute(delete(Link).where(Link.message_id == message.id))
    job = _Job(
        enrollment_id=enrollment.id,
        position=step.position,
        prospect_id=prospect.id,
        message_pk=0,  # a new message has its id once flushed
        attempt=message.attempts,
        subject=composed.subject,
        to_email=prospect.email,
        envelope_from=urls.bounce_address(message.token_id),
        payload=payload,
    )
    return job, composed.links


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


def _messages_sent(session: Session, sent: list[tuple[_Job, datetime]]) -> None:
    """Each message "sent" at its own time, in one statement."""
    update_rows(
        session.connection(),
        MESSAGES,
        "id",
        [{"id": job.message_pk, "sent_at": at} for job, at in sent],
        {"status": MessageStatus.SENT, "lease_until": None},
    )


def _record_sent(session: Session, sent: list[tuple[_Job, datetime]]) -> None:
    """The "sent" records of a group of delivered emails, with each enrollment advanced.

    `session` is the batch's: its identity map still holds the prospects and sequences the
    claim loaded, so only the enrollments are read again (locked, fresh). Without a webhook
    that wants "sent" events (whose outbox rows hang on the ORM events), the events and the
    enrollments' new state are written with one statement each rather than object by object:
    the same rows `record()` and `advance()` write.
    """
    _not_durable(session)
    ids = sorted({job.enrollment_id for job, _ in sent})
    if subscribed(session, "sent"):
        enrollments = {
            e.id: e
            for e in session.scalars(
                select(Enrollment)
                .where(Enrollment.id.in_(ids))
                .order_by(Enrollment.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        }
        _messages_sent(session, sent)
        for job, at in sent:
            record(
                session,
                "sent",
                at,
                prospect_id=job.prospect_id,
                enrollment_id=job.enrollment_id,
                message_id=job.message_pk,
                subject=job.subject,
                step=job.position,
            )
            if job.enrollment_id in enrollments:
                advance(session, enrollments[job.enrollment_id], job.position, at)
        return
    state = {
        row.id: row._asdict()
        for row in session.execute(
            select(
                Enrollment.id,
                Enrollment.status,
                Enrollment.current_step,
                Enrollment.sequence_id,
                Enrollment.prospect_id,
            )
            .where(Enrollment.id.in_(ids))
            .order_by(Enrollment.id)
            .with_for_update()
        )
    }
    _messages_sent(session, sent)
    events: list[dict[str, Any]] = []
    changes: dict[int, dict[str, Any]] = {}
    for job, at in sent:
        events.append(
            {
                "type": "sent",
                "at": at,
                "prospect_id": job.prospect_id,
                "enrollment_id": job.enrollment_id,
                "message_id": job.message_pk,
                "data": {"subject": job.subject, "step": job.position},
            }
        )
        enrollment = state.get(job.enrollment_id)
        if enrollment is None:
            continue
        sequence = session.get(Sequence, enrollment["sequence_id"])
        prospect = session.get(Prospect, enrollment["prospect_id"])
        assert sequence is not None and prospect is not None
        before = enrollment["status"]
        values = advanced(before, enrollment["current_step"], sequence, prospect, job.position, at)
        if values is None:
            continue
        enrollment.update(values)
        changes.setdefault(job.enrollment_id, {"id": job.enrollment_id}).update(values)
        if values.get("status", before) != before:
            events.append(
                {
                    "type": "status_change",
                    "at": at,
                    "prospect_id": enrollment["prospect_id"],
                    "enrollment_id": job.enrollment_id,
                    "message_id": None,
                    "data": status_change_data(
                        enrollment["sequence_id"], before, values["status"], values["reason"]
                    ),
                }
            )
    conn = session.connection()
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for values in changes.values():  # finished and advanced enrollments change other columns
        shapes.setdefault(tuple(values), []).append(values)
    for rows in shapes.values():
        update_rows(conn, ENROLLMENTS, "id", rows)
    insert_rows(conn, EVENTS, events)


def _release(conn: Connection, job: _Job, status: str, error: str | None) -> None:
    with conn.begin():
        conn.execute(
            update(Message)
            .where(
                Message.id == job.message_pk,
                Message.attempts == job.attempt,
                Message.status.in_((MessageStatus.CLAIMED, MessageStatus.SENDING)),
            )
            .values(status=status, lease_until=None, error=error)
        )


def _fail_enrollment(
    session: Session, enrollment: Enrollment, position: int, reason: str, now: datetime
) -> None:
    """A step failed for good (not a bounce): the enrollment stops as failed."""
    if enrollment.status == EnrollmentStatus.ACTIVE:
        enrollment.status = EnrollmentStatus.FAILED
        enrollment.next_due_at = None
        enrollment.reason = f"step {position}: {reason}"
        record(
            session,
            "status_change",
            now,
            prospect_id=enrollment.prospect_id,
            enrollment_id=enrollment.id,
            extra={"from": "active", "to": "failed", "reason": enrollment.reason},
        )


def _fail(rt: Runtime, conn: Connection, job: _Job, reason: str, bounced: bool = False) -> None:
    now = rt.clock.now()
    paused_mailbox: int | None = None
    with _transaction(rt, conn) as session:
        enrollment = session.get(Enrollment, job.enrollment_id, with_for_update=True)
        session.execute(
            update(Message)
            .where(Message.id == job.message_pk, Message.attempts == job.attempt)
            .values(status=MessageStatus.FAILED, lease_until=None, error=reason)
        )
        if enrollment is None:
            return
        if not bounced:
            _fail_enrollment(session, enrollment, job.position, reason, now)
            return
        mark_prospect(session, enrollment.prospect_id, ProspectStatus.BOUNCED, now)
        record(
            session,
            "bounce",
            now,
            prospect_id=enrollment.prospect_id,
            enrollment_id=job.enrollment_id,
            message_id=job.message_pk,
            reason=reason,
            permanent=True,
        )
        stop_prospect(session, enrollment.prospect_id, EnrollmentStatus.BOUNCED, now, reason)
        mailbox_id = session.scalar(select(Message.mailbox_id).where(Message.id == job.message_pk))
        if mailbox_id is not None and check_bounce_rate(session, mailbox_id, now):
            paused_mailbox = mailbox_id
    if paused_mailbox is not None:
        tell_owner_mailbox_paused(rt, paused_mailbox)


def _unknown(conn: Connection, job: _Job, error: str) -> None:
    with conn.begin():
        conn.execute(
            update(Message)
            .where(Message.id == job.message_pk)
            .values(status=MessageStatus.UNKNOWN, error=error, lease_until=None)
        )
        conn.execute(
            update(Enrollment)
            .where(Enrollment.id == job.enrollment_id)
            .values(
                needs_review=True,
                next_due_at=None,
                reason=f"step {job.position}: delivery unknown ({error})",
            )
        )


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


# The columns a new message is inserted with (the id comes back; sent_at is set when it is).
_NEW_MESSAGE_COLUMNS = tuple(
    column.key for column in MESSAGES.columns if column.key not in ("id", "sent_at")
)


def _insert_new(session: Session, messages: list[_NewMessage]) -> None:
    """Insert the batch's new messages with one statement; set their ids.

    Cheaper than adding ORM objects to the session and flushing them: no unit of work, no
    identity map, no per-object events; the rows are the same.
    """
    ids = {
        (enrollment_id, position): message_pk
        for message_pk, enrollment_id, position in insert_rows(
            session.connection(),
            MESSAGES,
            [{name: getattr(m, name) for name in _NEW_MESSAGE_COLUMNS} for m in messages],
            returning=("id", "enrollment_id", "step_position"),
        )
    }
    for message in messages:
        message.id = ids[(message.enrollment_id, message.step_position)]


def _claim_batch(
    rt: Runtime,
    session: Session,
    steps: list[tuple[int, int]],
    now: datetime,
    probe: DeliveryProbe | None,
    outcomes: list[str],
) -> tuple[list[tuple[int, _Job]], list[object]]:
    """One transaction: lock, claim, render and store every step's email.

    Returns (index, job) pairs, and the objects loaded, for the caller to keep referenced until
    the batch is recorded (the session's identity map holds them only weakly).
    """
    urls = urls_for(rt)
    with session.begin():
        _not_durable(session)
        enrollments, sequences = _locked_enrollments(session, (e for e, _ in steps))
        existing = {
            (m.enrollment_id, m.step_position): m
            for m in session.scalars(
                select(Message).where(Message.enrollment_id.in_(sorted(enrollments)))
            )
        }
        prepared: list[tuple[int, Message | _NewMessage, _Job, list[tuple[int, str, bool]]]] = []
        new: list[_NewMessage] = []
        for index, (enrollment_id, position) in enumerate(steps):
            enrollment = enrollments.get(enrollment_id)
            claimed = _claim(
                session,
                rt,
                enrollment,
                existing.get((enrollment_id, position)),
                position,
                now,
                probe,
            )
            if isinstance(claimed, str):
                outcomes[index] = claimed
                continue
            if isinstance(claimed.message, _NewMessage):
                new.append(claimed.message)
            assert enrollment is not None
            step = claimed.step
            earlier = (
                existing.get((enrollment.id, step.thread_with))
                if step.thread_with is not None
                else None
            )
            if earlier is not None and earlier.status != MessageStatus.SENT:
                earlier = None
            try:
                job, links = _prepare(session, rt, urls, enrollment, claimed, earlier, now)
            except (RenderError, ValueError) as exc:
                reason = f"cannot render: {exc}"
                claimed.message.status = MessageStatus.FAILED
                claimed.message.lease_until = None
                claimed.message.error = reason
                _fail_enrollment(session, enrollment, step.position, reason, now)
                outcomes[index] = f"failed: {exc}"
            else:
                prepared.append((index, claimed.message, job, links))
        session.flush()  # what the rules changed on loaded objects (rolled steps, retries...)
        _insert_new(session, new)
        rows: list[dict[str, Any]] = []
        for _, message, job, links in prepared:
            job.message_pk = message.id
            rows.extend(
                {"message_id": message.id, "position": p, "url": u, "hidden": h}
                for p, u, h in links
            )
        insert_rows(session.connection(), LINKS, rows)
    return [(index, job) for index, _, job, _ in prepared], [
        *sequences,
        *session.identity_map.values(),
    ]


def run_batch(
    rt: Runtime, steps: Iterable[tuple[int, int]], probe: DeliveryProbe | None = None
) -> list[str]:
    """Do each (enrollment, position) step that is still due; return what happened to each.

    Idempotent. Raises RetryLater after the whole batch when a server answered 4xx for some of
    it (the retry finds the rest done), and re-raises an unexpected error after releasing the
    claims that did not reach DATA.
    """
    now = rt.clock.now()
    steps = [(int(e), int(p)) for e, p in steps]  # ids may come from JSON as any numbers
    unique = list(dict.fromkeys(steps))
    outcomes = ["not claimed"] * len(unique)
    try:
        # One connection and one session for the batch: the session's transactions (claim,
        # records) and each email's "sending" mark take turns on the connection.
        with rt.engine.connect() as conn, rt.sessions(bind=conn) as session:
            jobs, loaded = _claim_batch(rt, session, unique, now, probe, outcomes)
            _send_all(rt, conn, session, jobs, outcomes)
            del loaded
    finally:
        log.debug("send batch: %s", dict(zip(unique, outcomes, strict=True)))
    by_step = dict(zip(unique, outcomes, strict=True))
    return [by_step[step] for step in steps]


def _send_all(
    rt: Runtime,
    conn: Connection,
    session: Session,
    jobs: list[tuple[int, _Job]],
    outcomes: list[str],
) -> None:
    """SMTP for each prepared job, its "sending" mark right before DATA; then the records."""
    lease = timedelta(seconds=rt.settings.send_lease_seconds)
    sent: list[tuple[_Job, datetime]] = []
    first_unrecorded = 0.0
    retry: list[str] = []
    marked: list[_Job] = []  # the job past its "sending" mark, if any

    def record_sent() -> None:
        if sent:
            with session.begin():
                _record_sent(session, sent)
            sent.clear()

    def mark(job: _Job) -> None:
        # The point of no return is the next command: the check and the mark commit together,
        # durably, under the enrollment's lock.
        changed = _mark_sending(
            conn,
            {
                "b_message": job.message_pk,
                "b_attempt": job.attempt,
                "b_enrollment": job.enrollment_id,
                "b_position": job.position,
                "b_prospect": job.prospect_id,
                "b_lease": rt.clock.now() + lease,
            },
        )
        if changed != 1:
            raise _Cancelled()
        marked.append(job)

    for done, (index, job) in enumerate(jobs):
        marked.clear()
        try:
            rt.transport.send(job.payload, job.envelope_from, job.to_email, partial(mark, job))
        except _Cancelled:
            _release(conn, job, MessageStatus.CANCELLED, "enrollment stopped before sending")
            outcomes[index] = "cancelled: enrollment stopped"
        except TemporaryFailure as exc:
            _release(conn, job, MessageStatus.CLAIMED, str(exc))
            outcomes[index] = f"retry: {exc}"
            retry.append(str(exc))
            if exc.connection:  # the server is unreachable: the rest waits for the retry too
                for later_index, later in jobs[done + 1 :]:
                    _release(conn, later, MessageStatus.CLAIMED, str(exc))
                    outcomes[later_index] = f"retry: {exc}"
                break
        except PermanentFailure as exc:
            _fail(rt, conn, job, f"SMTP {exc.code} {exc.reply}", bounced=exc.recipient_bad)
            outcomes[index] = f"failed: SMTP {exc.code}"
        except OutcomeUnknown as exc:
            _unknown(conn, job, str(exc))
            outcomes[index] = "unknown: flagged for review"
        except BaseException:
            # Give back the claims that never reached DATA (a job past its "sending" mark stays
            # there: the probe or a review decides it) and record what was sent.
            try:
                for _, later in jobs[done + (1 if marked else 0) :]:
                    _release(conn, later, MessageStatus.CLAIMED, "worker error before DATA")
                record_sent()
            except Exception:  # the database may be what failed; leases and the probe decide
                log.exception("could not release or record the rest of a send batch")
            raise
        else:
            if not sent:
                first_unrecorded = time.monotonic()
            sent.append((job, rt.clock.now()))
            outcomes[index] = "sent"
            if time.monotonic() - first_unrecorded >= SENT_FLUSH_SECONDS:
                record_sent()
    record_sent()
    if retry:
        raise RetryLater("; ".join(retry))


def run_step(
    rt: Runtime, enrollment_id: int, position: int, probe: DeliveryProbe | None = None
) -> str:
    """Do the step at `position` of an enrollment if it is still due. Idempotent; returns what happened."""
    return run_batch(rt, [(enrollment_id, position)], probe)[0]
