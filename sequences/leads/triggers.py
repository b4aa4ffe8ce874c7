"""Status triggers: a team's rules "when a prospect enters status S, do X", fired once per entry.

Once per entry: every change into S (a `prospect.status_changed` event) queues one firing per
active rule for S, and `rule_firings` is unique on (rule, event). A prospect that flips
interested -> qualified -> interested within seconds entered "interested" twice and fires its
rules twice; a change to the status it already has is no change and fires nothing. A firing
whose prospect has left S by the time it runs is skipped (the entry is over), so a quick
mistaken click undone before the scheduler's next tick sends nothing.

A firing is claimed pending -> running by compare-and-set with a lease (`due_at`), and its
action and `done` are written in one transaction that again compares the claim (`attempts`):
two schedulers never both act, and one that dies between claim and done leaves a claim that
the next tick takes over once the lease has passed. Actions write rows only (an enrollment, a
task, a status), so "done" commits with what was done; a triggered email is a one-step
enrollment in the rule's hidden sequence, sent by the sequences' own claim and send path with
its limits, suppression, tracking and threading rules (`checked_enroll` refuses a bounced or
unsubscribed address, or a template the prospect cannot fill).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..db import session_scope
from ..enroll_checks import NEEDS_FORCE, RECENT_TOUCH_CODES, checked_enroll
from ..enrollment import LIVE, record
from ..errors import NotFound, ValidationError
from ..models import (
    Enrollment,
    Event,
    Mailbox,
    Prospect,
    RuleFiring,
    Sequence,
    StatusRule,
    Step,
    Task,
)
from ..rendering import KNOWN_NAMES, PROSPECT_NAMES, RenderError, prospect_context, render
from .firings import DONE, PENDING, RUNNING
from .statuses import change_status, known_status

ACTIONS = ("send_email", "enroll", "task", "set_status")
LEASE = timedelta(minutes=5)
MAX_TEMPLATE = 100_000
_PLACEHOLDER = {n: f"[{n}]" for n in PROSPECT_NAMES}
_SENDER = {"name": "Sam Sender", "first_name": "Sam", "email": "sam@example.com", "signature": ""}


def _changed(result: object) -> int:
    """The rows an UPDATE matched (the compare-and-set's answer)."""
    return cast(CursorResult[Any], result).rowcount


def _text(data: dict[str, Any], key: str, *, required: bool, limit: int = MAX_TEMPLATE) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise ValidationError(f"{key}: text (up to {limit} characters)", field=key)
    return value


def _check_template(part: str, source: str) -> None:
    """Refuse a template naming something no prospect has (a `fields.x` may be per prospect)."""
    prospect = Prospect(fields={}, **_PLACEHOLDER)
    context = prospect_context(prospect, _SENDER, "https://followup.invalid/u/check")
    for _ in range(20):
        try:
            render(source, context, html=part == "body_html")
            return
        except RenderError as exc:
            name = exc.missing
            if name is None:
                raise ValidationError(f"{part}: {exc}", field=part) from None
            holder, _, key = name.partition(".")
            if holder == "fields" and key:
                context = {**context, "fields": {**context["fields"], key: f"[{key}]"}}
                continue
            if holder in KNOWN_NAMES or name in PROSPECT_NAMES:
                context = {**context, name: f"[{name}]"}
                continue
            raise ValidationError(
                f"{part}: `{name}` is not something a prospect has; use one of "
                + ", ".join(PROSPECT_NAMES)
                + ", or fields.<name> for a prospect's own field",
                field=part,
            ) from None


def _loops(session: Session, team_id: int, start: str, target: str, skip: int | None) -> bool:
    """Would a rule "entering start sets target" close a loop through the team's set_status
    rules (target ... -> start)?"""
    edges: dict[str, set[str]] = {}
    rows = session.execute(
        select(StatusRule.id, StatusRule.status, StatusRule.set_status).where(
            StatusRule.team_id == team_id, StatusRule.action == "set_status"
        )
    ).all()
    for rule_id, status, set_to in rows:
        if rule_id != skip and set_to:
            edges.setdefault(status, set()).add(set_to)
    seen, todo = set(), [target]
    while todo:
        node = todo.pop()
        if node == start:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(edges.get(node, ()))
    return False


def _sequence_for(session: Session, team_id: int, value: object) -> Sequence:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(
            "sequence_id: the id of one of the team's sequences", field="sequence_id"
        )
    sequence = session.get(Sequence, value)
    if sequence is None or sequence.team_id != team_id or sequence.hidden:
        raise ValidationError(f"sequence_id: the team has no sequence {value}", field="sequence_id")
    return sequence


def _mailbox_for(session: Session, team_id: int, value: object) -> int | None:
    """A send_email rule's mailbox: one of the team's, or None for the prospect owner's."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(
            "mailbox_id: the id of one of the team's mailboxes, or null for the prospect "
            "owner's mailbox",
            field="mailbox_id",
        )
    mailbox = session.get(Mailbox, value) if 0 < value < 2**31 else None
    if mailbox is None or mailbox.team_id != team_id:
        raise ValidationError(
            f"mailbox_id: the team has no mailbox {value}; use one of the team's mailboxes, "
            "or null for the prospect owner's",
            field="mailbox_id",
        )
    return mailbox.id


def save_rule(
    session: Session,
    team_id: int,
    data: object,
    now: datetime,
    *,
    by_user_id: int | None,
    rule: StatusRule | None = None,
) -> StatusRule:
    """Create (or replace) a rule; bad input, a template naming an unknown field, or a loop of
    set_status rules is a 422 naming the field, and nothing is written."""
    if not isinstance(data, dict):
        raise ValidationError("a JSON object with status and action", field=None)
    status = known_status(session, team_id, data.get("status"), "status")
    action = data.get("action")
    if action not in ACTIONS:
        raise ValidationError("action: one of " + ", ".join(ACTIONS), field="action")
    active = data.get("active", True)
    if not isinstance(active, bool):
        raise ValidationError("active: true or false", field="active")
    sequence: Sequence | None = None
    set_to: str | None = None
    title: str | None = None
    template: dict[str, str] = {}
    mailbox_id: int | None = None
    if action != "send_email" and data.get("mailbox_id") is not None:
        raise ValidationError(
            "mailbox_id: only a send_email rule sends from a mailbox", field="mailbox_id"
        )
    if action == "send_email":
        mailbox_id = _mailbox_for(session, team_id, data.get("mailbox_id"))
        template = {
            "subject": _text(data, "subject", required=True, limit=998),
            "body_html": _text(data, "body_html", required=True),
            "body_text": _text(data, "body_text", required=False),
        }
        for part, source in template.items():
            if source:
                _check_template(part, source)
    elif action == "enroll":
        sequence = _sequence_for(session, team_id, data.get("sequence_id"))
    elif action == "task":
        title = _text(data, "title", required=True, limit=500)
    else:
        set_to = known_status(session, team_id, data.get("set_status"), "set_status")
        if set_to == status or _loops(
            session, team_id, status, set_to, rule.id if rule is not None else None
        ):
            raise ValidationError(
                f'set_status: a loop: entering "{set_to}" leads back to "{status}" through the '
                "team's set_status rules; change one of them",
                field="set_status",
            )
    if rule is None:
        rule = StatusRule(team_id=team_id, created_by=by_user_id, created_at=now)
        session.add(rule)
    rule.status, rule.action, rule.active = status, action, active
    rule.set_status, rule.title = set_to, title
    if action == "send_email":
        hidden = _hidden_sequence(session, team_id, rule, template, by_user_id, now)
        hidden.mailbox_id = mailbox_id  # None: the prospect owner's (sending/claim.py)
        rule.sequence_id = hidden.id
    else:
        rule.sequence_id = sequence.id if sequence is not None else None
    session.flush()
    return rule


def _hidden_sequence(
    session: Session,
    team_id: int,
    rule: StatusRule,
    template: dict[str, str],
    owner_id: int | None,
    now: datetime,
) -> Sequence:
    """The rule's one-step sequence: the email it sends, through the sequences' send path."""
    sequence = session.get(Sequence, rule.sequence_id) if rule.sequence_id else None
    if sequence is None or not sequence.hidden:
        sequence = Sequence(
            team_id=team_id,
            owner_id=owner_id,
            name=f'Status trigger: "{rule.status}"',
            timezone="UTC",
            settings={"status_trigger": True},
            hidden=True,
            created_at=now,
        )
        session.add(sequence)
    sequence.name = f'Status trigger: "{rule.status}"'
    if sequence.steps:
        step = sequence.steps[0]
    else:
        step = Step(position=1, type="email", delay="PT0S")
        sequence.steps.append(step)
    step.subject = template["subject"]
    step.body_html = template["body_html"]
    step.body_text = template["body_text"] or None
    session.flush()
    return sequence


def rule_json(session: Session, rule: StatusRule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rule.id,
        "status": rule.status,
        "action": rule.action,
        "active": rule.active,
        "created_at": rule.created_at.isoformat(),
    }
    if rule.action == "send_email":
        sequence = session.get(Sequence, rule.sequence_id) if rule.sequence_id else None
        step = sequence.steps[0] if sequence is not None and sequence.steps else None
        out["subject"] = step.subject if step else None
        out["body_html"] = step.body_html if step else None
        out["body_text"] = step.body_text if step else None
        out["mailbox_id"] = sequence.mailbox_id if sequence is not None else None
    elif rule.action == "enroll":
        out["sequence_id"] = rule.sequence_id
    elif rule.action == "task":
        out["title"] = rule.title
    else:
        out["set_status"] = rule.set_status
    return out


def team_rules(session: Session, team_id: int) -> list[StatusRule]:
    return list(
        session.scalars(
            select(StatusRule).where(StatusRule.team_id == team_id).order_by(StatusRule.id)
        )
    )


def get_rule(session: Session, team_id: int, rule_id: int) -> StatusRule:
    rule = session.get(StatusRule, rule_id)
    if rule is None or rule.team_id != team_id:
        raise NotFound(f"the team has no status rule {rule_id}")
    return rule


@dataclass(frozen=True)
class TriggerEmail:
    """A status rule's hidden one-step sequence, as the pages and the API explain it: its email
    is the rule's (edited on the rule) and the rule enrolls prospects itself, so the sequence
    is read-only and never enrolled by hand."""

    sequence_id: int
    rule_id: int | None  # None: the rule was removed (the sequence stays for its history)
    status: str

    def words(self) -> str:
        if self.rule_id is None:
            return (
                f'sequence {self.sequence_id} sent the email of a status rule for "{self.status}" '
                "that has since been removed; it is kept for its history and cannot be edited "
                "or enrolled"
            )
        return (
            f"sequence {self.sequence_id} sends the email of status rule {self.rule_id} (when a "
            f'prospect enters "{self.status}"); edit the email on the rule '
            f"(PUT /api/v1/leads/status-rules/{self.rule_id}), which enrolls prospects itself"
        )


def trigger_email(session: Session, sequence: Sequence) -> TriggerEmail | None:
    """The status rule behind a hidden sequence; None for a sequence people build and enroll."""
    if not sequence.hidden:
        return None
    rule = session.scalars(
        select(StatusRule)
        .where(StatusRule.sequence_id == sequence.id, StatusRule.action == "send_email")
        .order_by(StatusRule.id)
        .limit(1)
    ).first()
    if rule is not None:
        return TriggerEmail(sequence.id, rule.id, rule.status)
    # The rule is gone: its status is still in the name _hidden_sequence gave the sequence.
    status = sequence.name.partition('"')[2].rpartition('"')[0] or sequence.name
    return TriggerEmail(sequence.id, None, status)


def delete_rule(session: Session, rule: StatusRule) -> None:
    """Remove a rule and its firings (a hidden sequence stays for its enrollments' history)."""
    session.execute(delete(RuleFiring).where(RuleFiring.rule_id == rule.id))
    session.delete(rule)
    session.flush()


def due_firings(session: Session, now: datetime, *, limit: int = 200) -> list[int]:
    """Firings to claim: pending ones, and running ones whose worker's lease ran out."""
    return list(
        session.scalars(
            select(RuleFiring.id)
            .where(RuleFiring.state.in_((PENDING, RUNNING)), RuleFiring.due_at <= now)
            .order_by(RuleFiring.due_at, RuleFiring.id)
            .limit(limit)
        )
    )


def claim(session: Session, firing_id: int, now: datetime, lease: timedelta = LEASE) -> int | None:
    """Take a firing (pending, or abandoned past its lease): the claim's number, or None if
    another worker has it. Commit right after, so the claim outlives a crash."""
    row = session.execute(
        select(RuleFiring.state, RuleFiring.attempts, RuleFiring.due_at).where(
            RuleFiring.id == firing_id
        )
    ).first()
    if row is None or row.state == DONE or row.due_at > now:
        return None
    taken = _changed(
        session.execute(
            update(RuleFiring)
            .where(
                RuleFiring.id == firing_id,
                RuleFiring.attempts == row.attempts,
                RuleFiring.state != DONE,
            )
            .values(state=RUNNING, attempts=row.attempts + 1, due_at=now + lease)
            .execution_options(synchronize_session=False)
        )
    )
    return row.attempts + 1 if taken == 1 else None


def _latest_change(session: Session, prospect_id: int) -> int | None:
    """The prospect's last status change: a firing runs only for the entry still current."""
    return session.scalar(
        select(func.max(Event.id)).where(
            Event.prospect_id == prospect_id, Event.type == "prospect.status_changed"
        )
    )


def run_firing(session: Session, firing_id: int, attempt: int, now: datetime) -> str | None:
    """Act and mark done in one transaction, only while the claim `attempt` is still ours.
    Returns what was done, or None when the claim was lost (the caller rolls back)."""
    firing = session.get(RuleFiring, firing_id)
    if firing is None:
        return None
    rule = session.get(StatusRule, firing.rule_id)
    prospect = session.get(Prospect, firing.prospect_id)
    event = session.get(Event, firing.event_id)
    if rule is None or prospect is None or event is None:
        result = "skipped: the rule or the prospect is gone"
    elif not rule.active:
        result = "skipped: the rule was turned off"
    elif prospect.lead_status != rule.status or _latest_change(session, prospect.id) != event.id:
        result = f'skipped: the prospect left "{rule.status}" before the rule ran'
    else:
        result = _act(session, rule, prospect, now)
    done = _changed(
        session.execute(
            update(RuleFiring)
            .where(
                RuleFiring.id == firing_id,
                RuleFiring.attempts == attempt,
                RuleFiring.state == RUNNING,
            )
            .values(state=DONE, result=result, done_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    return result if done == 1 else None


def _act(session: Session, rule: StatusRule, prospect: Prospect, now: datetime) -> str:
    if rule.action in ("send_email", "enroll"):
        sequence = session.get(Sequence, rule.sequence_id) if rule.sequence_id else None
        if sequence is None:
            return "skipped: the sequence is gone"
        return _enroll(session, rule, prospect, sequence, now)
    if rule.action == "task":
        task = Task(
            prospect_id=prospect.id,
            owner_id=prospect.owner_id,
            type="task",
            title=rule.title or "",
            notes=f'The prospect entered "{rule.status}".',
            due_at=now,
        )
        session.add(task)
        session.flush()
        return f"task {task.id}"
    change_status(
        session, prospect, rule.set_status, now, by_user_id=None, source=f"rule {rule.id}"
    )
    return f'status set to "{rule.set_status}"'


def _past(session: Session, rule: StatusRule, prospect: Prospect, sequence: Sequence) -> set[str]:
    """The needs-force reasons a rule's enrollment goes past (enroll_checks.checked_enroll).

    A status change is a deliberate reason to write: past a recent reply, conversion or
    meeting. Never past a live enrollment in the same sequence (it would restart from step 1)
    or the sequence's own re-enroll interval. An `enroll` rule does not start a sequence on top
    of another live one; a status rule's one email (a hidden sequence) does not count as one.
    A `send_email` rule's one message goes out beside a live sequence: the status asked for it
    (the brochure for an interested lead), it starts no cadence, and held back it would never
    go (a firing runs once per entry).
    """
    past = set(RECENT_TOUCH_CODES)
    if rule.action == "send_email":
        return past | {"active_elsewhere"}
    running = session.scalar(
        select(func.count())
        .select_from(Enrollment)
        .join(Sequence, Sequence.id == Enrollment.sequence_id)
        .where(
            Enrollment.prospect_id == prospect.id,
            Enrollment.status.in_(LIVE),
            Enrollment.sequence_id != sequence.id,
            Sequence.hidden.is_(False),
        )
    )
    return past if running else past | {"active_elsewhere"}


def _enroll(
    session: Session, rule: StatusRule, prospect: Prospect, sequence: Sequence, now: datetime
) -> str:
    """A send_email or enroll rule's enrollment, and what the rep is told when there is none."""
    past = _past(session, rule, prospect, sequence)
    attempt = checked_enroll(session, prospect, sequence, now, force=True, force_past=past)
    verdict = attempt.verdict
    if attempt.enrollment is not None:
        beside = [r.message for r in verdict.reasons if r.code == "active_elsewhere"]
        if beside:
            return (
                f"enrolled: enrollment {attempt.enrollment.id}, one email beside the live "
                f"enrollment: {'; '.join(beside)}"
            )
        return f"enrolled: enrollment {attempt.enrollment.id}"
    held = [r for r in verdict.reasons if r.code not in past]
    if verdict.outcome != NEEDS_FORCE or not held:  # suppressed, cannot render, a race
        _note(session, rule, prospect, now, f"refused: {verdict.why}")
        return f"refused: {verdict.why}"
    same = [r for r in held if r.code == "already_enrolled"]
    if same:  # left as it is: restarting it would send step 1 again
        _note(session, rule, prospect, now, f"{same[0].message}; left as it is, not restarted")
        return "skipped: already in this sequence"
    why = "; ".join(r.message for r in held)
    if any(r.code == "active_elsewhere" for r in held):
        why += (
            "; a status rule does not start a second sequence on top of a live one "
            "(stop that one first, then enroll by hand)"
        )
    else:
        why += "; a status rule keeps to it"
    _note(session, rule, prospect, now, f"refused: {why}")
    return f"refused: {why}"


def _note(session: Session, rule: StatusRule, prospect: Prospect, now: datetime, why: str) -> None:
    """A refused trigger shows on the timeline, so the rep knows the email did not go."""
    record(
        session,
        "status_rule_refused",
        now,
        prospect_id=prospect.id,
        extra={"rule_id": rule.id, "status": rule.status, "why": why[:500]},
    )


class _LostClaim(Exception):
    """Another worker took the firing over (our lease ran out): roll back what we did."""


def fire_due(sessions: sessionmaker[Session], now: datetime, *, limit: int = 200) -> int:
    """The scheduler's pass: claim each due firing (committed), then act and mark it done."""
    with session_scope(sessions) as session:
        ids = due_firings(session, now, limit=limit)
    fired = 0
    for firing_id in ids:
        with session_scope(sessions) as session:
            attempt = claim(session, firing_id, now)
        if attempt is None:
            continue
        try:
            with session_scope(sessions) as session:
                if run_firing(session, firing_id, attempt, now) is None:
                    raise _LostClaim
        except _LostClaim:
            continue
        fired += 1
    return fired
