"""The one function behind every inbound source (SMTP, IMAP, webhook), in named steps.

`ingest` reads top to bottom: parse the bytes (`read`), find the team it was sent to
(`teams.recipient_team`, before anything else: only that team's prospects can then match),
claim the mail's key by recording its row (`_record`), match it to our messages (`_match_tokens`, then `match_reply`), classify it by
its evidence (`verdicts.decide`), act on the verdict (`act.Act`) and store what was done on the
row (`_store_outcome`), all in the caller's transaction. The verdicts are reply, auto_reply,
machine_notice (a read receipt, a list server's or a challenge filter's notice), bounce,
soft_bounce, unsubscribe, unmatched, unprocessable.

The row is written before anything else and its key is unique, so the same mail ingested twice,
even concurrently, acts once. `receive` wraps it in its own transaction for the sources
(retrying deadlocks), then runs `after_commit`. Nothing here raises on bad input; a database
error does raise, so the source retries the mail.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from ..config import Settings
from ..db import session_scope
from ..enrollment import pause_company
from ..errors import Forbidden
from ..logs import bound
from ..models import InboundMessage, Message, Prospect
from ..runtime import Runtime
from .act import RETRY_AFTER, TEXT_LIMIT, Act, Outcome, stored_outcome
from .classify import Parsed, Unprocessable, dedupe_key, parse
from .match import Match, in_team, match_complaint, match_reply, token_messages
from .teams import recipient_team
from .verdicts import AUTO_REPLY, MACHINE_NOTICE, UNSUBSCRIBE, decide

__all__ = ["RETRY_AFTER", "VERDICTS", "Outcome", "after_commit", "ingest", "read", "receive"]

log = logging.getLogger(__name__)

# Posted with one team's API key but sent to another team's mailbox, inbound domain or token.
OTHER_TEAM = (
    "this mail was sent to another team's address (a mailbox, inbound domain or reply token "
    "of a team you are not in); post it with an API key of the team it was sent to"
)
VERDICTS = (
    "reply",
    "auto_reply",
    "machine_notice",
    "bounce",
    "soft_bounce",
    "unsubscribe",
    "unmatched",
    "unprocessable",
)


def _message_id_guess(raw: bytes) -> str | None:
    """The Message-ID of bytes too big or broken to parse, for deduplication."""
    head = raw[:65536].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    for line in head.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            value = line.split(b":", 1)[1].strip().decode("ascii", "replace")
            if value.startswith("<") and value.endswith(">") and len(value) < 998:
                return value
    return None


# Step 1: parse


def read(
    raw: bytes, max_bytes: int, size: int | None = None
) -> tuple[str, Parsed | None, str | None]:
    """The deduplication key, the parsed message (None if unreadable) and why not.

    `size` is the whole message's size when only its start was read (IMAP, the webhook).
    """
    size = max(size or 0, len(raw))
    if size > max_bytes:
        problem = f"oversize: {size} bytes is over the limit of {max_bytes}"
        return dedupe_key(_message_id_guess(raw), raw), None, problem
    try:
        parsed = parse(raw)
    except Unprocessable as exc:
        return dedupe_key(_message_id_guess(raw), raw), None, str(exc)
    except Exception as exc:  # never let a hostile message take the source down
        log.exception("inbound parse failed")
        return dedupe_key(_message_id_guess(raw), raw), None, f"cannot parse: {type(exc).__name__}"
    return dedupe_key(parsed.message_id, raw), parsed, None


# Step 2: record the row (claims the key before any action)


def _record(
    session: Session,
    key: str,
    parsed: Parsed | None,
    problem: str | None,
    raw: bytes,
    size: int,
    oversize: bool,
    *,
    source: str,
    now: datetime,
    envelope_from: str | None,
    recipients: list[str],
    mailbox_id: int | None,
    team_id: int | None,
) -> InboundMessage:
    """The mail's row, flushed: a concurrent duplicate fails here, before any action."""
    row = InboundMessage(
        dedupe_key=key,
        source=source,
        received_at=now,
        verdict="unprocessable",
        reason=problem or "",
        mailbox_id=mailbox_id,
        team_id=team_id,
        enrollment_ids=[],
        envelope_from=(envelope_from or "")[:998] or None,
        recipients=", ".join(recipients)[:5000] or None,
        size=size,
        raw=None if oversize else raw,
    )
    if parsed is not None:
        row.from_email = (parsed.from_email or "")[:320] or None
        row.subject = parsed.subject[:2000]
    session.add(row)
    session.flush()
    return row


# Step 3: match to our messages


def _match_tokens(
    session: Session, parsed: Parsed, recipients: list[str], keys: tuple[str, ...]
) -> dict[str, Message]:
    """Our messages named by the bounce+/reply+/unsubscribe+ addresses it was sent to."""
    return token_messages(session, keys, [*recipients, *parsed.addresses])


