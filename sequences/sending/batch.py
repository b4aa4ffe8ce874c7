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

This module runs a batch; the rules that decide each step are in `claim`, and the writes
around each SMTP transaction (the "sending" mark, the records) in `send_records`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.orm import Session

from ..failures import BAD_VALUE, RENDER_FIELD, RENDER_TEMPLATE, explain
from ..logs import bound
from ..models import (
    Enrollment,
    Link,
    Mailbox,
    Message,
    MessageStatus,
    User,
)
from ..rendering import RenderError
from ..runtime import Runtime
from ..smtp import OutcomeUnknown, PermanentFailure, TemporaryFailure
from . import records as records
from .bulk import insert_rows
from .claim import (
    Claimed,
    DeliveryProbe,
    NewMessage,
    claim_step,
    fail_enrollment,
    locked_enrollments,
    sending_mailbox_id,
    step_variant,
    who,
)
from .compose import TrackingUrls, compose
from .mime import OutgoingEmail, build
from .records import MESSAGES, Job

log = logging.getLogger(__name__)


LINKS = cast(Table, Link.__table__)


# While a batch is still sending after this long, the "sent" records so far are written first.
SENT_FLUSH_SECONDS = 0.25


class RetryLater(Exception):
    """A temporary failure: the actor raises it so Dramatiq retries with backoff."""


class _Cancelled(Exception):
    """The enrollment stopped (reply, conversion...) between the claim and DATA."""


def urls_for(rt: Runtime) -> TrackingUrls:
    s = rt.settings
    return TrackingUrls(s.base_url, s.secret_keys, s.mail_domain)


def _sender(
    session: Session, rt: Runtime, enrollment: Enrollment
) -> tuple[Mailbox | None, dict[str, str]]:
    sequence = enrollment.sequence
    mailbox_id = sending_mailbox_id(session, enrollment)
    mailbox = session.get(Mailbox, mailbox_id) if mailbox_id else None
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


def _prepare(
    session: Session,
    rt: Runtime,
    urls: TrackingUrls,
    enrollment: Enrollment,
    claimed: Claimed,
    earlier: Message | None,
    now: datetime,
) -> tuple[Job, list[tuple[int, str, bool]]]:
    """Render and serialise one claimed email and store its subject and threading; return the
    job and its links (stored by the caller once the message has its id).

    Raises RenderError or ValueError when the step cannot be rendered for this prospect.
    """
    message, step = claimed
    prospect = enrollment.prospect
    mailbox, sender = _sender(session, rt, enrollment)
    _, subject_t, html_t, text_t = step_variant(step, enrollment.id)
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
    job = Job(
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


# The columns a new message is inserted with (the id comes back; sent_at is set when it is).
_NEW_MESSAGE_COLUMNS = tuple(
    column.key for column in MESSAGES.columns if column.key not in ("id", "sent_at")
)


def _insert_new(session: Session, messages: list[NewMessage]) -> None:
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
) -> tuple[list[tuple[int, Job]], list[object]]:
    """One transaction: lock, claim, render and store every step's email.

    Returns (index, job) pairs, and the objects loaded, for the caller to keep referenced until
    the batch is recorded (the session's identity map holds them only weakly).
    """
    urls = urls_for(rt)
    with session.begin():
        records.not_durable(session)
        enrollments, sequences = locked_enrollments(session, (e for e, _ in steps))
        existing = {
            (m.enrollment_id, m.step_position): m
            for m in session.scalars(
                select(Message).where(Message.enrollment_id.in_(sorted(enrollments)))
            )
        }
        prepared: list[tuple[int, Message | NewMessage, Job, list[tuple[int, str, bool]]]] = []
        new: list[NewMessage] = []
        for index, (enrollment_id, position) in enumerate(steps):
            enrollment = enrollments.get(enrollment_id)
            claimed = claim_step(
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
            if isinstance(claimed.message, NewMessage):
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
                missing = exc.missing if isinstance(exc, RenderError) else None
                kind = RENDER_FIELD if missing else RENDER_TEMPLATE
                problem = explain(
                    kind if isinstance(exc, RenderError) else BAD_VALUE,
                    step.position + 1,
                    detail=exc,
                    who=who(enrollment),
                    field=missing,
                )
                claimed.message.status = MessageStatus.FAILED
                claimed.message.lease_until = None
                claimed.message.error = f"cannot render: {exc} (error {problem.error_id})"
                fail_enrollment(session, enrollment, problem, now)
                outcomes[index] = f"failed: {problem.kind} ({problem.error_id})"
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
    jobs: list[tuple[int, Job]],
    outcomes: list[str],
) -> None:
    """SMTP for each prepared job, its "sending" mark right before DATA; then the records."""
    lease = timedelta(seconds=rt.settings.send_lease_seconds)
    sent: list[tuple[Job, datetime]] = []
    first_unrecorded = 0.0
    retry: list[str] = []
    marked: list[Job] = []  # the job past its "sending" mark, if any

    def write_sent() -> None:
        if sent:
            with session.begin():
                records.record_sent(session, sent)
            sent.clear()

    def mark(job: Job) -> None:
        # The point of no return is the next command: the check and the mark commit together,
        # durably, under the enrollment's lock.
        changed = records.mark_sending(
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
            records.release(conn, job, MessageStatus.CANCELLED, "enrollment stopped before sending")
            outcomes[index] = "cancelled: enrollment stopped"
        except TemporaryFailure as exc:
            records.release(conn, job, MessageStatus.CLAIMED, str(exc))
            outcomes[index] = f"retry: {exc}"
            retry.append(str(exc))
            if exc.connection:  # the server is unreachable: the rest waits for the retry too
                for later_index, later in jobs[done + 1 :]:
                    records.release(conn, later, MessageStatus.CLAIMED, str(exc))
                    outcomes[later_index] = f"retry: {exc}"
                break
        except PermanentFailure as exc:
            records.fail(rt, conn, job, exc.code, exc.reply, exc.recipient_bad)
            outcomes[index] = f"failed: SMTP {exc.code}"
        except OutcomeUnknown as exc:
            records.unknown(conn, job, str(exc), rt.clock.now())
            outcomes[index] = "unknown: flagged for review"
        except BaseException:
            # Give back the claims that never reached DATA (a job past its "sending" mark stays
            # there: the probe or a review decides it) and record what was sent.
            try:
                for _, later in jobs[done + (1 if marked else 0) :]:
                    records.release(conn, later, MessageStatus.CLAIMED, "worker error before DATA")
                write_sent()
            except Exception:  # the database may be what failed; leases and the probe decide
                log.exception("could not release or record the rest of a send batch")
            raise
        else:
            if not sent:
                first_unrecorded = time.monotonic()
            sent.append((job, rt.clock.now()))
            outcomes[index] = "sent"
            if time.monotonic() - first_unrecorded >= SENT_FLUSH_SECONDS:
                write_sent()
    write_sent()
    for index, job in jobs:  # one line per email, with its ids (the address is masked)
        with bound(
            enrollment_id=job.enrollment_id, message_id=job.message_pk, prospect_id=job.prospect_id
        ):
            log.info("send: step %s to %s: %s", job.position, job.to_email, outcomes[index])
    if retry:
        raise RetryLater("; ".join(retry))


def run_step(
    rt: Runtime, enrollment_id: int, position: int, probe: DeliveryProbe | None = None
) -> str:
    """Do the step at `position` of an enrollment if it is still due. Idempotent; returns what happened."""
    return run_batch(rt, [(enrollment_id, position)], probe)[0]
