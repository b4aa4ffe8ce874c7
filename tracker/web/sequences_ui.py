"""Sequences: list, create and edit with a live preview, enroll (search or CSV), per-step stats."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from sqlalchemy import func, select
from werkzeug.wrappers import Response as WerkzeugResponse

from sequences.definitions import create_sequence, update_sequence
from sequences.delay_input import delay_box_text, input_delay_text, parse_delay
from sequences.enroll_checks import NEEDS_FORCE, Verdict, checked_enroll
from sequences.errors import ValidationError
from sequences.leads import TriggerEmail, trigger_email
from sequences.models import Enrollment, EnrollmentStatus, Prospect, Sequence, Step
from sequences.preview import preview_step, subject_as_read
from sequences.rendering import validate
from sequences.schedule import DAY_NAMES, ScheduleError
from sequences.schedule_words import (
    delay_text,
    holidays_label,
    sequence_window_text,
    step_delay_text,
    window_form_days,
    window_form_hours,
    window_text,
)
from sequences.sending import TrackingUrls
from sequences.tracking import ID_BYTES
from sequences.workspace import (
    CHANGE,
    READ,
    StepStats,
    import_csv,
    may_change_sequence,
    prospect_filter,
    read_table,
    step_stats,
)

from ..api import access
from ..db import db, rt
from .helpers import (
    can_see,
    display_name,
    now,
    protect,
    row_id,
    search_prospects,
    user,
)

bp = Blueprint("sequences_ui", __name__, url_prefix="/sequences")
protect(bp)

STEP_FIELDS = ("type", "delay", "business_days", "subject", "body_html", "body_text", "notes")
MAX_CSV_ROWS = 10_000
# No message has this id, so the preview's unsubscribe link leads nowhere.
PREVIEW_TOKEN_ID = "00" * ID_BYTES


@bp.app_template_filter("delay_words")
def _delay_words(step: Step) -> str:
    """A saved step's delay in words (schedule_words), for every page that lists steps."""
    return step_delay_text(step.sequence, step)


@bp.app_template_filter("window_words")
def _window_words(sequence: Sequence) -> str:
    return sequence_window_text(sequence)


@bp.app_template_filter("reads")
def _reads(step: Step, prospect: Prospect | None = None, variant: str | None = None) -> Markup:
    """A step's subject (or its A/B variant's, by letter) as `prospect` (or the sample one)
    reads it, fields marked; a threaded step reads as a reply to the step it threads with."""
    source = step.subject or ""
    variants = (step.options or {}).get("variants") or []
    index = ord(variant) - ord("B") if variant and len(variant) == 1 else -1
    if 0 <= index < len(variants) and isinstance(variants[index], dict):
        source = variants[index].get("subject") or source
    if step.thread_with is not None:
        earlier = next((s for s in step.sequence.steps if s.position == step.thread_with), None)
        if earlier is not None and earlier.subject:
            re_ = "" if earlier.subject.lower().startswith("re:") else "Re: "
            source = re_ + earlier.subject
    # subject_as_read escapes every value it marks: its answer is HTML.
    return Markup(subject_as_read(source, prospect))


def _sequence(sequence_id: int, action: str = READ) -> Sequence:
    return access.sequence(sequence_id, action)


def _workable(sequence_id: int, action: str = READ) -> Sequence:
    """A sequence to edit or enroll in. A status trigger's hidden sequence has neither: its
    email is edited on the rule and the rule enrolls, so the editor and the enroll pages are a
    404 that says so and links to its read-only page (`show`)."""
    sequence = _sequence(sequence_id, action)
    trigger = trigger_email(db(), sequence)
    if trigger is not None:
        page = render_template(
            "error.html",
            code=404,
            name="This sequence is a status rule's email",
            detail=_sentence(trigger),
            link=url_for("sequences_ui.show", sequence_id=sequence.id),
            link_text="See its email and figures",
        )
        abort(make_response(page, 404))
    return sequence


