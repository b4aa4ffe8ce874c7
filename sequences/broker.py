"""Sets Dramatiq's broker: Redis when FOLLOWUP_REDIS_URL is set, else the in-process StubBroker.

This is the one module with an import-time effect, because Dramatiq binds actors to the
broker that is set when they are declared: the worker command is
`dramatiq sequences.broker sequences.actors`, and everything else imports this first.
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)


def _middleware() -> list[dramatiq.Middleware]:
    return [
        AgeLimit(),
        TimeLimit(time_limit=5 * 60 * 1000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=8, min_backoff=5_000, max_backoff=15 * 60 * 1000),
    ]


def make_broker(redis_url: str | None, namespace: str = "followup") -> dramatiq.Broker:
    if redis_url:
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=redis_url, namespace=namespace, middleware=_middleware())  # type: ignore[no-untyped-call]
    broker = StubBroker(middleware=_middleware())
    broker.emit_after("process_boot")
    return broker


broker = make_broker(
    os.environ.get("FOLLOWUP_REDIS_URL") or None,
    os.environ.get("FOLLOWUP_REDIS_NAMESPACE") or "followup",
)
dramatiq.set_broker(broker)
