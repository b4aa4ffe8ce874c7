"""The enrollment state machine: enroll, advance, pause, resume, stop; every change is an event."""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .consequences import wired
from .failures import BAD_DELAY, BAD_SCHEDULE, Problem, explain
from .models import (
    Enrollment,
    EnrollmentStatus,
    Event,
    Lead,
    LeadState,
    Message,
    MessageStatus,
    Prospect,
    ProspectStatus,
    Sequence,
    Step,
)
from .schedule import (
    LONGEST_DELAY,
    DelayTooLong,
    NeverOpens,
    ScheduleError,
    apply_delay,
    country_holidays,
    jitter,
    next_opening,
    parse_duration,
    parse_window,
    zone,
)
from .schedule_words import duration_text

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
# The reason of an enrollment held while its lead waits for the rep's answer.
LEAD_AWAITING = "lead awaiting acceptance"
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
    # What follows it (the webhook outbox, a reply's lead status), in this same transaction:
    # wired from above by `sequences.aftermath`, which this state machine must not import.
    wired().of_event(session, event)
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
        extra=status_change_data(enrollment.sequence_id, previous, status, reason),
    )


def sequence_holidays(sequence: Sequence) -> Container[date]:
    """The holiday calendar a sequence's business days and send window skip (settings)."""
    settings = sequence.settings if isinstance(sequence.settings, Mapping) else {}
    return country_holidays(
        settings.get("holidays_country"), settings.get("holidays_subdivision") or None
    )


def sequence_jitter(sequence: Sequence) -> int:
    """The sequence's `jitter_seconds` (0 to 3600, as the API takes it); 0 for a stored value
    that is not a number, so a hand-edited row spreads nothing rather than crash a send."""
    settings = sequence.settings if isinstance(sequence.settings, Mapping) else {}
    value = settings.get("jitter_seconds", 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, min(int(value), 3600))


def reenroll_interval(sequence: Sequence) -> timedelta | None:
    """The sequence's `min_reenroll_interval`, None without one. A row stored before the
    ten-year bound with a longer one is read as LONGEST_DELAY; an unreadable one as none."""
    interval = (sequence.settings or {}).get("min_reenroll_interval")
    if not interval:
        return None
    try:
        return parse_duration(interval)
    except DelayTooLong:
        return LONGEST_DELAY
    except ScheduleError:
        return None


def delay_fault(step: Step) -> bool:
    """True when the step's stored delay itself is what the scheduler cannot use."""
    try:
        parse_duration(step.delay)
    except ScheduleError:
        return True
    return False


def bad_delay_problem(step: Step, detail: object = None) -> Problem:
    """The Needs-attention problem of a step whose stored delay the scheduler cannot use."""
    return explain(
        BAD_DELAY, step.position + 1, detail=detail or f"delay {step.delay!r} cannot be scheduled"
    )


# Business days that never come: every weekday is a holiday for a year (schedule.NeverOpens).
NO_WORKING_DAY = (
    "the sequence's holiday calendar leaves no working day in the coming year for a delay in "
    "business days",
    "open the sequence and choose another holiday calendar, or count the delay in calendar days",
)
# A window that parses but never opens: every day it allows is a holiday for a year.
NEVER_OPENS = (
    "the sequence's send window never opens in the coming year (every day it allows is a holiday)",
    "open the sequence and allow more days in its send window, or choose another holiday calendar",
)


def never_opens(exc: Exception) -> tuple[str, str]:
    """(what is wrong, the fix) for a schedule whose settings all read but leave no day open."""
    return NO_WORKING_DAY if isinstance(exc, NeverOpens) and exc.working_days else NEVER_OPENS


def _window_fault(window: object) -> tuple[str, str] | None:
    """(what is wrong, the fix) for a stored send window `parse_window` refuses."""
    if window is not None and not isinstance(window, Mapping):
        window = {"days": "?"}  # not even an object: unreadable
    try:
        parse_window(window)
    except ScheduleError:
        days = window.get("days") if isinstance(window, Mapping) else None
        if isinstance(days, list | tuple) and not days:
            return (
                "the sequence's send window has no day",
                "open the sequence and tick at least one day of its send window (or clear the "
                "window to send at any time)",
            )
        return (
            "the sequence's send window cannot be read",
            "open the sequence and set the send window again (its days, a start and an end "
            "time, e.g. mon to fri, 08:00 to 17:00)",
        )
    return None


