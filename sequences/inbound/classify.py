"""Reads one inbound email: its parts, its new words, a bounce report, a return date. Pure."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.errors import (
    CloseBoundaryNotFoundDefect,
    MessageDefect,
    StartBoundaryNotFoundDefect,
)
from email.message import EmailMessage, Message
from email.policy import default
from email.utils import getaddresses

import quotequail
from flufl.bounce import all_failures

from ..tracking import html_to_text

log = logging.getLogger(__name__)


class Unprocessable(ValueError):
    """The bytes are not an email we can read; the message says why."""


@dataclass
class Parsed:
    """What the rest of the inbound code needs from a message, read once, defensively."""

    msg: EmailMessage
    message_id: str | None
    from_email: str | None
    envelope_null: bool  # Return-Path: <> (bounces and many auto-replies)
    subject: str
    in_reply_to: list[str]
    references: list[str]
    addresses: list[str]  # every recipient-ish address: To, Cc, Delivered-To, X-Original-To
    body: str  # the whole text (HTML converted)
    new_text: str  # the sender's new words, quoted history stripped
    defects: list[str] = field(default_factory=list)
    # A multipart body cut short (its closing or opening boundary missing): what arrived is read,
    # but a person's words in it may be cut mid-sentence, so they are weaker evidence.
    truncated: bool = False


@dataclass
class Bounce:
    """A delivery failure report: permanent (5.x.x) or temporary (4.x.x, delayed)."""

    permanent: bool
    status: str | None
    recipients: list[str]
    diagnostic: str | None
    original_message_ids: list[str]
    detector: str  # dsn | flufl | heuristic | verp
    # The reporting MTA stopped trying (Action: failed); False while it still retries (delayed).
    final: bool = True
    evidence: str = ""  # what made it permanent or temporary, for the timeline


_MSGID = re.compile(r"<[^<>\s]{1,900}>")
_HEADER_MSGID = re.compile(r"^message-id:\s*(<[^<>\s]{1,900}>)", re.IGNORECASE | re.MULTILINE)


def dedupe_key(message_id: str | None, raw: bytes) -> str:
    """The sender's Message-ID, or a digest of the bytes when it has none."""
    if message_id:
        return message_id[:998]
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def header(msg: Message, name: str) -> str:
    """A header as text; malformed values come back raw rather than raising."""
    try:
        value = msg.get(name)
        return "" if value is None else " ".join(str(value).split())
    except Exception:  # the email package's header parser has crashed on hostile input
        for key, raw in msg.raw_items() if hasattr(msg, "raw_items") else []:
            if key.lower() == name.lower():
                return " ".join(str(raw).encode("ascii", "replace").decode().split())
        return ""


def _addresses(msg: Message, *names: str) -> list[str]:
    values = [header(msg, n) for n in names]
    found = []
    for _, addr in getaddresses([v for v in values if v]):
        addr = addr.strip().strip("<>")  # case kept: our tokens are case-sensitive
        if "@" in addr:
            found.append(addr)
    return found


