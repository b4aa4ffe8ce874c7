"""Per-mailbox sending limits shared by every worker process: daily, hourly, minimum gap, warm-up.

The counters live on the mailbox row and a send slot is taken with one compare-and-set UPDATE
("count+1 WHERE count < limit"), so any number of workers on any number of machines share the
same limits, with no lock held between the check and the increment. The windows are the current
UTC hour and UTC day. A slot is taken before DATA and is not given back if the send then fails:
the limits err on the side of sending fewer, never more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from ..enrollment import record
from ..models import Event, Mailbox, Message, MessageStatus

log = logging.getLogger(__name__)

# Bounce-rate auto-pause looks at this many of the mailbox's latest sends, and only decides
# once it has seen at least BOUNCE_MIN_SENDS of them (two bounces in three sends says little).
BOUNCE_WINDOW = 200
BOUNCE_MIN_SENDS = 20
PAUSED_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class Slot:
    """The answer to "may this mailbox send now?": taken, or the earliest time worth retrying."""

    taken: bool
    retry_at: datetime | None = None
    reason: str | None = None


def _hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def _day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def daily_limit(mailbox: Mailbox, now: datetime) -> int:
    """The mailbox's limit today: with a warm-up, N on its first day, 2N on the second..."""
    if mailbox.warmup_per_day:
        age_days = max((now - mailbox.created_at).days, 0) + 1
        return min(mailbox.daily_limit, mailbox.warmup_per_day * age_days)
    return mailbox.daily_limit


def reserve(session: Session, mailbox_id: int, now: datetime) -> Slot:
    """Take one send slot for the mailbox, or say when the next one opens."""
    mailbox = session.get(Mailbox, mailbox_id)
    if mailbox is None:
        return Slot(True)
    hour, day = _hour(now), _day(now)
    daily = daily_limit(mailbox, now)
    conditions: list[Any] = [
        Mailbox.id == mailbox_id,
        Mailbox.paused.is_(False),
        or_(Mailbox.day_start.is_(None), Mailbox.day_start != day, Mailbox.day_count < daily),
    ]
    if mailbox.hourly_limit is not None:
        conditions.append(
            or_(
                Mailbox.hour_start.is_(None),
                Mailbox.hour_start != hour,
                Mailbox.hour_count < mailbox.hourly_limit,
            )
        )
    if mailbox.min_gap_seconds > 0:
        conditions.append(
            or_(
                Mailbox.last_send_at.is_(None),
                Mailbox.last_send_at <= now - timedelta(seconds=mailbox.min_gap_seconds),
            )
        )
    result = cast(
        CursorResult[Any],
        session.execute(
            update(Mailbox)
            .where(and_(*conditions))
            .values(
                day_count=case((Mailbox.day_start == day, Mailbox.day_count + 1), else_=1),
                day_start=day,
                hour_count=case((Mailbox.hour_start == hour, Mailbox.hour_count + 1), else_=1),
                hour_start=hour,
                last_send_at=now,
            )
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount == 1:
        return Slot(True)
    # Someone else took the last slot (or the mailbox is paused): read what the row says now.
    session.refresh(mailbox)
    if mailbox.paused:
        return Slot(False, now + PAUSED_RETRY, f"mailbox paused: {mailbox.paused_reason or ''}")
    retry_at = now
    reasons = []
    if mailbox.day_start == day and mailbox.day_count >= daily:
        retry_at = max(retry_at, day + timedelta(days=1))
        reasons.append(f"daily limit {daily}")
    if (
        mailbox.hourly_limit is not None
        and mailbox.hour_start == hour
        and mailbox.hour_count >= mailbox.hourly_limit
    ):
        retry_at = max(retry_at, hour + timedelta(hours=1))
        reasons.append(f"hourly limit {mailbox.hourly_limit}")
    if mailbox.min_gap_seconds > 0 and mailbox.last_send_at is not None:
        gap_end = mailbox.last_send_at + timedelta(seconds=mailbox.min_gap_seconds)
        if gap_end > now:
            retry_at = max(retry_at, gap_end)
            reasons.append(f"minimum gap {mailbox.min_gap_seconds}s")
    if retry_at <= now:  # the row changed between the UPDATE and the read: just try again soon
        retry_at = now + timedelta(seconds=1)
    return Slot(False, retry_at, "over " + ", ".join(reasons or ["limit"]))


def bounce_rate(session: Session, mailbox_id: int) -> tuple[int, int]:
    """(bounced, sent) over the mailbox's latest BOUNCE_WINDOW outbound messages."""
    recent = (
        select(Message.id)
        .where(
            Message.mailbox_id == mailbox_id,
            Message.direction == "out",
            Message.status.in_((MessageStatus.SENT, MessageStatus.FAILED)),
        )
        .order_by(Message.created_at.desc())
        .limit(BOUNCE_WINDOW)
        .subquery()
    )
    sent = session.scalar(select(func.count()).select_from(recent)) or 0
    bounced = (
        session.scalar(
            select(func.count(func.distinct(Event.message_id))).where(
                Event.type == "bounce", Event.message_id.in_(select(recent.c.id))
            )
        )
        or 0
    )
    return int(bounced), int(sent)


def check_bounce_rate(session: Session, mailbox_id: int, now: datetime) -> bool:
    """Pause the mailbox when its recent bounce rate crosses its threshold; True if paused now.

    Call it after recording a bounce (the worker does on a 5.1.x answer; inbound bounce
    processing should too). The owner is told through a `mailbox_paused` event that names them.
    """
    mailbox = session.get(Mailbox, mailbox_id, with_for_update=True)
    if mailbox is None or mailbox.paused or mailbox.bounce_pause_rate is None:
        return False
    bounced, sent = bounce_rate(session, mailbox_id)
    if sent < BOUNCE_MIN_SENDS or bounced / sent <= mailbox.bounce_pause_rate:
        return False
    rate = bounced / sent
    mailbox.paused = True
    mailbox.paused_reason = (
        f"bounce rate {rate:.1%} over the last {sent} sends "
        f"(threshold {mailbox.bounce_pause_rate:.1%})"
    )
    record(
        session,
        "mailbox_paused",
        now,
        prospect_id=None,
        mailbox_id=mailbox.id,
        owner_id=mailbox.owner_id,
        extra={"reason": mailbox.paused_reason, "bounced": bounced, "sent": sent},
    )
    log.warning("mailbox %s (%s) paused: %s", mailbox.id, mailbox.from_email, mailbox.paused_reason)
    return True
