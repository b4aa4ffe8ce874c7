"""Sets Dramatiq's broker: Redis when FOLLOWUP_REDIS_URL is set, else the in-process StubBroker.

This is the one module with an import-time effect, because Dramatiq binds actors to the
broker that is set when they are declared: the worker command is
`dramatiq sequences.broker sequences.actors`, and everything else imports this first.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from . import logs


def _middleware() -> list[dramatiq.Middleware]:
    extra: list[dramatiq.Middleware] = []
    if os.environ.get("dramatiq_prom_port"):  # noqa: SIM112 (Dramatiq's own name)
        # Set by `followup worker` from FOLLOWUP_WORKER_METRICS: Dramatiq's Prometheus
        # middleware, whose exposition server is a fork of the worker command (multiprocess).
        from dramatiq.middleware.prometheus import Prometheus

        extra.append(Prometheus())
    return [
        AgeLimit(),
        TimeLimit(time_limit=5 * 60 * 1000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=8, min_backoff=5_000, max_backoff=15 * 60 * 1000),
        LogContext(),
        *extra,
    ]


class LogContext(dramatiq.Middleware):
    """Each message's log lines carry its actor and Dramatiq message id (sequences/logs.py)."""

    def __init__(self) -> None:
        self._local = threading.local()  # a worker thread runs one message at a time

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self._local.token = logs.bind(actor=message.actor_name, task_id=message.message_id)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: Any = None,
    ) -> None:
        token = getattr(self._local, "token", None)
        if token is not None:
            self._local.token = None
            logs.reset(token)

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self.after_process_message(broker, message)


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
