"""Inbound mail: replies, bounces, auto-replies and unsubscribe requests, whatever brought them.

- `server`: the inbound SMTP server (`followup inbound`);
- `imap`: read-only IMAP polling of reps' own mailboxes;
- `classify`: parses one email (its new words, a bounce report, a return date), pure;
- `evidence`: the signs in it (machine headers, an absence, a request to stop), each named;
- `verdicts`: weighs the evidence into a verdict with a strength and a reason, pure;
- `match`: ties an email to the message it answers and the prospect who sent it;
- `ingest`: the one function every source calls: parse, record, match, classify, act;
- `act`: what each verdict does (stop, pause, suppress, a task for the rep);
- `teams`: the team a mail was sent to (token, mailbox, inbound domain), before anything else;
- `recheck`: stored mail read again by today's rules (`followup verdicts recheck`).

Other packages import only the names below.
"""

from __future__ import annotations

from .imap import parse_imap_url, poll_all, run_forever
from .ingest import OTHER_TEAM, VERDICTS, receive
from .recheck import Change
from .recheck import apply as apply_recheck
from .recheck import plan as plan_recheck
from .server import load_tls_context, start_inbound
from .teams import recipient_team, stored_addresses, team_for

__all__ = [
    "OTHER_TEAM",
    "VERDICTS",
    "Change",
    "apply_recheck",
    "load_tls_context",
    "parse_imap_url",
    "plan_recheck",
    "poll_all",
    "receive",
    "recipient_team",
    "run_forever",
    "start_inbound",
    "stored_addresses",
    "team_for",
]
