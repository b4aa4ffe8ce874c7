"""Act on a verdict: stop, pause, suppress or ask the rep, and record what was done.

The last step of `ingest` (parse -> match -> classify by evidence -> record -> act). Each
verdict has one method on `Act`; each returns the `Outcome` stored on the inbound row and
answered to the source. Everything runs in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..config import Settings
from ..enrollment import LIVE, mark_prospect, pause, record, stop_prospect
from ..models import (
    Enrollment,
    EnrollmentStatus,
    Event,
    InboundMessage,
    Message,
    MessageStatus,
    Prospect,
    ProspectStatus,
    Sequence,
    Task,
)
from ..sending import check_bounce_rate
from ..tracking import infer_open
from .classify import Bounce, Parsed, return_date
from .evidence import challenge_link, challenge_service
from .match import Match, match_bounce
from .verdicts import CHALLENGE, CONFIRM_UNSUBSCRIBE, READ_RECEIPT, Verdict

TEXT_LIMIT = 20000  # characters of a reply kept on the timeline
# A soft-bounced step is sent again this much later (RFC 5321 suggests 30 minutes or more).
RETRY_AFTER = timedelta(hours=1)


@dataclass
class Outcome:
    """What was decided; the webhook answers it as JSON."""

    verdict: str
    reason: str
    prospect_id: int | None = None
    enrollment_ids: list[int] = field(default_factory=list)
    inbound_id: int | None = None
    duplicate: bool = False
    # A prospect whose colleagues may be paused: done after the commit (see `after_commit`).
    pause_colleagues_of: int | None = field(default=None, repr=False)

    def json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "prospect_id": self.prospect_id,
            "enrollment_ids": self.enrollment_ids,
            "inbound_id": self.inbound_id,
            "duplicate": self.duplicate,
        }


def stored_outcome(row: InboundMessage, duplicate: bool) -> Outcome:
    """The outcome a stored row recorded (a duplicate answers the first one)."""
    return Outcome(
        verdict=row.verdict,
        reason=row.reason,
        prospect_id=row.prospect_id,
        enrollment_ids=[int(i) for i in row.enrollment_ids or []],
        inbound_id=row.id,
        duplicate=duplicate,
    )


def _owner_id(session: Session, prospect: Prospect, message: Message | None) -> int | None:
    if prospect.owner_id is not None:
        return prospect.owner_id
    if message is not None and message.enrollment_id is not None:
        enrollment = session.get(Enrollment, message.enrollment_id)
        if enrollment is not None:
            return session.scalar(
                select(Sequence.owner_id).where(Sequence.id == enrollment.sequence_id)
            )
    return None


def _live_enrollments(
    session: Session, prospect_id: int, only: int | None = None
) -> list[Enrollment]:
    query = select(Enrollment).where(
        Enrollment.prospect_id == prospect_id, Enrollment.status.in_(LIVE)
    )
    if only is not None:
        query = query.where(Enrollment.id == only)
    return list(session.scalars(query.order_by(Enrollment.id).with_for_update()))


def verify_task(
    prospect: Prospect,
    owner: int | None,
    service: str,
    link: str | None,
    reason: str,
    now: datetime,
) -> Task:
    """The rep's task for a challenge-response: verify with the service, by its link if any."""
    notes = f"Open the link to verify: {link}" if link else "No verify link in the notice."
    return Task(
        prospect_id=prospect.id,
        owner_id=owner,
        type="task",
        title=f"Verify your address with {service} so {prospect.email} gets your mail"[:500],
        notes=f"{notes}\n{reason}"[:2000],
        due_at=now,
        status="open",
    )


