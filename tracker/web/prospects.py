"""The prospect page (everything before a call, then the timeline) and its actions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import Forbidden as HTTPForbidden
from werkzeug.wrappers import Response as WerkzeugResponse

from sequences.enrollment import (
    LIVE,
    InvalidTransition,
    mark_prospect,
    pause,
    record,
    resume,
    skip_step,
    stop_prospect,
    unenroll,
)
from sequences.errors import Conflict, Forbidden, NotFound, ValidationError
from sequences.leads import (
    change_many,
    change_status,
    clean_note,
    known_status,
    status_filter,
    team_statuses,
)
from sequences.models import (
    Enrollment,
    EnrollmentStatus,
    Event,
    Prospect,
    ProspectStatus,
    Sequence,
    Task,
)
from sequences.tasks import CALL_OUTCOMES, log_call
from sequences.workspace import CHANGE, open_words, resume_mailbox, retry

from ..api import access
from ..db import db
from .helpers import (
    ago,
    now,
    protect,
    row_id,
    safe_next,
    search_prospects,
    user,
    visible_prospect,
)

bp = Blueprint("prospects", __name__)
protect(bp)

TIMELINE_LIMIT = 500
LIST_LIMIT = 100
MAX_BULK = 1000
# Bookkeeping rows that say nothing new to a rep (a reply's notification repeats the reply).
HIDDEN_TYPES = frozenset({"notification"})


def link_label(url: str) -> str:
    """A short name for a link: its host and path ('example.com/pricing')."""
    parts = urlsplit(url)
    label = (parts.netloc.removeprefix("www.") + parts.path.rstrip("/")) or url
    return label if len(label) <= 48 else label[:47] + "…"


def open_label(e: Event) -> str:
    """'Opened (inferred from a click)', 'Opened by a machine (Apple Mail Privacy Protection)'."""
    words = open_words.label(e.type, e.verdict, e.reason, e.data) or e.type
    return words[:1].upper() + words[1:]


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


@dataclass
class Brief:
    """The pre-call summary: what a person did, and apart, what machines did."""

    phrases: list[str] = field(default_factory=list)
    machine: list[str] = field(default_factory=list)
    human_opens: int = 0
    last_open_at: datetime | None = None


def brief(events: list[Event], at: datetime) -> Brief:
    """'last opened 12 min ago, 3 human opens, clicked example.com/pricing twice, opened
    the brochure'; machine opens and clicks are counted apart with their reasons."""
    out = Brief()
    human_opens = [e for e in events if e.type == "open" and e.verdict == "human"]
    human_clicks = [e for e in events if e.type == "click" and e.verdict == "human"]
    documents = [e for e in events if e.type.startswith("document") and e.verdict != "machine"]
    out.human_opens = len(human_opens)
    if human_opens:
        out.last_open_at = max(e.at for e in human_opens)
        out.phrases.append(f"last opened {ago(out.last_open_at)}")
        inferred = Counter(
            via
            for e in human_opens
            if (via := open_words.inferred_from(e.type, e.reason, e.data)) is not None
        )
        out.phrases.append(open_words.opens_phrase(len(human_opens), inferred, "human open"))
    else:
        out.phrases.append("no human open yet")
    clicks = Counter(link_label(str((e.data or {}).get("url", ""))) for e in human_clicks)
    for label, n in clicks.most_common(5):
        out.phrases.append(f"clicked {label} {_times(n)}")
    names = Counter(
        str((e.data or {}).get("name") or (e.data or {}).get("document") or "a document")
        for e in documents
    )
    for name, n in names.most_common(5):
        out.phrases.append(f"opened {name}" + ("" if n == 1 else f" {_times(n)}"))
    replies = sum(1 for e in events if e.type == "reply")
    if replies:
        out.phrases.append(f"replied {_times(replies)}")
    for kind in ("open", "click"):
        machine = [e for e in events if e.type == kind and e.verdict == "machine"]
        if machine:
            reasons = Counter(open_words.machine_words(e.reason) for e in machine)
            detail = ", ".join(f"{r} x{n}" for r, n in reasons.most_common())
            noun = f"{kind}{'s' if len(machine) != 1 else ''}"
            out.machine.append(f"{len(machine)} {noun} by a machine ({detail})")
    return out


