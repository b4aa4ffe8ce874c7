"""What follows a recorded event, as hooks the state machine calls and the layer above fills.

An event has consequences that live above the enrollment state machine: a webhook's outbox row
(`webhooks`), the lead status a reply or a first email implies (`leads`, whose triggers enroll
again). `enrollment.record()` and the sending records must run them in the event's own
transaction, before it commits, yet cannot import those packages without making the engine one
import loop. So they call the hooks held here, and `sequences.aftermath.wire()` fills them once
at each process's start (the app factory, the CLI, the worker's actors, the test fixtures): an
explicit call, not an import-time side effect. A process that records an event before that call
fails loudly here rather than committing an event whose webhook or status change never happens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from .models import Event

Touches = Sequence[tuple[int | None, datetime]]


@dataclass(frozen=True)
class Consequences:
    # One recorded event, added to the session and not yet flushed: same transaction.
    of_event: Callable[[Session, Event], None]
    # A batch of delivered emails, (prospect id, sent at) each, after its "sent" records.
    of_sends: Callable[[Session, Touches], None]
    # Whether something follows each event of this type as a row of its own (a webhook wants
    # them); when nothing does, the batch may write its events with one bulk statement.
    wants_each: Callable[[Session, str], bool]


class NotWired(RuntimeError):
    """An event was recorded before the process wired its consequences."""


_wired: Consequences | None = None


def wire(consequences: Consequences) -> None:
    """Install what follows every event of this process (the same object again is harmless)."""
    global _wired
    _wired = consequences


def wired() -> Consequences:
    """The installed consequences; an unwired process must not record events."""
    if _wired is None:
        raise NotWired(
            "an event was recorded before its consequences were wired: "
            "call sequences.aftermath.wire() at the process's start"
        )
    return _wired
