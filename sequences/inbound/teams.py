"""Which team an inbound email belongs to, by what it was sent to, before anything else.

A prospect's address can be in two teams' lists, so the sender says nothing about whose mail it
is; the address it was sent to does. In order: a VERP / reply+ / unsubscribe+ token (signed, so
it cannot be forged), the mailbox it was read from (IMAP), a mailbox's own address or reply-to,
a team's configured inbound domain, then a mailbox reply-to's domain. A rule that names two
teams names none: such mail stays the install's admins' (see workspace/permissions.py).
`team_for` is pure, so the migration that assigns old rows uses the very same rules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Mailbox, Prospect, Team
from .classify import parse
from .match import token_messages


@dataclass(frozen=True)
class Addresses:
    """What the install receives mail at: each mailbox's addresses and each team's domain."""

    mailboxes: Sequence[tuple[int, str | None, str | None]]  # (team, from_email, reply_to)
    inbound_domains: Mapping[str, int]  # domain -> team


def _clean(address: str) -> str:
    return address.strip().strip("<>").lower()


def _domain(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return _clean(address).rsplit("@", 1)[1] or None


def _one(teams: Iterable[int]) -> int | None:
    found = set(teams)
    return found.pop() if len(found) == 1 else None


def team_for(
    recipients: Iterable[str],
    known: Addresses,
    *,
    token_team: int | None = None,
    mailbox_team: int | None = None,
) -> tuple[int | None, str]:
    """The team the mail was sent to and by which rule ("" when none): pure."""
    if token_team is not None:
        return token_team, "token"
    if mailbox_team is not None:
        return mailbox_team, "mailbox"
    sent_to = {_clean(r) for r in recipients if r and "@" in r}
    by_address = _one(
        team
        for team, *addresses in known.mailboxes
        for address in addresses
        if address and _clean(address) in sent_to
    )
    if by_address is not None:
        return by_address, "mailbox address"
    domains = {d for d in map(_domain, sent_to) if d}
    by_domain = _one(team for domain, team in known.inbound_domains.items() if domain in domains)
    if by_domain is not None:
        return by_domain, "inbound domain"
    by_reply_domain = _one(
        team for team, _, reply_to in known.mailboxes if _domain(reply_to) in domains
    )
    if by_reply_domain is not None:
        return by_reply_domain, "reply domain"
    return None, ""


def known_addresses(session: Session) -> Addresses:
    """Every mailbox's addresses and every team's inbound domain (a few rows per team)."""
    mailboxes = [
        (team, from_email, reply_to)
        for team, from_email, reply_to in session.execute(
            select(Mailbox.team_id, Mailbox.from_email, Mailbox.reply_to)
        )
    ]
    domains = {
        domain.lower(): team
        for team, domain in session.execute(
            select(Team.id, Team.inbound_domain).where(Team.inbound_domain.is_not(None))
        )
        if domain
    }
    return Addresses(mailboxes, domains)


def token_team(session: Session, keys: tuple[str, ...], addresses: Iterable[str]) -> int | None:
    """The team of the prospect a valid token among `addresses` names, if any."""
    for message in token_messages(session, keys, addresses).values():
        if message.prospect_id is not None:
            team = session.scalar(
                select(Prospect.team_id).where(Prospect.id == message.prospect_id)
            )
            if team is not None:
                return int(team)
    return None


def recipient_team(
    session: Session,
    keys: tuple[str, ...],
    recipients: Iterable[str],
    mailbox_id: int | None = None,
) -> tuple[int | None, str]:
    """`team_for` with what the database knows: the one call ingest and the migration make."""
    recipients = list(recipients)
    mailbox_team = (
        session.scalar(select(Mailbox.team_id).where(Mailbox.id == mailbox_id))
        if mailbox_id is not None
        else None
    )
    return team_for(
        recipients,
        known_addresses(session),
        token_team=token_team(session, keys, recipients),
        mailbox_team=mailbox_team,
    )


def stored_addresses(recipients: str | None, raw: bytes | None) -> list[str]:
    """What a stored row was sent to: its envelope recipients and its headers' addresses."""
    found = [r.strip() for r in (recipients or "").split(",") if r.strip()]
    if raw:
        # An unreadable old mail keeps its envelope recipients only.
        with contextlib.suppress(Exception):
            found += parse(raw).addresses
    return found
