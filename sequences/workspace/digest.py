"""The daily digest email: yesterday's engaged prospects and today's tasks, one per opted-in user.

A user opts in (DigestSetting.enabled) and picks the local hour it comes at. The scheduler's hook
hands each due user to the worker once that hour has passed in their time zone; the worker
claims the day with a compare-and-set on `sent_on`, so two schedulers or a redelivered message
send one digest, and a failed SMTP send gives the day back to be tried again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, joinedload

from ..db import session_scope
from ..errors import ValidationError
from ..models import DigestSetting, Event, Prospect, Task, User
from ..runtime import Runtime
from ..sending import OutcomeUnknown, OutgoingEmail, build, new_message_id
from . import opens as open_words
from .localday import day_bounds
from .zones import clean_zone, effective_zone

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "email"
ENGAGED_TYPES = ("open", "click", "document_viewed", "reply")
SCORE = {"reply": 10, "document_viewed": 4, "click": 3, "open": 1}
MAX_PROSPECTS = 50
MAX_TASKS = 100
CHECK_EVERY = timedelta(seconds=60)  # how often the scheduler looks for due digests
REQUEUE_AFTER = timedelta(minutes=30)  # a hand-off not sent by then was lost: hand it off again

Enqueue = Callable[[int], None]


# Settings


def zone(name: str) -> ZoneInfo:
    """The named IANA zone, or a ValidationError naming the timezone field and the fix."""
    return ZoneInfo(clean_zone(name))


def digest_zone(setting: DigestSetting, user: User) -> ZoneInfo:
    """The digest's own zone when one was chosen for it, else the user's (effective_zone)."""
    if setting.timezone:
        try:
            return ZoneInfo(setting.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a name this machine's tzdata no longer has: the user's zone, not a crash
    return effective_zone(user)


def setting_for(session: Session, user_id: int) -> DigestSetting:
    """The user's digest setting (a default, disabled one in the user's zone if they never chose)."""
    setting = session.get(DigestSetting, user_id)
    if setting is None:
        setting = DigestSetting(user_id=user_id, enabled=False, hour=7, timezone=None)
    return setting


def update_setting(session: Session, user_id: int, data: dict[str, Any]) -> DigestSetting:
    unknown = sorted(set(data) - {"enabled", "hour", "timezone"})
    if unknown:
        raise ValidationError(f"{unknown[0]}: unknown field", field=unknown[0])
    setting = setting_for(session, user_id)
    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            raise ValidationError("enabled: must be true or false", field="enabled")
        setting.enabled = data["enabled"]
    if "hour" in data:
        hour = data["hour"]
        if not isinstance(hour, int) or isinstance(hour, bool) or not 0 <= hour <= 23:
            raise ValidationError("hour: a whole hour from 0 to 23 (local time)", field="hour")
        setting.hour = hour
    if "timezone" in data:
        # None (or "") follows the user's own zone again; a name is a digest-only choice.
        value = data["timezone"]
        setting.timezone = None if value is None or value == "" else clean_zone(value)
    session.add(setting)
    return setting


def setting_json(setting: DigestSetting, user: User) -> dict[str, Any]:
    return {
        "enabled": bool(setting.enabled),
        "hour": setting.hour,
        "timezone": digest_zone(setting, user).key,  # the zone the hour and the day are in
        "follows_user_timezone": not setting.timezone,
        "last_sent_on": setting.sent_on.isoformat() if setting.sent_on else None,
    }


# What goes in it


@dataclass
class Engaged:
    prospect: Prospect
    opens: int = 0
    clicks: int = 0
    views: int = 0
    replies: int = 0
    last_at: datetime | None = None
    urls: list[str] = field(default_factory=list)
    inferred: dict[str, int] = field(default_factory=dict)  # opens a click or a reply proved

    @property
    def opens_words(self) -> str:
        """'2 opens (1 inferred from a click)'."""
        return open_words.opens_phrase(self.opens, self.inferred)

    @property
    def score(self) -> int:
        return (
            self.replies * SCORE["reply"]
            + self.views * SCORE["document_viewed"]
            + self.clicks * SCORE["click"]
            + self.opens * SCORE["open"]
        )


@dataclass
class Digest:
    user: User
    day: date
    engaged: list[Engaged]
    tasks: list[tuple[Task, Prospect, bool]]  # (task, its prospect, overdue)

    @property
    def empty(self) -> bool:
        return not self.engaged and not self.tasks


def collect(session: Session, user: User, day: date, tz: ZoneInfo) -> Digest:
    """The digest of `day` (local): the day before's human engagement, the day's open tasks."""
    today = day_bounds(day, tz)
    today_start, today_end = today.start, today.end
    # Yesterday by the calendar, not 24 hours back: a DST change makes it 23 or 25 hours.
    yesterday_start = day_bounds(day - timedelta(days=1), tz).start
    visible = select(Prospect.id).where(Prospect.team_id == user.team_id)
    if not user.is_manager:
        visible = visible.where(Prospect.owner_id == user.id)
    events = session.scalars(
        select(Event)
        .where(
            Event.prospect_id.in_(visible),
            Event.type.in_(ENGAGED_TYPES),
            Event.at >= yesterday_start,
            Event.at < today_start,
            or_(Event.verdict.is_(None), Event.verdict == "human"),
        )
        .order_by(Event.at)
    )
    engaged: dict[int, Engaged] = {}
    for event in events:
        if event.prospect_id is None:
            continue
        row = engaged.get(event.prospect_id)
        if row is None:
            prospect = session.get(Prospect, event.prospect_id)
            if prospect is None:
                continue
            row = engaged[event.prospect_id] = Engaged(prospect)
        if event.type == "open":
            row.opens += 1
            via = open_words.inferred_from(event.type, event.reason, event.data)
            if via is not None:
                row.inferred[via] = row.inferred.get(via, 0) + 1
        elif event.type == "click":
            row.clicks += 1
            url = (event.data or {}).get("url")
            if isinstance(url, str) and url not in row.urls:
                row.urls.append(url)
        elif event.type == "document_viewed":
            row.views += 1
        else:
            row.replies += 1
        row.last_at = event.at
    ranked = sorted(engaged.values(), key=lambda e: (-e.score, e.prospect.id))[:MAX_PROSPECTS]

    rows = session.execute(
        select(Task, Prospect)
        .join(Prospect, Prospect.id == Task.prospect_id)
        .where(Task.owner_id == user.id, Task.status == "open", Task.due_at < today_end)
        .order_by(Task.due_at, Task.id)
        .limit(MAX_TASKS)
    ).all()
    tasks = [(task, prospect, task.due_at < today_start) for task, prospect in rows]
    return Digest(user=user, day=day, engaged=ranked, tasks=tasks)


_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(digest: Digest, base_url: str, tz: ZoneInfo) -> tuple[str, str, str]:
    """(subject, text, html)."""

    def name(p: Prospect) -> str:
        full = " ".join(x for x in (p.first_name, p.last_name) if x)
        return f"{full} <{p.email}>" if full else p.email

    def local(when: datetime | None) -> str:
        return when.astimezone(tz).strftime("%H:%M %Z") if when else ""  # "09:12 PST"

    context = {
        "d": digest,
        "base_url": base_url,
        "name": name,
        "local": local,
        "day": digest.day.strftime("%A %d %B %Y"),
    }
    subject = (
        f"Your follow-up digest for {digest.day.strftime('%a %d %b')}: "
        f"{len(digest.engaged)} engaged, {len(digest.tasks)} task"
        f"{'' if len(digest.tasks) == 1 else 's'}"
    )
    text = _env.get_template("digest.txt").render(context)
    html = _env.get_template("digest.html").render(context)
    return subject, text, html


# Sending


def local_day(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


def send_digest(rt: Runtime, user_id: int, *, force: bool = False) -> str:
    """Send today's digest to one user: "sent", "empty", "already sent" or "disabled".

    `force` sends even when disabled or already sent today (the CLI's --force).
    """
    now = rt.clock.now()
    with session_scope(rt.sessions) as session:
        user = session.get(User, user_id)
        if user is None:
            return "no such user"
        setting = setting_for(session, user_id)
        if not setting.enabled and not force:
            return "disabled"
        tz = digest_zone(setting, user)
        day = local_day(now, tz)
        previous = setting.sent_on
        if not force:
            if session.get(DigestSetting, user_id) is None:
                return "disabled"
            claimed = session.execute(
                update(DigestSetting)
                .where(
                    DigestSetting.user_id == user_id,
                    or_(DigestSetting.sent_on.is_(None), DigestSetting.sent_on < day),
                )
                .values(sent_on=day, enqueued_at=None),
                execution_options={"synchronize_session": False},
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return "already sent"
        digest = collect(session, user, day, tz)
        if digest.empty and not force:
            return "empty"  # the day is claimed: nobody wants an empty email
        subject, text, html = render(digest, rt.settings.base_url, tz)
        to_email, to_name = user.email, user.name or None
    settings = rt.settings
    message = build(
        OutgoingEmail(
            from_email=settings.default_from_email,
            from_name=settings.default_from_name,
            to_email=to_email,
            to_name=to_name,
            subject=subject,
            html=html,
            text=text,
            message_id=new_message_id(settings.mail_domain),
            date=now,
            extra_headers={
                "Auto-Submitted": "auto-generated",
                "X-Followup-Digest": day.isoformat(),
            },
        )
    )
    try:
        rt.transport.send(message, settings.default_from_email, to_email)
    except OutcomeUnknown:
        raise  # it may have arrived: keep the day claimed rather than send it twice
    except Exception:
        if not force:
            # Give the day back, so the next scheduler pass tries again.
            with session_scope(rt.sessions) as session:
                session.execute(
                    update(DigestSetting)
                    .where(DigestSetting.user_id == user_id, DigestSetting.sent_on == day)
                    .values(sent_on=previous)
                )
        raise
    return "sent"


def due_users(session: Session, now: datetime) -> list[int]:
    """Opted-in users whose local digest hour has passed today and who have not had it."""
    due = []
    for setting, user in session.execute(
        select(DigestSetting, User)
        .join(User, User.id == DigestSetting.user_id)
        .options(joinedload(User.team))
        .where(
            DigestSetting.enabled.is_(True),
            or_(
                DigestSetting.enqueued_at.is_(None),
                DigestSetting.enqueued_at < now - REQUEUE_AFTER,
            ),
        )
    ):
        local = now.astimezone(digest_zone(setting, user))
        if local.hour < setting.hour:
            continue
        if setting.sent_on is not None and setting.sent_on >= local.date():
            continue
        due.append(setting.user_id)
    return due


def dispatch(rt: Runtime, enqueue: Enqueue) -> int:
    """The scheduler's hook: hand due users to the worker (looks at most once a minute)."""
    now = rt.clock.now()
    last = rt.extras.get("digest_checked_at")
    if isinstance(last, datetime) and now - last < CHECK_EVERY:
        return 0
    rt.extras["digest_checked_at"] = now
    with session_scope(rt.sessions) as session:
        ids = due_users(session, now)
        if ids:
            session.execute(
                update(DigestSetting).where(DigestSetting.user_id.in_(ids)).values(enqueued_at=now),
                execution_options={"synchronize_session": False},
            )
    for user_id in ids:
        enqueue(user_id)
    return len(ids)
