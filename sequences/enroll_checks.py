"""Enrollment checked up front: every step rendered for the prospect, and the prospect's state."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .enrollment import (
    LIVE,
    SUPPRESSED,
    EnrollmentRefused,
    enroll,
    reenroll_interval,
    schedule_fault,
)
from .models import Enrollment, Event, Prospect, Sequence, Step, Team
from .rendering import PROSPECT_NAMES, RenderError, prospect_context, render
from .schedule import (
    LONGEST_DELAY,
    DelayTooLong,
    ScheduleError,
    is_valid_timezone,
    parse_duration,
)
from .schedule_words import duration_text

# The outcomes of a check, and the HTTP status each one answers with.
WOULD_ENROLL = "would_enroll"  # nothing stands in the way
NEEDS_FORCE = "needs_force"  # 409: recently in touch; enrolled only when the request insists
REFUSED = "refused"  # 422: cannot be enrolled at all (cannot render, suppressed), no override
# After the fact: what the check of an accepted enrollment says (201, as the answer is).
ENROLLED = "enrolled"  # nothing stood in the way
FORCED = "forced"  # a needs_force reason stood in the way, and the request overrode it
HTTP_STATUS = {WOULD_ENROLL: 200, NEEDS_FORCE: 409, REFUSED: 422, ENROLLED: 201, FORCED: 201}

DEFAULT_RECONTACT_DAYS = 30
# Placeholder values a trial render gives the sender; the real ones exist at send time.
_SENDER = {"name": "Sam Sender", "first_name": "Sam", "email": "sam@example.com", "signature": ""}
_PART_WORDS = {
    "subject": "subject",
    "body_html": "body",
    "body_text": "plain-text body",
    "delay": "delay",
}
# What a sensible fallback reads like, for the fix we suggest.
_FALLBACKS = {"first_name": "there", "company": "your team", "last_name": "", "phone": ""}
# Events after which a new sequence would talk over a live conversation.
_RECENT_TOUCHES = {
    "reply": "replied",
    "conversion": "converted",
    "meeting_booked": "booked a meeting",
}
# The needs-force reasons that are a recent touch (not a live or recent enrollment).
RECENT_TOUCH_CODES = frozenset(_RECENT_TOUCHES)


@dataclass(frozen=True)
class StepProblem:
    """One step that cannot be rendered for this prospect, with the fix."""

    step: int  # numbered as a rep counts them, from 1
    part: str  # subject | body_html | body_text
    field: str | None  # the missing name ("company", "fields.need"), when that is the cause
    message: str
    fix: str

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "part": self.part,
            "field": self.field,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Reason:
    """Why a prospect is refused or needs force: a code, the words, and when it happened."""

    code: str
    message: str
    at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "at": self.at.isoformat() if self.at else None,
        }


@dataclass
class Verdict:
    """What enrolling this prospect in this sequence would do, and why."""

    prospect_id: int
    email: str
    outcome: str
    reasons: list[Reason] = field(default_factory=list)
    problems: list[StepProblem] = field(default_factory=list)
    name: str = ""  # how a forced answer names the prospect ("Zoë replied on ...")
    # A bulk path (checked_enroll(restart_live=False)) found a live enrollment in this very
    # sequence: nothing happens to it, force or not.
    left_as_is: bool = False

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.outcome]

    @property
    def why(self) -> str:
        """What stands in the way and the fix, without naming the prospect (a CSV row does)."""
        if self.problems:
            return "cannot be enrolled: " + "; ".join(
                f"step {p.step} ({_PART_WORDS.get(p.part, p.part)}): {p.message}; {p.fix}"
                for p in self.problems
            )
        if self.reasons:
            text = "; ".join(r.message for r in self.reasons)
            if self.outcome == NEEDS_FORCE and not self.left_as_is:
                return f"{text}. Enroll anyway with force if you mean it."
            if self.outcome == FORCED:
                # Past tense: what was overridden, so the answer cannot be read as a refusal.
                done = "; ".join(_overridden(r, self.name or "the prospect") for r in self.reasons)
                return f"enrolled although {done}; you forced it"
            return text
        if self.outcome == ENROLLED:
            return "enrolled"
        return "can be enrolled"

    @property
    def message(self) -> str:
        """One paragraph a rep can act on: who, what, and the fix."""
        return f"{self.email} {self.why}" if self.problems else f"{self.email}: {self.why}"

    def to_json(self) -> dict[str, Any]:
        return {
            "prospect_id": self.prospect_id,
            "email": self.email,
            "outcome": self.outcome,
            "status": self.status,
            "message": self.message,
            "reasons": [r.to_json() for r in self.reasons],
            "problems": [p.to_json() for p in self.problems],
        }


def _overridden(reason: Reason, name: str) -> str:
    """A needs_force reason as it reads once force overrode it."""
    if reason.code in _RECENT_TOUCHES:
        return f"{name} {reason.message}"  # "Zoë replied on 2026-12-07, within ..."
    if reason.code == "already_enrolled":
        # enrollment.enroll ends the live one: the prospect starts again at step 1.
        return (
            f"{name} was {reason.message}; that enrollment was ended and the sequence "
            "restarted from step 1"
        )
    return f"{name} was {reason.message}"


def _day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")


def _since(at: datetime | None) -> str:
    return f" since {_day(at)}" if at is not None else ""


def _fix(name: str | None, step: int, part: str) -> str:
    where = f"step {step}'s {_PART_WORDS.get(part, part)}"
    if name is None:
        return f"open {where} in the editor and correct the template"
    if name.startswith("fields."):
        key = name.partition(".")[2]
        fallback = f"your {key.replace('_', ' ')}"
        return (
            f"add the field `{key}` to the prospect (a CSV column `{key}`), "
            f"or write `{{{{ {name} | default('{fallback}') }}}}` in {where}"
        )
    if name in PROSPECT_NAMES:
        fallback = _FALLBACKS.get(name, f"your {name.replace('_', ' ')}")
        return (
            f"add `{name}` to the prospect, "
            f"or write `{{{{ {name} | default('{fallback}') }}}}` in {where}"
        )
    return f"`{name}` is not something a prospect has; correct {where} in the editor"


def fix_words(name: str | None, step: int, part: str) -> str:
    """The fix for a field `name` that step `step`'s `part` lacks (the editor's preview too)."""
    return _fix(name, step, part)


def _with_placeholder(context: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The context with `name` filled in, to find the next missing field (None: cannot)."""
    filled = dict(context)
    holder, _, key = name.partition(".")
    if key:
        inner = filled.get(holder)
        if not isinstance(inner, Mapping) or key in inner:
            return None
        filled[holder] = {**inner, key: f"[{key}]"}
    else:
        if name in filled:
            return None
        filled[name] = f"[{name}]"
    return filled


