"""Inbound mail: replies, bounces, auto-replies and unsubscribe requests, whatever brought them.

- `server`: the inbound SMTP server (`followup inbound`);
- `imap`: read-only IMAP polling of reps' own mailboxes;
- `classify`: the pure verdict on one parsed email (bounce, auto-reply, unsubscribe, reply);
- `match`: ties an email to the message it answers and the prospect who sent it;
- `ingest`: the one function every source calls: dedupe, classify, match, act.

Other packages import only the names below.
"""

from __future__ import annotations

from .imap import parse_imap_url, poll_all, run_forever
from .ingest import VERDICTS, receive
from .server import load_tls_context, start_inbound

__all__ = [
    "VERDICTS",
    "load_tls_context",
    "parse_imap_url",
    "poll_all",
    "receive",
    "run_forever",
    "start_inbound",
]