def _sentence(trigger: TriggerEmail) -> str:
    words = trigger.words()
    return f"{words[0].upper()}{words[1:]}."


def _may_change(sequence: Sequence) -> bool:
    """Whether the editor is offered: only to the sequence's owner and managers."""
    return may_change_sequence(user(), sequence)


def form_to_definition(form: Any) -> dict[str, Any]:
    """The editor's form as a definition for definitions.create/update_sequence."""
    data: dict[str, Any] = {"name": form.get("name", ""), "timezone": form.get("timezone") or "UTC"}
    # No days and no hours: any time. Days without hours: those whole days. Hours without
    # days: those hours every day (the editor's sentence under the fields says which).
    days = form.getlist("window_days")
    start = (form.get("window_start") or "").strip()
    end = (form.get("window_end") or "").strip()
    if days or start or end:
        data["send_window"] = {
            "days": days or list(DAY_NAMES),
            "start": start or "00:00",
            "end": end or "23:59",
        }
    else:
        data["send_window"] = None
    columns = {name: form.getlist(f"step_{name}") for name in (*STEP_FIELDS, "options")}
    steps = []
    for i, step_type in enumerate(columns["type"]):

        def col(name: str, i: int = i) -> str:
            values = columns[name]  # lists of unequal length come only from forged forms
            return values[i] if i < len(values) else ""

        # The box takes words ("2 business days", "immediately") or ISO 8601 (P2D).
        try:
            typed = parse_delay(col("delay").strip() or "PT0S")
        except ScheduleError as exc:
            raise ValidationError(f"Step {i + 1}: {exc}", field=f"steps[{i}].delay") from None
        step: dict[str, Any] = {"type": step_type, "delay": typed.delay}
        step["business_days"] = (
            typed.business_days
            if typed.business_days is not None
            else col("business_days") == "yes"
        )
        if step_type == "email":
            step["subject"] = col("subject")
            step["body_html"] = col("body_html")
            if col("body_text").strip():
                step["body_text"] = col("body_text")
        elif col("subject").strip():
            step["title"] = col("subject").strip()
        if col("notes").strip():
            step["notes"] = col("notes")
        raw = col("options").strip()
        if raw:
            try:
                step["options"] = json.loads(raw)
            except ValueError:
                raise ValidationError(
                    f"steps[{i}].options: not valid JSON", field=f"steps[{i}].options"
                ) from None
        steps.append(step)
    data["steps"] = steps
    return data


def _editor_steps(sequence: Sequence | None) -> list[dict[str, Any]]:
    if sequence is None:
        return [
            {
                "type": "email",
                "delay": delay_box_text("PT0S"),
                "business_days": False,
                "delay_words": delay_text("PT0S", first=True),
            }
        ]
    return [_step_view(s) for s in sequence.steps]


def _step_view(s: Step) -> dict[str, Any]:
    return {
        "type": s.type,
        "delay": delay_box_text(s.delay, s.business_days),  # words the box reads back
        "business_days": s.business_days,
        "delay_words": step_delay_text(s.sequence, s),
        "subject": s.subject or "",
        "body_html": s.body_html or "",
        "body_text": s.body_text or "",
        "notes": s.notes or "",
        "options": json.dumps(s.options) if s.options else "",
    }


def _form_steps(form: Any) -> list[dict[str, Any]]:
    columns = {name: form.getlist(f"step_{name}") for name in (*STEP_FIELDS, "options")}
    out = []
    for i in range(len(columns["type"])):
        row: dict[str, Any] = {n: (columns[n][i] if i < len(columns[n]) else "") for n in columns}
        row["business_days"] = row["business_days"] == "yes"
        # The box keeps what was typed; beside it, its words or what is wrong with it.
        row["delay_words"], row["delay_error"] = input_delay_text(
            row["delay"].strip() or "PT0S", row["business_days"], first=i == 0
        )
        out.append(row)
    return out