def _part_text(part: Message) -> str:
    """Decode a text part whatever its charset claims (wrong and unknown charsets happen)."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8", "cp1252"):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")


def _text_parts(msg: Message) -> tuple[str | None, str | None]:
    """The first text/plain and text/html parts that are not attachments."""
    plain = html = None
    for part in msg.walk():
        if part.is_multipart():
            continue
        disposition = (part.get("Content-Disposition") or "").lower()
        if disposition.startswith("attachment"):
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and plain is None:
            plain = _part_text(part)
        elif ctype == "text/html" and html is None:
            html = _part_text(part)
        if ctype == "message/rfc822" or ctype == "message/delivery-status":
            break  # a bounce's returned message is not the sender's words
    return plain, html


_QUOTE_HEADER = re.compile(
    r"^\s*(On .{0,200} wrote:|Am .{0,200} schrieb .{0,200}:|Le .{0,200} a écrit\s?:|"
    r"El .{0,200} escribió:|Em .{0,200} escreveu:|-{2,}\s*Original Message\s*-{2,}|-{2,}\s*Ursprüngliche Nachricht\s*-{2,}|"
    r"-{2,}\s*Message d'origine\s*-{2,}|-{2,}\s*Mensaje original\s*-{2,}|_{10,}|"
    r"(From|Von|De):\s.{0,300}|Sent from my .{0,40})\s*$",
    re.IGNORECASE,
)
# Our own footer: it must never be read as the prospect asking to unsubscribe.
_OUR_FOOTER = re.compile(
    r"(Not interested\? Unsubscribe\.?|^--\s*$|^Unsubscribe: \S+)", re.I | re.M
)


def strip_quoted(text: str, html: str | None = None) -> str:
    """The new words of a reply: quoted history, attributions and our footer removed."""
    shown = ""
    try:
        if text.strip():
            shown = "\n".join(t for keep, t in quotequail.quote(text) if keep)
        elif html:
            shown = html_to_text("".join(h for keep, h in quotequail.quote_html(html) if keep))
    except Exception:  # quotequail is heuristic; never let it cost us the message
        log.warning("quote stripping failed; keeping the whole text", exc_info=True)
        shown = text or (html_to_text(html) if html else "")
    lines = shown.replace("\r\n", "\n").split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        if _QUOTE_HEADER.match(line) or line.startswith(">") or _OUR_FOOTER.search(line):
            cut = i
            break
    return "\n".join(lines[:cut]).strip()


def _defects(msg: Message) -> list[MessageDefect]:
    found: list[MessageDefect] = []
    for part in msg.walk():
        found.extend(getattr(part, "defects", []))
    return found


# An mbox envelope line ("From sender date"), as mbox files and some fetchers keep before the
# headers; it is not a header, so it is dropped before parsing.
_MBOX_FROM = re.compile(rb"\A\s*From [^\r\n]*\r?\n")


def parse(raw: bytes) -> Parsed:
    """Parse raw RFC 5322 bytes; raise Unprocessable for garbage and headers cut short.

    A leading mbox `From ` line is dropped; a multipart body that lost a boundary is read as far
    as it goes (`truncated`), since a bounce or a report cut short still says what it is.
    """
    if not raw.strip():
        raise Unprocessable("empty message")
    envelope = _MBOX_FROM.match(raw[:2000])
    if envelope:
        raw = raw[envelope.end() :]
    head = raw[:65536]
    if not re.match(rb"[\x21-\x39\x3b-\x7e]{1,100}:", head.lstrip()):
        raise Unprocessable("not an email: it does not start with a header field")
    if b"\n\n" not in raw.replace(b"\r\n", b"\n"):
        raise Unprocessable("truncated: the header section never ends")
    try:
        # Blank lines before the headers would end the header section before it starts.
        msg = message_from_bytes(raw.lstrip(b"\r\n"), policy=default)
    except Exception as exc:  # the parser is lenient, but not every failure is a defect
        raise Unprocessable(f"cannot parse: {type(exc).__name__}") from None
    assert isinstance(msg, EmailMessage)
    if not header(msg, "From") and not header(msg, "Sender") and not header(msg, "Return-Path"):
        raise Unprocessable("not an email: no From header")
    defects = _defects(msg)
    truncated = any(
        isinstance(d, CloseBoundaryNotFoundDefect | StartBoundaryNotFoundDefect) for d in defects
    )
    try:
        plain, html = _text_parts(msg)
    except Exception as exc:
        raise Unprocessable(f"cannot read the body: {type(exc).__name__}") from None
    body = plain if plain and plain.strip() else (html_to_text(html) if html else "")
    from_list = _addresses(msg, "From") or _addresses(msg, "Sender")
    ids = _MSGID.findall(header(msg, "Message-ID"))
    return Parsed(
        msg=msg,
        message_id=ids[0] if ids else None,
        from_email=from_list[0].lower() if from_list else None,
        envelope_null=header(msg, "Return-Path").replace(" ", "") in ("<>", ""),
        subject=header(msg, "Subject"),
        in_reply_to=_MSGID.findall(header(msg, "In-Reply-To")),
        references=_MSGID.findall(header(msg, "References")),
        addresses=_addresses(
            msg, "To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To"
        ),
        body=body,
        new_text=strip_quoted(plain or "", html if not (plain and plain.strip()) else None),
        defects=[type(d).__name__ for d in defects],
        truncated=truncated,
    )


# Bounces

# A status, not part of an IP address quoted in the report (`[4.79.181.168]` is Yahoo's server).
_DSN_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})\b(?!\.\d)")
_SMTP_CODE = re.compile(r"(?:^|\s|\()([45])\d\d[ -](?:[45]\.\d{1,3}\.\d{1,3})?", re.MULTILINE)
# The role names any punctuation apart: `post_master@`, `mailer.daemon@` are the same senders.
# A bare `From: mailer-daemon` (no domain) is the same sender, and so is MDaemon's `MDaemon@`.
_BOUNCE_FROM = re.compile(r"^(m(ail(er)?)?[-_.]?daemon|post[-_.]?master)(@|$)", re.I)
# Stray escapes and quotes some servers write around the local part (`<Postmaster\@host@host>`,
# `"MAILER-DAEMON"@host`): not part of the name.
_ADDRESS_NOISE = re.compile(r"[\\\"'<>\s]")
_BOUNCE_SUBJECT = re.compile(
    r"(undeliver|undelivered mail|delivery status notification|delivery failure|"
    r"mail delivery failed|failure notice|returned mail|delivery has failed|"
    r"could not be delivered|unzustellbar|nicht zustellbar|non remis|no se puede entregar|"
    r"mail delivery status|undeliverable|non-delivery|mail delivery warning|"
    r"delivery delayed|delayed mail|warning: could not send|error sending your (?:mail|message)|"
    r"\b(?:user|recipient) unknown\b|\bunknown (?:user|recipient)\b|\bno such (?:user|mailbox)\b)",
    re.I,
)
_STILL_TRYING = re.compile(
    r"(delayed mail|delivery delayed|will (?:continue to )?retry|still being retried|"
    r"will be retried|still trying|warning only|not yet been delivered)",
    re.I,
)
_TEMPORARY_WORDS = re.compile(
    r"(delayed|will (?:continue to )?retry|will be retried|still trying|not yet been delivered|"
    r"temporar|try again later|deferred|greylist|(?:mailbox|mail ?folder) (?:is )?full|quota|over quota|"
    r"\ba full (?:mailbox|mail ?folder)\b|will continue to try|postponed|"
    r"mailbox exceeded|mailbox exceeds|exceeds (?:the )?allowed size|"
    r"have been failing for a long time|"
    r"retry timeout exceeded|insufficient system storage|"
    # A mailbox with no room left (RFC 3463 X.2.2), however the server words it.
    r"(?:not enough|insufficient) (?:free |storage |disk )?(?:space|storage)|"
    r"mailbox (?:has )?(?:exceeded|reached) (?:its|the) (?:size|storage) limit)",
    re.I,
)
_PERMANENT_WORDS = re.compile(
    r"(permanent(?:ly)? (?:error|failure|fatal|failed)|this is a permanent error|"
    r"(?:user|address|mailbox|recipient|account)[^.\n]{0,30}(?:does not exist|doesn't exist|"
    r"is unknown|unknown|not found|unavailable|disabled|deactivated|closed|inactive|rejected|invalid)|"
    r"no such (?:user|mailbox|address|recipient|person)|(?:user|recipient) unknown|unknown (?:user|recipient)|"
    r"does not exist|doesn't have an? .{0,30}account|no mailbox here|not a valid (?:mailbox|recipient|address|user)|"
    r"invalid (?:recipient|mailbox|address)|unrouteable address|host (?:or domain name )?not found|"
    r"domain (?:name )?not found|no (?:mx|mail exchanger)|delivery has failed to these recipients|"
    r"no longer (?:with|employed|available|in use)|"
    r"unzustellbar|existiert nicht|unbekannt|n'existe pas|inexistente|no existe)",
    re.I,
)
_BOILERPLATE_PERMANENT = re.compile(r"(this )?is a permanent error", re.I)
# Where a report stops and the returned message (whose words are not the report's) begins.
_RETURNED = re.compile(
    r"^(-{2,}\s*(This is a copy of|Below this line is a copy|Original message|Returned message|"
    r"Message (headers )?follow)|Original message follows|---------- Forwarded message|"
    r"Content-Type: message/rfc822|Received: from )",
    re.I | re.M,
)


def _report_text(text: str) -> str:
    """The report's own words, without the returned message that many formats append."""
    cut = _RETURNED.search(text)
    return text[: cut.start()] if cut else text


