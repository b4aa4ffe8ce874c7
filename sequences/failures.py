"""A failure after enrollment in a rep's words: the message, the fix, the actions and an error id.

Raw exception text (Jinja, SQLAlchemy, smtplib) never leaves this module: `explain` logs it with
a short error id, and what pages, API answers, timeline events and webhooks carry is the
`Problem` it returns, whose message names that id so the log line can be found.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# The kinds of failure, and the actions a rep may take on each.
RENDER_FIELD = "missing_field"  # a field a step uses is gone (the data changed after enrollment)
RENDER_TEMPLATE = "template_error"  # the template itself cannot render
BAD_VALUE = "bad_value"  # a value cannot go into an email (a line break in a name)
REFUSED = "recipient_refused"  # the receiving server refused the message for good (5xx)
BAD_ADDRESS = "bad_address"  # 5.1.x: the address does not exist (the prospect is bounced)
GAVE_UP = "gave_up"  # temporary failures until the attempts ran out
UNKNOWN = "delivery_unknown"  # cut off during DATA: may or may not have been delivered
MAILBOX_PAUSED = "mailbox_paused"  # the step waits while its mailbox is paused
MAILBOX_CAP = "mailbox_cap"  # the step waits for the mailbox's next free slot
BAD_DELAY = "bad_delay"  # a stored delay the scheduler cannot use (beyond ten years, unreadable)
# A stored sequence setting every due time reads is unusable (an unknown holiday calendar, a
# send window with no day or unreadable, or one that never opens): the message names which.
BAD_SCHEDULE = "bad_schedule"

RETRY, SKIP, EDIT_PROSPECT, OPEN_TEMPLATE = "retry", "skip", "edit_prospect", "open_template"
RESUME_MAILBOX = "resume_mailbox"
ACTIONS: dict[str, tuple[str, ...]] = {
    RENDER_FIELD: (EDIT_PROSPECT, RETRY, SKIP),
    RENDER_TEMPLATE: (OPEN_TEMPLATE, RETRY, SKIP),
    BAD_VALUE: (EDIT_PROSPECT, RETRY, SKIP),
    REFUSED: (EDIT_PROSPECT, RETRY, SKIP),
    BAD_ADDRESS: (EDIT_PROSPECT,),
    GAVE_UP: (RETRY, SKIP),
    UNKNOWN: (RETRY, SKIP),
    MAILBOX_PAUSED: (RESUME_MAILBOX, SKIP),
    MAILBOX_CAP: (),
    BAD_DELAY: (OPEN_TEMPLATE, RETRY, SKIP),
    BAD_SCHEDULE: (OPEN_TEMPLATE, RETRY, SKIP),
}
# Kinds that stop the enrollment until a rep acts (the others wait or are final).
STOPPING = frozenset(
    {RENDER_FIELD, RENDER_TEMPLATE, BAD_VALUE, REFUSED, GAVE_UP, UNKNOWN, BAD_DELAY, BAD_SCHEDULE}
)


@dataclass(frozen=True)
class Problem:
    """What went wrong, in a rep's words, with the fix, the actions and the log's error id."""

    kind: str
    step: int  # numbered as a rep counts them, from 1
    message: str
    fix: str
    actions: tuple[str, ...]
    error_id: str

    @property
    def text(self) -> str:
        """One line for a reason column: the message, the fix and the error id."""
        return f"{self.message}; {self.fix} (error {self.error_id})"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "step": self.step,
            "message": self.message,
            "fix": self.fix,
            "actions": list(self.actions),
            "error_id": self.error_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Problem:
        return cls(
            kind=str(data.get("kind", "")),
            step=int(data.get("step") or 0),
            message=str(data.get("message", "")),
            fix=str(data.get("fix", "")),
            actions=tuple(str(a) for a in data.get("actions") or ()),
            error_id=str(data.get("error_id", "")),
        )


def new_error_id() -> str:
    return "E-" + secrets.token_hex(4)


def explain(
    kind: str,
    step: int,
    *,
    detail: object = None,
    who: str = "the prospect",
    field: str | None = None,
    fix: str | None = None,
    code: int | None = None,
    message: str | None = None,
) -> Problem:
    """Turn a failure into a Problem; the technical detail (an exception, a server's reply)
    goes to the log only, under the error id the Problem carries. `message` and `fix` replace
    the kind's own words when the caller knows more precisely what went wrong."""
    error_id = new_error_id()
    if detail is not None:
        log.warning("error %s: step %s, %s: %s", error_id, step, kind, detail)
    default_message, default_fix = _words(kind, step, who, field, code)
    return Problem(
        kind,
        step,
        message or default_message,
        fix or default_fix,
        ACTIONS.get(kind, ()),
        error_id,
    )


def _words(kind: str, step: int, who: str, field: str | None, code: int | None) -> tuple[str, str]:
    """(message, fix) for one kind of failure."""
    label = field.partition(".")[2] if field and field.startswith("fields.") else field
    server = f" (SMTP {code})" if code else ""
    if kind == RENDER_FIELD:
        return (
            f"Step {step} was not sent: {who} has no `{label}` any more",
            f"add `{label}` to the prospect, or give it a default in step {step}, then retry",
        )
    if kind == RENDER_TEMPLATE:
        return (
            f"Step {step} was not sent: its template has an error",
            f"open step {step} in the editor, correct it, then retry",
        )
    if kind == BAD_VALUE:
        return (
            f"Step {step} was not sent: a value for {who} cannot go into an email",
            "edit the prospect (a name or subject must be one line), then retry",
        )
    if kind == REFUSED:
        return (
            f"Step {step} was not sent: the receiving server refused it{server}",
            "check the address with the prospect, or skip this step",
        )
    if kind == BAD_ADDRESS:
        return (
            f"Step {step} was not sent: {who}'s address does not exist{server}",
            "find the right address and edit the prospect; the sequence has stopped",
        )
    if kind == GAVE_UP:
        return (
            f"Step {step} was not sent: the mail server kept answering 'try later'",
            "check the outgoing mail server, then retry",
        )
    if kind == UNKNOWN:
        return (
            f"Step {step} may or may not have reached {who}: the connection was cut off",
            "look in the sent mail; retry sends it again, skip moves on",
        )
    if kind == MAILBOX_PAUSED:
        return (
            f"Step {step} is waiting: its mailbox is paused",
            "clean the bounced addresses and resume the mailbox, or skip this step",
        )
    if kind == MAILBOX_CAP:
        return (
            f"Step {step} is waiting: its mailbox reached its sending limit",
            "nothing to do: it goes out when the mailbox has a free slot",
        )
    if kind == BAD_DELAY:
        return (
            f"Step {step} was not scheduled: its delay is longer than 10 years or unreadable",
            f"open step {step} in the editor and write a delay of at most 10 years "
            "(e.g. '3 days' or 'P3D'); then retry sends it now, skip moves on",
        )
    if kind == BAD_SCHEDULE:  # callers name the setting (enrollment.schedule_problem)
        return (
            f"Step {step} was not scheduled: its sequence's send window or holiday calendar "
            "cannot be used",
            "open the sequence and correct its send window and holiday calendar; then retry",
        )
    return (f"Step {step} was not sent", "retry, or skip this step")


def explain_imap(exc: BaseException, mailbox_id: int) -> str:
    """Why reading a mailbox's inbox failed, in a user's words with the fix and an error id;
    the exception itself (a server's reply, a resolver's detail) goes to the log only."""
    import imaplib
    import socket
    import ssl

    error_id = new_error_id()
    log.warning(
        "error %s: IMAP poll of mailbox %s: %s: %s", error_id, mailbox_id, type(exc).__name__, exc
    )
    if isinstance(exc, imaplib.IMAP4.error):
        words = "the IMAP server refused the sign-in; check the user and password of its IMAP URL"
    elif isinstance(exc, ssl.SSLCertVerificationError):
        words = "the IMAP server's TLS certificate is not valid for its host name"
    elif isinstance(exc, ssl.SSLError):
        words = "the TLS handshake with the IMAP server failed; check the port and starttls"
    elif isinstance(exc, socket.gaierror):
        words = "the IMAP server's host name does not resolve; check the host of its IMAP URL"
    elif isinstance(exc, TimeoutError):
        words = "the IMAP server did not answer in time; it is tried again at the next pass"
    elif isinstance(exc, ConnectionRefusedError):
        words = "the IMAP server refused the connection; check the port of its IMAP URL"
    elif isinstance(exc, OSError):
        words = "the IMAP server cannot be reached; it is tried again at the next pass"
    elif type(exc).__name__ == "ConfigError":
        words = "its IMAP URL is not valid; set it again with `followup imap-poll --mailbox`"
    else:
        words = "reading it failed; it is tried again at the next pass"
    return f"error: could not read the inbox: {words} (error {error_id})"