def _match_sender(
    session: Session, parsed: Parsed, tokens: dict[str, Message], team_id: int | None
) -> Match:
    """The message answered (headers, reply+ token, sender), else the VERP token's prospect."""
    match = match_reply(session, parsed, tokens, team_id)
    if match.prospect is None and "bounce" in tokens:
        match = Match(
            message=tokens["bounce"],
            prospect=session.get(Prospect, tokens["bounce"].prospect_id or 0),
            via="verp",
        )
    return in_team(match, team_id)


# Steps 3 to 5: match, classify by evidence, act


def _decide_and_act(
    act: Act, parsed: Parsed, recipients: list[str], keys: tuple[str, ...]
) -> Outcome:
    session = act.session
    tokens = _match_tokens(session, parsed, recipients, keys)
    unsubscribe_message = tokens.get("unsubscribe")
    if unsubscribe_message is not None and unsubscribe_message.prospect_id is not None:
        # Mail to our unsubscribe+ address is a request whatever it says.
        prospect = session.get(Prospect, unsubscribe_message.prospect_id)
        assert prospect is not None
        if in_team(Match(prospect=prospect), act.row.team_id).prospect is not None:
            return act.unsubscribe(prospect, unsubscribe_message, "mailto")

    verdict = decide(parsed, to_verp="bounce" in tokens)
    if verdict.complaint is not None:
        # The report comes from the provider, not the person: suppress who it names.
        found, prospects = match_complaint(session, verdict.complaint, tokens, act.row.team_id)
        if not prospects:
            return Outcome("unmatched", f"{verdict.reason}: no message or prospect matched")
        outcome = act.unsubscribe(prospects[0], found.message, "complaint", verdict.reason)
        for other in prospects[1:]:
            outcome.enrollment_ids += act.unsubscribe(
                other, None, "complaint", verdict.reason
            ).enrollment_ids
        return outcome
    if verdict.bounce is not None:
        return act.bounce(parsed, verdict.bounce, tokens)

    match = _match_sender(session, parsed, tokens, act.row.team_id)
    if match.prospect is None:
        kind = verdict.reason if verdict.label in (AUTO_REPLY, MACHINE_NOTICE) else "mail"
        return Outcome("unmatched", f"{kind}: no message or prospect matched")
    if verdict.label == MACHINE_NOTICE:
        return act.machine_notice(parsed, match, verdict)
    if verdict.label == AUTO_REPLY:
        return act.auto_reply(parsed, match, verdict.reason.removeprefix("auto-reply: "))
    if verdict.label == UNSUBSCRIBE:
        return act.unsubscribe(match.prospect, match.message, "reply", verdict.reason)
    return act.reply(parsed, match, verdict)


def _decide_and_act_safely(
    session: Session,
    settings: Settings,
    now: datetime,
    row: InboundMessage,
    parsed: Parsed,
    recipients: list[str],
) -> Outcome:
    """`_decide_and_act` in a savepoint: a bug meeting strange mail keeps the mail, says why."""
    try:
        with session.begin_nested():
            return _decide_and_act(
                Act(session, settings, now, row), parsed, recipients, settings.secret_keys
            )
    except DBAPIError:
        raise  # a deadlock or an outage: the caller retries; the mail is not "unprocessable"
    except Exception as exc:
        log.exception("inbound processing failed for %s", row.dedupe_key)
        return Outcome("unprocessable", f"processing failed: {type(exc).__name__}")


# Step 6: store what was done on the row


def _store_outcome(session: Session, row: InboundMessage, parsed: Parsed, outcome: Outcome) -> None:
    row.verdict = outcome.verdict
    row.reason = outcome.reason[:2000]
    row.prospect_id = outcome.prospect_id
    row.enrollment_ids = outcome.enrollment_ids
    row.text = parsed.new_text[:TEXT_LIMIT] or None
    if row.team_id is None and outcome.prospect_id is not None:
        row.team_id = session.scalar(
            select(Prospect.team_id).where(Prospect.id == outcome.prospect_id)
        )
    session.flush()
    outcome.inbound_id = row.id