def _render_part(number: int, part: str, source: str, context: dict[str, Any]) -> list[StepProblem]:
    """Every missing field of one template (filled in one by one), or its one other error."""
    problems: list[StepProblem] = []
    for _ in range(20):  # a template naming more missing fields than this is reported in part
        try:
            render(source, context, html=part == "body_html")
        except RenderError as exc:
            name = exc.missing
            if name is not None:
                label = name.partition(".")[2] if name.startswith("fields.") else name
                message = f"the prospect has no `{label}`"
            else:
                message = str(exc)
            problems.append(StepProblem(number, part, name, message, _fix(name, number, part)))
            filled = _with_placeholder(context, name) if name is not None else None
            if filled is None:
                return problems
            context = filled
        else:
            return problems
    return problems


def _templates(step: Step) -> list[tuple[str, str]]:
    """(part, source) of every template this step may send, its A/B variants included."""
    parts: list[tuple[str, str]] = []
    versions: list[Mapping[str, Any]] = [
        {"subject": step.subject, "body_html": step.body_html, "body_text": step.body_text}
    ]
    versions += [v for v in (step.options or {}).get("variants") or [] if isinstance(v, Mapping)]
    for version in versions:
        for part in ("subject", "body_html", "body_text"):
            if part == "subject" and step.thread_with is not None:
                continue  # a threaded step's subject is "Re: " and the earlier one's
            source = version.get(part)
            if isinstance(source, str) and source and (part, source) not in parts:
                parts.append((part, source))
    return parts


