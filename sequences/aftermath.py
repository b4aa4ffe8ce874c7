"""What follows an event: its webhook outbox rows and the lead status it implies, wired at start.

This layer stands above the state machine (`enrollment`, `sending`) and above the packages that
react to its events (`webhooks`, `leads`), so none of those imports another upward: the state
machine calls the hooks in `sequences.consequences`, and `wire()` fills them with the functions
below. Every entry point calls `wire()` before its first event: `tracker.app.create_app`, the
CLI's root command, the worker's actors and the test fixtures.

Both consequences run in the event's own transaction, before it commits: the outbox row commits
with the event (a lost broker message never loses a webhook), and a reply's lead status with the
reply.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from . import consequences, webhooks
from .consequences import Consequences, Touches
from .leads import first_touches, system_change
from .models import Event

# The events whose lead status follows one by one (a first email's: `follow_sends`, per batch).
STATUS_EVENTS = ("reply", "conversion")


def follow_event(session: Session, event: Event) -> None:
    """One recorded event's consequences: a delivery row per interested webhook, then the lead
    status a reply or a conversion implies."""
    webhooks.outbox(session, event)
    if event.type in STATUS_EVENTS and event.prospect_id is not None:
        system_change(session, event.type, event.prospect_id, event.at)


def follow_sends(session: Session, touches: Touches) -> None:
    """A batch of delivered emails: a first email moves a `new` lead to `contacted`."""
    first_touches(session, list(touches))


CONSEQUENCES = Consequences(
    of_event=follow_event, of_sends=follow_sends, wants_each=webhooks.subscribed
)


def wire() -> None:
    """Make these the consequences of every event this process records (idempotent)."""
    consequences.wire(CONSEQUENCES)
