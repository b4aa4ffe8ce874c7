"""Sending: from a due step to an email accepted by the SMTP server, exactly once.

- `claim`: the claim rules for one due step of a locked enrollment (an email, a task, a skip);
- `batch`: runs claimed steps in batches: render, build, send, record (the worker's main loop);
- `records`: the writes around each email's SMTP: its "sending" mark before DATA, its outcome after;
- `limits`: per-mailbox caps shared by every worker process, and the bounce-rate brake;
- `compose`: a step and a prospect become the subject and bodies that go out, links tracked;
- `mime`: builds the outgoing bytes (headers, threading, List-Unsubscribe, both parts);
- `bulk`: multi-row statements of a fixed shape, for the batch's inserts and updates;
- `sink`: the local SMTP sink of embedded mode and the tests (and its Message-ID probe).

The SMTP connection and the DKIM signer are `sequences.smtp` (the runtime opens them, so
they sit below it); their names are handed on here for the callers that send.

Calls and manual tasks live in the core (`sequences.tasks`): the claim skips them and the
workspace completes them, so they belong to the enrollment state machine, not to sending.
Other packages import only the names below.
"""

from __future__ import annotations

from ..smtp import DkimSigner, OutcomeUnknown, SmtpTransport, generate_key, public_record
from .batch import run_batch, run_step, urls_for
from .bulk import insert_rows, update_rows
from .claim import DeliveryProbe, sending_mailbox_id
from .compose import TrackingUrls, compose
from .limits import check_bounce_rate
from .mime import OutgoingEmail, build, is_valid_email, new_message_id
from .sink import free_port, read_messages, start_sink, was_delivered

__all__ = [
    "DeliveryProbe",
    "DkimSigner",
    "OutcomeUnknown",
    "OutgoingEmail",
    "SmtpTransport",
    "TrackingUrls",
    "build",
    "check_bounce_rate",
    "compose",
    "free_port",
    "generate_key",
    "insert_rows",
    "is_valid_email",
    "new_message_id",
    "public_record",
    "read_messages",
    "run_batch",
    "run_step",
    "sending_mailbox_id",
    "start_sink",
    "update_rows",
    "urls_for",
    "was_delivered",
]
