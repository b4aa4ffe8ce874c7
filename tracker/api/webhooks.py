"""/api/v1/webhooks: register URLs for event types, list deliveries and their status, retry."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import select

from sequences.egress import TargetPolicy
from sequences.errors import NotFound, ValidationError
from sequences.models import User, Webhook, WebhookDelivery
from sequences.webhooks import (
    STATUSES,
    create_webhook,
    delivery_json,
    new_secret,
    retry,
    update_webhook,
    webhook_json,
)
from sequences.workspace import webhook_filter

from ..db import db, rt
from ..errors import request_json
from . import access
from .pagination import paginate

bp = access.guard(Blueprint("api_webhooks", __name__, url_prefix="/api/v1"))


def _user() -> User:
    user: User = g.user
    return user


def _targets() -> TargetPolicy:
    """Where webhooks may point: public addresses, unless the settings allow more."""
    return TargetPolicy.from_settings(rt().settings)


def _webhook(webhook_id: int) -> Webhook:
    """A webhook this user may manage: their own, or for a manager any of the team's."""
    return access.webhook(webhook_id, access.CHANGE)


@bp.get("/webhooks")
def webhooks_list() -> Response:
    query = select(Webhook).where(webhook_filter(_user()))
    return jsonify(paginate(db(), query, Webhook.id, webhook_json))


@bp.post("/webhooks")
def webhooks_create() -> tuple[Response, int]:
    """The answer carries the signing secret; GET never shows it again."""
    webhook = create_webhook(db(), _user(), request_json(), rt().clock.now(), targets=_targets())
    db().commit()
    return jsonify(webhook_json(webhook, secret=True)), 201


@bp.get("/webhooks/<int:webhook_id>")
def webhooks_get(webhook_id: int) -> Response:
    return jsonify(webhook_json(_webhook(webhook_id)))


@bp.patch("/webhooks/<int:webhook_id>")
def webhooks_update(webhook_id: int) -> Response:
    webhook = update_webhook(_webhook(webhook_id), request_json(), targets=_targets())
    db().commit()
    return jsonify(webhook_json(webhook))


@bp.delete("/webhooks/<int:webhook_id>")
def webhooks_delete(webhook_id: int) -> tuple[str, int]:
    session = db()
    webhook = _webhook(webhook_id)
    for delivery in session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id)
    ):
        session.delete(delivery)
    session.delete(webhook)
    session.commit()
    return "", 204


@bp.post("/webhooks/<int:webhook_id>/secret")
def webhooks_rotate_secret(webhook_id: int) -> Response:
    """A new signing secret, in this answer only; deliveries are signed with it from now on."""
    webhook = _webhook(webhook_id)
    new_secret(webhook, rt().clock.now())
    db().commit()
    return jsonify(webhook_json(webhook, secret=True))


@bp.get("/webhooks/<int:webhook_id>/deliveries")
def deliveries_list(webhook_id: int) -> Response:
    """Newest first; `?status=pending|delivered|failed|skipped` filters."""
    webhook = _webhook(webhook_id)
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id)
    status = request.args.get("status")
    if status:
        if status not in STATUSES:
            raise ValidationError(f"status: one of {', '.join(STATUSES)}", field="status")
        query = query.where(WebhookDelivery.status == status)
    return jsonify(paginate(db(), query, WebhookDelivery.id, delivery_json, newest_first=True))


@bp.post("/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/retry")
def deliveries_retry(webhook_id: int, delivery_id: int) -> Response:
    """Send a delivery again now (any status); the attempt count starts over."""
    webhook = _webhook(webhook_id)
    delivery = access.delivery(delivery_id, access.CHANGE)
    if delivery.webhook_id != webhook.id:
        raise NotFound("no such delivery")
    retry(delivery, rt().clock.now())
    db().commit()
    return jsonify(delivery_json(delivery))