def ingest(
    session: Session,
    settings: Settings,
    now: datetime,
    raw: bytes,
    *,
    source: str,
    envelope_from: str | None = None,
    recipients: list[str] | None = None,
    mailbox_id: int | None = None,
    size: int | None = None,
    caller_team: int | None = None,
) -> Outcome:
    """Decide what `raw` is, act on it and store it, in the caller's transaction.

    The same mail (by Message-ID, or by content without one) returns the first outcome with
    duplicate=True and changes nothing. Concurrent duplicates make the flush raise
    IntegrityError; `receive` handles that.

    `caller_team` is the team of whoever posted the mail (an API key's): mail sent to another
    team's addresses is refused (Forbidden, nothing stored), and mail sent to no team's is
    matched among the caller's team's prospects only.
    """
    recipients = [r.strip() for r in recipients or [] if r and r.strip()]
    key, parsed, problem = read(raw, settings.inbound_max_bytes, size)
    size = max(size or 0, len(raw))
    existing = session.scalar(select(InboundMessage).where(InboundMessage.dedupe_key == key))
    if existing is not None:
        if caller_team is not None and existing.team_id not in (None, caller_team):
            raise Forbidden(OTHER_TEAM)  # its outcome names another team's prospect
        return stored_outcome(existing, duplicate=True)
    addressed_to = [*recipients, *(parsed.addresses if parsed else [])]
    team_id, _ = recipient_team(session, settings.secret_keys, addressed_to, mailbox_id)
    if caller_team is not None and team_id is not None and team_id != caller_team:
        raise Forbidden(OTHER_TEAM)
    # Sent to no team's address: only the caller's team's prospects may match it.
    scoped = caller_team is not None and team_id is None
    if scoped:
        team_id = caller_team
    row = _record(
        session,
        key,
        parsed,
        problem,
        raw,
        size,
        size > settings.inbound_max_bytes,
        source=source,
        now=now,
        envelope_from=envelope_from,
        recipients=recipients,
        mailbox_id=mailbox_id,
        team_id=team_id,
    )
    if parsed is None:
        return stored_outcome(row, duplicate=False)
    outcome = _decide_and_act_safely(session, settings, now, row, parsed, recipients)
    if scoped and outcome.prospect_id is None:
        row.team_id = None  # it matched nobody: the admins' pile, like all mail of no team
    _store_outcome(session, row, parsed, outcome)
    return outcome


def after_commit(rt: Runtime, outcome: Outcome) -> None:
    """Secondary effects, each in its own transaction once the verdict is committed.

    Pausing a replier's colleagues locks other prospects' enrollments; inside the reply's
    transaction two concurrent replies from one company could deadlock and cost a reply.
    """
    if outcome.pause_colleagues_of is None or outcome.duplicate:
        return
    for attempt in range(3):
        try:
            with session_scope(rt.sessions) as session:
                prospect = session.get(Prospect, outcome.pause_colleagues_of)
                if prospect is not None:
                    pause_company(session, prospect, rt.clock.now())
            return
        except OperationalError:
            log.warning("pausing colleagues failed (attempt %s); retrying", attempt + 1)
    log.error("could not pause the colleagues of prospect %s", outcome.pause_colleagues_of)


def receive(
    rt: Runtime,
    raw: bytes,
    *,
    source: str,
    envelope_from: str | None = None,
    recipients: list[str] | None = None,
    mailbox_id: int | None = None,
    size: int | None = None,
    attempts: int = 3,
    caller_team: int | None = None,
) -> Outcome:
    """`ingest` in its own transaction, then `after_commit`.

    A concurrent duplicate answers the first outcome; a deadlock or a busy database is retried
    (the whole transaction, so nothing is half done), then raised for the source to retry later.
    """
    for attempt in range(1, attempts + 1):
        try:
            outcome = _receive_once(
                rt, raw, source, envelope_from, recipients, mailbox_id, size, caller_team
            )
        except OperationalError:
            if attempt == attempts:
                raise
            log.warning("inbound: database busy or deadlocked (attempt %s); retrying", attempt)
            continue
        with bound(
            inbound_id=outcome.inbound_id,
            prospect_id=outcome.prospect_id,
            enrollment_ids=outcome.enrollment_ids or None,
            mailbox_id=mailbox_id,
        ):
            log.info("inbound (%s): %s: %s", source, outcome.verdict, outcome.reason)
            after_commit(rt, outcome)
        return outcome
    raise AssertionError("unreachable")


def _receive_once(
    rt: Runtime,
    raw: bytes,
    source: str,
    envelope_from: str | None,
    recipients: list[str] | None,
    mailbox_id: int | None,
    size: int | None,
    caller_team: int | None = None,
) -> Outcome:
    try:
        with session_scope(rt.sessions) as session:
            return ingest(
                session,
                rt.settings,
                rt.clock.now(),
                raw,
                source=source,
                envelope_from=envelope_from,
                recipients=recipients,
                mailbox_id=mailbox_id,
                size=size,
                caller_team=caller_team,
            )
    except IntegrityError:
        # Another process stored the same mail between our check and our insert.
        key = read(raw, rt.settings.inbound_max_bytes, size)[0]
        with session_scope(rt.sessions) as session:
            row = session.scalar(select(InboundMessage).where(InboundMessage.dedupe_key == key))
            if row is None:
                raise
            if caller_team is not None and row.team_id not in (None, caller_team):
                raise Forbidden(OTHER_TEAM) from None
            return stored_outcome(row, duplicate=True)