def _decoded(recipients: frozenset[bytes]) -> list[str]:
    return sorted(r.decode("ascii", "replace").lower() for r in recipients)


def _delivery_status_blocks(msg: Message) -> list[Message]:
    blocks: list[Message] = []
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                blocks.extend(p for p in payload if isinstance(p, Message))
    return blocks


def _returned_message_ids(msg: Message) -> list[str]:
    """Message-IDs of the returned original (message/rfc822 or text/rfc822-headers)."""
    ids: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                ids.extend(_MSGID.findall(header(inner, "Message-ID")))
        elif ctype in ("text/rfc822-headers", "text/rfc822-header") or (
            ctype == "text/plain" and part is not msg and "message-id:" in _part_text(part).lower()
        ):
            ids.extend(m for m in _HEADER_MSGID.findall(_part_text(part)))
    return list(dict.fromkeys(ids))


def from_daemon(parsed: Parsed) -> bool:
    """Sent by a mail server's role address: mailer-daemon or postmaster, with a domain or not,
    or by no one at all (`From: <>`, the null sender, which no person writes from)."""
    bare = header(parsed.msg, "From").lower()
    if _ADDRESS_NOISE.sub("", bare) == "" and "<>" in bare.replace(" ", ""):
        return True
    candidates = [parsed.from_email or "", bare, *re.findall(r"<([^<>]*)>", bare)]
    return any(_BOUNCE_FROM.match(_ADDRESS_NOISE.sub("", c)) for c in candidates)