class Act:
    """One message's actions, a method per verdict; each returns the Outcome to store."""

    def __init__(self, session: Session, settings: Settings, now: datetime, row: InboundMessage):
        self.session = session
        self.settings = settings
        self.now = now
        self.row = row

    def reply(self, parsed: Parsed, match: Match, verdict: Verdict | None = None) -> Outcome:
        prospect = match.prospect
        assert prospect is not None
        message = match.message
        stopped = stop_prospect(
            self.session,
            prospect.id,
            EnrollmentStatus.REPLIED,
            self.now,
            "colleague replied" if match.colleague else "replied",
        )
        if prospect.status == ProspectStatus.ACTIVE:
            mark_prospect(self.session, prospect.id, ProspectStatus.REPLIED, self.now)
        text = parsed.new_text[:TEXT_LIMIT]
        event = record(
            self.session,
            "reply",
            self.now,
            prospect_id=prospect.id,
            enrollment_id=message.enrollment_id if message else None,
            message_id=message.id if message else None,
            inbound_id=self.row.id,
            subject=parsed.subject[:500],
            text=text,
            sender=parsed.from_email,
            colleague=match.colleague,
            matched_by=match.via,
            stopped=stopped,
            verdict_reason=verdict.reason if verdict else "reply",
        )
        self.session.flush()
        record(
            self.session,
            "notification",
            self.now,
            prospect_id=prospect.id,
            enrollment_id=message.enrollment_id if message else None,
            kind="reply",
            user_id=_owner_id(self.session, prospect, message),
            event_id=event.id,
            inbound_id=self.row.id,
            summary=f"{parsed.from_email or prospect.email} replied: {text[:140]}",
        )
        if message is not None:
            # A reply proves the message was read, even with its images blocked.
            infer_open(self.session, message, self.now, via="reply")
        who = "a colleague" if match.colleague else "the prospect"
        because = f"; {verdict.reason}" if verdict and verdict.reason != "reply" else ""
        outcome = Outcome(
            "reply", f"reply from {who} (matched by {match.via}){because}", prospect.id, stopped
        )
        if verdict is not None and verdict.label == CONFIRM_UNSUBSCRIBE and not match.colleague:
            self._confirm_unsubscribe_task(prospect, message, verdict)
            outcome.reason += "; task created for the rep to confirm the unsubscribe"
        if not match.colleague:
            outcome.pause_colleagues_of = prospect.id
        return outcome

    def auto_reply(self, parsed: Parsed, match: Match, why: str) -> Outcome:
        prospect = match.prospect
        assert prospect is not None
        found = return_date(parsed.new_text or parsed.body, self.now)
        until = found or self.now + timedelta(days=self.settings.auto_reply_pause_days)
        only = match.message.enrollment_id if match.message else None
        paused: list[int] = []
        for enrollment in _live_enrollments(self.session, prospect.id, only):
            if enrollment.status == EnrollmentStatus.ACTIVE:
                pause(self.session, enrollment, self.now, until, f"auto-reply ({why})")
                paused.append(enrollment.id)
            elif enrollment.paused_until is not None and enrollment.paused_until < until:
                # Paused by an earlier auto-reply: a later return date moves the resume.
                enrollment.paused_until = until
                paused.append(enrollment.id)
        record(
            self.session,
            "auto_reply",
            self.now,
            prospect_id=prospect.id,
            enrollment_id=only,
            message_id=match.message.id if match.message else None,
            inbound_id=self.row.id,
            why=why,
            until=until.isoformat(),
            return_date_found=found is not None,
            subject=parsed.subject[:500],
            text=(parsed.new_text or parsed.body)[:2000],
        )
        source = "return date in text" if found else f"{self.settings.auto_reply_pause_days} days"
        reason = f"auto-reply ({why}); paused until {until.date().isoformat()} ({source})"
        return Outcome("auto_reply", reason, prospect.id, paused)

    def machine_notice(self, parsed: Parsed, match: Match, verdict: Verdict) -> Outcome:
        """Mail a machine made about our message: recorded, and only a challenge is acted on.

        A read receipt is recorded as what the client said (not a reply, not counted as an
        open); a list server's notice is recorded only; a challenge-response filter holds our
        mail until the sender verifies, so the enrollment pauses like an auto-reply and the rep
        gets a task carrying the verify link (never fetched here).
        """
        prospect = match.prospect
        assert prospect is not None
        message = match.message
        common: dict[str, Any] = {
            "prospect_id": prospect.id,
            "enrollment_id": message.enrollment_id if message else None,
            "message_id": message.id if message else None,
            "inbound_id": self.row.id,
            "subject": parsed.subject[:500],
            "why": verdict.reason,
        }
        if verdict.notice == READ_RECEIPT and verdict.receipt is not None:
            who = verdict.receipt.reporter or parsed.from_email or prospect.email
            said = verdict.receipt.disposition or "no disposition given"
            summary = f"read receipt from {who}: {said}"
            record(self.session, "read_receipt", self.now, summary=summary, **common)
            return Outcome("machine_notice", f"{summary}; {verdict.reason}", prospect.id)
        if verdict.notice != CHALLENGE:
            sender = parsed.from_email or "a list server"
            summary = f"mailing-list notice from {sender}: {parsed.subject[:200]}"
            record(self.session, "list_notice", self.now, summary=summary, **common)
            return Outcome("machine_notice", f"{summary}; {verdict.reason}", prospect.id)
        return self._challenge(parsed, match, verdict, common)

    def _challenge(
        self, parsed: Parsed, match: Match, verdict: Verdict, common: dict[str, Any]
    ) -> Outcome:
        prospect = match.prospect
        assert prospect is not None
        message = match.message
        until = self.now + timedelta(days=self.settings.auto_reply_pause_days)
        paused: list[int] = []
        for enrollment in _live_enrollments(self.session, prospect.id, common["enrollment_id"]):
            if enrollment.status == EnrollmentStatus.ACTIVE:
                pause(self.session, enrollment, self.now, until, f"challenge ({verdict.reason})")
                paused.append(enrollment.id)
        service = challenge_service(parsed)
        link = challenge_link(parsed)
        owner = _owner_id(self.session, prospect, message)
        task = verify_task(prospect, owner, service, link, verdict.reason, self.now)
        self.session.add(task)
        self.session.flush()
        record(
            self.session,
            "challenge",
            self.now,
            service=service,
            link=link,
            task_id=task.id,
            user_id=owner,
            until=until.isoformat(),
            **common,
        )
        reason = (
            f"challenge-response from {service}; paused until {until.date().isoformat()} "
            f"({self.settings.auto_reply_pause_days} days); task created to verify"
        )
        return Outcome("machine_notice", f"{reason}; {verdict.reason}", prospect.id, paused)

    def _confirm_unsubscribe_task(
        self, prospect: Prospect, message: Message | None, verdict: Verdict
    ) -> None:
        """Weak evidence of an unsubscribe: the rep decides, the address is not suppressed."""
        owner = _owner_id(self.session, prospect, message)
        task = Task(
            prospect_id=prospect.id,
            owner_id=owner,
            type="task",
            title=f"Confirm the unsubscribe of {prospect.email}: their reply may ask to stop",
            notes=verdict.reason[:2000],
            due_at=self.now,
            status="open",
        )
        self.session.add(task)
        self.session.flush()
        record(
            self.session,
            "unsubscribe_to_confirm",
            self.now,
            prospect_id=prospect.id,
            enrollment_id=message.enrollment_id if message else None,
            message_id=message.id if message else None,
            inbound_id=self.row.id,
            task_id=task.id,
            user_id=owner,
            reason=verdict.reason,
        )

    def bounce(self, parsed: Parsed, found: Bounce, tokens: dict[str, Message]) -> Outcome:
        match, prospects = match_bounce(self.session, parsed, found, tokens, self.row.team_id)
        what = f"{'permanent' if found.permanent else 'temporary'} failure"
        detail = f"{what} {found.status or ''}".strip() + f": {found.evidence} ({found.detector}"
        detail += f", matched by {match.via})" if match.via else ")"
        if not prospects:
            return Outcome("unmatched", f"bounce, {detail}: no message or prospect matched")
        message = match.message
        if message is not None and found.diagnostic:
            message.error = found.diagnostic[:1000]
        permanent = found.permanent
        if not permanent:
            soft = prospects[0]
            record(
                self.session,
                "soft_bounce",
                self.now,
                prospect_id=soft.id,
                enrollment_id=message.enrollment_id if message else None,
                message_id=message.id if message else None,
                inbound_id=self.row.id,
                status=found.status,
                diagnostic=found.diagnostic,
                reason=detail,
            )
            self.session.flush()
            count = self.session.scalar(
                select(func.count())
                .select_from(Event)
                .where(Event.prospect_id == soft.id, Event.type == "soft_bounce")
            )
            if (count or 0) < self.settings.soft_bounce_limit:
                retry, retried = "", []
                if found.final and message is not None and self._retry(message, detail):
                    retry = f"; step retried after {RETRY_AFTER}"
                    retried = [message.enrollment_id] if message.enrollment_id else []
                elif not found.final:
                    retry = "; the reporting server is still retrying"
                return Outcome(
                    "soft_bounce",
                    f"{detail}; {count} of {self.settings.soft_bounce_limit} before the "
                    f"address counts as bounced{retry}",
                    soft.id,
                    retried,
                )
            detail = f"{detail}; {count} temporary failures reached the limit"
        stopped: list[int] = []
        for prospect in prospects:
            mark_prospect(self.session, prospect.id, ProspectStatus.BOUNCED, self.now)
            record(
                self.session,
                "bounce",
                self.now,
                prospect_id=prospect.id,
                enrollment_id=message.enrollment_id if message else None,
                message_id=message.id if message else None,
                inbound_id=self.row.id,
                permanent=True,
                status=found.status,
                diagnostic=found.diagnostic,
                reason=detail,
            )
            stopped += stop_prospect(
                self.session, prospect.id, EnrollmentStatus.BOUNCED, self.now, f"bounced: {detail}"
            )
        if message is not None and message.mailbox_id is not None:
            # A mailbox whose recent sends bounce too often is paused before it hurts its domain.
            check_bounce_rate(self.session, message.mailbox_id, self.now)
        return Outcome("bounce", f"{detail}; address suppressed", prospects[0].id, stopped)

    def _retry(self, message: Message, why: str) -> bool:
        """Send a soft-bounced step again later: the same message row, claimed anew.

        Only when its enrollment is still going and no later step went out (a later step is
        the next try anyway). The sender's claim machinery then counts it as another attempt
        (capped by FOLLOWUP_MAX_SEND_ATTEMPTS), with the same Message-ID and tracking token.
        """
        if message.enrollment_id is None or message.step_position is None:
            return False
        enrollment = self.session.get(Enrollment, message.enrollment_id, with_for_update=True)
        if enrollment is None or message.status != MessageStatus.SENT:
            return False
        if enrollment.status not in (EnrollmentStatus.ACTIVE, EnrollmentStatus.FINISHED):
            return False
        later = self.session.scalar(
            select(Message.id)
            .where(
                Message.enrollment_id == enrollment.id,
                Message.step_position > message.step_position,
            )
            .limit(1)
        )
        if later is not None:
            return False
        previous = enrollment.status
        message.status = MessageStatus.CLAIMED
        message.lease_until = None
        message.error = f"soft bounce, retrying: {why}"[:1000]
        enrollment.status = EnrollmentStatus.ACTIVE
        enrollment.current_step = message.step_position
        enrollment.next_due_at = self.now + RETRY_AFTER
        enrollment.enqueued_at = None
        enrollment.updated_at = self.now
        record(
            self.session,
            "retry_scheduled",
            self.now,
            prospect_id=enrollment.prospect_id,
            enrollment_id=enrollment.id,
            message_id=message.id,
            step=message.step_position,
            retry_at=enrollment.next_due_at.isoformat(),
            reason=why,
            extra={"from": previous, "to": EnrollmentStatus.ACTIVE},
        )
        return True

    def unsubscribe(
        self, prospect: Prospect, message: Message | None, via: str, reason: str | None = None
    ) -> Outcome:
        already = prospect.status == ProspectStatus.UNSUBSCRIBED
        mark_prospect(self.session, prospect.id, ProspectStatus.UNSUBSCRIBED, self.now)
        stopped = stop_prospect(
            self.session,
            prospect.id,
            EnrollmentStatus.UNSUBSCRIBED,
            self.now,
            f"unsubscribed ({via})",
        )
        if not already:
            record(
                self.session,
                "unsubscribe",
                self.now,
                prospect_id=prospect.id,
                enrollment_id=message.enrollment_id if message else None,
                message_id=message.id if message else None,
                inbound_id=self.row.id,
                via=via,
                reason=reason or f"unsubscribe request ({via})",
            )
        shown = f"; {reason}" if reason else ""
        return Outcome("unsubscribe", f"unsubscribe request ({via}){shown}", prospect.id, stopped)