def render_problems(
    sequence: Sequence, prospect: Prospect, sender: Mapping[str, Any] | None = None
) -> list[StepProblem]:
    """Render every email step of the sequence for the prospect (nothing is sent)."""
    base = prospect_context(prospect, sender or _SENDER, "https://followup.invalid/u/check")
    problems: list[StepProblem] = []
    for number, step in enumerate(sequence.steps, start=1):
        if step.type != "email":
            continue
        seen: set[tuple[str, str | None]] = set()
        for part, source in _templates(step):
            for problem in _render_part(number, part, source, base):
                if (problem.part, problem.field or problem.message) not in seen:
                    seen.add((problem.part, problem.field or problem.message))
                    problems.append(problem)
    return problems


def _last_event(session: Session, prospect_id: int, types: list[str]) -> Event | None:
    return session.scalars(
        select(Event)
        .where(Event.prospect_id == prospect_id, Event.type.in_(types))
        .order_by(Event.at.desc(), Event.id.desc())
        .limit(1)
    ).first()


def recontact_days(session: Session, team_id: int) -> int:
    """The team's re-contact interval in days, at most LONGEST_DELAY's (a huge stored value
    would put `now - timedelta(days=...)` before year 1)."""
    team = session.get(Team, team_id)
    days = team.recontact_days if team is not None else DEFAULT_RECONTACT_DAYS
    return max(0, min(days, LONGEST_DELAY.days))


def delay_problems(sequence: Sequence) -> list[StepProblem]:
    """Steps whose stored delay the scheduler cannot use (a row saved before the ten-year
    bound, or written to the database by hand), each with the fix."""
    problems = []
    for number, step in enumerate(sequence.steps, start=1):
        try:
            parse_duration(step.delay)
        except ScheduleError as exc:
            why = "is longer than 10 years" if isinstance(exc, DelayTooLong) else "cannot be read"
            problems.append(
                StepProblem(
                    number,
                    "delay",
                    None,
                    f"its delay {str(step.delay)[:60]!r} {why}",
                    f"open the sequence and give step {number} a delay of at most 10 years "
                    "(e.g. '3 days' or 'P3D'), then enroll again",
                )
            )
    return problems


def schedule_reasons(sequence: Sequence, prospect: Prospect) -> list[str]:
    """What in the stored schedule would keep a step from being scheduled or timed right
    (an unknown holiday calendar or time zone, a send window with no day, unreadable or never
    open, an unreadable re-enroll interval: rows stored before these were checked, or edited
    by hand), each with the fix. Empty when the scheduler can use it all."""
    reasons = []
    fault = schedule_fault(sequence)
    if fault is not None:
        reasons.append(f"{fault[0]}; {fault[1]}")
    zone = sequence.timezone
    if zone and not (isinstance(zone, str) and is_valid_timezone(zone)):
        reasons.append(
            f"the sequence's time zone '{str(zone)[:64]}' is unknown; open the sequence and "
            "choose its time zone again (e.g. Europe/Berlin or America/New_York)"
        )
    if prospect.timezone and not is_valid_timezone(prospect.timezone):
        reasons.append(
            f"the prospect's time zone '{prospect.timezone[:64]}' is unknown; edit the prospect "
            "and give a time zone like Europe/Berlin, or none to use the sequence's"
        )
    settings = sequence.settings if isinstance(sequence.settings, Mapping) else {}
    interval = settings.get("min_reenroll_interval")
    if interval and reenroll_interval(sequence) is None:
        reasons.append(
            f"the sequence's re-enroll interval '{str(interval)[:60]}' cannot be read; open the "
            "sequence's settings and write it like '30 days' or 'P30D'"
        )
    # A window whose every day is a holiday for a year reads fine here: `enroll` itself
    # refuses it with the same words (it computes the due time anyway; a check per prospect of
    # a 10,000-row import need not compute it twice).
    return reasons