# A report by its content: a machine sender (or mail marked as generated), the returned message
# attached, and the report's own words saying it was not delivered (carriers' and appliances'
# reports follow no standard form). Failure wording outranks `Precedence: bulk`, which servers
# such as MDaemon put on their reports: a person's reply carries neither mark with a returned
# message and these words.
_MACHINE_SENDER = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|mail[-_.]?error|bounces?)@", re.I
)
_NOT_DELIVERED = re.compile(
    r"(could not be delivered|couldn't be delivered|was not delivered|cannot be delivered|"
    r"undeliverable|delivery (?:has )?failed|failed to deliver|unable to deliver|"
    r"no such (?:user|mailbox|recipient|address)|(?:user|recipient) unknown|unknown (?:user|recipient))",
    re.I,
)
_RETURNED_TYPES = ("message/rfc822", "text/rfc822-headers", "text/rfc822-header")


def _marked_generated(msg: Message) -> bool:
    """`Precedence: bulk/junk` or `Auto-Submitted: auto-generated`: machine mail, not a person's."""
    precedence = header(msg, "Precedence").lower()
    return precedence in ("bulk", "junk") or header(msg, "Auto-Submitted").lower().startswith(
        "auto-generated"
    )


def _reports_by_content(parsed: Parsed) -> bool:
    if not (_MACHINE_SENDER.match(parsed.from_email or "") or _marked_generated(parsed.msg)):
        return False
    if not any(p.get_content_type() in _RETURNED_TYPES for p in parsed.msg.walk()):
        return False
    return bool(_NOT_DELIVERED.search(_report_text(parsed.body[:20000])))


def looks_like_bounce(parsed: Parsed) -> bool:
    """A delivery report by its form: multipart/report, a mailer-daemon, a bounce subject."""
    return bool(
        parsed.msg.get_content_type() == "multipart/report"
        or from_daemon(parsed)
        or _BOUNCE_SUBJECT.search(parsed.subject)
        or _reports_by_content(parsed)
    )


