"""/api/v1/prospects: create, list, read and update prospects, their activity, and the stops
a conversion or a booked meeting makes."""

from __future__ import annotations

from flask import Response, jsonify, request
from sqlalchemy import select

from sequences.enrollment import mark_prospect, record, stop_prospect
from sequences.errors import ValidationError
from sequences.leads import status_filter
from sequences.models import EnrollmentStatus, Event, Prospect, ProspectStatus
from sequences.workspace import (
    activity,
    clean_prospect_data,
    create_prospect,
    prospect_filter,
    prospect_json,
)

from ..db import db
from ..errors import optional_json
from . import access
from .access import bp
from .helpers import body, created, now
from .pagination import paginate


@bp.post("/prospects")
def prospects_create() -> tuple[Response, int]:
    user = access.user()
    data = body()
    access.check_owner(data.get("owner_id"))
    prospect = create_prospect(db(), user.team_id, data, now(), owner_id=user.id)
    db().commit()
    return created(prospect_json(prospect))


@bp.get("/prospects")
def prospects_list() -> Response:
    user = access.user()
    query = select(Prospect).where(prospect_filter(user))
    lead_status = status_filter(db(), user.team_id, request.args.get("status"))
    if lead_status is not None:
        query = query.where(Prospect.lead_status == lead_status)
    return jsonify(paginate(db(), query, Prospect.id, prospect_json))


@bp.get("/prospects/<int:prospect_id>")
def prospects_get(prospect_id: int) -> Response:
    return jsonify(prospect_json(access.prospect(prospect_id)))


@bp.patch("/prospects/<int:prospect_id>")
def prospects_update(prospect_id: int) -> Response:
    prospect = access.prospect(prospect_id, access.CHANGE)
    values = clean_prospect_data(body(), partial=True)
    access.check_owner(values.get("owner_id"))
    for key, value in values.items():
        setattr(prospect, key, value)
    prospect.updated_at = now()
    db().commit()
    return jsonify(prospect_json(prospect))


@bp.get("/prospects/<int:prospect_id>/activity")
def prospects_activity(prospect_id: int) -> Response:
    return jsonify(activity(db(), access.prospect(prospect_id)))


def _stop_for(prospect_id: int, status: str, event_type: str) -> Response:
    prospect = access.prospect(prospect_id, access.CHANGE)
    session = db()
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key is not None and len(key) > 200:
        raise ValidationError("Idempotency-Key: at most 200 characters", field="Idempotency-Key")
    if key is not None:
        seen = session.scalar(
            select(Event)
            .where(Event.prospect_id == prospect.id, Event.type == event_type)
            .where(Event.data["idempotency_key"].as_string() == key)
        )
        if seen is not None:
            return jsonify(
                {
                    "prospect_id": prospect.id,
                    "status": prospect.status,
                    "stopped_enrollment_ids": seen.data.get("stopped", []),
                    "replayed": True,
                }
            )
    details = optional_json()
    at = now()
    stopped = stop_prospect(session, prospect.id, status, at, event_type)
    if status == EnrollmentStatus.CONVERTED:
        mark_prospect(session, prospect.id, ProspectStatus.CONVERTED, at)
    record(
        session,
        event_type,
        at,
        prospect_id=prospect.id,
        stopped=stopped,
        idempotency_key=key,
        details={k: v for k, v in details.items() if isinstance(k, str)},
    )
    session.commit()
    session.refresh(prospect)
    return jsonify(
        {
            "prospect_id": prospect.id,
            "status": prospect.status,
            "stopped_enrollment_ids": stopped,
            "replayed": False,
        }
    )


@bp.post("/prospects/<int:prospect_id>/conversion")
def prospects_conversion(prospect_id: int) -> Response:
    """The prospect converted: every active enrollment stops (status converted)."""
    return _stop_for(prospect_id, EnrollmentStatus.CONVERTED, "conversion")


@bp.post("/prospects/<int:prospect_id>/meetings")
def prospects_meeting(prospect_id: int) -> Response:
    """A meeting was booked: every active enrollment stops (status meeting_booked)."""
    return _stop_for(prospect_id, EnrollmentStatus.MEETING_BOOKED, "meeting_booked")
