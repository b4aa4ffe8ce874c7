"""Builds every outgoing email: headers, threading, unsubscribe headers, text and HTML parts."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

_EMAIL = re.compile(
    r"^[^@\s\"(),:;<>\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


class HeaderInjection(ValueError):
    """A value meant for a header contains a line break."""


def is_valid_email(address: str) -> bool:
    """A pragmatic check: one @, a dotted domain, no spaces or header-breaking characters."""
    return len(address) <= 320 and bool(_EMAIL.match(address))


def _clean(name: str, value: str | None) -> str | None:
    if value is not None and ("\r" in value or "\n" in value or "\x00" in value):
        raise HeaderInjection(f"{name} contains a line break")
    return value


def new_message_id(domain: str) -> str:
    return f"<{secrets.token_hex(16)}@{domain}>"


@dataclass
class OutgoingEmail:
    """Everything one outbound message needs; `build` turns it into bytes-ready MIME."""

    from_email: str
    from_name: str
    to_email: str
    to_name: str | None
    subject: str
    html: str
    text: str
    message_id: str
    date: datetime
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    list_unsubscribe_url: str | None = None
    list_unsubscribe_mailto: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


def _address(display: str | None, email: str) -> Address:
    local, _, domain = email.rpartition("@")
    return Address(display_name=display or "", username=local, domain=domain)


def build(mail: OutgoingEmail) -> EmailMessage:
    """MIME for one email: multipart/alternative, UTF-8, nothing that lets a field add headers."""
    for name, value in (
        ("from name", mail.from_name),
        ("from address", mail.from_email),
        ("to address", mail.to_email),
        ("to name", mail.to_name),
        ("subject", mail.subject),
        ("reply-to", mail.reply_to),
        ("in-reply-to", mail.in_reply_to),
        *mail.extra_headers.items(),
    ):
        _clean(name, value)
    for email in (mail.from_email, mail.to_email, mail.reply_to):
        if email is not None and not is_valid_email(email):
            raise ValueError(f"not a valid email address: {email!r}")

    msg = EmailMessage(policy=SMTP)
    msg["From"] = _address(mail.from_name, mail.from_email)
    msg["To"] = _address(mail.to_name, mail.to_email)
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(mail.date)
    msg["Message-ID"] = mail.message_id
    if mail.reply_to:
        msg["Reply-To"] = mail.reply_to
    if mail.in_reply_to:
        msg["In-Reply-To"] = mail.in_reply_to
    if mail.references:
        msg["References"] = " ".join(mail.references)
    unsubscribe = [f"<{u}>" for u in (mail.list_unsubscribe_url, mail.list_unsubscribe_mailto) if u]
    if unsubscribe:
        msg["List-Unsubscribe"] = ", ".join(unsubscribe)
    if mail.list_unsubscribe_url:
        # RFC 8058: the https link may be POSTed to unsubscribe in one click.
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in mail.extra_headers.items():
        msg[name] = value
    msg.set_content(mail.text, subtype="plain", charset="utf-8")
    msg.add_alternative(mail.html, subtype="html", charset="utf-8")
    return msg