def detect_bounce(parsed: Parsed, to_verp: bool) -> Bounce | None:
    """A bounce report, or None. `to_verp`: it came to one of our per-message bounce addresses."""
    msg = parsed.msg
    ctype = msg.get_content_type()
    report_type = (msg.get_param("report-type") or "") if ctype == "multipart/report" else ""
    is_dsn = ctype == "multipart/report" and str(report_type).lower() == "delivery-status"
    looks_like = bool(
        from_daemon(parsed) or _BOUNCE_SUBJECT.search(parsed.subject) or _reports_by_content(parsed)
    )
    if not (is_dsn or looks_like or to_verp):
        return None

    statuses: list[str] = []
    actions: list[str] = []
    recipients: list[str] = []
    diagnostic = None
    for block in _delivery_status_blocks(msg):
        action = header(block, "Action").lower()
        block_status = header(block, "Status")
        if action:
            actions.append(action)
        if block_status:
            statuses.extend(".".join(m) for m in _DSN_STATUS.findall(block_status))
        for name in ("Final-Recipient", "Original-Recipient"):
            value = header(block, name)
            if value:
                addr = value.split(";", 1)[-1].strip().strip("<>").lower()
                if "@" in addr and addr not in recipients:
                    recipients.append(addr)
        diagnostic = diagnostic or header(block, "Diagnostic-Code") or None

    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector choked on a malformed report; the heuristics still apply
        log.warning("flufl.bounce failed on a report", exc_info=True)
        temporary, permanent = frozenset(), frozenset()
    for addr in _decoded(permanent) + _decoded(temporary):
        if addr not in recipients:
            recipients.append(addr)

    text = _report_text(parsed.body[:20000])
    reported = list(statuses)  # from the machine-readable part, the most trustworthy
    in_text = [".".join(m) for m in _DSN_STATUS.findall(text) if m[0] in "45"]
    if not statuses:
        statuses = in_text
    codes = list(_SMTP_CODE.findall(text))
    if diagnostic is None:
        line = next((ln for ln in text.splitlines() if _SMTP_CODE.search(ln)), None)
        diagnostic = line.strip()[:500] if line else None
    # Exim and qmail say "This is a permanent error" in every failure report, whatever the
    # cause; the reason given for the address ("retry timeout exceeded") is what tells.
    worded = _BOILERPLATE_PERMANENT.sub(lambda m: " " * len(m.group(0)), text)
    worded += " " + parsed.subject
    permanent_words = _PERMANENT_WORDS.search(worded)
    temporary_words = _TEMPORARY_WORDS.search(worded)
    boilerplate = _BOILERPLATE_PERMANENT.search(text)

    # The status code decides (4.x.x is temporary even when the action says "failed"), then an
    # SMTP code or the wording of the report, and only then what flufl.bounce's detectors say:
    # their heuristics call some permanent failures "warnings" (a plain Exim report is one).
    evidence: str
    if reported:
        permanent_flag = any(s.startswith("5") for s in reported)
        evidence = f"DSN Status: {', '.join(dict.fromkeys(reported))}"
    elif in_text:
        permanent_flag = any(s.startswith("5") for s in in_text)
        evidence = f"status {', '.join(dict.fromkeys(in_text))} in the report"
    elif codes:
        permanent_flag = "5" in codes
        evidence = f"SMTP {'5xx' if permanent_flag else '4xx'} reply in the report"
    elif permanent_words and not (
        temporary_words and temporary_words.start() < permanent_words.start()
    ):
        permanent_flag = True
        evidence = f'permanent wording: "{permanent_words.group(0)[:50]}"'
    elif temporary_words:
        permanent_flag = False
        evidence = f'temporary wording: "{temporary_words.group(0)[:50]}"'
    elif boilerplate:
        permanent_flag = True
        evidence = f'permanent wording: "{boilerplate.group(0)[:50]}"'
    elif any(a.startswith(("fail", "error")) for a in actions) or permanent:
        permanent_flag = True
        evidence = "Action: failed" if actions else "flufl.bounce: permanent failure"
    elif any(a.startswith("delayed") for a in actions) or temporary:
        permanent_flag = False
        evidence = "Action: delayed" if actions else "flufl.bounce: temporary failure"
    elif looks_like or is_dsn:
        permanent_flag = True
        evidence = "a delivery report with no temporary sign"
    else:
        # Mail to a VERP address that reads like neither a report nor an auto-reply: the
        # address still names the message it answers, so it is a (mangled) bounce.
        permanent_flag = True
        evidence = "mail to the bounce address"
    wanted = "5" if permanent_flag else "4"
    status: str | None = next((s for s in statuses if s[0] == wanted), None)
    if status is None and statuses:
        status = statuses[0]
    detector = "dsn" if is_dsn else ("flufl" if permanent or temporary else "heuristic")
    if not (is_dsn or looks_like):
        detector = "verp"
    still_trying = any(a.startswith("delayed") for a in actions) or bool(
        _STILL_TRYING.search(text[:5000] + " " + parsed.subject)
    )
    return Bounce(
        permanent=permanent_flag,
        status=status,
        recipients=recipients,
        diagnostic=diagnostic,
        original_message_ids=_returned_message_ids(msg),
        detector=detector,
        final=permanent_flag or not still_trying,
        evidence=evidence,
    )


