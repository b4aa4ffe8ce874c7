"""Builds every outgoing email: headers, threading, unsubscribe headers, text and HTML parts."""

from __future__ import annotations

import binascii
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from functools import lru_cache

_EMAIL = re.compile(
    r"^[^@\s\"(),:;<>\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII but ":" (RFC 5322 field name)
_SHORT = 70  # a header value this short fits on its line as it is
_LONG = 900  # a word this long is RFC 2047-encoded, which can fold it


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
    """Everything one outbound message needs; `build` turns it into the bytes to send."""

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


def _plain(value: str) -> bool:
    """Whether a header value can be written as it is: ASCII, no encoded-word look-alike, and
    no word so long that its line could pass SMTP's 1,000-octet limit."""
    return value.isascii() and "=?" not in value and all(len(w) < _LONG for w in value.split())


@lru_cache(maxsize=1024)  # a mailbox's name is on every message it sends
def _display_name(name: str) -> str:
    """A display name as a header phrase: quoted when it has specials, RFC 2047 when not ASCII."""
    if _plain(name) and len(name) < _LONG:
        return formataddr((name, "x@y"))[: -len(" <x@y>")]
    return Header(name, "utf-8").encode(linesep="\r\n")


def _address(display: str | None, email: str) -> str:
    # A non-ASCII address is written as UTF-8 (RFC 6532); the transport asks for SMTPUTF8.
    return f"{_display_name(display)} <{email}>" if display else email


def _unstructured(value: str) -> str:
    """A free-text header value: RFC 2047 words when not plain ASCII, folded when long."""
    if not _plain(value):
        return Header(value, "utf-8").encode(linesep="\r\n")
    if len(value) <= _SHORT:
        return value
    return Header(value, "us-ascii").encode(linesep="\r\n")


def _fold(items: list[str], separator: str) -> str:
    """Join header items (Message-IDs, <URLs>), starting a folded line before a long one."""
    out = ""
    line = 0
    for item in items:
        if out and line + len(separator) + len(item) > _SHORT:
            out += separator.rstrip() + "\r\n " + item
            line = 1 + len(item)
        else:
            out += (separator if out else "") + item
            line += (len(separator) if line else 0) + len(item)
    return out


def _text_part(body: str, subtype: str) -> bytes:
    """One UTF-8 text part, quoted-printable: 7-bit lines of at most 76 characters."""
    if not body.endswith("\n"):
        body += "\n"
    normalized = body.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    encoded = binascii.b2a_qp(normalized, istext=True).replace(b"\n", b"\r\n")
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii") + encoded


def build(mail: OutgoingEmail) -> bytes:
    """One email as SMTP-ready bytes (CRLF): multipart/alternative, UTF-8, nothing that lets a
    field add headers. Built directly rather than through `EmailMessage`, whose header parsing
    and refolding cost more than the rest of a send together: headers are folded under 78
    characters, non-ASCII text is RFC 2047-encoded, and both parts are quoted-printable, so
    no line comes near SMTP's 1,000-octet limit."""
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
    for name in mail.extra_headers:
        if not _HEADER_NAME.match(name):
            raise ValueError(f"not a header name: {name!r}")

    headers = [
        ("From", _address(mail.from_name, mail.from_email)),
        ("To", _address(mail.to_name, mail.to_email)),
        ("Subject", _unstructured(mail.subject)),
        ("Date", format_datetime(mail.date)),
        ("Message-ID", mail.message_id),
    ]
    if mail.reply_to:
        headers.append(("Reply-To", mail.reply_to))
    if mail.in_reply_to:
        headers.append(("In-Reply-To", mail.in_reply_to))
    if mail.references:
        headers.append(("References", _fold(mail.references, " ")))
    unsubscribe = [f"<{u}>" for u in (mail.list_unsubscribe_url, mail.list_unsubscribe_mailto) if u]
    if unsubscribe:
        headers.append(("List-Unsubscribe", _fold(unsubscribe, ", ")))
    if mail.list_unsubscribe_url:
        # RFC 8058: the https link may be POSTed to unsubscribe in one click.
        headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    headers.extend((name, _unstructured(value)) for name, value in mail.extra_headers.items())
    # "=_" never occurs in quoted-printable text ("=" is followed by hex digits or a line end).
    boundary = f"=_{secrets.token_hex(16)}"
    headers.append(("MIME-Version", "1.0"))
    headers.append(("Content-Type", f'multipart/alternative;\r\n boundary="{boundary}"'))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("utf-8")
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    return b"".join(
        (
            head,
            delimiter,  # its CRLF ends the header block
            _text_part(mail.text, "plain"),
            delimiter,
            _text_part(mail.html, "html"),
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        )
    )
