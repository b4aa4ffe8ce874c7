"""IMAP polling of reps' own mailboxes: read-only, over TLS, each message ingested once.

The folder is opened with EXAMINE (read-only) and bodies fetched with BODY.PEEK, so the rep's
mail is never marked read, moved or deleted. Progress is a UID cursor per (mailbox, folder) in
the database, advanced in the same transaction that stores each message: a crash re-reads at
most the message in flight, and inbound deduplication makes that harmless. A UIDVALIDITY
change (the folder was rebuilt) restarts the cursor; deduplication again keeps it idempotent.
"""

from __future__ import annotations

import logging
import ssl
import threading
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qs, unquote, urlsplit

from imapclient import IMAPClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..config import ConfigError
from ..db import session_scope
from ..failures import explain_imap
from ..models import ImapCursor, Mailbox
from ..runtime import Runtime
from .ingest import after_commit, ingest

log = logging.getLogger(__name__)

BATCH = 50


@dataclass(frozen=True)
class ImapSettings:
    """Where a mailbox's mail is read from: parsed from Mailbox.imap_url."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    starttls: bool = False  # imap://...?starttls=true instead of imaps://
    cafile: str | None = None  # a private CA (or a self-signed server certificate)
    timeout: float = 30.0


def parse_imap_url(raw: str) -> ImapSettings:
    """imaps://user:password@host:993/INBOX?cafile=/path, or imap://...?starttls=true."""
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"imap_url: not a valid URL ({exc})") from None
    options = {k.lower(): v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(options) - {"starttls", "cafile", "timeout"}
    if unknown:
        raise ConfigError(f"imap_url: unknown option(s) {', '.join(sorted(unknown))}")
    starttls = options.get("starttls", "false").lower() in ("true", "1", "yes")
    if parts.scheme == "imap" and not starttls:
        raise ConfigError("imap_url: use imaps:// or imap://...?starttls=true (TLS is required)")
    if parts.scheme not in ("imap", "imaps"):
        raise ConfigError("imap_url: scheme must be imaps:// (or imap:// with starttls=true)")
    if not parts.hostname or not parts.username or parts.password is None:
        raise ConfigError("imap_url: needs user, password and host")
    try:
        timeout = float(options.get("timeout", "30"))
    except ValueError:
        raise ConfigError("imap_url: timeout must be a number of seconds") from None
    return ImapSettings(
        host=parts.hostname,
        port=port or (143 if parts.scheme == "imap" else 993),
        username=unquote(parts.username),
        password=unquote(parts.password),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
        starttls=starttls,
        cafile=options.get("cafile"),
        timeout=timeout,
    )


def _connect(settings: ImapSettings) -> IMAPClient:
    context = ssl.create_default_context(cafile=settings.cafile)
    client = IMAPClient(
        settings.host,
        port=settings.port,
        ssl=not settings.starttls,
        ssl_context=context,
        timeout=settings.timeout,
    )
    try:
        if settings.starttls:
            client.starttls(context)
        client.login(settings.username, settings.password)
    except BaseException:
        client.shutdown()  # a refused login must not leak the TLS socket
        raise
    return client


def _cursor(session: Session, mailbox_id: int, folder: str) -> ImapCursor | None:
    return session.scalar(
        select(ImapCursor).where(ImapCursor.mailbox_id == mailbox_id, ImapCursor.folder == folder)
    )


def _advance(
    session: Session, mailbox_id: int, folder: str, uidvalidity: int, uid: int, now: datetime
) -> None:
    cursor = _cursor(session, mailbox_id, folder)
    if cursor is None:
        session.add(
            ImapCursor(
                mailbox_id=mailbox_id,
                folder=folder,
                uidvalidity=uidvalidity,
                last_uid=uid,
                updated_at=now,
            )
        )
    else:
        cursor.uidvalidity, cursor.last_uid, cursor.updated_at = uidvalidity, uid, now


def poll_mailbox(rt: Runtime, mailbox_id: int, imap_url: str) -> int:
    """Ingest the folder's messages newer than the cursor; returns how many were read."""
    settings = parse_imap_url(imap_url)
    limit = rt.settings.inbound_max_bytes
    client = _connect(settings)
    try:
        selected = client.select_folder(settings.folder, readonly=True)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        with rt.sessions() as session:
            cursor = _cursor(session, mailbox_id, settings.folder)
            last = cursor.last_uid if cursor and cursor.uidvalidity == uidvalidity else 0
        # "N:*" always matches the newest message, even below N: filter on our side.
        uids = sorted(int(u) for u in client.search(["UID", f"{last + 1}:*"]) if int(u) > last)
        read = 0
        for start in range(0, len(uids), BATCH):
            chunk = uids[start : start + BATCH]
            sizes = client.fetch(chunk, ["RFC822.SIZE"])
            for uid in chunk:
                size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))
                part = b"BODY.PEEK[HEADER]" if size > limit else b"BODY.PEEK[]"
                fetched = client.fetch([uid], [part]).get(uid, {})
                raw = fetched.get(b"BODY[HEADER]" if size > limit else b"BODY[]") or b""
                _store(rt, mailbox_id, settings.folder, uidvalidity, uid, bytes(raw), size)
                read += 1
        return read
    finally:
        try:
            client.logout()
        except Exception:
            log.debug("IMAP logout failed", exc_info=True)


def _store(
    rt: Runtime, mailbox_id: int, folder: str, uidvalidity: int, uid: int, raw: bytes, size: int
) -> None:
    """Ingest one message and move the cursor past it, in one transaction."""
    now = rt.clock.now()
    try:
        with session_scope(rt.sessions) as session:
            outcome = ingest(
                session, rt.settings, now, raw, source="imap", mailbox_id=mailbox_id, size=size
            )
            _advance(session, mailbox_id, folder, uidvalidity, uid, now)
    except IntegrityError:
        # Stored meanwhile by another source (the same mail via SMTP or the webhook).
        with session_scope(rt.sessions) as session:
            _advance(session, mailbox_id, folder, uidvalidity, uid, now)
        return
    # A database error above propagates: the cursor did not move, the next pass reads it again.
    after_commit(rt, outcome)


def poll_all(rt: Runtime) -> dict[int, int | str]:
    """Poll every mailbox that has an imap_url; one failing mailbox does not stop the others."""
    with rt.sessions() as session:
        boxes = [
            (m.id, m.imap_url)
            for m in session.scalars(select(Mailbox).where(Mailbox.imap_url.is_not(None)))
        ]
    results: dict[int, int | str] = {}
    for mailbox_id, url in boxes:
        assert url is not None
        try:
            results[mailbox_id] = poll_mailbox(rt, mailbox_id, url)
        except Exception as exc:
            # The words and an error id for the user; the exception for the log only.
            results[mailbox_id] = explain_imap(exc, mailbox_id)
    return results


def run_forever(rt: Runtime, stop: threading.Event, interval: float = 60.0) -> None:
    """Poll every `interval` seconds until `stop` is set."""
    while not stop.is_set():
        try:
            poll_all(rt)
        except Exception:
            log.exception("IMAP poll pass failed; retrying")
        stop.wait(interval)