# Read receipts (MDN, RFC 8098): made by the recipient's mail client, they answer nothing

_DISPOSITION = re.compile(r"^Disposition:[ \t]*([^\r\n]*)", re.I | re.M)


def _report(msg: Message, kind: str, *, exact: bool = False) -> tuple[bool, str]:
    """Whether `msg` is a report of `kind` (multipart/report; report-type=kind, or a
    message/kind part anywhere), and the source of that part ("" when only the type says so)."""
    report_type = str(msg.get_param("report-type") or "").lower()
    found = msg.get_content_type() == "multipart/report" and (
        report_type == kind if exact else report_type.startswith(kind)
    )
    for part in msg.walk():
        if part.get_content_type() == f"message/{kind}":
            return True, _part_source(part)
    return found, ""


@dataclass(frozen=True)
class Receipt:
    """A read receipt's fields: who it is from and what their client says was done."""

    evidence: str  # the form and the disposition, named for the reason
    disposition: str  # "displayed", "deleted", ... (the part after the "/" and ";"), or ""
    reporter: str  # Final-Recipient's address, else the sender's, else ""


_FINAL_RECIPIENT = re.compile(
    r"^Final-Recipient:[ \t]*(?:[^;\r\n]*;)?[ \t]*([^\r\n]*)", re.I | re.M
)


def detect_receipt(parsed: Parsed) -> Receipt | None:
    """A message disposition notification, by its form (multipart/report;
    report-type=disposition-notification, or a message/disposition-notification part): its
    fields, else None. Machine mail: never a reply, never an unsubscribe."""
    is_mdn, block = _report(parsed.msg, "disposition-notification")
    if not is_mdn:
        return None
    disposition = _DISPOSITION.search(block[:5000])
    value = " ".join(disposition.group(1).split())[:60] if disposition else ""
    # "manual-action/MDN-sent-manually; displayed": the disposition type follows the ";".
    kind = value.rsplit(";", 1)[-1].split("/", 1)[0].strip().lower() if ";" in value else ""
    final = _FINAL_RECIPIENT.search(block[:5000])
    reporter = final.group(1).strip().strip("<>").lower() if final else ""
    said = f", Disposition: {value}" if value else ""
    return Receipt(
        evidence=f"read receipt (multipart/report; report-type=disposition-notification{said})",
        disposition=kind[:40],
        reporter=(reporter if "@" in reporter else parsed.from_email or "")[:320],
    )


# Feedback reports (ARF, RFC 5965): a recipient marked our mail as spam, or opted out


