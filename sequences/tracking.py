"""Records opens, clicks and unsubscribes from tracking tokens."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .classify import Hit, classify
from .enrollment import mark_prospect, record, stop_prospect
from .models import EnrollmentStatus, Event, Link, Message, Prospect, ProspectStatus
from .tokens import read_token


def truncate_ip(ip: str | None) -> str | None:
    """Drop the host part (IPv4 /24, IPv6 /48) for privacy."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


@dataclass(frozen=True)
class Request:
    method: str
    ip: str | None
    user_agent: str


def _message(
    session: Session, keys: tuple[str, ...], token: str, kind: str
) -> tuple[Message, int] | None:
    data = read_token(keys, token, kind)
    if data is None:
        return None
    message = session.scalar(select(Message).where(Message.token_id == data.token_id))
    if message is None:
        return None
    return message, data.position


def _clean_ip(ip: str | None, truncate: bool) -> str | None:
    if not ip:
        return None
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return None
    return truncate_ip(ip) if truncate else ip


def record_open(
    session: Session,
    keys: tuple[str, ...],
    token: str,
    req: Request,
    now: datetime,
    *,
    truncate: bool = False,
) -> Event | None:
    """Record an open for a valid pixel token; None (and nothing stored) otherwise."""
    found = _message(session, keys, token, "o")
    if found is None:
        return None
    message, _ = found
    since = now - message.sent_at if message.sent_at else None
    verdict = classify(Hit("open", req.method, req.user_agent, req.ip, since))
    event = record(
        session,
        "open",
        now,
        prospect_id=message.prospect_id,
        enrollment_id=message.enrollment_id,
        message_id=message.id,
    )
    event.verdict, event.reason = verdict.verdict, verdict.reason
    event.ip, event.user_agent = _clean_ip(req.ip, truncate), req.user_agent[:1000]
    return event


def record_click(
    session: Session,
    keys: tuple[str, ...],
    token: str,
    req: Request,
    now: datetime,
    *,
    truncate: bool = False,
) -> tuple[Event, str] | None:
    """Record a click; return the event and the stored destination, or None for a bad token."""
    found = _message(session, keys, token, "c")
    if found is None:
        return None
    message, position = found
    link = session.scalar(
        select(Link).where(Link.message_id == message.id, Link.position == position)
    )
    if link is None:
        return None
    since = now - message.sent_at if message.sent_at else None
    verdict = classify(
        Hit("click", req.method, req.user_agent, req.ip, since, hidden_link=link.hidden)
    )
    event = record(
        session,
        "click",
        now,
        prospect_id=message.prospect_id,
        enrollment_id=message.enrollment_id,
        message_id=message.id,
        url=link.url,
        link=position,
    )
    event.verdict, event.reason = verdict.verdict, verdict.reason
    event.ip, event.user_agent = _clean_ip(req.ip, truncate), req.user_agent[:1000]
    return event, link.url


def unsubscribe_target(session: Session, keys: tuple[str, ...], token: str) -> Message | None:
    found = _message(session, keys, token, "u")
    return found[0] if found else None


def unsubscribe(session: Session, message: Message, now: datetime, via: str) -> None:
    """Suppress the address for good and stop every enrollment of the prospect."""
    if message.prospect_id is None:
        return
    prospect = session.get(Prospect, message.prospect_id)
    if prospect is None or prospect.status == ProspectStatus.UNSUBSCRIBED:
        return
    mark_prospect(session, prospect.id, ProspectStatus.UNSUBSCRIBED, now)
    record(
        session,
        "unsubscribe",
        now,
        prospect_id=prospect.id,
        enrollment_id=message.enrollment_id,
        message_id=message.id,
        via=via,
    )
    stop_prospect(session, prospect.id, EnrollmentStatus.UNSUBSCRIBED, now, f"unsubscribed ({via})")
