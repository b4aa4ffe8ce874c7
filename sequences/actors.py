"""Dramatiq actors: thin wrappers that take ids and call the engine's plain functions."""

from __future__ import annotations

import dramatiq

from . import broker as _broker  # noqa: F401  (sets the broker before actors are declared)
from . import runtime
from .sending import run_step


# RetryLater (an SMTP 4xx) and transient errors (the database restarting) are retried with
# exponential backoff; the claim in the database makes every retry harmless.
@dramatiq.actor(queue_name="send", max_retries=8, min_backoff=5_000)
def send_step(enrollment_id: int, position: int) -> None:
    """Run one due step of an enrollment (idempotent: a redelivery does nothing twice)."""
    rt = runtime.get()
    run_step(rt, enrollment_id, position, probe=rt.extras.get("delivery_probe"))  # type: ignore[arg-type]


def enqueue_step(enrollment_id: int, position: int) -> None:
    send_step.send(enrollment_id, position)