def _state_refusal(session: Session, prospect: Prospect) -> Reason | None:
    if prospect.status not in SUPPRESSED:
        return None
    event = _last_event(
        session, prospect.id, ["unsubscribe" if prospect.status == "unsubscribed" else "bounce"]
    )
    at = event.at if event is not None else prospect.updated_at
    what = "unsubscribed" if prospect.status == "unsubscribed" else "bounced"
    return Reason(
        what,
        f"the address {what} on {_day(at)}; it is never mailed by a sequence again",
        at,
    )


@dataclass
class History:
    """What the checks read about one prospect besides the prospect itself.

    Loaded by one prospect (`_history`) or for a whole file at once (`load_histories`, a CSV
    import); `new` marks a prospect created in this very transaction, which no other
    transaction can have enrolled yet, so nothing about it is read (enrollment.enroll too).
    """

    recontact_days: int
    touch: tuple[str, datetime] | None = None  # the latest reply, conversion or meeting
    live: list[tuple[Enrollment, str]] = field(default_factory=list)  # with the sequence name
    recently_enrolled: datetime | None = None  # in this sequence, within its re-enroll interval
    new: bool = False


def _touch_types() -> list[str]:
    return list(_RECENT_TOUCHES)


def _history(session: Session, prospect: Prospect, sequence: Sequence, now: datetime) -> History:
    history = History(recontact_days(session, prospect.team_id))
    event = _last_event(session, prospect.id, _touch_types())
    if event is not None:
        history.touch = (event.type, event.at)
    history.live = [
        (enrollment, name)
        for enrollment, name in session.execute(
            select(Enrollment, Sequence.name)
            .join(Sequence, Sequence.id == Enrollment.sequence_id)
            .where(Enrollment.prospect_id == prospect.id, Enrollment.status.in_(LIVE))
            .order_by(Enrollment.id)
        ).all()
    ]
    interval = reenroll_interval(sequence)
    if interval is not None:
        history.recently_enrolled = session.scalar(
            select(Enrollment.created_at)
            .where(
                Enrollment.prospect_id == prospect.id,
                Enrollment.sequence_id == sequence.id,
                Enrollment.status.notin_(LIVE),
                Enrollment.created_at > now - interval,
            )
            .order_by(Enrollment.created_at.desc())
            .limit(1)
        )
    return history


# Ids per IN (...) list: SQLite allows 32,766 bound parameters, PostgreSQL 65,535.
_CHUNK = 1000