def _preview_prospects() -> list[Prospect]:
    query = select(Prospect).where(prospect_filter(user()))
    return list(db().scalars(query.order_by(Prospect.id.desc()).limit(100)))


def _editor(sequence: Sequence | None, **extra: Any) -> str:
    # What the scheduler reads from the window (no "days" is Monday to Friday), so the form
    # never shows a window other than the one in force.
    window = sequence.send_window if sequence else None
    start, end = window_form_hours(window)
    values = {
        "name": sequence.name if sequence else "",
        "timezone": sequence.timezone if sequence else "UTC",
        "window_days": window_form_days(window),
        "window_start": start,
        "window_end": end,
    }
    context: dict[str, Any] = {
        "sequence": sequence,
        "values": values,
        "steps": _editor_steps(sequence),
        "day_names": DAY_NAMES,
        "window_words": sequence_window_text(sequence) if sequence else window_text(None),
        "new_step_words": delay_text("P3D"),
        "prospects": _preview_prospects(),
        "error": None,
    }
    context.update(extra)
    return render_template("sequence_edit.html", **context)


@bp.get("")
def index() -> str:
    u = user()
    sequences = list(
        db().scalars(
            select(Sequence)
            .where(Sequence.team_id == u.team_id, Sequence.hidden.is_(False))
            .order_by(Sequence.id)
        )
    )
    active: dict[int, int] = {
        sequence_id: count
        for sequence_id, count in db().execute(
            select(Enrollment.sequence_id, func.count())
            .where(
                Enrollment.sequence_id.in_([s.id for s in sequences]),
                Enrollment.status == EnrollmentStatus.ACTIVE,
            )
            .group_by(Enrollment.sequence_id)
        )
    }
    return render_template(
        "sequences.html", sequences=sequences, active=active, may_change=_may_change
    )


@bp.get("/new")
def new() -> str:
    return _editor(None)


@bp.post("/new")
def create() -> WerkzeugResponse | tuple[str, int]:
    return _save(None)


@bp.get("/<int:sequence_id>/edit")
def edit(sequence_id: int) -> str:
    return _editor(_workable(sequence_id, CHANGE))


@bp.post("/<int:sequence_id>/edit")
def save(sequence_id: int) -> WerkzeugResponse | tuple[str, int]:
    return _save(_workable(sequence_id, CHANGE))


def _save(sequence: Sequence | None) -> WerkzeugResponse | tuple[str, int]:
    u = user()
    try:
        data = form_to_definition(request.form)
        if sequence is None:
            sequence = create_sequence(db(), u.team_id, u.id, data, now())
        else:
            update_sequence(db(), sequence, data)
    except ValidationError as exc:
        db().rollback()
        form = request.form
        values = {
            "name": form.get("name", ""),
            "timezone": form.get("timezone", "UTC"),
            "window_days": form.getlist("window_days"),
            "window_start": form.get("window_start", ""),
            "window_end": form.get("window_end", ""),
        }
        problems = exc.details or [{"field": exc.field, "message": exc.message}]
        try:
            window = form_to_definition(form)["send_window"]
            window_words = window_text(window, str(form.get("timezone") or "UTC"))
        except ValidationError:
            window_words = "not saved yet: correct the form"
        return _editor(
            sequence if sequence is not None and sequence.id else None,
            window_words=window_words,
            values=values,
            steps=_form_steps(form),
            error=exc.message,
            problems=problems,
        ), 422
    db().commit()
    flash("Sequence saved.", "ok")
    return redirect(url_for("sequences_ui.show", sequence_id=sequence.id))


def _preview_words(form: Any, step: int) -> tuple[str, str | None, str]:
    """The current step's delay in words (or what is wrong with it) and the window, in words,
    from the editor's unsaved form."""
    delay = form.get("delay", "").strip() or "PT0S"
    business = form.get("business_days") == "yes"
    settings = {}
    if sequence_id := row_id(form.get("sequence_id", "")):
        found = db().get(Sequence, sequence_id)
        if found is not None and found.team_id == user().team_id:
            settings = found.settings or {}
    holidays = holidays_label(settings)
    delay_words, delay_error = input_delay_text(delay, business, first=step == 1, holidays=holidays)
    try:
        window = form_to_definition(form)["send_window"]
    except ValidationError:
        window = None
    timezone = form.get("timezone", "").strip() or "UTC"
    return delay_words, delay_error, window_text(window, timezone, holidays=holidays)