@dataclass
class Item:
    """One line of the timeline; a sent email carries its own opens and clicks."""

    event: Event
    children: list[Event] = field(default_factory=list)


def timeline(events: list[Event]) -> list[Item]:
    """Newest first; opens and clicks are nested under the email they belong to."""
    sent = {e.message_id: Item(e) for e in events if e.type == "sent" and e.message_id}
    items: list[Item] = []
    for e in events:
        if e.type in HIDDEN_TYPES:
            continue
        if e.type in ("open", "click") and e.message_id in sent:
            sent[e.message_id].children.append(e)
        elif e.type == "sent" and e.message_id in sent:
            items.append(sent[e.message_id])
        else:
            items.append(Item(e))
    return items


@bp.get("/prospects")
def index() -> str:
    u = user()
    q = request.args.get("q", "").strip()[:200]
    statuses = team_statuses(db(), u.team_id)
    error = None
    try:
        # The filter's "any status" option sends `status=` (empty): no filter.
        status = status_filter(db(), u.team_id, request.args.get("status") or None)
    except ValidationError as exc:
        status, error = None, exc.message
    rows = search_prospects(u, q, LIST_LIMIT, lead_status=status)
    return render_template(
        "prospects.html",
        prospects=rows,
        q=q,
        status=status,
        statuses=statuses,
        error=error,
        limit=LIST_LIMIT,
    )


@bp.post("/prospects/status")  # each ticked prospect is checked for CHANGE (access.prospect)
def bulk_status() -> WerkzeugResponse:
    """The prospects list's bulk form: the ticked prospects to one status, with a note. One the
    user may not change (another rep's, another team's, gone) refuses the whole form."""
    u = user()
    back = redirect(safe_next(request.form.get("next"), url_for("prospects.index")))
    raw = request.form.getlist("prospect_id")
    ids = [row_id(value) for value in raw]
    if not raw or len(raw) > MAX_BULK or None in ids:
        flash(f"Tick between 1 and {MAX_BULK} prospects to change their status.", "error")
        return back
    try:
        target = known_status(db(), u.team_id, request.form.get("status"))
        note = clean_note(request.form.get("note"))
        chosen: list[Prospect] = []
        for prospect_id in dict.fromkeys(i for i in ids if i is not None):
            try:
                chosen.append(visible_prospect(prospect_id, CHANGE))
            except (NotFound, HTTPForbidden):
                raise ValidationError(
                    f"prospect {prospect_id} is not one you may change (another rep's, or gone); "
                    "untick it and try again",
                    field="prospect_id",
                ) from None
        results = change_many(db(), chosen, target, now(), by_user_id=u.id, note=note)
    except ValidationError as exc:
        db().rollback()
        flash(f"Nothing changed: {exc.message}.", "error")
        return back
    db().commit()
    changed = sum(1 for r in results if r["changed"])
    conflicts = [r for r in results if r.get("error")]
    message = f"Status {target}: {changed} of {len(results)} changed"
    if len(results) - changed - len(conflicts):
        message += f", {len(results) - changed - len(conflicts)} already {target}"
    if conflicts:
        message += f", {len(conflicts)} changed meanwhile by someone else (reload and retry)"
    flash(message + ".", "error" if conflicts else "ok")
    return back


@bp.get("/prospects/<int:prospect_id>")
def show(prospect_id: int) -> str:
    prospect = visible_prospect(prospect_id)
    session = db()
    events = list(
        session.scalars(
            select(Event)
            .where(Event.prospect_id == prospect.id)
            .order_by(Event.at.desc(), Event.id.desc())
            .limit(TIMELINE_LIMIT)
        )
    )
    enrollments = list(
        session.scalars(
            select(Enrollment)
            .where(Enrollment.prospect_id == prospect.id)
            .order_by(Enrollment.created_at.desc(), Enrollment.id.desc())
        )
    )
    sequences = {
        s.id: s
        for s in session.scalars(
            select(Sequence).where(Sequence.id.in_({e.sequence_id for e in enrollments}))
        )
    }
    tasks = list(
        session.scalars(
            select(Task)
            .where(Task.prospect_id == prospect.id, Task.status == "open")
            .order_by(Task.due_at)
        )
    )
    return render_template(
        "prospect.html",
        prospect=prospect,
        brief=brief(events, now()),
        items=timeline(events),
        enrollments=enrollments,
        live=[e for e in enrollments if e.status in LIVE],
        sequences=sequences,
        tasks=tasks,
        outcomes=CALL_OUTCOMES,
        link_label=link_label,
        open_label=open_label,
        lead_statuses=team_statuses(session, prospect.team_id),
    )


