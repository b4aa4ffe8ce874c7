"""Helpers for tracking tests: a sent message with its tracked links, and its URLs by kind."""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from sequences.models import Event, Link, Message, MessageStatus, Prospect
from sequences.runtime import Runtime
from sequences.sending.batch import urls_for
from sequences.sending.compose import compose
from sequences.sending.mime import new_message_id
from sequences.tracking.tokens import new_token_id
from sequences.workspace.accounts import default_team

BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Safari/605.1.15"
)
BODY = (
    '<p>Hi, <a href="https://example.com/pricing?plan=pro&amp;ref=mail#compare">pricing</a>, '
    '<a href="https://example.com/demo">book a demo</a>.</p>'
)


@dataclass
class Sent:
    message_id: int
    prospect_id: int
    html: str
    text: str
    links: list[tuple[int, str, bool]]

    def _paths(self, prefix: str) -> list[str]:
        pattern = rf'(?:href|src)="(http://track\.example\.test/{prefix}/[^"]+)"'
        return [urlsplit(html_lib.unescape(u)).path for u in re.findall(pattern, self.html)]

    @property
    def pixel(self) -> str:
        [path] = self._paths("o")
        return path

    @property
    def clicks(self) -> list[str]:
        """Visible click paths in link order, then the hidden honeypot last."""
        return self._paths("c")

    @property
    def documents(self) -> list[str]:
        return self._paths("d")

    @property
    def unsubscribe(self) -> str:
        [path] = sorted(set(self._paths("u")))
        return path


def send_message(
    rt: Runtime,
    *,
    body: str = BODY,
    email: str = "zoe@prospect.example",
    team_id: int | None = None,
) -> Sent:
    """A message as sending.run_step leaves it (sent now, links stored), without SMTP."""
    with rt.sessions.begin() as session:
        team = default_team(session) if team_id is None else None
        prospect = session.scalar(select(Prospect).where(Prospect.email == email))
        if prospect is None:
            prospect = Prospect(team_id=team_id or (team.id if team else 0), email=email)
            session.add(prospect)
            session.flush()
        token_id = new_token_id()
        composed = compose(
            subject_template="Hello",
            html_template=body,
            text_template=None,
            prospect=prospect,
            sender={"name": "Rita", "email": "rita@example.com", "signature": ""},
            token_id=token_id,
            urls=urls_for(rt),
        )
        message = Message(
            token_id=token_id,
            prospect_id=prospect.id,
            message_id=new_message_id(rt.settings.mail_domain),
            to_email=prospect.email,
            status=MessageStatus.SENT,
            subject=composed.subject,
            sent_at=rt.clock.now(),
            created_at=rt.clock.now(),
        )
        session.add(message)
        session.flush()
        session.add_all(
            Link(message_id=message.id, position=p, url=u, hidden=h) for p, u, h in composed.links
        )
        return Sent(message.id, prospect.id, composed.html, composed.text, composed.links)


def events(session: Session, message_id: int, *types: str) -> list[Event]:
    session.expire_all()
    query = select(Event).where(Event.message_id == message_id)
    if types:
        query = query.where(Event.type.in_(types))
    found = list(session.scalars(query.order_by(Event.at, Event.id)))
    session.commit()  # SQLite takes the write lock at BEGIN: never keep a transaction open
    return found


def verdicts(session: Session, message_id: int, *types: str) -> list[tuple[str, Any, Any]]:
    return [(e.type, e.verdict, e.reason) for e in events(session, message_id, *types)]
