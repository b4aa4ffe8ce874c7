"""Stored inbound mail read again by today's verdict rules: what would change, and applying it.

`plan` re-reads the kept raw bytes of recent inbound mail and lists the messages whose verdict
the current rules read differently; `apply` records each change as a `verdict_changed` timeline
event and takes the safe half of its consequence: a person wrongly suppressed as an unsubscribe
is released (with a task to confirm when the evidence is weak), a reply taken as an auto-reply
stops its paused sequence, a temporary failure now read as permanent suppresses. A change that
would start mailing someone again (a reply now read as an auto-reply, a hard bounce now read as
soft) is recorded and left for the rep: nothing resumes on its own. So is an auto-reply now read
as a machine notice (a read receipt, a list server's or a challenge filter's notice): the pause
it set stays, the change is on the timeline, and the rep resumes the sequence if they want to.

Mail stored unprocessable (unreadable then) or unmatched is read again too, but only for what it
now says about an address: a hard bounce or a complaint, matched to a prospect as `ingest`
would (the VERP token, the returned or reported Message-ID, the addresses the report names),
suppresses that prospect. Nothing else is done from old mail that was never acted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..enrollment import mark_prospect, record, stop_prospect
from ..models import EnrollmentStatus, InboundMessage, Prospect, ProspectStatus, Task
from .act import verify_task
from .classify import Parsed
from .evidence import challenge_link, challenge_service
from .ingest import read
from .match import match_bounce, match_complaint, token_messages
from .verdicts import BOUNCE_HARD, BOUNCE_SOFT, CHALLENGE, CONFIRM_UNSUBSCRIBE, Verdict, decide

RECHECKED = ("reply", "auto_reply", "machine_notice", "bounce", "soft_bounce", "unsubscribe")
STORED = {BOUNCE_HARD: "bounce", BOUNCE_SOFT: "soft_bounce", CONFIRM_UNSUBSCRIBE: "reply"}
RAW_LIMIT = 64 * 1024 * 1024
NEVER_ACTED = ("unprocessable", "unmatched")


@dataclass
class Change:
    """One stored message whose verdict today's rules read differently."""

    inbound_id: int
    prospect_id: int
    received_at: datetime
    old: str
    new: str
    label: str  # the new verdict's label (unsubscribe-needs-confirmation is stored as reply)
    reason: str
    notice: str | None = None  # a machine notice's kind (read_receipt, list_notice, challenge)
    verify: tuple[str, str | None] | None = None  # a challenge's service and verify link

    def describe(self) -> str:
        return f"#{self.inbound_id} {self.received_at:%Y-%m-%d}: {self.old} -> {self.new} ({self.reason})"


def plan(session: Session, since: datetime, keys: tuple[str, ...] = ()) -> list[Change]:
    """Every stored inbound message since `since` whose verdict would change.

    `keys`: the tracking secrets, to read our per-message bounce addresses in old unmatched mail.
    """
    rows = session.scalars(
        select(InboundMessage)
        .where(
            InboundMessage.received_at >= since,
            InboundMessage.verdict.in_(RECHECKED),
            InboundMessage.prospect_id.is_not(None),
            InboundMessage.raw.is_not(None),
        )
        .order_by(InboundMessage.id)
    )
    changes: list[Change] = []
    for row in rows:
        if row.verdict == "unsubscribe" and "mailto" in (row.reason or ""):
            continue  # the List-Unsubscribe address, not words: nothing to re-read
        _, parsed, _ = read(bytes(row.raw or b""), RAW_LIMIT)
        if parsed is None or row.prospect_id is None:
            continue
        to_verp = "bounce+" in (row.recipients or "")
        verdict = decide(parsed, to_verp=to_verp)
        new = STORED.get(verdict.label, verdict.label)
        if new == row.verdict:
            continue
        changes.append(
            Change(
                row.id,
                row.prospect_id,
                row.received_at,
                row.verdict,
                new,
                verdict.label,
                verdict.reason,
                verdict.notice,
                (challenge_service(parsed), challenge_link(parsed))
                if verdict.notice == CHALLENGE
                else None,
            )
        )
    return changes + _now_suppressing(session, since, keys)


def _suppressed_by(
    session: Session, row: InboundMessage, parsed: Parsed, verdict: Verdict, keys: tuple[str, ...]
) -> int | None:
    """The prospect a now-readable hard bounce or complaint names, as `ingest` matches it."""
    addresses = [*(row.recipients or "").split(", "), *parsed.addresses]
    tokens = token_messages(session, keys, [a for a in addresses if a]) if keys else {}
    if verdict.complaint is not None:
        _, hit = match_complaint(session, verdict.complaint, tokens, row.team_id)
    elif verdict.bounce is not None and verdict.bounce.permanent:
        _, hit = match_bounce(session, parsed, verdict.bounce, tokens, row.team_id)
    else:
        return None
    return hit[0].id if hit else None