@dataclass
class Complaint:
    """A feedback-loop report: who complained about which message, and how."""

    feedback_type: str  # abuse | opt-out | fraud | virus | other (RFC 5965 3.5), as reported
    recipients: list[str]  # Removal-Recipient, Original-Rcpt-To, else the reported message's To
    original_message_ids: list[str]
    agent: str  # the report's User-Agent (the mailbox provider's feedback loop)
    form: str = "feedback report"  # ARF, or a provider's own junk-mail report

    @property
    def complains(self) -> bool:
        """Authentication-failure reports (RFC 6591) and "not-spam" are about our mail, not a
        person saying stop."""
        return self.feedback_type not in NOT_COMPLAINTS

    @property
    def evidence(self) -> str:
        who = ", ".join(self.recipients[:3]) or "recipient not named"
        by = f" from {self.agent[:60]}" if self.agent else ""
        if self.form != "feedback report":
            return f"{self.form}{by} about {who}"
        return f"feedback report (Feedback-Type: {self.feedback_type}{by}) about {who}"


NOT_COMPLAINTS = ("auth-failure", "not-spam")
_REPORT_FIELD = re.compile(
    r"^(Feedback-Type|Removal-Recipient|Original-Rcpt-To|User-Agent):[ \t]*([^\r\n]*)",
    re.I | re.M,
)


def _part_source(part: Message) -> str:
    """A part's content as text, whether the parser made it a message or left it a string."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return "\n".join(p.as_string() if isinstance(p, Message) else str(p) for p in payload)
    return _part_text(part)


def _reported_recipients(msg: Message) -> list[str]:
    """The To of the reported message (message/rfc822 or its headers), for reports naming none."""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                return _addresses(inner, "To")
        elif ctype in ("text/rfc822-headers", "text/rfc822-header"):
            inner = message_from_bytes(_part_text(part).encode("utf-8", "replace"))
            return _addresses(inner, "To")
    return []


# Junk-mail reports that are not ARF: Microsoft's JMRP (Outlook.com / Hotmail) sends the reported
# message as a message/rfc822 part, stamped with the complainant's address, from staff@hotmail.com
# with "complaint about message from <ip>"; other providers' older loops send the same shape.
_JUNK_REPORT_RECIPIENT = ("X-HmXmrOriginalRecipient",)
_JUNK_REPORT_SUBJECT = re.compile(
    r"^\s*(complaint about message from|email feedback report|spam (complaint|report)|"
    r"junk (mail )?report|abuse report)\b",
    re.I,
)
# The feedback loops' own senders (a role address of a mailbox provider), never a person.
_JUNK_REPORT_SENDER = re.compile(
    r"^(staff|abuse|fbl|feedback|feedbackloop|scomp|complaints?|spamreport|junkmail)@", re.I
)


def _reported_message(msg: Message) -> Message | None:
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                return inner
    return None


def _junk_report(parsed: Parsed) -> Complaint | None:
    """A provider's junk-mail report without ARF's fields: the reported message attached, and
    either the provider's stamp naming who complained, or a feedback loop's sender and subject.
    A person forwarding a message has neither the stamp nor a role sender and such a subject."""
    inner = _reported_message(parsed.msg)
    if inner is None:
        return None
    stamped = [a for n in _JUNK_REPORT_RECIPIENT for a in _addresses(inner, n)]
    by_loop = bool(
        _JUNK_REPORT_SENDER.match(parsed.from_email or "")
        and _JUNK_REPORT_SUBJECT.search(parsed.subject)
    )
    if not stamped and not by_loop:
        return None
    recipients = [a.lower() for a in stamped] or [a.lower() for a in _addresses(inner, "To")]
    return Complaint(
        feedback_type="abuse",
        recipients=list(dict.fromkeys(recipients)),
        original_message_ids=_returned_message_ids(parsed.msg),
        agent=parsed.from_email or "",
        form="junk-mail report, not ARF",
    )


def detect_complaint(parsed: Parsed) -> Complaint | None:
    """A feedback report (a complaint, or another kind: see `complains`) by its form
    (multipart/report; report-type=feedback-report, or a message/feedback-report part) and its
    Feedback-Type field, or a provider's junk-mail report in its own form; else None."""
    msg = parsed.msg
    is_report, block = _report(msg, "feedback-report", exact=True)
    if not is_report:
        return _junk_report(parsed)
    if not block:  # the report part was cut off or mislabelled: read its fields from the body
        block = "\n".join(_part_source(p) for p in msg.walk() if not p.is_multipart())
    fields: dict[str, list[str]] = {}
    for name, value in _REPORT_FIELD.findall(block[:20000]):
        fields.setdefault(name.lower(), []).append(value.strip())
    kind = (fields.get("feedback-type") or [""])[0].lower()[:40]
    if not kind:
        return None
    recipients: list[str] = []
    for name in ("removal-recipient", "original-rcpt-to"):
        for value in fields.get(name, []):
            for _, addr in getaddresses([value]):
                if "@" in addr and addr.lower() not in recipients:
                    recipients.append(addr.strip("<>").lower())
    if not recipients:
        recipients = [a.lower() for a in _reported_recipients(msg)]
    return Complaint(
        feedback_type=kind,
        recipients=recipients,
        original_message_ids=_returned_message_ids(msg),
        agent=(fields.get("user-agent") or [""])[0],
    )