@bp.post("/preview")
def preview() -> str:
    """The step rendered for one prospect (or the sample one) without tracking, fields marked
    and missing ones listed with the fix: a preview never counts as an open."""
    u = user()
    prospect: Prospect | None = None
    raw_id = row_id(request.form.get("prospect_id", ""))
    if raw_id is not None:
        found = db().get(Prospect, raw_id)
        if found is not None and can_see(u, found):
            prospect = found
    who = (prospect.first_name or display_name(prospect)) if prospect else "the sample prospect"
    step = row_id(request.form.get("step", "")) or 1
    delay_words, delay_error, window_words = _preview_words(request.form, step)
    words = {
        "delay_words": delay_words,
        "delay_error": delay_error,
        "window_words": window_words,
        "step": step,
    }
    step_type = request.form.get("type", "email")
    if step_type != "email":
        return render_template("_preview.html", kind=step_type, result=None, **words)
    subject = request.form.get("subject", "")
    body_html = request.form.get("body_html", "")
    body_text = request.form.get("body_text", "") or None
    problems = [
        f"{p.field}" + (f" line {p.line}" if p.line else "") + f": {p.message}"
        for field_name, source in (
            ("subject", subject),
            ("body_html", body_html),
            ("body_text", body_text),
        )
        for p in validate(field_name, source)
    ]
    if problems:
        return render_template("_preview.html", error="; ".join(problems), result=None, **words)
    settings = rt().settings
    urls = TrackingUrls(settings.base_url, settings.secret_keys, settings.mail_domain)
    sender = {
        "name": u.name or settings.default_from_name,
        "email": settings.default_from_email,
        "signature": u.signature,
        "first_name": (u.name.split()[0] if u.name else settings.default_from_name),
    }
    result = preview_step(
        subject=subject,
        body_html=body_html,
        body_text=body_text,
        prospect=prospect,
        who=who,
        sender=sender,
        urls=urls,
        token_id=PREVIEW_TOKEN_ID,
        step=step,
    )
    return render_template("_preview.html", result=result, error=None, **words)


@bp.get("/<int:sequence_id>")
def show(sequence_id: int) -> str:
    sequence = _sequence(sequence_id)
    stats = step_stats(db(), sequence.id)
    by_position: dict[int, list[StepStats]] = {}
    for s in stats:
        by_position.setdefault(s.position, []).append(s)
    counts: dict[str, int] = {
        status: count
        for status, count in db().execute(
            select(Enrollment.status, func.count())
            .where(Enrollment.sequence_id == sequence.id)
            .group_by(Enrollment.status)
        )
    }
    trigger = trigger_email(db(), sequence)
    return render_template(
        "sequence.html",
        sequence=sequence,
        by_position=by_position,
        counts=counts,
        may_change=_may_change,
        # A status trigger's email: read-only here, no Edit or Enroll (see _workable).
        trigger=_sentence(trigger) if trigger is not None else None,
    )


# Enrolling


@dataclass
class EnrollSummary:
    created: int = 0
    updated: int = 0
    enrolled: int = 0
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (row, email, reason)
    # Recently in touch: shown with what happened and when, enrolled only once confirmed.
    # (name, verdict): plain values, so they outlive the rollback of a check.
    confirm: list[tuple[str, Verdict]] = field(default_factory=list)
    checks: list[tuple[str, str, Verdict]] = field(default_factory=list)  # (row, name, verdict)
    dry_run: bool = False
    forced: bool = False
    overridden: list[tuple[str, str]] = field(default_factory=list)  # (name, what force overrode)


