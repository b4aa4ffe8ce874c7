"""Ties an inbound email to the message it answers and the prospect who sent (or bounced) it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Message, Prospect
from ..tracking import read_token
from .classify import Bounce, Complaint, Parsed

# Our plus-addressed local parts and the token kind each carries.
_TOKEN_ADDRESS = re.compile(r"^(bounce|reply|unsubscribe)\+([A-Za-z0-9_-]{20,64})@", re.I)
_KIND = {"bounce": "b", "reply": "r", "unsubscribe": "u"}


@dataclass
class Match:
    """What an inbound email was tied to, and how (for the verdict's reason)."""

    message: Message | None = None
    prospect: Prospect | None = None
    via: str | None = None
    colleague: bool = False  # sent by someone other than the prospect, in the prospect's thread


def token_messages(
    session: Session, keys: tuple[str, ...], addresses: Iterable[str]
) -> dict[str, Message]:
    """Our messages named by bounce+/reply+/unsubscribe+ tokens among `addresses`, by kind."""
    found: dict[str, Message] = {}
    for address in addresses:
        m = _TOKEN_ADDRESS.match(address.strip().strip("<>"))
        if not m:
            continue
        name = m.group(1).lower()
        data = read_token(keys, m.group(2), _KIND[name])
        if data is None or name in found:
            continue
        message = session.scalar(select(Message).where(Message.token_id == data.token_id))
        if message is not None and message.direction == "out":
            found[name] = message
    return found


def _by_message_id(session: Session, ids: Sequence[str]) -> Message | None:
    ids = [i for i in ids if i][-50:]
    if not ids:
        return None
    rows = {
        m.message_id: m
        for m in session.scalars(
            select(Message).where(Message.message_id.in_(ids), Message.direction == "out")
        )
    }
    # The most recent reference first: it is the message actually answered.
    for mid in reversed(ids):
        if mid in rows:
            return rows[mid]
    return None


def prospects_by_email(session: Session, email: str, team_id: int | None = None) -> list[Prospect]:
    """The prospects with this address: only the team's when the mail's team is known."""
    query = select(Prospect).where(func.lower(Prospect.email) == email.strip().lower())
    if team_id is not None:
        query = query.where(Prospect.team_id == team_id)
    return list(session.scalars(query.order_by(Prospect.id)))


def in_team(match: Match, team_id: int | None) -> Match:
    """The match, unless it ties mail sent to one team to another team's prospect."""
    if team_id is None or match.prospect is None or match.prospect.team_id == team_id:
        return match
    return Match()


def _with_message(session: Session, message: Message, via: str, sender: str | None) -> Match:
    prospect = session.get(Prospect, message.prospect_id) if message.prospect_id else None
    colleague = bool(prospect is not None and sender and sender.lower() != prospect.email.lower())
    return Match(message=message, prospect=prospect, via=via, colleague=colleague)


def match_reply(
    session: Session, parsed: Parsed, tokens: dict[str, Message], team_id: int | None = None
) -> Match:
    """In-Reply-To, then References, then a reply+ token, then the sender's address.

    With the mail's team known (inbound/teams.py), only that team's prospects can match.
    """
    sender = parsed.from_email
    message = _by_message_id(session, parsed.in_reply_to)
    if message is not None:
        return in_team(_with_message(session, message, "in-reply-to", sender), team_id)
    message = _by_message_id(session, parsed.references)
    if message is not None:
        return in_team(_with_message(session, message, "references", sender), team_id)
    if "reply" in tokens:
        return in_team(_with_message(session, tokens["reply"], "reply-token", sender), team_id)
    if sender:
        prospects = prospects_by_email(session, sender, team_id)
        if prospects:
            return Match(prospect=prospects[0], via="sender")
    return Match()


def match_bounce(
    session: Session,
    parsed: Parsed,
    bounce: Bounce,
    tokens: dict[str, Message],
    team_id: int | None = None,
) -> tuple[Match, list[Prospect]]:
    """The bounced message (VERP first, then the returned Message-ID) and the prospects hit."""
    if "bounce" in tokens:
        match = _with_message(session, tokens["bounce"], "verp", None)
    else:
        message = _by_message_id(session, bounce.original_message_ids)
        match = (
            _with_message(session, message, "returned-message-id", None)
            if message is not None
            else Match()
        )
    match = in_team(match, team_id)
    if match.prospect is not None:
        return match, [match.prospect]
    hit: list[Prospect] = []
    for address in bounce.recipients:
        for prospect in prospects_by_email(session, address, team_id):
            if prospect not in hit:
                hit.append(prospect)
    if hit:
        match = Match(prospect=hit[0], via="failed-recipient")
    return match, hit


def match_complaint(
    session: Session,
    complaint: Complaint,
    tokens: dict[str, Message],
    team_id: int | None = None,
) -> tuple[Match, list[Prospect]]:
    """The reported message (VERP, as many feedback loops answer the Return-Path, then its
    Message-ID) and the prospects who complained, else those the report names."""
    message = tokens.get("bounce") or _by_message_id(session, complaint.original_message_ids)
    if message is not None:
        match = in_team(_with_message(session, message, "reported-message-id", None), team_id)
        if match.prospect is not None:
            return match, [match.prospect]
    hit: list[Prospect] = []
    for address in complaint.recipients:
        for prospect in prospects_by_email(session, address, team_id):
            if prospect not in hit:
                hit.append(prospect)
    return (Match(prospect=hit[0], via="reported-recipient") if hit else Match()), hit