def _back(prospect_id: int) -> WerkzeugResponse:
    default = url_for("prospects.show", prospect_id=prospect_id)
    return redirect(safe_next(request.form.get("next"), default))


def _resume_mailbox(session: Session, enrollment: Enrollment, at: datetime) -> None:
    resume_mailbox(session, enrollment, user(), at)


@bp.post("/prospects/<int:prospect_id>/enrollments/<int:enrollment_id>/<action>")
def enrollment_action(prospect_id: int, enrollment_id: int, action: str) -> WerkzeugResponse:
    prospect = visible_prospect(prospect_id, CHANGE)
    enrollment = access.enrollment(enrollment_id, CHANGE)
    if enrollment.prospect_id != prospect.id:
        abort(404)
    actions = {
        "pause": pause,
        "resume": resume,
        "unenroll": unenroll,
        "retry": retry,
        "skip": skip_step,
        "resume_mailbox": _resume_mailbox,
    }
    if action not in actions:
        abort(404)
    try:
        actions[action](db(), enrollment, now())
    except (InvalidTransition, Forbidden) as exc:
        db().rollback()
        flash(str(exc), "error")
        return _back(prospect.id)
    db().commit()
    done = {
        "unenroll": "Unenrolled.",
        "retry": "The step will be sent again.",
        "skip": "Step skipped.",
        "resume_mailbox": "The mailbox sends again; the waiting steps go out.",
    }
    flash(done.get(action, f"Enrollment {action}d."), "ok")
    return _back(prospect.id)


@bp.post("/prospects/<int:prospect_id>/convert")
def convert(prospect_id: int) -> WerkzeugResponse:
    prospect = visible_prospect(prospect_id, CHANGE)
    session = db()
    at = now()
    stopped = stop_prospect(session, prospect.id, EnrollmentStatus.CONVERTED, at, "conversion")
    mark_prospect(session, prospect.id, ProspectStatus.CONVERTED, at)
    record(session, "conversion", at, prospect_id=prospect.id, stopped=stopped, user_id=user().id)
    session.commit()
    flash("Marked converted; every sequence for this prospect has stopped.", "ok")
    return _back(prospect.id)


@bp.post("/prospects/<int:prospect_id>/status")
def set_status(prospect_id: int) -> WerkzeugResponse:
    """The prospect page's status control (the same change as PATCH /api/v1/.../status)."""
    prospect = visible_prospect(prospect_id, CHANGE)
    try:
        event = change_status(
            db(),
            prospect,
            request.form.get("status"),
            now(),
            by_user_id=user().id,
            note=clean_note(request.form.get("note")),
            expected=request.form.get("expected") or None,
        )
    except (ValidationError, Conflict) as exc:
        db().rollback()
        flash(exc.message if isinstance(exc, ValidationError) else str(exc), "error")
        return _back(prospect.id)
    db().commit()
    flash(f"Status: {event.data['to']}." if event is not None else "No change.", "ok")
    return _back(prospect.id)


@bp.post("/prospects/<int:prospect_id>/calls")
def call(prospect_id: int) -> WerkzeugResponse:
    prospect = visible_prospect(prospect_id, CHANGE)
    try:
        log_call(
            db(),
            prospect.id,
            now(),
            request.form.get("outcome"),
            request.form.get("notes", ""),
            user_id=user().id,
        )
    except ValidationError as exc:
        db().rollback()
        flash(exc.message, "error")
        return _back(prospect.id)
    db().commit()
    flash("Call logged.", "ok")
    return _back(prospect.id)