def _search(q: str) -> list[Prospect]:
    return search_prospects(user(), q, 50)


@bp.get("/<int:sequence_id>/enroll")
def enroll_page(sequence_id: int) -> str:
    sequence = _workable(sequence_id)
    q = request.args.get("q", "").strip()[:200]
    return render_template("enroll.html", sequence=sequence, q=q, results=_search(q), summary=None)


def _enroll_one(sequence: Sequence, prospect: Prospect, summary: EnrollSummary, row: str) -> None:
    # Many prospects at once (a search, a file's confirm step): confirming never restarts
    # a live enrollment in this sequence.
    attempt = checked_enroll(
        db(),
        prospect,
        sequence,
        now(),
        force=summary.forced,
        dry_run=summary.dry_run,
        restart_live=False,
    )
    verdict = attempt.verdict
    if summary.dry_run:
        summary.checks.append((row, display_name(prospect), verdict))
    elif attempt.enrolled:
        summary.enrolled += 1
        if attempt.forced:
            summary.overridden.append((display_name(prospect), verdict.why))
    elif verdict.outcome == NEEDS_FORCE and not verdict.left_as_is:
        summary.confirm.append((display_name(prospect), verdict))
    else:
        summary.problems.append((row, prospect.email, verdict.why))


def _action() -> str:
    action = request.form.get("action", "enroll")
    return action if action in ("enroll", "check", "force") else "enroll"


@bp.post("/<int:sequence_id>/enroll")
def enroll_selected(sequence_id: int) -> str | tuple[str, int]:
    """Enroll (each checked first), check only (nothing changes), or enroll the confirmed."""
    sequence = _workable(sequence_id)
    u = user()
    action = _action()
    summary = EnrollSummary(dry_run=action == "check", forced=action == "force")
    chosen: list[Prospect] = []
    for raw in request.form.getlist("prospect_id")[:1000]:
        found_id = row_id(raw)
        prospect = db().get(Prospect, found_id) if found_id is not None else None
        if prospect is None or not can_see(u, prospect):
            # Another rep's prospect is as unknown here as in the API (tracker/api/access.py).
            summary.problems.append(("-", raw, "no such prospect"))
        else:
            chosen.append(prospect)
    if summary.forced and summary.problems:
        # Confirming is about named prospects: one we cannot touch means nothing happens.
        error = "Nothing was enrolled: " + "; ".join(f"{e}: {r}" for _, e, r in summary.problems)
        return render_template(
            "enroll.html", sequence=sequence, q="", results=[], summary=None, error=error
        ), 403
    for prospect in chosen:
        _enroll_one(sequence, prospect, summary, "-")
    if summary.dry_run:
        db().rollback()
    else:
        db().commit()
    return render_template("enroll.html", sequence=sequence, q="", results=[], summary=summary)


@bp.post("/<int:sequence_id>/enroll/csv")
def enroll_csv(sequence_id: int) -> str | tuple[str, int]:
    """The shared import (sequences/workspace/csvimport.py): one report, skips by row."""
    sequence = _workable(sequence_id)
    u = user()
    upload = request.files.get("file")
    try:
        table = read_table(upload.read() if upload else b"", max_rows=MAX_CSV_ROWS)
    except ValidationError as exc:
        error = f"{exc.message[0].upper()}{exc.message[1:]}."
        return render_template(
            "enroll.html", sequence=sequence, q="", results=[], summary=None, error=error
        ), 422
    report = import_csv(
        db(),
        table,
        sequence,
        now(),
        owner_id=u.id,
        dry_run=_action() == "check",
        may_touch=lambda prospect: can_see(u, prospect),
    )
    confirm = [(display_name(p), v) for _, p, v in report.confirm]
    if report.dry_run:
        db().rollback()  # a check creates, updates and enrolls nobody
    else:
        db().commit()
    return render_template(
        "enroll.html",
        sequence=sequence,
        q="",
        results=[],
        summary=None,
        report=report,
        confirm=confirm,
    )
