"""The writes around each email's SMTP: its "sending" mark before DATA, then what happened."""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, or_, select, text, update
from sqlalchemy.orm import Session

from ..consequences import wired
from ..db import session_scope
from ..enrollment import (
    SUPPRESSED,
    advance,
    advanced,
    mark_prospect,
    record,
    report_problem,
    status_change_data,
    stop_prospect,
)
from ..failures import BAD_ADDRESS, REFUSED, UNKNOWN, explain
from ..models import (
    Enrollment,
    EnrollmentStatus,
    Event,
    Mailbox,
    Message,
    MessageStatus,
    Prospect,
    ProspectStatus,
    Sequence,
    User,
)
from ..runtime import Runtime
from .bulk import insert_rows, update_rows
from .claim import fail_enrollment, who
from .limits import check_bounce_rate
from .mime import OutgoingEmail, build, new_message_id

log = logging.getLogger(__name__)


MESSAGES = cast(Table, Message.__table__)


EVENTS = cast(Table, Event.__table__)


ENROLLMENTS = cast(Table, Enrollment.__table__)


@dataclass
class Job:
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


def not_durable(session: Session) -> None:
    """Let this transaction's commit skip the WAL flush (PostgreSQL).

    Only for the claim and the "sent" record: losing either to a database crash is harmless
    (a lost claim is claimed again; a lost "sent" leaves the message "sending", which the probe
    or a review decides). Each "sending" mark before DATA stays fully durable, and its flush
    carries every earlier commit with it.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


class MarkSending:
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
        if conn.dialect.driver != "psycopg":  # another driver: the same, through SQLAlchemy
            conn.execution_options(isolation_level="AUTOCOMMIT")
            try:
                with conn.begin():  # SQLAlchemy's bookkeeping only: nothing is sent for it
                    return int(conn.execute(_MARK_SENDING, params).rowcount)
            finally:
                conn.execution_options(isolation_level=conn.default_isolation_level)
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
            with raw.cursor() as cursor:
                cursor.execute(sql, driver_params)
                return int(cursor.rowcount)
        except BaseException:
            if raw.broken or raw.closed:
                conn.invalidate()  # let SQLAlchemy know this connection is gone
            raise
        finally:
            if not (raw.broken or raw.closed):
                raw.autocommit = False


mark_sending = MarkSending()


@contextmanager
def transaction(rt: Runtime, conn: Connection) -> Iterator[Session]:
    """An ORM unit of work on the batch's connection: commit on success, roll back on error."""
    with rt.sessions(bind=conn) as session, session.begin():
        yield session


def messages_sent(session: Session, sent: list[tuple[Job, datetime]]) -> None:
    """Each message "sent" at its own time, in one statement."""
    update_rows(
        session.connection(),
        MESSAGES,
        "id",
        [{"id": job.message_pk, "sent_at": at} for job, at in sent],
        {"status": MessageStatus.SENT, "lease_until": None},
    )


def record_sent(session: Session, sent: list[tuple[Job, datetime]]) -> None:
    """The "sent" records of a group of delivered emails, and what follows them (a first email
    moves a `new` lead to `contacted`: wired by `sequences.aftermath`)."""
    _record_sent(session, sent)
    wired().of_sends(session, [(job.prospect_id, at) for job, at in sent])


def _record_sent(session: Session, sent: list[tuple[Job, datetime]]) -> None:
    """The "sent" records of a group of delivered emails, with each enrollment advanced.

    `session` is the batch's: its identity map still holds the prospects and sequences the
    claim loaded, so only the enrollments are read again (locked, fresh). Without a webhook
    that wants "sent" events (whose outbox rows hang on the ORM events), the events and the
    enrollments' new state are written with one statement each rather than object by object:
    the same rows `record()` and `advance()` write.
    """
    not_durable(session)
    ids = sorted({job.enrollment_id for job, _ in sent})
    if wired().wants_each(session, "sent"):
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
        messages_sent(session, sent)
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
    messages_sent(session, sent)
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
        problem = values.pop("problem", None)
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
        if problem is not None:  # the next step's stored delay cannot be scheduled (bad_delay)
            events.append(
                {
                    "type": "attention",
                    "at": at,
                    "prospect_id": enrollment["prospect_id"],
                    "enrollment_id": job.enrollment_id,
                    "message_id": None,
                    "data": problem.to_json(),
                }
            )
    conn = session.connection()
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for values in changes.values():  # finished and advanced enrollments change other columns
        shapes.setdefault(tuple(values), []).append(values)
    for rows in shapes.values():
        update_rows(conn, ENROLLMENTS, "id", rows)
    insert_rows(conn, EVENTS, events)


def release(conn: Connection, job: Job, status: str, error: str | None) -> None:
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


def fail(rt: Runtime, conn: Connection, job: Job, code: int, reply: str, bounced: bool) -> None:
    """The server refused the message for good (5xx); 5.1.x (`bounced`) suppresses the address."""
    now = rt.clock.now()
    paused_mailbox: int | None = None
    with transaction(rt, conn) as session:
        enrollment = session.get(Enrollment, job.enrollment_id, with_for_update=True)
        problem = explain(
            BAD_ADDRESS if bounced else REFUSED,
            job.position + 1,
            detail=f"SMTP {code} {reply}",
            who=who(enrollment) if enrollment else job.to_email,
            code=code,
        )
        reason = problem.text
        session.execute(
            update(Message)
            .where(Message.id == job.message_pk, Message.attempts == job.attempt)
            .values(
                status=MessageStatus.FAILED,
                lease_until=None,
                error=f"SMTP {code} {reply} (error {problem.error_id})",
            )
        )
        if enrollment is None:
            return
        if not bounced:
            fail_enrollment(session, enrollment, problem, now)
            return
        report_problem(session, enrollment, problem, now)
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


def unknown(conn: Connection, job: Job, error: str, at: datetime) -> None:
    """Cut off during DATA: the message may have been delivered; a rep decides (never resent)."""
    problem = explain(UNKNOWN, job.position + 1, detail=error, who=job.to_email)
    error = f"delivery unknown (error {problem.error_id})"
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
                reason=problem.text,
            )
        )
        conn.execute(
            insert(EVENTS).values(
                type="attention",
                at=at,
                prospect_id=job.prospect_id,
                enrollment_id=job.enrollment_id,
                message_id=job.message_pk,
                data=problem.to_json(),
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
