"""/api/v1/events: the event feed of the prospects a user may see, oldest first, by cursor."""

from __future__ import annotations

from flask import Response, jsonify, request
from sqlalchemy import select

from sequences.errors import ValidationError
from sequences.models import Event
from sequences.workspace import event_json

from ..db import db
from . import access
from .access import bp
from .helpers import id_arg
from .pagination import paginate


@bp.get("/events")
def events_list() -> Response:
    """The event feed of visible prospects, oldest first: poll with the last next_cursor.

    Filter with ?prospect_id= (one prospect's timeline, page by page) and ?type=.
    """
    query = select(Event).where(Event.prospect_id.in_(access.visible_prospects()))
    prospect_id = id_arg("prospect_id")
    if prospect_id is not None:
        query = query.where(Event.prospect_id == prospect_id)
    type_ = request.args.get("type")
    if type_:
        if len(type_) > 30:
            raise ValidationError("type: an event type such as open or click", field="type")
        query = query.where(Event.type == type_)
    return jsonify(paginate(db(), query, Event.id, event_json))
