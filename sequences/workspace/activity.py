"""A prospect's timeline and the engagement summary a rep reads before a call."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Event, Prospect
from . import opens
from .prospects import prospect_json


def event_json(e: Event) -> dict[str, Any]:
    out: dict[str, Any] = {"id": e.id, "type": e.type, "at": e.at.isoformat()}
    if e.enrollment_id is not None:
        out["enrollment_id"] = e.enrollment_id
    if e.message_id is not None:
        out["message_id"] = e.message_id
    if e.verdict is not None:
        out["verdict"] = e.verdict
        out["reason"] = e.reason
    out.update(e.data or {})
    if e.type in ("open", "click"):
        # Said plainly, so a rep never calls on an open a person did not make.
        out["label"] = opens.label(e.type, e.verdict, e.reason, e.data)
        out["by_machine"] = e.verdict == "machine"
        if e.type == "open":
            out["inferred_from"] = opens.inferred_from(e.type, e.reason, e.data)
    return out


def summarize(events: list[Event]) -> dict[str, Any]:
    """Human opens and clicks apart from machine ones; first and last human open.

    Every raw hit is an event, but a repeat (the same hit again within seconds) counts once.
    """
    counted = [e for e in events if not (e.data or {}).get("repeat")]
    human_opens = [e for e in counted if e.type == "open" and e.verdict == "human"]
    human_clicks = [e for e in counted if e.type == "click" and e.verdict == "human"]
    documents = [e for e in counted if e.type == "document_viewed" and e.verdict == "human"]
    inferred: dict[str, int] = {}
    for e in human_opens:
        via = opens.inferred_from(e.type, e.reason, e.data)
        if via is not None:
            inferred[via] = inferred.get(via, 0) + 1
    return {
        "sent": sum(1 for e in events if e.type == "sent"),
        "opens": len(human_opens),
        "clicks": len(human_clicks),
        "inferred_opens": sum(inferred.values()),
        "inferred_opens_from": inferred,
        "opens_label": opens.opens_phrase(len(human_opens), inferred),
        "machine_opens": sum(1 for e in counted if e.type == "open" and e.verdict == "machine"),
        "machine_clicks": sum(1 for e in counted if e.type == "click" and e.verdict == "machine"),
        "documents_viewed": len(documents),
        "replies": sum(1 for e in events if e.type == "reply"),
        "first_open_at": min((e.at for e in human_opens), default=None),
        "last_open_at": max((e.at for e in human_opens), default=None),
        "last_click_at": max((e.at for e in human_clicks), default=None),
    }


def activity(session: Session, prospect: Prospect, limit: int = 500) -> dict[str, Any]:
    events = list(
        session.scalars(
            select(Event)
            .where(Event.prospect_id == prospect.id)
            .order_by(Event.at.desc(), Event.id.desc())
            .limit(limit)
        )
    )
    summary = summarize(events)
    for key in ("first_open_at", "last_open_at", "last_click_at"):
        if summary[key] is not None:
            summary[key] = summary[key].isoformat()
    return {
        "prospect": prospect_json(prospect),
        "events": [event_json(e) for e in events],
        "summary": summary,
    }