def schedule_fault(sequence: Sequence) -> tuple[str, str] | None:
    """(what is wrong, the fix), in a rep's words, when a stored setting of the sequence that
    every due time reads cannot be used: an unknown holiday calendar or a send window that
    cannot be read (a row stored before these were checked, or edited by hand). None if fine."""
    settings = sequence.settings if isinstance(sequence.settings, Mapping) else {}
    try:
        sequence_holidays(sequence)
    except (ScheduleError, AttributeError, TypeError):
        country = str(settings.get("holidays_country"))[:20]
        subdivision = settings.get("holidays_subdivision")
        named = f"{country}-{str(subdivision)[:20]}" if subdivision else country
        return (
            f"the sequence's holiday calendar '{named}' is unknown",
            "open the sequence's settings and choose a country with a holiday calendar "
            "(e.g. DE or US), or none",
        )
    return _window_fault(sequence.send_window)


def schedule_problem(sequence: Sequence, step: Step, exc: Exception) -> Problem:
    """The Needs-attention problem for a ScheduleError raised while computing `step`'s due
    time: `bad_delay` when the step's own delay is unusable, else `bad_schedule` naming the
    sequence's setting and the fix. The exception itself goes to the log only."""
    if delay_fault(step):
        return bad_delay_problem(step, exc)
    number = step.position + 1
    what, fix = schedule_fault(sequence) or never_opens(exc)
    return explain(
        BAD_SCHEDULE,
        number,
        detail=exc,
        message=f"Step {number} was not scheduled: {what}",
        fix=f"{fix}; then retry schedules it, skip moves on",
    )


def fail_unscheduled(
    session: Session, enrollment: Enrollment, step: Step, now: datetime, problem: Problem
) -> None:
    """Stop an enrollment whose step cannot be scheduled (`schedule_problem`): failed at that
    step, with the problem as a Needs-attention item; the scheduler never picks it again."""
    enrollment.current_step = step.position
    enrollment.enqueued_at = None
    _set_status(session, enrollment, EnrollmentStatus.FAILED, now, problem.text)
    report_problem(session, enrollment, problem, now)


def report_problem(
    session: Session, enrollment: Enrollment, problem: Problem, now: datetime
) -> None:
    """Put a problem on the prospect's timeline (an "attention" event): the Needs-attention item."""
    record(
        session,
        "attention",
        now,
        prospect_id=enrollment.prospect_id,
        enrollment_id=enrollment.id,
        extra=problem.to_json(),
    )


def due_time(
    sequence: Sequence, step: Step, prospect: Prospect, after: datetime, jitter_seconds: int = 0
) -> datetime:
    """When `step` should run, counted from `after`, moved into the send window.

    The window is in the prospect's time zone, falling back to the sequence's. Jitter is added
    inside the window, so a batch enrolled together does not leave in the same second.
    ScheduleError for a stored delay, holiday calendar or send window the scheduler cannot use
    (an old or hand-edited row): callers refuse the enrollment or fail it with
    `schedule_problem` (bad_delay, bad_schedule), never crash on it.
    """
    tz = zone(prospect.timezone, sequence.timezone)
    holidays = sequence_holidays(sequence)
    when = apply_delay(
        after, step.delay, business_days=step.business_days, tz=tz, holidays=holidays
    )
    if step.type == "email":
        when = next_opening(when, sequence.send_window, tz, holidays)
        if jitter_seconds > 0:
            when = next_opening(jitter(when, jitter_seconds), sequence.send_window, tz, holidays)
    return when


def email_opening(sequence: Sequence, prospect: Prospect, when: datetime) -> datetime:
    """The first moment at or after `when` that the sequence's send window is open."""
    return next_opening(
        when,
        sequence.send_window,
        zone(prospect.timezone, sequence.timezone),
        sequence_holidays(sequence),
    )