def _now_suppressing(session: Session, since: datetime, keys: tuple[str, ...]) -> list[Change]:
    """Mail never acted on (unreadable or unmatched then) that is now a hard bounce or complaint."""
    rows = session.scalars(
        select(InboundMessage)
        .where(
            InboundMessage.received_at >= since,
            InboundMessage.verdict.in_(NEVER_ACTED),
            InboundMessage.raw.is_not(None),
        )
        .order_by(InboundMessage.id)
    )
    changes: list[Change] = []
    for row in rows:
        _, parsed, _ = read(bytes(row.raw or b""), RAW_LIMIT)
        if parsed is None:
            continue
        verdict = decide(parsed, to_verp="bounce+" in (row.recipients or ""))
        prospect_id = _suppressed_by(session, row, parsed, verdict, keys)
        if prospect_id is None:
            continue
        new = STORED.get(verdict.label, verdict.label)
        changes.append(
            Change(
                row.id,
                prospect_id,
                row.received_at,
                row.verdict,
                new,
                verdict.label,
                verdict.reason,
            )
        )
    return changes


def apply(session: Session, changes: list[Change], now: datetime) -> list[str]:
    """Record each change on the timeline and take its safe consequence; what was done, per change."""
    done: list[str] = []
    for change in changes:
        row = session.get(InboundMessage, change.inbound_id, with_for_update=True)
        prospect = session.get(Prospect, change.prospect_id)
        if row is None or prospect is None or row.verdict != change.old:
            continue  # changed meanwhile: the next recheck sees it afresh
        effect = _consequence(session, row, prospect, change, now)
        row.prospect_id = row.prospect_id or prospect.id
        row.verdict = change.new
        row.reason = f"rechecked {now:%Y-%m-%d}: {change.reason}"[:2000]
        record(
            session,
            "verdict_changed",
            now,
            prospect_id=prospect.id,
            inbound_id=row.id,
            reason=change.reason,
            effect=effect,
            extra={"from": change.old, "to": change.new},
        )
        done.append(f"{change.describe()}: {effect}")
    return done


def _consequence(
    session: Session, row: InboundMessage, prospect: Prospect, change: Change, now: datetime
) -> str:
    old, new = change.old, change.new
    if old == "unsubscribe" and new in ("reply", "auto_reply"):
        if prospect.status == ProspectStatus.UNSUBSCRIBED:
            mark_prospect(session, prospect.id, ProspectStatus.REPLIED, now)
        if change.label == CONFIRM_UNSUBSCRIBE:
            session.add(
                Task(
                    prospect_id=prospect.id,
                    owner_id=prospect.owner_id,
                    type="task",
                    title=f"Confirm the unsubscribe of {prospect.email}: their reply may ask to stop",
                    notes=change.reason[:2000],
                    due_at=now,
                    status="open",
                )
            )
            return "released from suppression; a task asks the owner to confirm the unsubscribe"
        return "released from suppression (the sequences it stopped stay stopped)"
    if old in ("auto_reply", "machine_notice") and new == "reply":
        stopped = stop_prospect(
            session, prospect.id, EnrollmentStatus.REPLIED, now, "replied (rechecked)"
        )
        if prospect.status == ProspectStatus.ACTIVE:
            mark_prospect(session, prospect.id, ProspectStatus.REPLIED, now)
        return f"stopped {len(stopped)} enrollment(s) as replied"
    if new == "unsubscribe":
        mark_prospect(session, prospect.id, ProspectStatus.UNSUBSCRIBED, now)
        stop_prospect(
            session, prospect.id, EnrollmentStatus.UNSUBSCRIBED, now, "unsubscribed (rechecked)"
        )
        return "suppressed"
    if old in NEVER_ACTED and new == "bounce":
        mark_prospect(session, prospect.id, ProspectStatus.BOUNCED, now)
        stop_prospect(session, prospect.id, EnrollmentStatus.BOUNCED, now, "bounced (rechecked)")
        return "suppressed as bounced (the report was not read before)"
    if old == "soft_bounce" and new == "bounce":
        mark_prospect(session, prospect.id, ProspectStatus.BOUNCED, now)
        stop_prospect(session, prospect.id, EnrollmentStatus.BOUNCED, now, "bounced (rechecked)")
        return "suppressed as bounced"
    if new == "machine_notice":
        what = (change.notice or "machine notice").replace("_", " ")
        if change.verify is not None and old == "auto_reply":
            # Paused as an auto-reply already; what was missing is the rep's task to verify.
            service, link = change.verify
            session.add(verify_task(prospect, prospect.owner_id, service, link, change.reason, now))
            return (
                "recorded: a challenge-response, not an auto-reply; the pause stays and a task "
                f"asks the owner to verify with {service}"
            )
        if old == "auto_reply":
            return (
                f"recorded only: a {what}, not an auto-reply; the pause it set stays "
                "(resume the sequence if it should go on)"
            )
        return f"recorded only: a {what}; nothing resumes on its own, the rep decides"
    return "recorded only: nothing resumes on its own, the rep decides"
