"""The data model: teams, users, prospects, sequences, enrollments, messages, events, tasks."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from . import vault

# Stable constraint names so Alembic diffs are the same on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EncryptedText(TypeDecorator[str]):
    """A secret: stored as a Fernet token under FOLLOWUP_ENCRYPTION_KEY, read back in clear.

    Sealing happens here, on every write, so no code path can store a secret in clear by
    forgetting a call (sequences/vault.py holds the keys and the checks at start).
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or vault.is_sealed(value):
            return value
        return vault.seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else vault.unseal(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class EnrollmentStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    FINISHED = "finished"
    REPLIED = "replied"
    CONVERTED = "converted"
    MEETING_BOOKED = "meeting_booked"
    BOUNCED = "bounced"
    UNSUBSCRIBED = "unsubscribed"
    FAILED = "failed"
    UNENROLLED = "unenrolled"


class ProspectStatus(enum.StrEnum):
    ACTIVE = "active"
    REPLIED = "replied"
    CONVERTED = "converted"
    BOUNCED = "bounced"
    UNSUBSCRIBED = "unsubscribed"


class MessageStatus(enum.StrEnum):
    CLAIMED = "claimed"  # a worker owns it; SMTP DATA not begun, safe to retry
    SENDING = "sending"  # DATA is being sent; a crash here leaves the outcome unknown
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"  # could not be decided; flagged for review, never resent blindly
    CANCELLED = "cancelled"  # stopped before DATA (the prospect replied, the step was paused)
    RECEIVED = "received"  # inbound


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # A prospect who replied, converted or booked a meeting this many days ago or less is not
    # enrolled again without an explicit force (sequences/enroll_checks.py).
    recontact_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    # Mail to any address at this domain belongs to the team (inbound/match.py: team_for).
    inbound_domain: Mapped[str | None] = mapped_column(String(253), unique=True)
    # The IANA zone of a user who chose none (sequences/workspace/zones.py: effective_zone).
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(300))
    is_manager: Mapped[bool] = mapped_column(Boolean, default=False)
    # The install's administrator: creates teams and moves users; sees a team's data only as a
    # member of it (by team_id and is_manager, like anyone).
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    signature: Mapped[str] = mapped_column(Text, default="")
    # The user's IANA zone, for "today", "overdue", the digest's day and report periods; None
    # follows the team's (sequences/workspace/zones.py: effective_zone).
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    team: Mapped[Team] = relationship()


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The key is shown once; we keep a lookup prefix and a SHA-256 of the whole (keys are random
    # 32-byte strings, so a slow KDF would add nothing but latency to every API call).
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Mailbox(Base):
    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_name: Mapped[str] = mapped_column(String(200))
    from_email: Mapped[str] = mapped_column(String(320))
    reply_to: Mapped[str | None] = mapped_column(String(320))
    # Both URLs carry a password: encrypted at rest (vault.py), never returned or logged.
    smtp_url: Mapped[str | None] = mapped_column(EncryptedText)  # None: FOLLOWUP_SMTP_URL
    # imaps://user:password@host:993/INBOX: polled for replies (read-only; see inbound/imap.py).
    imap_url: Mapped[str | None] = mapped_column(EncryptedText)
    credentials_changed_at: Mapped[datetime | None]  # when smtp_url or imap_url last changed
    daily_limit: Mapped[int] = mapped_column(Integer, default=500)
    hourly_limit: Mapped[int | None] = mapped_column(Integer)
    min_gap_seconds: Mapped[int] = mapped_column(Integer, default=0)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Sending limits shared by every worker: one row, reserved with a compare-and-set UPDATE
    # (sequences/sending/limits.py). The windows are the current UTC hour and day.
    hour_start: Mapped[datetime | None]
    hour_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    day_start: Mapped[datetime | None]
    day_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_send_at: Mapped[datetime | None]
    # Warm-up: a new mailbox's daily limit grows by N a day until it reaches daily_limit.
    warmup_per_day: Mapped[int | None] = mapped_column(Integer)
    bounce_pause_rate: Mapped[float | None] = mapped_column(Float)  # e.g. 0.05: pause above 5 %
    paused_reason: Mapped[str | None] = mapped_column(Text)


class Prospect(Base):
    __tablename__ = "prospects"
    __table_args__ = (
        UniqueConstraint("team_id", "email", name="uq_prospects_team_email"),
        Index("ix_prospects_team_lead_status", "team_id", "lead_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    timezone: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default=ProspectStatus.ACTIVE)
    # The lead status from the team's list (sequences/leads/statuses.py); changed only by
    # compare-and-set, each change a `prospect.status_changed` event.
    lead_status: Mapped[str] = mapped_column(String(30), default="new", server_default="new")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner: Mapped[User | None] = relationship()


class Sequence(Base):
    __tablename__ = "sequences"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id"))
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # {"days": [0..6], "start": "08:00", "end": "17:00"}; None sends at any hour.
    send_window: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A status trigger's one-step sequence (sequences/leads/triggers.py): sent by the same
    # machinery as any sequence, listed nowhere.
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    steps: Mapped[list[Step]] = relationship(
        back_populates="sequence", order_by="Step.position", cascade="all, delete-orphan"
    )


class Step(Base):
    __tablename__ = "steps"
    __table_args__ = (UniqueConstraint("sequence_id", "position", name="uq_steps_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(10), default="email")  # email | call | task
    delay: Mapped[str] = mapped_column(String(40), default="PT0S")  # ISO 8601 duration
    business_days: Mapped[bool] = mapped_column(Boolean, default=False)
    subject: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str | None] = mapped_column(Text)
    thread_with: Mapped[int | None] = mapped_column(Integer)  # position of an earlier email step
    notes: Mapped[str | None] = mapped_column(Text)  # call script / task instructions
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # variants, auto-skip, ...

    sequence: Mapped[Sequence] = relationship(back_populates="steps")


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        # The scheduler's query: active enrollments whose next step is due. Partial, so its size
        # grows with the number waiting, not with every enrollment that ever finished.
        Index(
            "ix_enrollments_due",
            "next_due_at",
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
        Index("ix_enrollments_prospect_status", "prospect_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prospect_id: Mapped[int] = mapped_column(ForeignKey("prospects.id"))
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=EnrollmentStatus.ACTIVE)
    current_step: Mapped[int] = mapped_column(Integer, default=0)  # position of the next step
    next_due_at: Mapped[datetime | None]
    enqueued_at: Mapped[datetime | None]  # last hand-off to the broker (re-found if lost)
    paused_until: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    prospect: Mapped[Prospect] = relationship()
    sequence: Mapped[Sequence] = relationship()


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # Exactly one outbound email per (enrollment, step): the database refuses a second.
        UniqueConstraint("enrollment_id", "step_position", name="uq_messages_enrollment_step"),
        # A mailbox's recent sends (bounce rate over the last N).
        Index("ix_messages_mailbox_created", "mailbox_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random, unguessable id that tracking tokens carry instead of the row id.
    token_id: Mapped[str] = mapped_column(String(32), unique=True)
    direction: Mapped[str] = mapped_column(String(3), default="out")  # out | in
    prospect_id: Mapped[int | None] = mapped_column(ForeignKey("prospects.id"), index=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    step_position: Mapped[int | None] = mapped_column(Integer)
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id"))
    message_id: Mapped[str] = mapped_column(String(998), unique=True)  # RFC 5322 Message-ID
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    to_email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(10), default=MessageStatus.CLAIMED)
    variant: Mapped[str | None] = mapped_column(String(10))
    error: Mapped[str | None] = mapped_column(Text)
    # attempts doubles as the claim's version: a worker only moves a message it claimed.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]  # a claim older than this was abandoned by its worker
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    links: Mapped[list[Link]] = relationship(order_by="Link.position", cascade="all, delete-orphan")


class Link(Base):
    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("message_id", "position", name="uq_links_message_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)  # the honeypot no human sees


# Event types behind the workspace's partial indexes (kept in step with 0005_workspace).
TOUCH_TYPES_SQL = "('sent', 'call', 'reply', 'meeting_booked', 'conversion')"
OUTCOME_TYPES_SQL = "('open', 'click', 'reply', 'bounce', 'unsubscribe')"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_prospect_at", "prospect_id", "at"),
        # A message's events by type, and its latest hits of a type (0007_tracking_history).
        Index("ix_events_message_type_at", "message_id", "type", "at"),
        # The workspace's indexes (0005_workspace) are partial and covering, so its pages read
        # index entries only. The hot list: recent human opens and clicks by time.
        Index(
            "ix_events_human_at",
            "at",
            "prospect_id",
            "type",
            postgresql_where=text("verdict = 'human'"),
            sqlite_where=text("verdict = 'human'"),
        ),
        # The manager report: touches, replies and meetings by type over a period.
        Index(
            "ix_events_touches",
            "type",
            "at",
            "prospect_id",
            postgresql_where=text(f"type IN {TOUCH_TYPES_SQL}"),
            sqlite_where=text(f"type IN {TOUCH_TYPES_SQL}"),
        ),
        # Per-step statistics: which messages were opened, clicked, answered, bounced.
        Index(
            "ix_events_message_outcome",
            "message_id",
            "type",
            "verdict",
            postgresql_where=text(f"type IN {OUTCOME_TYPES_SQL}"),
            sqlite_where=text(f"type IN {OUTCOME_TYPES_SQL}"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prospect_id: Mapped[int | None] = mapped_column(ForeignKey("prospects.id"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    type: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime]
    verdict: Mapped[str | None] = mapped_column(String(10))  # human | machine (opens, clicks)
    reason: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A tracking hit's own id: a spooled hit written twice (a crash after commit) is refused.
    hit_id: Mapped[str | None] = mapped_column(String(32), unique=True)


class Document(Base):
    """A file a step shares through a tracked /d/<token> link (a brochure, a price list)."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_owner_open", "owner_id", "status", "due_at"),
        UniqueConstraint("enrollment_id", "step_position", name="uq_tasks_enrollment_step"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    step_position: Mapped[int | None] = mapped_column(Integer)
    prospect_id: Mapped[int] = mapped_column(ForeignKey("prospects.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    type: Mapped[str] = mapped_column(String(10))  # call | task
    title: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | done | skipped
    outcome: Mapped[str | None] = mapped_column(String(30))
    completed_at: Mapped[datetime | None]


class InboundMessage(Base):
    """One received email (reply, auto-reply, bounce...), kept whatever it was: none is dropped."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_verdict", "verdict", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The sender's Message-ID (or "sha256:<hex>" of the bytes without one): the same mail
    # delivered twice, by two sources or a retried webhook, is processed once.
    dedupe_key: Mapped[str] = mapped_column(String(998), unique=True)
    source: Mapped[str] = mapped_column(String(10))  # smtp | imap | api
    received_at: Mapped[datetime]
    verdict: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    prospect_id: Mapped[int | None] = mapped_column(ForeignKey("prospects.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))  # what it answers
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id"))
    enrollment_ids: Mapped[list[Any]] = mapped_column(default=list)
    from_email: Mapped[str | None] = mapped_column(String(320))
    envelope_from: Mapped[str | None] = mapped_column(String(998))
    recipients: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)  # the new words, quoted history stripped
    size: Mapped[int] = mapped_column(Integer, default=0)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # None when oversize


class ImapCursor(Base):
    """How far IMAP polling has read a mailbox folder, so a restart reads nothing twice."""

    __tablename__ = "imap_cursors"
    __table_args__ = (
        UniqueConstraint("mailbox_id", "folder", name="uq_imap_cursors_mailbox_folder"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id"))
    folder: Mapped[str] = mapped_column(String(200))
    # UIDs are only comparable within one UIDVALIDITY (RFC 3501); both are 32-bit unsigned.
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


class Webhook(Base):
    """A URL a user registered to receive some event types, signed with its own secret."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    # A rep's webhook hears about their own (and unowned) prospects; a manager's, the team's.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]] = mapped_column(default=list)
    secret: Mapped[str] = mapped_column(EncryptedText)  # encrypted at rest; shown once
    secret_changed_at: Mapped[datetime | None]
    description: Mapped[str] = mapped_column(String(200), default="")
    include_machine: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """The outbox: one row per (webhook, event), written in the event's own transaction."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_webhook_event"),
        # The dispatcher's query: pending deliveries whose next attempt is due.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # see webhooks.py
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    enqueued_at: Mapped[datetime | None]  # last hand-off to the broker (re-found if lost)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    event: Mapped[Event] = relationship()
    webhook: Mapped[Webhook] = relationship()


class DigestSetting(Base):
    """A user's opt-in to the daily digest email, and the last day it was sent."""

    __tablename__ = "digest_settings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    hour: Mapped[int] = mapped_column(Integer, default=7)  # local hour it is sent at
    # None: the user's own zone (effective_zone); a name here is a digest-only override.
    timezone: Mapped[str | None] = mapped_column(String(64))
    sent_on: Mapped[date | None] = mapped_column(Date)  # the local day of the last digest
    enqueued_at: Mapped[datetime | None]


# ---------------------------------------------------------------------------------------------
# Lead pool and assignment (issue 13, items 3-5; sequences/leads/pool.py, assignment.py,
# acceptance.py, sla.py; migration 0012_lead_pool). Prospect.owner_id stays the one owner every
# page reads; these tables hold the lead process around it.


class LeadState(enum.StrEnum):
    POOL = "pool"  # nobody owns it yet
    PENDING = "pending"  # assigned, waiting for the rep to accept or reject it
    ACCEPTED = "accepted"  # the rep owns it (accepted, or assigned where no acceptance is asked)


class LeadTeamSettings(Base):
    """A team's lead rules, and its round-robin cursor (the row every assignment locks)."""

    __tablename__ = "lead_team_settings"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    auto_assign: Mapped[bool] = mapped_column(Boolean, default=True)
    acceptance_required: Mapped[bool] = mapped_column(Boolean, default=False)
    accept_within_minutes: Mapped[int] = mapped_column(Integer, default=240)
    warn_after_minutes: Mapped[int | None] = mapped_column(Integer)
    alert_after_minutes: Mapped[int | None] = mapped_column(Integer)
    reassign_after_minutes: Mapped[int | None] = mapped_column(Integer)
    max_touches: Mapped[int | None] = mapped_column(Integer)  # N touches, no human engagement
    touch_check_minutes: Mapped[int] = mapped_column(Integer, default=60)
    reassign_to: Mapped[str] = mapped_column(String(10), default="next_rep")  # next_rep | pool
    on_reassign: Mapped[str] = mapped_column(String(10), default="stop")  # stop | hand_over
    route_field: Mapped[str | None] = mapped_column(String(100))  # territory, language, ...
    routes: Mapped[dict[str, Any]] = mapped_column(default=dict)  # value -> [user ids]
    form_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The cursor: how many rotation picks were made. Bumped under the row's lock, so two
    # processes assigning at once take turns and the rotation stays fair.
    rotation_seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeadRep(Base):
    """A rep's place in the rotation: active or away, capacity, weight, rotation credit."""

    __tablename__ = "lead_reps"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    away_from: Mapped[date | None] = mapped_column(Date)
    away_until: Mapped[date | None] = mapped_column(Date)  # inclusive
    max_open: Mapped[int | None] = mapped_column(Integer)
    max_daily: Mapped[int | None] = mapped_column(Integer)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    # Smooth weighted round-robin credit (see sequences/leads/assignment.py).
    credit: Mapped[int] = mapped_column(Integer, default=0)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    day: Mapped[date | None] = mapped_column(Date)
    day_count: Mapped[int] = mapped_column(Integer, default=0)


class Lead(Base):
    """A prospect in the lead process: pool, pending acceptance or accepted, with its clocks."""

    __tablename__ = "leads"
    __table_args__ = (
        # The scheduler's query: leads whose next check (acceptance deadline, SLA step, touch
        # count) is due. Partial: its size grows with the leads being watched.
        Index(
            "ix_leads_due",
            "due_at",
            postgresql_where=text("due_at IS NOT NULL"),
            sqlite_where=text("due_at IS NOT NULL"),
        ),
        Index("ix_leads_team_state", "team_id", "state", "pooled_at"),
        Index("ix_leads_owner_state", "owner_id", "state"),
        Index("ix_leads_team_company", "team_id", "company_key"),
    )

    prospect_id: Mapped[int] = mapped_column(ForeignKey("prospects.id"), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    state: Mapped[str] = mapped_column(String(10), default=LeadState.POOL)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(10), default="api")  # api | csv | form | manual
    company_key: Mapped[str | None] = mapped_column(String(200))  # domain or company name
    pooled_at: Mapped[datetime]
    assigned_at: Mapped[datetime | None]
    accept_by: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    first_touch_at: Mapped[datetime | None]
    sla_stage: Mapped[int] = mapped_column(Integer, default=0)  # 0, 1 warned, 2 alerted
    due_at: Mapped[datetime | None]
    previous_owners: Mapped[list[Any]] = mapped_column(default=list)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))  # "accept or reject"
    # Compare-and-set version: a scheduler acts on a lead only if it moved it from this value.
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeadAssignment(Base):
    """One hand-over of a lead, with its reason: the history kept when a lead changes hands."""

    __tablename__ = "lead_assignments"
    __table_args__ = (Index("ix_lead_assignments_prospect_at", "prospect_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prospect_id: Mapped[int] = mapped_column(ForeignKey("prospects.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    from_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the pool
    reason: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime]


# End of the lead pool and assignment block.
# ---------------------------------------------------------------------------------------------


# Sign-in and API-key throttling (sequences/workspace/signin.py): counters every web process
# shares, and the failed attempts a manager reads.


class ThrottleCounter(Base):
    """Failures in a row for one scope (a hash of, say, client address and account)."""

    __tablename__ = "throttle_counters"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime | None] = mapped_column(index=True)


class LoginFailure(Base):
    """A failed sign-in or a refused API key: when, which account was tried, from where, why.

    `team_id` is the tried account's team; an account name that matches nobody has none and is
    shown to the install's admins only (it tells nothing of any team)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_team_id_id", "team_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    kind: Mapped[str] = mapped_column(String(16))  # "password" or "api_key"
    account: Mapped[str] = mapped_column(String(320))  # the email tried, or the key's prefix
    client_address: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(40))


# ---------------------------------------------------------------------------------------------
# Lead statuses and status triggers (issue 13, items 1-2; sequences/leads/statuses.py,
# triggers.py; migration 0013_lead_status).


class LeadStatusList(Base):
    """A team's ordered lead statuses, and what a human reply moves a lead to."""

    __tablename__ = "lead_status_lists"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    statuses: Mapped[list[Any]] = mapped_column(default=list)
    on_reply: Mapped[str | None] = mapped_column(String(30))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class StatusRule(Base):
    """When a prospect enters `status`: send an email, enroll, create a task or set a status."""

    __tablename__ = "status_rules"
    __table_args__ = (Index("ix_status_rules_team_status", "team_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    status: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(20))  # send_email | enroll | task | set_status
    # send_email: the rule's hidden one-step sequence; enroll: the team sequence named.
    sequence_id: Mapped[int | None] = mapped_column(ForeignKey("sequences.id"))
    set_status: Mapped[str | None] = mapped_column(String(30))
    title: Mapped[str | None] = mapped_column(Text)  # the task's title
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RuleFiring(Base):
    """One rule for one entry into its status: unique, so it is claimed and done once."""

    __tablename__ = "rule_firings"
    __table_args__ = (
        UniqueConstraint("rule_id", "event_id", name="uq_rule_firings_rule_event"),
        # The scheduler's query: firings not done yet, by when they may be claimed.
        Index(
            "ix_rule_firings_due",
            "due_at",
            postgresql_where=text("state IN ('pending', 'running')"),
            sqlite_where=text("state IN ('pending', 'running')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("status_rules.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))  # the status change
    prospect_id: Mapped[int] = mapped_column(ForeignKey("prospects.id"))
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending|running|done
    # pending: claimable now; running: claimable again once the lease (due_at) has passed.
    due_at: Mapped[datetime]
    # The claim's version: only the worker holding the latest claim may mark it done.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