def enroll(
    session: Session,
    prospect: Prospect,
    sequence: Sequence,
    now: datetime,
    *,
    force: bool = False,
    new_prospect: bool = False,
    restart_live: bool = True,
) -> Enrollment:
    """Put a prospect into a sequence; its first step comes due after the first delay.

    `new_prospect`: created in this transaction, so no other can have enrolled it or made it
    a lead yet, and none of that is read (a CSV import of thousands of new addresses).
    `restart_live=False`: force never ends a live enrollment in this sequence (the bulk paths).
    """
    if prospect.status in SUPPRESSED:
        raise EnrollmentRefused(f"prospect's address is {prospect.status}; it is never enrolled")
    if not sequence.steps:
        raise EnrollmentRefused("sequence has no steps")
    live = None
    if not new_prospect:
        live = session.scalars(
            select(Enrollment).where(
                Enrollment.prospect_id == prospect.id,
                Enrollment.sequence_id == sequence.id,
                Enrollment.status.in_(LIVE),
            )
        ).first()
    if live is not None and (not force or not restart_live):
        raise EnrollmentRefused(
            f"prospect is already {live.status} in this sequence (enrollment {live.id})"
        )
    interval = (sequence.settings or {}).get("min_reenroll_interval")
    length = reenroll_interval(sequence)
    if length is not None and not force and not new_prospect:
        since = now - length
        recent = session.scalar(
            select(Enrollment.created_at)
            .where(
                Enrollment.prospect_id == prospect.id,
                Enrollment.sequence_id == sequence.id,
                Enrollment.created_at > since,
            )
            .order_by(Enrollment.created_at.desc())
            .limit(1)
        )
        if recent is not None:
            raise EnrollmentRefused(
                f"prospect was enrolled in this sequence on {recent.date().isoformat()}; "
                f"the sequence allows re-enrolling only after {duration_text(str(interval))}"
            )
    first = sequence.steps[0]
    try:
        first_due = due_time(sequence, first, prospect, now, sequence_jitter(sequence))
    except ScheduleError as exc:
        if delay_fault(first):
            raise EnrollmentRefused(
                f"step {first.position + 1}'s delay {str(first.delay)[:60]!r} is longer than 10 "
                "years or unreadable; open the sequence, write a delay of at most 10 years "
                "(e.g. '3 days'), then enroll"
            ) from None
        what, fix = schedule_fault(sequence) or never_opens(exc)
        raise EnrollmentRefused(f"{what}; {fix}, then enroll") from None
    if live is not None:
        _set_status(session, live, EnrollmentStatus.UNENROLLED, now, "re-enrolled with force")
    enrollment = Enrollment(
        prospect_id=prospect.id,
        sequence_id=sequence.id,
        status=EnrollmentStatus.ACTIVE,
        current_step=first.position,
        next_due_at=first_due,
        created_at=now,
        updated_at=now,
    )
    # A lead its rep has not accepted yet starts nothing: held until accepted (sequences/leads).
    lead = None if new_prospect else session.get(Lead, prospect.id)
    if lead is not None and lead.state == LeadState.PENDING:
        enrollment.status = EnrollmentStatus.PAUSED
        enrollment.next_due_at = None
        enrollment.reason = LEAD_AWAITING
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


def advanced(
    status: str,
    current_step: int,
    sequence: Sequence,
    prospect: Prospect,
    done_position: int,
    now: datetime,
) -> dict[str, Any] | None:
    """The column values an enrollment in this state gets when the step at `done_position` is
    done (None: it already moved on). A "status" in them is a status change to record; a
    "problem" (a Problem) goes on the timeline as an "attention" event: the next step cannot be
    scheduled (its delay, the sequence's calendar or window), and the enrollment fails rather
    than crash the send path."""
    if current_step != done_position:
        return None  # already advanced (a redelivered message); nothing to do twice
    later = [s for s in sequence.steps if s.position > done_position]
    if not later:
        values: dict[str, Any] = {"current_step": done_position + 1}
        if status == EnrollmentStatus.ACTIVE:
            values.update(
                status=EnrollmentStatus.FINISHED,
                reason="all steps done",
                updated_at=now,
                next_due_at=None,
            )
        return values
    step = later[0]
    values = {"current_step": step.position, "enqueued_at": None, "updated_at": now}
    if status == EnrollmentStatus.ACTIVE:
        try:
            values["next_due_at"] = due_time(
                sequence,
                step,
                prospect,
                now,
                sequence_jitter(sequence),
            )
        except ScheduleError as exc:
            problem = schedule_problem(sequence, step, exc)
            values.update(
                status=EnrollmentStatus.FAILED,
                reason=problem.text,
                next_due_at=None,
                problem=problem,
            )
    return values