def load_histories(
    session: Session, prospect_ids: list[int], sequence: Sequence, now: datetime
) -> dict[int, History]:
    """The History of many prospects of the sequence's team in a few queries per 1,000."""
    days = recontact_days(session, sequence.team_id)
    out = {pid: History(days) for pid in prospect_ids}
    interval = reenroll_interval(sequence)
    for start in range(0, len(prospect_ids), _CHUNK):
        chunk = prospect_ids[start : start + _CHUNK]
        latest: dict[int, tuple[datetime, int, str]] = {}
        # Only touches within the interval can matter: the latest of those is the latest one
        # that matters, as _history's ORDER BY at DESC, id DESC LIMIT 1 finds it.
        for pid, type_, at, event_id in session.execute(
            select(Event.prospect_id, Event.type, Event.at, Event.id).where(
                Event.prospect_id.in_(chunk),
                Event.type.in_(_touch_types()),
                Event.at > now - timedelta(days=days),
            )
        ):
            if pid is not None and (pid not in latest or (at, event_id) > latest[pid][:2]):
                latest[pid] = (at, event_id, type_)
        for pid, (at, _, type_) in latest.items():
            out[pid].touch = (type_, at)
        for enrollment, name in session.execute(
            select(Enrollment, Sequence.name)
            .join(Sequence, Sequence.id == Enrollment.sequence_id)
            .where(Enrollment.prospect_id.in_(chunk), Enrollment.status.in_(LIVE))
            .order_by(Enrollment.id)
        ):
            out[enrollment.prospect_id].live.append((enrollment, name))
        if interval is not None:
            for pid, at in session.execute(
                select(Enrollment.prospect_id, func.max(Enrollment.created_at))
                .where(
                    Enrollment.prospect_id.in_(chunk),
                    Enrollment.sequence_id == sequence.id,
                    Enrollment.status.notin_(LIVE),
                    Enrollment.created_at > now - interval,
                )
                .group_by(Enrollment.prospect_id)
            ):
                out[pid].recently_enrolled = at
    return out


def _recent(history: History, sequence: Sequence, now: datetime) -> list[Reason]:
    reasons: list[Reason] = []
    days = history.recontact_days
    if history.touch is not None and history.touch[1] > now - timedelta(days=days):
        type_, at = history.touch
        reasons.append(
            Reason(
                type_,
                f"{_RECENT_TOUCHES[type_]} on {_day(at)}, within the team's "
                f"re-contact interval of {days} days",
                at,
            )
        )
    for enrollment, name in history.live:
        if enrollment.sequence_id == sequence.id:
            reasons.append(
                Reason(
                    "already_enrolled",
                    f"already {enrollment.status} in this sequence (enrollment "
                    f"{enrollment.id}){_since(enrollment.created_at)}",
                    enrollment.created_at,
                )
            )
        else:
            reasons.append(
                Reason(
                    "active_elsewhere",
                    f'{enrollment.status} in the sequence "{name}" since '
                    f"{_day(enrollment.created_at)}",
                    enrollment.created_at,
                )
            )
    interval = (sequence.settings or {}).get("min_reenroll_interval")
    recent = history.recently_enrolled
    if interval and recent is not None:
        reasons.append(
            Reason(
                "recently_enrolled",
                f"enrolled in this sequence on {_day(recent)}; the sequence allows "
                f"re-enrolling only after {duration_text(interval)}",
                recent,
            )
        )
    return reasons


def check_enrollment(
    session: Session,
    prospect: Prospect,
    sequence: Sequence,
    now: datetime,
    *,
    sender: Mapping[str, Any] | None = None,
    history: History | None = None,
) -> Verdict:
    """What enrolling would do: refused (422), needs force (409) or would enroll. Pure: it
    renders and reads, and changes nothing. `history`: already loaded (load_histories)."""
    verdict = Verdict(
        prospect.id, prospect.email, WOULD_ENROLL, name=(prospect.first_name or "").strip()
    )
    suppressed = _state_refusal(session, prospect)
    if suppressed is not None:
        verdict.outcome, verdict.reasons = REFUSED, [suppressed]
        return verdict
    if not sequence.steps:
        verdict.outcome = REFUSED
        verdict.reasons = [Reason("empty_sequence", "the sequence has no steps yet; add one")]
        return verdict
    verdict.problems = delay_problems(sequence)
    if verdict.problems:
        verdict.outcome = REFUSED
        verdict.reasons = [
            Reason(
                "bad_delay",
                "; ".join(f"step {p.step}: {p.message}; {p.fix}" for p in verdict.problems),
            )
        ]
        return verdict
    broken = schedule_reasons(sequence, prospect)
    if broken:
        verdict.outcome = REFUSED
        verdict.reasons = [Reason("bad_schedule", reason) for reason in broken]
        return verdict
    verdict.problems = render_problems(sequence, prospect, sender)
    if verdict.problems:
        verdict.outcome = REFUSED
        verdict.reasons = [Reason("cannot_render", "a step cannot be written for this prospect")]
        return verdict
    if history is None:
        history = _history(session, prospect, sequence, now)
    verdict.reasons = _recent(history, sequence, now)
    if verdict.reasons:
        verdict.outcome = NEEDS_FORCE
    return verdict


