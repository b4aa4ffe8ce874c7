"""Dramatiq actors: thin wrappers that take ids and call the engine's plain functions."""

from __future__ import annotations

from functools import partial

import dramatiq

from . import broker as _broker  # noqa: F401  (sets the broker before actors are declared)
from . import runtime
from .sending import DeliveryProbe, run_step
from .sink import was_delivered


def delivery_probe(rt: runtime.Runtime) -> DeliveryProbe | None:
    """The probe for sends cut off during DATA: set by `followup run`, or FOLLOWUP_DELIVERY_PROBE.

    With "sink" the worker asks our own SMTP sink's Message-ID index; with "none" (any real
    SMTP server) an undecidable send is flagged for review on its enrollment, never resent.
    """
    probe = rt.extras.get("delivery_probe")
    if probe is None and rt.settings.delivery_probe == "sink":
        probe = rt.extras["delivery_probe"] = partial(was_delivered, rt.settings.sink_dir)
    return probe  # type: ignore[return-value]


# RetryLater (an SMTP 4xx) and transient errors (the database restarting) are retried with
# exponential backoff; the claim in the database makes every retry harmless.
@dramatiq.actor(queue_name="send", max_retries=8, min_backoff=5_000)
def send_step(enrollment_id: int, position: int) -> None:
    """Run one due step of an enrollment (idempotent: a redelivery does nothing twice)."""
    rt = runtime.get()
    run_step(rt, enrollment_id, position, probe=delivery_probe(rt))


def enqueue_step(enrollment_id: int, position: int) -> None:
    send_step.send(enrollment_id, position)
