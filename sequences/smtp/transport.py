"""Sending through SMTP: one reused connection, and a hook just before the point of no return."""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import SmtpSettings
from ..metrics import observe_smtp

if TYPE_CHECKING:
    from .dkim import DkimSigner

# Seconds after a successful send during which the connection is reused without a NOOP check.
FRESH_SECONDS = 5.0


class TemporaryFailure(Exception):
    """4xx or a lost connection before DATA: nothing was delivered, try again later.

    `connection` is true when the server could not be reached or talked to at all (rather
    than answering 4xx for this message): the next message would fail the same way.
    """

    def __init__(self, message: str, *, connection: bool = False) -> None:
        super().__init__(message)
        self.connection = connection


class PermanentFailure(Exception):
    """5xx: do not retry. `code` and `reply` are the server's words."""

    def __init__(self, code: int, reply: str) -> None:
        super().__init__(f"{code} {reply}")
        self.code = code
        self.reply = reply

    @property
    def recipient_bad(self) -> bool:
        """5.1.x: the address itself does not exist (RFC 3463)."""
        return self.reply.lstrip().startswith("5.1.") or (
            self.code in (550, 551, 553)
            and ("5.1." in self.reply or "user unknown" in self.reply.lower())
        )


class OutcomeUnknown(Exception):
    """The connection broke after the data was sent and before the reply: maybe delivered."""


@dataclass
class SendResult:
    code: int
    reply: str


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


class SmtpTransport:
    """Keeps one SMTP connection open per thread and reconnects when it drops."""

    def __init__(self, settings: SmtpSettings, signer: DkimSigner | None = None) -> None:
        self.settings = settings
        # Every message leaves through send(), so signing here covers steps, notices, digests.
        self.signer = signer
        self._local = threading.local()
        self._open: set[smtplib.SMTP] = set()  # every thread's connection, to close at shutdown
        self._open_lock = threading.Lock()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        conn: smtplib.SMTP
        if s.ssl:
            conn = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
            )
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        conn.ehlo()
        if s.starttls:
            conn.starttls(context=ssl.create_default_context())
            conn.ehlo()
        if s.username:
            conn.login(s.username, s.password or "")
        return conn

    def _connection(self) -> tuple[smtplib.SMTP, bool]:
        """This thread's connection and whether it was reused (it may have died meanwhile)."""
        conn: smtplib.SMTP | None = getattr(self._local, "conn", None)
        if conn is not None:
            # A connection used a moment ago is almost surely alive: skip the NOOP round trip
            # (send() reconnects once if it was not). An idle one is checked first.
            if time.monotonic() - getattr(self._local, "used", 0.0) < FRESH_SECONDS:
                return conn, True
            try:
                if conn.noop()[0] == 250:
                    return conn, True
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        conn = self._connect()
        self._local.conn = conn
        with self._open_lock:
            self._open.add(conn)
        return conn, False

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._open_lock:
                self._open.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        """Close every thread's connection (at shutdown)."""
        with self._open_lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                conn.quit()
            with contextlib.suppress(OSError):
                conn.close()

    def send(
        self,
        payload: bytes,
        envelope_from: str,
        recipient: str,
        before_data: Callable[[], None] | None = None,
    ) -> SendResult:
        """Send one message (`mailer.build`'s bytes). `before_data` runs after RCPT is accepted,
        right before DATA.

        Raises TemporaryFailure, PermanentFailure or OutcomeUnknown.
        """
        if self.signer is not None:
            # Before MAIL FROM, so the time between the check before DATA and DATA stays short.
            payload = self.signer.sign(payload)
        started = time.monotonic()
        options = ["SMTPUTF8"] if _needs_utf8(envelope_from, recipient) else []
        for attempt in (1, 2):
            reused = False
            try:
                conn, reused = self._connection()
                code, reply = _mail(conn, envelope_from, options)
                self._check(conn, code, reply)
                code, reply = _rcpt(conn, recipient)
                self._check(conn, code, reply)
                break
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()
                if reused and attempt == 1:
                    continue  # the server closed an idle connection: one fresh try, at once
                raise TemporaryFailure(
                    f"connection failed before DATA: {exc}", connection=True
                ) from None
        if before_data is not None:
            try:
                before_data()
            except BaseException:
                self._reset(conn)
                raise
        try:
            code, reply = conn.data(payload)
        except smtplib.SMTPDataError as exc:
            self._reset(conn)
            self._raise_for(exc.smtp_code, _decode(exc.smtp_error))
            raise  # unreachable: _raise_for always raises for non-2xx
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise OutcomeUnknown(f"connection lost during DATA: {exc}") from None
        self._local.used = time.monotonic()
        observe_smtp(self._local.used - started)
        return SendResult(code, _decode(reply))

    def _reset(self, conn: smtplib.SMTP) -> None:
        try:
            conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _check(self, conn: smtplib.SMTP, code: int, reply: bytes) -> None:
        if 200 <= code < 300:
            return
        self._reset(conn)
        self._raise_for(code, _decode(reply))

    @staticmethod
    def _raise_for(code: int, reply: str) -> None:
        if 400 <= code < 500 or code < 200:
            raise TemporaryFailure(f"{code} {reply}")
        raise PermanentFailure(code, reply)


# An address smtplib's quoteaddr() would return as "<address>" unchanged: a dot-atom local part
# and a domain. For these MAIL and RCPT skip quoteaddr, whose email.utils.parseaddr costs more
# than the rest of both commands; anything else goes through smtplib as it is.
_SIMPLE_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


def _mail(conn: smtplib.SMTP, sender: str, options: list[str]) -> tuple[int, bytes]:
    if options or not _SIMPLE_ADDRESS.fullmatch(sender):
        return conn.mail(sender, options)
    return conn.docmd("mail", f"FROM:<{sender}>")  # what conn.mail() sends for it


def _rcpt(conn: smtplib.SMTP, recipient: str) -> tuple[int, bytes]:
    if not _SIMPLE_ADDRESS.fullmatch(recipient):
        return conn.rcpt(recipient)
    return conn.docmd("rcpt", f"TO:<{recipient}>")  # what conn.rcpt() sends for it


def _needs_utf8(*addresses: str) -> bool:
    return any(not a.isascii() for a in addresses)
