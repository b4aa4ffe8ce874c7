"""A Prometheus collector that reads counts from the database and the spool at each scrape."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Enrollment, Event, InboundMessage, Message, WebhookDelivery


class DatabaseCollector(Collector):
    """A few aggregate queries per scrape; the database stays the single source of truth."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        spool_dir: Path,
        now: Callable[[], datetime],
    ) -> None:
        self.sessions = sessions
        self.spool_dir = spool_dir
        self.now = now

    def collect(self) -> Iterator[Metric]:
        now = self.now()
        hits = CounterMetricFamily(
            "followup_tracking_hits", "Opens and clicks written.", labels=["kind", "verdict"]
        )
        sends = GaugeMetricFamily(
            "followup_messages", "Outbound messages by status.", labels=["status"]
        )
        inbound = CounterMetricFamily(
            "followup_inbound_messages", "Inbound messages by verdict.", labels=["verdict"]
        )
        webhooks = GaugeMetricFamily(
            "followup_webhook_deliveries", "Webhook deliveries by status.", labels=["status"]
        )
        with self.sessions() as s:
            # The partial covering index ix_events_message_outcome: an index-only scan.
            for kind, verdict, n in s.execute(
                select(Event.type, Event.verdict, func.count())
                .where(Event.type.in_(("open", "click")))
                .group_by(Event.type, Event.verdict)
            ):
                hits.add_metric([kind, verdict or "unknown"], n)
            for status, n in s.execute(
                select(Message.status, func.count())
                .where(Message.direction == "out")
                .group_by(Message.status)
            ):
                sends.add_metric([status], n)
            for verdict, n in s.execute(
                select(InboundMessage.verdict, func.count()).group_by(InboundMessage.verdict)
            ):
                inbound.add_metric([verdict], n)
            for status, n in s.execute(
                select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
            ):
                webhooks.add_metric([status], n)
            # The scheduler's partial index ix_enrollments_due.
            due = s.scalar(
                select(func.count())
                .select_from(Enrollment)
                .where(Enrollment.status == "active", Enrollment.next_due_at <= now)
            )
            s.rollback()
        yield hits
        yield sends
        yield inbound
        yield webhooks
        yield GaugeMetricFamily(
            "followup_due_steps_waiting",
            "Active enrollments whose next step is due.",
            value=due or 0,
        )
        pending, lag = self._spool(now)
        yield GaugeMetricFamily(
            "followup_spool_pending_bytes", "Tracking hits on disk not yet written.", value=pending
        )
        yield GaugeMetricFamily(
            "followup_spool_drain_lag_seconds", "Age of the oldest hit not yet written.", value=lag
        )

    def _spool(self, now: datetime) -> tuple[int, float]:
        """Bytes waiting in the spool, and the age of the first waiting hit (0 when none)."""
        pending, lag = 0, 0.0
        try:
            files = sorted(self.spool_dir.glob("*.hits"))
        except OSError:
            return 0, 0.0
        for path in files:
            try:
                offset = int(path.with_suffix(".offset").read_text() or 0)
            except (FileNotFoundError, ValueError):
                offset = 0
            try:
                waiting = path.stat().st_size - offset
            except OSError:
                continue
            if waiting <= 0:
                continue
            if not pending:
                lag = _first_hit_age(path, offset, now)
            pending += waiting
        return pending, lag


def _first_hit_age(path: Path, offset: int, now: datetime) -> float:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            at = datetime.fromisoformat(json.loads(handle.readline())["at"])
    except (OSError, ValueError, KeyError):
        return 0.0
    return max(0.0, (now - at).total_seconds())
