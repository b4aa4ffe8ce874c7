"""Dramatiq actors: thin wrappers that take ids and call the engine's plain functions."""

from __future__ import annotations

from functools import partial

import dramatiq

from . import aftermath, logs, runtime, scheduler, webhooks
from . import broker as _broker  # noqa: F401  (sets the broker before actors are declared)
from .sending import DeliveryProbe, run_batch, run_step, was_delivered
from .workspace import digest


def _runtime() -> runtime.Runtime:
    """The worker's runtime, with what follows an event wired first (cheap, idempotent): the
    worker process starts here, not in the CLI or the app factory."""
    aftermath.wire()
    return runtime.get()


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
    rt = _runtime()
    with logs.bound(enrollment_id=enrollment_id):
        run_step(rt, enrollment_id, position, probe=delivery_probe(rt))


def enqueue_step(enrollment_id: int, position: int) -> None:
    send_step.send(enrollment_id, position)


# What the scheduler sends: a batch of due steps, claimed, rendered and recorded together (each
# still checked right before its DATA). A retry runs the whole batch again; what was done is
# found done.
@dramatiq.actor(queue_name="send", max_retries=8, min_backoff=5_000)
def send_steps(steps: list[list[int]]) -> None:
    """Run a batch of due steps, each [enrollment_id, position] (idempotent, like send_step)."""
    rt = _runtime()
    run_batch(rt, [(e, p) for e, p in steps], probe=delivery_probe(rt))


def enqueue_steps(steps: list[tuple[int, int]]) -> None:
    send_steps.send([list(step) for step in steps])


# Webhook POSTs have their own queue, so a slow endpoint never sits in front of a send; run
# `followup worker --queues webhooks` apart to keep them off the send workers' threads too.
# Retries live in the database (webhooks.deliver schedules them), so the broker retries only
# unexpected errors such as a database restart.
@dramatiq.actor(queue_name="webhooks", max_retries=3, min_backoff=5_000, time_limit=60_000)
def deliver_webhook(delivery_id: int) -> None:
    """Make one attempt at a webhook delivery (idempotent: a duplicate does nothing twice)."""
    with logs.bound(delivery_id=delivery_id):
        webhooks.deliver(_runtime(), delivery_id)


def enqueue_delivery(delivery_id: int) -> None:
    deliver_webhook.send(delivery_id)


def dispatch_webhooks(rt: runtime.Runtime) -> int:
    return webhooks.dispatch(rt, enqueue_delivery)


scheduler.hooks.append(dispatch_webhooks)


# Digests have their own queue too; SMTP trouble is retried by the broker (the day is given back).
@dramatiq.actor(queue_name="digest", max_retries=5, min_backoff=60_000)
def send_digest(user_id: int) -> None:
    """Send one user's daily digest (idempotent: the day is claimed in the database)."""
    with logs.bound(user_id=user_id):
        digest.send_digest(_runtime(), user_id)


def enqueue_digest(user_id: int) -> None:
    send_digest.send(user_id)


def dispatch_digests(rt: runtime.Runtime) -> int:
    return digest.dispatch(rt, enqueue_digest)


scheduler.hooks.append(dispatch_digests)
