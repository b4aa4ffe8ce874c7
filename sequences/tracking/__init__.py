"""Tracking: from a pixel fetch or a click to a verdict and an event, lossless.

- `tokens`: short signed tokens for pixels, clicks, unsubscribes and documents;
- `destinations`: click destinations signed into the click URL itself (redirects need no database);
- `links`: rewriting links to tracked URLs, and the plain-text part of an HTML body;
- `spool`: the local-disk spool a hit is appended to in the request, and its drainer;
- `verdicts`: the pure verdict on one hit: a person, or which kind of machine, and why;
- `events`: the writer that turns spooled hits into events with their verdicts in context;
- `recheck`: stored opens and clicks judged again by today's rules (`followup verdicts recheck`).

Link rewriting is here and not in sending because what it writes is what this package reads.
Other packages import only the names below.
"""

from __future__ import annotations

from .events import (
    Request,
    document_for,
    hit_line,
    infer_open,
    make_hit,
    spool_writer,
    stored_destination,
    unsubscribe,
    unsubscribe_target,
)
from .links import html_to_text, rewrite_html, rewrite_text
from .recheck import apply as apply_recheck
from .recheck import plan as plan_recheck
from .spool import Drainer, Spool
from .tokens import ID_BYTES, make_token, new_token_id, read_token

__all__ = [
    "ID_BYTES",
    "Drainer",
    "Request",
    "Spool",
    "apply_recheck",
    "document_for",
    "hit_line",
    "html_to_text",
    "infer_open",
    "make_hit",
    "make_token",
    "new_token_id",
    "plan_recheck",
    "read_token",
    "rewrite_html",
    "rewrite_text",
    "spool_writer",
    "stored_destination",
    "unsubscribe",
    "unsubscribe_target",
]