# Return dates in out-of-office texts

_MONTHS = {
    # English
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
    # German
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "maerz": 3, "mai": 5, "juni": 6,
    "juli": 7, "oktober": 10, "okt": 10, "dezember": 12, "dez": 12,
    # French
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "juin": 6,
    "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
    "décembre": 12, "decembre": 12,
    # Spanish
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11,
    "diciembre": 12,
}  # fmt: skip
_MONTH_NAMES = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
_ISO = re.compile(r"\b(20\d\d)-(\d{1,2})-(\d{1,2})\b")
_NUMERIC = re.compile(r"\b(\d{1,2})([./])(\d{1,2})(?:\2(\d{2,4}))?\b")
_DAY_MONTH = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th|er|\.)?\s+(?:de\s+)?({_MONTH_NAMES})\.?(?:\s+(?:de\s+)?(\d{{4}}))?\b",
    re.I,
)
_MONTH_DAY = re.compile(
    rf"\b({_MONTH_NAMES})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?", re.I
)


def names_a_date(text: str) -> bool:
    """Whether the text names a calendar date ("12 January", "01/15/2026", "2026-01-12")."""
    return bool(
        _ISO.search(text)
        or _NUMERIC.search(text)
        or _DAY_MONTH.search(text)
        or _MONTH_DAY.search(text)
    )


def _make(year: int | None, month: int, day: int, today: date) -> date | None:
    try:
        found = date(year or today.year, month, day)
    except ValueError:
        return None
    if year is None and found < today - timedelta(days=7):
        found = found.replace(year=found.year + 1)  # "back on January 5" written in December
    return found


def return_date(text: str, now: datetime, horizon_days: int = 366) -> datetime | None:
    """The latest future date an out-of-office text names (when its writer is back), if any."""
    today = now.astimezone(UTC).date()
    found: list[date] = []
    text = text[:5000]
    for y, m, d in _ISO.findall(text):
        found.append(_make(int(y), int(m), int(d), today) or today)
    for a, sep, b, y in _NUMERIC.findall(_ISO.sub(" ", text)):
        year = None
        if y:
            year = int(y) + (2000 if len(y) == 2 else 0)
        first, second = int(a), int(b)
        # Dots are day.month everywhere; a slash is month/day in US English unless impossible.
        day, month = (first, second) if sep == "." or first > 12 else (second, first)
        made = _make(year, month, day, today)
        if made:
            found.append(made)
    for d, name, y in _DAY_MONTH.findall(text):
        made = _make(int(y) if y else None, _MONTHS[name.lower()], int(d), today)
        if made:
            found.append(made)
    for name, d, y in _MONTH_DAY.findall(text):
        made = _make(int(y) if y else None, _MONTHS[name.lower()], int(d), today)
        if made:
            found.append(made)
    future = [f for f in found if today < f <= today + timedelta(days=horizon_days)]
    if not future:
        return None
    # Resume the morning after: the person is back that day and catching up.
    back = max(future) + timedelta(days=1)
    return datetime(back.year, back.month, back.day, tzinfo=UTC)