def status_change_data(
    sequence_id: int, before: str, after: str, reason: str | None
) -> dict[str, Any]:
    """What the "status_change" event of an enrollment holds."""
    return {"sequence_id": sequence_id, "from": before, "to": after, "reason": reason}


def advance(session: Session, enrollment: Enrollment, done_position: int, now: datetime) -> None:
    """The step at `done_position` is done: move to the next one, or finish."""
    values = advanced(
        enrollment.status,
        enrollment.current_step,
        enrollment.sequence,
        enrollment.prospect,
        done_position,
        now,
    )
    if values is None:
        return
    status = values.pop("status", None)
    reason = values.pop("reason", None)
    problem = values.pop("problem", None)
    for name, value in values.items():
        setattr(enrollment, name, value)
    if status is not None:
        _set_status(session, enrollment, status, now, reason)
    if problem is not None:
        report_problem(session, enrollment, problem, now)


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


def _due_again(session: Session, enrollment: Enrollment, now: datetime) -> None:
    """Make the current step due again (its send window's next opening), or finish if none is
    left; fail it with a `bad_schedule` item when the sequence's calendar or window is broken."""
    step = next(
        (s for s in enrollment.sequence.steps if s.position == enrollment.current_step), None
    )
    if step is None:
        _set_status(session, enrollment, EnrollmentStatus.FINISHED, now, "all steps done")
        return
    if step.type != "email":
        enrollment.next_due_at = now
        return
    try:
        enrollment.next_due_at = email_opening(enrollment.sequence, enrollment.prospect, now)
    except ScheduleError as exc:  # a broken calendar or window: failed, never a crashed tick
        fail_unscheduled(
            session, enrollment, step, now, schedule_problem(enrollment.sequence, step, exc)
        )


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
    _due_again(session, enrollment, now)


def unenroll(session: Session, enrollment: Enrollment, now: datetime) -> None:
    if enrollment.status not in LIVE:
        raise InvalidTransition(f"enrollment already ended ({enrollment.status})")
    _set_status(session, enrollment, EnrollmentStatus.UNENROLLED, now, "unenrolled")


def _needs_rep(enrollment: Enrollment) -> bool:
    """Stopped by a failure a rep can act on: failed, or a delivery nobody can vouch for."""
    return enrollment.status == EnrollmentStatus.FAILED or bool(enrollment.needs_review)


def retry_step(session: Session, enrollment: Enrollment, now: datetime) -> None:
    """Send the step that failed again, now (within the send window)."""
    if not _needs_rep(enrollment):
        raise InvalidTransition(
            f"only a failed enrollment can be retried (it is {enrollment.status})"
        )
    if enrollment.prospect.status in SUPPRESSED:
        raise InvalidTransition(f"prospect's address is {enrollment.prospect.status}")
    fault = schedule_fault(enrollment.sequence)
    if fault is not None:  # retrying would only fail again the same way
        raise InvalidTransition(
            f"step {enrollment.current_step + 1} still cannot be scheduled: {fault[0]}; {fault[1]}"
        )
    message = session.scalar(
        select(Message).where(
            Message.enrollment_id == enrollment.id,
            Message.step_position == enrollment.current_step,
        )
    )
    if message is not None and message.status in (MessageStatus.FAILED, MessageStatus.UNKNOWN):
        # Claimable again, as a released claim is (the next attempt replaces its links).
        message.status = MessageStatus.CLAIMED
        message.lease_until = None
        message.attempts = 1
    enrollment.needs_review = False
    _set_status(session, enrollment, EnrollmentStatus.ACTIVE, now, "retried")
    enrollment.enqueued_at = None
    _due_again(session, enrollment, now)


