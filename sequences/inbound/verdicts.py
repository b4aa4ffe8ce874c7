"""The verdict on one parsed email, weighed from its evidence, with a reason naming it. Pure.

Rules (docs/inbound.md): a bounce is hard on a 5.x.x status or permanent wording; an auto-reply
needs machine evidence (a header, a provider's subject, a body shaped like one that answers
nothing); an unsubscribe needs the person's own new words to be a request and little else.
Weak or mixed evidence never suppresses or pauses: it is a reply, with a task for the rep to
confirm an unsubscribe where the person may have asked for one. A machine notice is mail a
machine made about our message, by its form: a read receipt (an MDN), a mailing-list server's
notice, a challenge-response filter asking the sender to verify; `Verdict.notice` says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .classify import (
    Bounce,
    Complaint,
    Parsed,
    Receipt,
    detect_bounce,
    detect_complaint,
    detect_receipt,
    from_daemon,
    looks_like_bounce,
)
from .evidence import (
    STRONG,
    Evidence,
    auto_reply_evidence,
    client_unsubscribe_evidence,
    engagement_evidence,
    unsubscribe_evidence,
)

REPLY = "reply"
UNSUBSCRIBE = "unsubscribe"
CONFIRM_UNSUBSCRIBE = "unsubscribe-needs-confirmation"
AUTO_REPLY = "auto_reply"
BOUNCE_HARD = "bounce_hard"
BOUNCE_SOFT = "bounce_soft"
MACHINE_NOTICE = "machine_notice"
LABELS = (
    REPLY,
    UNSUBSCRIBE,
    CONFIRM_UNSUBSCRIBE,
    AUTO_REPLY,
    MACHINE_NOTICE,
    BOUNCE_HARD,
    BOUNCE_SOFT,
)
# The kinds of machine notice (Verdict.notice).
READ_RECEIPT = "read_receipt"
LIST_NOTICE = "list_notice"
CHALLENGE = "challenge"
NOTICES = (READ_RECEIPT, LIST_NOTICE, CHALLENGE)


@dataclass(frozen=True)
class Verdict:
    """What the email is, how sure, and why (the evidence, named)."""

    label: str
    strength: str
    reason: str
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)
    bounce: Bounce | None = None
    complaint: Complaint | None = None  # a feedback report: suppress its recipient
    notice: str | None = None  # a machine notice's kind (NOTICES)
    receipt: Receipt | None = None  # a read receipt's fields

    @property
    def why(self) -> str:
        """The reason in a rep's words, for the timeline."""
        return self.reason


def _names(found: list[Evidence]) -> str:
    return "; ".join(e.detail for e in found)


def decide(parsed: Parsed, *, to_verp: bool = False) -> Verdict:
    """Weigh the evidence in `parsed`. `to_verp`: it came to a per-message bounce address."""
    report = detect_complaint(parsed)
    if report is not None and report.complains:
        # A complaint (or an opt-out) is the person saying "no more mail", through their provider.
        reason = f"complaint: {report.evidence}"
        return Verdict(UNSUBSCRIBE, STRONG, reason, complaint=report)
    if report is not None:
        return Verdict(AUTO_REPLY, STRONG, f"machine report, not a complaint: {report.evidence}")
    receipt = detect_receipt(parsed)
    if receipt is not None:
        # The client's receipt says the message was shown; the person has not answered.
        reason = f"machine notice, not a reply: {receipt.evidence}"
        return Verdict(MACHINE_NOTICE, STRONG, reason, notice=READ_RECEIPT, receipt=receipt)
    auto = auto_reply_evidence(parsed)
    strong_auto = [e for e in auto if e.strength == STRONG]
    challenge = [e for e in strong_auto if e.detail.startswith("challenge-response")]
    listed = [e for e in strong_auto if e.detail.startswith("mailing-list server notice")]
    # An auto-reply sent to the Return-Path is not a bounce, however it got there.
    if not (to_verp and strong_auto and not looks_like_bounce(parsed)):
        bounce = detect_bounce(parsed, to_verp)
        if bounce is not None and challenge and not bounce.permanent and not from_daemon(parsed):
            # A challenge-response service built like a DSN (Boxbe's 4.7.0): nothing failed,
            # a person's filter asks the sender to confirm.
            reason = (
                f"machine notice, not a reply: {_names(challenge)}, "
                f"in a report's form ({bounce.evidence})"
            )
            return Verdict(MACHINE_NOTICE, STRONG, reason, tuple(auto), notice=CHALLENGE)
        if bounce is not None:
            label = BOUNCE_HARD if bounce.permanent else BOUNCE_SOFT
            what = "permanent" if bounce.permanent else "temporary"
            reason = f"{what} failure: {bounce.evidence} ({bounce.detector})"
            return Verdict(label, STRONG, reason, bounce=bounce)

    clicked = client_unsubscribe_evidence(parsed)
    if clicked:
        # Generated, so it looks like an auto-reply, but made on the person's own request.
        return Verdict(UNSUBSCRIBE, STRONG, f"unsubscribe: {_names(clicked)}", tuple(clicked))

    engaged = engagement_evidence(parsed)
    if listed:
        # The list software answering our mail (not a member, held for moderation): no person;
        # its wording ("your message is being held") is not a filter's challenge.
        reason = f"machine notice, not a reply: {_names(listed)}"
        return Verdict(MACHINE_NOTICE, STRONG, reason, tuple(auto), notice=LIST_NOTICE)
    if challenge:
        # The recipient's filter holds our mail until the sender proves to be a person.
        reason = f"machine notice, not a reply: {_names(challenge)}"
        return Verdict(MACHINE_NOTICE, STRONG, reason, tuple(auto), notice=CHALLENGE)
    machine_signs = [e for e in strong_auto if not e.detail.startswith("body shaped")]
    if machine_signs:
        return Verdict(AUTO_REPLY, STRONG, f"auto-reply: {_names(machine_signs)}", tuple(auto))
    if strong_auto and not engaged:
        return Verdict(AUTO_REPLY, STRONG, f"auto-reply: {_names(strong_auto)}", tuple(auto))

    unsubscribe = unsubscribe_evidence(parsed)
    strong_unsubscribe = [e for e in unsubscribe if e.strength == STRONG]
    if strong_unsubscribe and parsed.truncated:
        # The words may go on past the cut ("remove me from the invite"): the rep confirms.
        weak = f"reply cut short that may ask to unsubscribe: {_names(strong_unsubscribe)}"
        return Verdict(CONFIRM_UNSUBSCRIBE, "weak", weak, tuple(unsubscribe))
    if strong_unsubscribe:
        return Verdict(
            UNSUBSCRIBE, STRONG, f"unsubscribe: {_names(strong_unsubscribe)}", tuple(unsubscribe)
        )
    if unsubscribe:
        return Verdict(
            CONFIRM_UNSUBSCRIBE,
            "weak",
            f"reply that may ask to unsubscribe: {_names(unsubscribe)}",
            tuple(unsubscribe),
        )
    noted = [*auto, *engaged]
    reason = "reply"
    if auto and engaged:
        reason = f"reply, not an auto-reply: {_names(auto)}, but a person answers"
    elif auto:
        reason = f"reply, not an auto-reply: only weak machine signs ({_names(auto)})"
    if parsed.truncated:
        reason += " (the message is cut short: read as far as it goes)"
    return Verdict(REPLY, STRONG if engaged else "weak", reason, tuple(noted))
