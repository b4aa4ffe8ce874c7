"""/api/v1/inbound: an email provider's inbound webhook (raw RFC 5322) and the inbound mail list."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from sequences.errors import Forbidden, ValidationError
from sequences.inbound import OTHER_TEAM, VERDICTS, receive
from sequences.models import InboundMessage, User
from sequences.workspace import inbound_filter

from ..db import db, rt
from ..errors import json_error
from ..inputs import accepts
from . import access
from .pagination import paginate

# The SMTP envelope as a provider passes it: one address per value (`from` may be `<>`, the
# null sender of a bounce), as the document's patterns say.
ENVELOPE_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")
bp = access.guard(Blueprint("api_inbound", __name__, url_prefix="/api/v1"))

RAW_TYPES = ("message/rfc822", "text/plain", "application/octet-stream")


def inbound_json(row: InboundMessage, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "received_at": row.received_at.isoformat(),
        "source": row.source,
        "verdict": row.verdict,
        "reason": row.reason,
        "from": row.from_email,
        "subject": row.subject,
        "prospect_id": row.prospect_id,
        "enrollment_ids": row.enrollment_ids or [],
        "size": row.size,
    }
    if full:
        out["text"] = row.text
        out["recipients"] = row.recipients
        out["envelope_from"] = row.envelope_from
    return out


def _user() -> User:
    user: User = g.user
    return user


@bp.post("/inbound")
@accepts("raw")
def inbound_post() -> Response:
    """Ingest one raw email; answer what was decided: {verdict, reason, prospect_id, ...}."""
    mimetype = request.mimetype
    for name in ("from", "to"):
        for value in request.args.getlist(name):
            ok = ENVELOPE_ADDRESS.fullmatch(value) or (name == "from" and value == "<>")
            if not ok or len(value) > 998:  # 998: the longest line RFC 5322 allows
                raise ValidationError(
                    f"{name}: an address such as ann@example.com, or leave it out", field=name
                )
    if mimetype not in RAW_TYPES:
        return json_error(
            415, "send the raw email with Content-Type: message/rfc822", "Content-Type"
        )
    limit = rt().settings.inbound_max_bytes
    # Read one byte past the limit, no more: an oversize mail is stored as unprocessable
    # (with a reason) instead of the whole upload being buffered or refused unseen.
    request.max_content_length = None
    raw = request.stream.read(limit + 1)
    # receive() runs its own transaction; end the request's (the API key lookup) first, or
    # SQLite's single writer would wait on itself.
    db().commit()
    try:
        outcome = receive(
            rt(),
            raw,
            source="api",
            envelope_from=request.args.get("from"),
            recipients=request.args.getlist("to"),
            size=request.content_length,
            caller_team=_user().team_id,  # mail sent to another team's address is refused
        )
    except Forbidden:
        return json_error(403, OTHER_TEAM)  # nothing was stored

    except OperationalError:
        # The database is down or deadlocked past the retries: nothing was stored, so ask the
        # provider to retry (webhook senders do on 5xx) rather than lose the mail.
        response = json_error(503, "database unavailable; retry this delivery later")
        response.headers["Retry-After"] = "30"
        return response
    return jsonify(outcome.json())


@bp.get("/inbound")
def inbound_list() -> Response:
    """Stored inbound mail, newest first; `?verdict=unmatched` lists what matched nobody."""
    user = _user()
    query = select(InboundMessage).where(inbound_filter(user))
    verdict = request.args.get("verdict")
    if verdict is not None:
        if verdict not in VERDICTS:
            raise ValidationError(f"verdict: one of {', '.join(VERDICTS)}", "verdict")
        query = query.where(InboundMessage.verdict == verdict)
    return jsonify(paginate(db(), query, InboundMessage.id, inbound_json, newest_first=True))


@bp.get("/inbound/<int:inbound_id>")
def inbound_get(inbound_id: int) -> Response:
    return jsonify(inbound_json(access.inbound(inbound_id), full=True))