def skip_step(session: Session, enrollment: Enrollment, now: datetime) -> None:
    """Leave the step that failed (or waits) unsent and go on with the next one."""
    waiting = enrollment.status == EnrollmentStatus.ACTIVE and not enrollment.needs_review
    if not (_needs_rep(enrollment) or waiting):
        raise InvalidTransition(
            f"only a failed or waiting enrollment can skip a step (it is {enrollment.status})"
        )
    if enrollment.prospect.status in SUPPRESSED:
        raise InvalidTransition(f"prospect's address is {enrollment.prospect.status}")
    enrollment.needs_review = False
    if enrollment.status != EnrollmentStatus.ACTIVE:
        _set_status(session, enrollment, EnrollmentStatus.ACTIVE, now, "step skipped")
    else:
        enrollment.reason = "step skipped"
    enrollment.enqueued_at = None
    record(
        session,
        "step_skipped",
        now,
        prospect_id=enrollment.prospect_id,
        enrollment_id=enrollment.id,
        step=enrollment.current_step,
    )
    advance(session, enrollment, enrollment.current_step, now)


def mark_prospect(session: Session, prospect_id: int, status: str, now: datetime) -> None:
    """Set the prospect's own status (suppressions are per address, forever)."""
    session.execute(
        update(Prospect).where(Prospect.id == prospect_id).values(status=status, updated_at=now)
    )


# Addresses at these domains are people, not companies: a reply there pauses nobody else.
FREEMAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.ru",
        "yandex.ru",
    }
)


def company_domain(email: str) -> str | None:
    domain = email.rpartition("@")[2].lower()
    return None if not domain or domain in FREEMAIL else domain


def pause_company(session: Session, prospect: Prospect, now: datetime) -> list[int]:
    """A reply from `prospect`: pause colleagues' active enrollments in sequences that ask for it.

    Only sequences with the setting `pause_company_on_reply: true` are paused; colleagues are
    the team's prospects whose address has the same (non-freemail) domain. Returns their ids.
    """
    domain = company_domain(prospect.email)
    if domain is None:
        return []
    paused = []
    # Find candidates without locks, then lock only those that ask for it, in id order: two
    # replies from one company at once must queue, never deadlock on each other's rows.
    candidates = session.execute(
        select(Enrollment.id, Prospect.email, Sequence.settings)
        .join(Prospect, Prospect.id == Enrollment.prospect_id)
        .join(Sequence, Sequence.id == Enrollment.sequence_id)
        .where(
            Prospect.team_id == prospect.team_id,
            Prospect.id != prospect.id,
            Prospect.email.like(f"%@{domain}"),
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    ).all()
    ids = sorted(
        row.id
        for row in candidates
        if company_domain(row.email) == domain
        and (row.settings or {}).get("pause_company_on_reply")
    )
    if not ids:
        return []
    for enrollment in session.scalars(
        select(Enrollment).where(Enrollment.id.in_(ids)).order_by(Enrollment.id).with_for_update()
    ):
        if enrollment.status != EnrollmentStatus.ACTIVE:
            continue  # changed since we looked (replied, paused): leave it as it is
        pause(
            session, enrollment, now, reason=f"a colleague at {domain} replied ({prospect.email})"
        )
        paused.append(enrollment.id)
    return paused


@dataclass
class EnrollResult:
    """One prospect's outcome in a bulk enrollment."""

    prospect_id: int
    enrollment: Enrollment | None
    reason: str | None = None


def enroll_many(
    session: Session,
    prospects: list[Prospect],
    sequence: Sequence,
    now: datetime,
    *,
    force: bool = False,
) -> list[EnrollResult]:
    """Enroll each prospect; a refusal is reported for that prospect and does not stop the rest."""
    results = []
    for prospect in prospects:
        try:
            with session.begin_nested():
                enrollment = enroll(session, prospect, sequence, now, force=force)
        except EnrollmentRefused as exc:
            results.append(EnrollResult(prospect.id, None, str(exc)))
        else:
            results.append(EnrollResult(prospect.id, enrollment))
    return results
