"""Outgoing webhooks: an outbox row per (webhook, event), signed JSON POSTs, retries with backoff.

How a delivery travels, and why nothing is lost:
- `outbox()` runs inside `enrollment.record()`, so the delivery row is written in the same
  transaction as its event: both are committed, or neither is.
- The scheduler's `dispatch()` finds pending rows that are due, stamps `enqueued_at` and hands
  their ids to the broker after the commit; a row handed off long ago and still pending is
  handed off again (Redis restarted, a worker died), so the database is the source of truth.
- The worker's `deliver()` claims the row with a compare-and-set on `attempts`, and moves its
  `next_attempt_at` past the POST's timeout so a duplicated broker message does not POST twice.
  The POST happens outside any transaction. A failure schedules the next attempt with an
  exponential backoff; after MAX_ATTEMPTS the row is `failed` (and can be retried by hand).
- Receivers get at-least-once delivery: X-Followup-Delivery is the id to deduplicate on.

Slow or failing endpoints never slow tracking or sending: tracking only inserts a row, POSTs run
on their own Dramatiq queue ("webhooks") with short timeouts, and no database connection is held
while waiting for the endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import ssl
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from .db import session_scope
from .egress import (
    STRICT,
    Resolver,
    TargetPolicy,
    TargetRefused,
    check_url,
    open_connection,
    system_resolve,
)
from .errors import ValidationError
from .models import Event, Prospect, User, Webhook, WebhookDelivery
from .runtime import Runtime

log = logging.getLogger(__name__)

# The event types a webhook may subscribe to (Event.type values).
EVENT_TYPES = (
    "open",
    "click",
    "document_viewed",
    "reply",
    "bounce",
    "unsubscribe",
    "conversion",
    "meeting_booked",
    "task_due",
    "sent",
    "lead.assigned",
    "lead.accepted",
    "lead.rejected",
    "lead.reassigned",
    "prospect.status_changed",
    "attention",  # a step stopped after enrollment, in a rep's words (sequences.failures)
)
PENDING, DELIVERED, FAILED, SKIPPED = "pending", "delivered", "failed", "skipped"
STATUSES = (PENDING, DELIVERED, FAILED, SKIPPED)

TIMEOUT_SECONDS = 5.0  # connect and each read: a slow endpoint costs a worker thread this long
MAX_ATTEMPTS = 8  # 30 s, 1, 2, 4, 8, 16, 32 min: about an hour of trying
BASE_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
IN_FLIGHT = timedelta(seconds=60)  # > TIMEOUT_SECONDS: a claimed row is not due while it POSTs
REQUEUE_AFTER = timedelta(minutes=5)  # a hand-off older than this was lost by the broker
DEAD_AFTER = 10  # this many deliveries in a row failed for good: the webhook is disabled
KEEP = timedelta(days=30)  # delivered, failed and skipped rows are kept this long, then pruned
PRUNE_EVERY = timedelta(hours=1)
SIGNATURE_HEADER = "X-Followup-Signature"
USER_AGENT = "Followup-Webhooks/1"

# What a user sees when no HTTP answer came: one text whether the port was closed, filtered,
# reset or slow, so the delivery log cannot be used to scan ports (the log has the detail).
NO_ANSWER = "no HTTP answer from the endpoint (could not connect, or no answer in time)"

# (url, body, headers, timeout) -> (status code, start of the response body); raises OSError.
Post = Callable[[str, bytes, dict[str, str], float], tuple[int, str]]
Enqueue = Callable[[int], None]


# Registration


def _clean_url(value: object, targets: TargetPolicy, resolve: Resolver) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("url: required, an http:// or https:// URL", field="url")
    url = value.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a malformed port)
    except ValueError:
        raise ValidationError("url: not a valid URL", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("url: must be an http:// or https:// URL", field="url")
    if len(url) > 2000 or any(c in url for c in "\r\n\x00 "):
        raise ValidationError("url: too long or contains spaces", field="url")
    try:
        check_url(url, targets, resolve)
    except TargetRefused as exc:
        raise ValidationError(
            f"url: refused, {exc}; webhooks go to public addresses only"
            " (FOLLOWUP_WEBHOOK_ALLOW_PRIVATE or FOLLOWUP_WEBHOOK_ALLOW_NETWORKS allow others)",
            field="url",
        ) from None
    return url


def _clean_events(value: object) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValidationError(
            f"events: a non-empty list of event types ({', '.join(EVENT_TYPES)})", field="events"
        )
    unknown = sorted(set(value) - set(EVENT_TYPES))
    if unknown:
        raise ValidationError(
            f"events: unknown type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}",
            field="events",
        )
    return sorted(set(value), key=EVENT_TYPES.index)


def _clean(
    data: dict[str, Any], *, partial: bool, targets: TargetPolicy, resolve: Resolver
) -> dict[str, Any]:
    allowed = {"url", "events", "description", "include_machine", "active"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(f"{unknown[0]}: unknown field", field=unknown[0])
    values: dict[str, Any] = {}
    if "url" in data or not partial:
        values["url"] = _clean_url(data.get("url"), targets, resolve)
    if "events" in data or not partial:
        values["events"] = _clean_events(data.get("events"))
    if "description" in data:
        description = data["description"]
        if not isinstance(description, str) or len(description) > 200:
            raise ValidationError("description: text of at most 200 characters", "description")
        values["description"] = description
    for name in ("include_machine", "active"):
        if name in data:
            if not isinstance(data[name], bool):
                raise ValidationError(f"{name}: must be true or false", field=name)
            values[name] = data[name]
    return values


def create_webhook(
    session: Session,
    user: User,
    data: dict[str, Any],
    now: datetime,
    *,
    targets: TargetPolicy = STRICT,
    resolve: Resolver = system_resolve,
) -> Webhook:
    """Register a URL for some event types; its signing secret is generated here.

    A URL whose host is, or resolves to, an address `targets` refuses is a ValidationError.
    """
    values = _clean(data, partial=False, targets=targets, resolve=resolve)
    webhook = Webhook(
        team_id=user.team_id,
        user_id=user.id,
        secret="whsec_" + secrets.token_urlsafe(32),
        secret_changed_at=now,
        created_at=now,
        **values,
    )
    session.add(webhook)
    session.flush()
    return webhook


def update_webhook(
    webhook: Webhook,
    data: dict[str, Any],
    *,
    targets: TargetPolicy = STRICT,
    resolve: Resolver = system_resolve,
) -> Webhook:
    values = _clean(data, partial=True, targets=targets, resolve=resolve)
    for name, value in values.items():
        setattr(webhook, name, value)
    if values.get("active") is True:
        webhook.disabled_reason = None
    return webhook


def new_secret(webhook: Webhook, now: datetime) -> str:
    """Replace the signing secret; the caller shows the new one once (it is stored encrypted)."""
    webhook.secret = "whsec_" + secrets.token_urlsafe(32)
    webhook.secret_changed_at = now
    return webhook.secret


def webhook_json(w: Webhook, *, secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": w.id,
        "url": w.url,
        "events": list(w.events),
        "description": w.description,
        "include_machine": w.include_machine,
        "active": w.active,
        "disabled_reason": w.disabled_reason,
        "created_at": w.created_at.isoformat(),
        # Write-only: the secret itself is in the answer that made it, never again.
        "secret_set": bool(w.secret),
        "secret_changed_at": (w.secret_changed_at or w.created_at).isoformat(),
    }
    if secret:
        out["secret"] = w.secret
    return out


def delivery_json(d: WebhookDelivery) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": d.id,
        "webhook_id": d.webhook_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": iso(d.next_attempt_at) if d.status == PENDING else None,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "duration_ms": d.duration_ms,
        "created_at": iso(d.created_at),
        "delivered_at": iso(d.delivered_at),
    }


# The outbox


def _subscribers(session: Session) -> list[Any]:
    """Every active webhook, read once per transaction (a batch of events shares one query)."""
    session.connection()  # begin the transaction now, so it is the one the cache is keyed on
    transaction = session.get_transaction()
    cached = session.info.get("followup_webhooks")
    if cached is not None and cached[0] is transaction:
        return list(cached[1])
    with session.no_autoflush:
        rows = session.execute(
            select(Webhook.id, Webhook.team_id, Webhook.user_id, Webhook.events, User.is_manager)
            .join(User, User.id == Webhook.user_id)
            .where(Webhook.active.is_(True))
        ).all()
    session.info["followup_webhooks"] = (transaction, rows)
    return list(rows)


def subscribed(session: Session, event_type: str) -> bool:
    """Whether any active webhook wants events of this type (read once per transaction)."""
    return any(event_type in row.events for row in _subscribers(session))


def outbox(session: Session, event: Event) -> int:
    """Add a pending delivery for every active webhook that wants `event`; returns how many.

    Called for every recorded event (`aftermath.follow_event`, through `enrollment.record()`)
    before the event is flushed, so the rows commit with it.
    A rep's webhook hears only about prospects the rep owns (or nobody owns).
    """
    if event.type not in EVENT_TYPES or event.prospect_id is None:
        return 0
    wanted = [row for row in _subscribers(session) if event.type in row.events]
    if not wanted:
        return 0
    owners: dict[int, Any] = session.info.setdefault("followup_prospect_owners", {})
    if session.info.get("followup_owners_tx") is not session.get_transaction():
        owners.clear()  # an owner may change between transactions, never within one
        session.info["followup_owners_tx"] = session.get_transaction()
    prospect = owners.get(event.prospect_id)
    if prospect is None:
        # Core on the session's connection: no autoflush of the event (tracking has not set its
        # verdict yet), and none of the ORM's per-statement work on the hot path.
        prospect = (
            session.connection()
            .execute(
                select(Prospect.team_id, Prospect.owner_id).where(Prospect.id == event.prospect_id)
            )
            .first()
        )
        if prospect is None:
            return 0
        owners[event.prospect_id] = prospect
    count = 0
    for row in wanted:
        if row.team_id != prospect.team_id:
            continue
        if not row.is_manager and prospect.owner_id not in (None, row.user_id):
            continue
        session.add(
            WebhookDelivery(
                webhook_id=row.id,
                event=event,
                event_type=event.type,
                status=PENDING,
                next_attempt_at=event.at,
                created_at=event.at,
            )
        )
        count += 1
    return count


def claim_due(session: Session, now: datetime, *, limit: int = 200) -> list[int]:
    """Stamp up to `limit` due pending deliveries as handed off and return their ids."""
    ids = list(
        session.scalars(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at <= now,
                or_(
                    WebhookDelivery.enqueued_at.is_(None),
                    WebhookDelivery.enqueued_at < now - REQUEUE_AFTER,
                ),
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).values(enqueued_at=now),
            execution_options={"synchronize_session": False},
        )
    return ids


def prune(session: Session, now: datetime, *, keep: timedelta = KEEP, limit: int = 5000) -> int:
    """Forget finished deliveries older than `keep` (the log would otherwise grow forever)."""
    old = list(
        session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status != PENDING, WebhookDelivery.created_at < now - keep)
            .limit(limit)
        )
    )
    if old:
        session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.id.in_(old)),
            execution_options={"synchronize_session": False},
        )
    return len(old)


def dispatch(rt: Runtime, enqueue: Enqueue, *, limit: int = 200) -> int:
    """One scheduler pass: claim what is due, commit, then enqueue (a crash loses nothing)."""
    now = rt.clock.now()
    with session_scope(rt.sessions) as session:
        ids = claim_due(session, now, limit=limit)
        last = rt.extras.get("webhooks_pruned_at")
        if not isinstance(last, datetime) or now - last >= PRUNE_EVERY:
            rt.extras["webhooks_pruned_at"] = now
            prune(session, now)
    for delivery_id in ids:
        enqueue(delivery_id)
    return len(ids)


# Signing


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value: `t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: check the HMAC and refuse a timestamp older than `tolerance`."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields.get("t", [""])[0])
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, v) for v in fields.get("v1", []))


# Delivering


def payload(session: Session, delivery: WebhookDelivery) -> dict[str, Any]:
    from .workspace import event_json, prospect_json

    event = delivery.event
    prospect = session.get(Prospect, event.prospect_id) if event.prospect_id else None
    return {
        "id": delivery.id,
        "type": event.type,
        "created_at": event.at.isoformat(),
        "webhook_id": delivery.webhook_id,
        "event": event_json(event),
        "prospect": prospect_json(prospect) if prospect else None,
    }


def http_post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    *,
    targets: TargetPolicy = STRICT,
    resolve: Resolver = system_resolve,
    context: ssl.SSLContext | None = None,
) -> tuple[int, str]:
    """POST to the address checked against `targets` (pinned: no second DNS lookup), without
    following redirects; returns the status and the start of the answer.

    Raises TargetRefused for a refused address, OSError/HTTPException when no answer came.
    """
    parts = urlsplit(url)
    conn = open_connection(url, timeout, targets, resolve, context)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        if 200 <= response.status < 300:
            return response.status, ""  # the status is the answer; the body is not waited for
        # Keep the start of an error answer for the log, but never wait on a trickle for long.
        deadline = time.monotonic() + timeout
        answer = b""
        while len(answer) < 1024 and time.monotonic() < deadline:
            chunk = response.read1(1024 - len(answer))
            if not chunk:
                break
            answer += chunk
        return response.status, answer.decode("utf-8", "replace")
    finally:
        conn.close()


def delivery_error(exc: Exception) -> str:
    """The words a user sees for a failed POST: no port state, no resolver detail."""
    if isinstance(exc, TargetRefused):
        return f"refused: {exc} (webhooks go to public addresses only)"[:500]
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "the endpoint's TLS certificate is not valid for its host name"
    return NO_ANSWER


def backoff(attempt: int) -> timedelta:
    """Exponential backoff after the `attempt`-th failure, with +-20% jitter."""
    seconds = min(BASE_BACKOFF.total_seconds() * 2.0 ** (attempt - 1), MAX_BACKOFF.total_seconds())
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


def deliver(
    rt: Runtime, delivery_id: int, *, post: Post | None = None, timeout: float = TIMEOUT_SECONDS
) -> str:
    """Make one attempt at a delivery; return its status afterwards. Idempotent.

    `post` defaults to `http_post` with the targets the settings allow.
    """
    if post is None:
        post = partial(http_post, targets=TargetPolicy.from_settings(rt.settings))
    now = rt.clock.now()
    with session_scope(rt.sessions) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return "missing"
        if delivery.status != PENDING or (
            delivery.next_attempt_at is not None and delivery.next_attempt_at > now
        ):
            return delivery.status  # done already, or a duplicate message while in flight
        webhook, event = delivery.webhook, delivery.event
        skip = None
        if not webhook.active:
            skip = "webhook is disabled"
        elif event.verdict == "machine" and not webhook.include_machine:
            skip = f"machine {event.type} ({event.reason}); include_machine is off"
        if skip is not None:
            delivery.status, delivery.last_error = SKIPPED, skip
            return SKIPPED
        attempt = delivery.attempts + 1
        claimed = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery.id,
                WebhookDelivery.status == PENDING,
                WebhookDelivery.attempts == delivery.attempts,
            )
            .values(attempts=attempt, next_attempt_at=now + IN_FLIGHT),
            execution_options={"synchronize_session": False},
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return PENDING  # another worker took it
        body = json.dumps(payload(session, delivery), separators=(",", ":")).encode()
        url, secret = webhook.url, webhook.secret
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Followup-Event": event.type,
            "X-Followup-Delivery": str(delivery.id),
            "X-Followup-Attempt": str(attempt),
            SIGNATURE_HEADER: sign(secret, body, int(now.timestamp())),
        }

    started = time.monotonic()
    code: int | None = None
    error: str | None = None
    try:
        code, answer = post(url, body, headers, timeout)
        if not 200 <= code < 300:
            error = f"HTTP {code}: {answer[:300]}"
    except (OSError, HTTPException, ValueError) as exc:
        error = delivery_error(exc)
        log.info("webhook delivery %s to %s: %s: %s", delivery_id, url, type(exc).__name__, exc)
    elapsed_ms = int((time.monotonic() - started) * 1000)

    done = rt.clock.now()
    with session_scope(rt.sessions) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return "missing"  # the webhook was deleted meanwhile
        delivery.last_status_code, delivery.last_error = code, error
        delivery.duration_ms = elapsed_ms
        delivery.enqueued_at = None
        if error is None:
            delivery.status, delivery.delivered_at = DELIVERED, done
        elif code == 410:
            # 410 Gone: the receiver says this URL is finished; stop sending it anything.
            delivery.status = FAILED
            delivery.webhook.active = False
            delivery.webhook.disabled_reason = f"the endpoint answered 410 Gone at {done}"
        elif attempt >= MAX_ATTEMPTS:
            delivery.status = FAILED
            session.flush()
            if _dead(session, delivery.webhook_id):
                delivery.webhook.active = False
                delivery.webhook.disabled_reason = (
                    f"the last {DEAD_AFTER} deliveries all failed (last at {done}: {error})"
                )
        else:
            delivery.next_attempt_at = done + backoff(attempt)
        if error is not None:
            log.info("webhook delivery %s attempt %s failed: %s", delivery_id, attempt, error)
        return delivery.status


def _dead(session: Session, webhook_id: int) -> bool:
    """Whether the webhook's last DEAD_AFTER finished deliveries all failed (each after every
    retry): an endpoint gone for good, which would otherwise cost retries for every event."""
    last = list(
        session.scalars(
            select(WebhookDelivery.status)
            .where(
                WebhookDelivery.webhook_id == webhook_id,
                WebhookDelivery.status.in_((DELIVERED, FAILED)),
            )
            .order_by(WebhookDelivery.id.desc())
            .limit(DEAD_AFTER)
        )
    )
    return len(last) == DEAD_AFTER and all(status == FAILED for status in last)


def retry(delivery: WebhookDelivery, now: datetime) -> None:
    """Send a failed or skipped delivery again (by hand), from a fresh count of attempts."""
    delivery.status = PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.enqueued_at = None