def _leave_live(verdict: Verdict) -> bool:
    """True when the verdict names a live enrollment in this sequence; it then says only that
    (whatever else stood in the way, force would change nothing: the enrollment stays)."""
    live = [r for r in verdict.reasons if r.code == "already_enrolled"]
    if verdict.outcome != NEEDS_FORCE or not live:
        return False
    verdict.reasons = [
        # "already active in this sequence (enrollment 7) since 2026-12-01" (_recent)
        Reason(r.code, f"{r.message.removesuffix(_since(r.at))}, left as is", r.at)
        for r in live
    ]
    verdict.left_as_is = True
    return True


@dataclass
class Attempt:
    """The verdict, and the enrollment when one was made (None on refusal or dry run)."""

    verdict: Verdict
    enrollment: Enrollment | None = None
    forced: bool = False

    @property
    def enrolled(self) -> bool:
        return self.enrollment is not None


def checked_enroll(
    session: Session,
    prospect: Prospect,
    sequence: Sequence,
    now: datetime,
    *,
    force: bool = False,
    dry_run: bool = False,
    sender: Mapping[str, Any] | None = None,
    history: History | None = None,
    restart_live: bool = True,
    force_past: Collection[str] | None = None,
) -> Attempt:
    """Check, then enroll unless refused, unforced, or a dry run. Every entry point (API, CSV,
    web form, bulk) enrolls through here, so they refuse the same prospects for the same reasons.

    `restart_live=False` (the bulk paths: a CSV file, the import page, a list): a live
    enrollment in this sequence is left as is even with force, so a re-import with --force
    to push past "replied recently" for a few rows restarts (and re-sends step 1 to) nobody.
    `force_past`: the needs-force reason codes `force` overrides (None: every one); a reason
    outside it holds the enrollment back as if unforced (a status rule goes past a recent
    reply, never past a live enrollment: sequences/leads/triggers.py)."""
    verdict = check_enrollment(session, prospect, sequence, now, sender=sender, history=history)
    if not restart_live and _leave_live(verdict):
        return Attempt(verdict)
    if force and force_past is not None and any(r.code not in force_past for r in verdict.reasons):
        force = False
    if verdict.outcome == REFUSED or (verdict.outcome == NEEDS_FORCE and not force) or dry_run:
        return Attempt(verdict)
    if force_past is not None and not {"already_enrolled", "recently_enrolled"} <= set(force_past):
        # enroll()'s own force restarts a live enrollment and skips the re-enroll interval: not
        # when those may not be overridden, so a race cannot do what the check would refuse.
        force = False
    try:
        if history is not None and history.new:
            # Created in this transaction: enroll() could refuse it only before changing
            # anything (suppressed, no steps), so there is nothing a savepoint would undo.
            enrollment = enroll(session, prospect, sequence, now, force=force, new_prospect=True)
        else:
            with session.begin_nested():
                # restart_live also for a live enrollment made since the check (a race).
                enrollment = enroll(
                    session, prospect, sequence, now, force=force, restart_live=restart_live
                )
    except EnrollmentRefused as exc:  # the state machine's own last word (a race)
        verdict.outcome = REFUSED
        verdict.reasons = [Reason("refused", str(exc))]
        return Attempt(verdict)
    forced = verdict.outcome == NEEDS_FORCE
    verdict.outcome = FORCED if forced else ENROLLED  # the check now says what happened
    return Attempt(verdict, enrollment, forced=forced)
