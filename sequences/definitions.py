"""Sequence definitions: validate, create, update, import and export (API bodies, YAML/JSON files)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy.orm import Session

from .delay_input import parse_delay
from .errors import NotFound, ValidationError
from .models import Mailbox, Sequence, Step
from .rendering import validate
from .schedule import (
    ScheduleError,
    is_valid_country,
    is_valid_timezone,
    parse_window,
)
from .schedule_words import sequence_window_text, step_delay_text
from .template_limits import MAX_TEMPLATE_CHARS

STEP_TYPES = ("email", "call", "task")
STEP_KEYS = {
    "type",
    "delay",
    "business_days",
    "subject",
    "body_html",
    "body_text",
    "thread_with",
    "notes",
    "options",
    "title",
}
SEQUENCE_KEYS = {"name", "timezone", "send_window", "settings", "steps", "mailbox_id"}
# What a sequence's JSON shows but a definition does not set: accepted and ignored on input, so
# what GET answers can be sent back as it is.
READ_ONLY_SEQUENCE_KEYS = frozenset({"window_text"})
READ_ONLY_STEP_KEYS = frozenset({"delay_text"})


def _problem(message: str, field: str, line: int | None = None) -> dict[str, object]:
    item: dict[str, object] = {"field": field, "message": message}
    if line is not None:
        item["line"] = line
    return item


def clean_steps(raw_steps: object) -> list[dict[str, Any]]:
    """Validate a list of step definitions; collect every problem before raising."""
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ValidationError("steps: a non-empty list of steps is required", field="steps")
    problems: list[dict[str, object]] = []
    steps: list[dict[str, Any]] = []
    email_positions: set[int] = set()
    for index, raw in enumerate(raw_steps):
        where = f"steps[{index}]"
        if not isinstance(raw, dict):
            problems.append(_problem("must be an object", where))
            continue
        unknown = sorted(set(raw) - STEP_KEYS - READ_ONLY_STEP_KEYS)
        if unknown:
            problems.append(_problem(f"unknown key {unknown[0]!r}", f"{where}.{unknown[0]}"))
        step_type = raw.get("type", "email")
        if step_type not in STEP_TYPES:
            problems.append(
                _problem(f"type must be one of {', '.join(STEP_TYPES)}", f"{where}.type")
            )
            continue
        delay, business_days = _clean_delay(raw, where, problems)
        clean: dict[str, Any] = {
            "position": index,
            "type": step_type,
            "delay": delay,
            "business_days": business_days,
            "notes": raw.get("notes"),
            "options": raw.get("options") or {},
        }
        for key in ("notes", "title"):
            if isinstance(raw.get(key), str) and len(raw[key]) > MAX_TEMPLATE_CHARS:
                problems.append(
                    _problem(f"at most {MAX_TEMPLATE_CHARS:,} characters", f"{where}.{key}")
                )
        if not isinstance(clean["options"], dict):
            problems.append(_problem("options must be an object", f"{where}.options"))
            clean["options"] = {}
        problems.extend(_option_problems(clean["options"], step_type, where))
        if step_type == "email":
            for key in ("subject", "body_html"):
                if not isinstance(raw.get(key), str) or not raw[key].strip():
                    problems.append(
                        _problem(f"{key} is required for an email step", f"{where}.{key}")
                    )
            if raw.get("body_text") is not None and not isinstance(raw["body_text"], str):
                problems.append(_problem("body_text must be a string", f"{where}.body_text"))
            for key in ("subject", "body_html", "body_text"):
                if isinstance(raw.get(key), str):
                    for p in validate(key, raw[key]):
                        problems.append(_problem(p.message, f"{where}.{key}", p.line))
            thread_with = raw.get("thread_with")
            if thread_with is not None and (
                not isinstance(thread_with, int) or thread_with not in email_positions
            ):
                problems.append(
                    _problem(
                        "thread_with must be the index of an earlier email step",
                        f"{where}.thread_with",
                    )
                )
            clean.update(
                subject=raw.get("subject"),
                body_html=raw.get("body_html"),
                body_text=raw.get("body_text"),
                thread_with=thread_with,
            )
            email_positions.add(index)
        else:
            title = raw.get("title") or raw.get("subject")
            clean.update(subject=title, body_html=None, body_text=None, thread_with=None)
        steps.append(clean)
    if problems:
        first = problems[0]
        raise ValidationError(
            f"{first['field']}: {first['message']}"
            + (f" (line {first['line']})" if "line" in first else ""),
            field=str(first["field"]),
            details=problems,
        )
    return steps


_DELAY_EXAMPLES = '"3 days", "2 business days", "4 hours", "immediately" or "P3D"'


def _clean_delay(
    raw: dict[str, Any], where: str, problems: list[dict[str, object]]
) -> tuple[str, bool]:
    """A step's delay in words or ISO 8601 (`delay_input.parse_delay`, the editor's reader),
    stored as ISO 8601 with its business-day flag; a problem for a bad one, with the fix."""
    given = raw.get("business_days")
    business = given if isinstance(given, bool) else False
    delay = raw.get("delay")
    parsed = None
    if delay is not None and not isinstance(delay, str):
        problems.append(
            _problem(f"a delay is text, e.g. {_DELAY_EXAMPLES}; got {delay!r}", f"{where}.delay")
        )
    else:
        try:
            parsed = parse_delay("PT0S" if delay is None else delay)
        except ScheduleError as exc:
            problems.append(_problem(str(exc), f"{where}.delay"))
    if given is not None and not isinstance(given, bool):
        problems.append(
            _problem(
                "business_days must be true or false (true: the delay counts working days "
                'only); or say it in the delay: "3 business days"',
                f"{where}.business_days",
            )
        )
    if parsed is None:
        return "PT0S", business
    if parsed.business_days is not None:
        if isinstance(given, bool) and given != parsed.business_days:
            says = "business" if parsed.business_days else "calendar"
            problems.append(
                _problem(
                    f'the delay "{str(delay).strip()}" says {says} days but business_days is '
                    f"{str(given).lower()}; leave business_days out or make them agree",
                    f"{where}.business_days",
                )
            )
        business = parsed.business_days
    return parsed.delay, business


MAX_VARIANTS = 3  # besides the step's own content, which is variant A


def _option_problems(
    options: dict[str, Any], step_type: str, where: str
) -> list[dict[str, object]]:
    """auto_advance_days for call/task steps; A/B variants for email steps."""
    problems: list[dict[str, object]] = []
    days = options.get("auto_advance_days")
    if days is not None:
        if step_type == "email":
            problems.append(
                _problem(
                    "auto_advance_days applies to call and task steps",
                    f"{where}.options.auto_advance_days",
                )
            )
        elif isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
            problems.append(
                _problem(
                    "auto_advance_days must be a whole number of days, 1 to 365",
                    f"{where}.options.auto_advance_days",
                )
            )
    variants = options.get("variants")
    if variants is None:
        return problems
    at = f"{where}.options.variants"
    if step_type != "email":
        return [*problems, _problem("variants apply to email steps", at)]
    if not isinstance(variants, list) or not 1 <= len(variants) <= MAX_VARIANTS:
        return [*problems, _problem(f"variants must be a list of 1 to {MAX_VARIANTS} objects", at)]
    for i, variant in enumerate(variants):
        here = f"{at}[{i}]"
        if not isinstance(variant, dict) or not variant:
            problems.append(_problem("a variant is an object with subject and/or body_html", here))
            continue
        unknown = sorted(set(variant) - {"subject", "body_html", "body_text"})
        if unknown:
            problems.append(_problem(f"unknown key {unknown[0]!r}", f"{here}.{unknown[0]}"))
        for key in ("subject", "body_html", "body_text"):
            value = variant.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip():
                problems.append(_problem(f"{key} must be a non-empty string", f"{here}.{key}"))
                continue
            for p in validate(key, value):
                problems.append(_problem(p.message, f"{here}.{key}", p.line))
    return problems


def _clean_interval(interval: object) -> str:
    """`min_reenroll_interval` in words or ISO 8601 ("30 days", "P30D"), stored as ISO 8601:
    calendar time only, at most `schedule.LONGEST_DELAY`, as a step's delay."""
    at = "settings.min_reenroll_interval"
    if not isinstance(interval, str):
        raise ValidationError(
            f'{at}: the time before a prospect may be enrolled again, e.g. "30 days" or "P30D"',
            field=at,
        )
    try:
        parsed = parse_delay(interval)
    except ScheduleError as exc:
        raise ValidationError(f"{at}: {exc}", field=at) from None
    if parsed.business_days:
        raise ValidationError(
            f"{at}: counts calendar time; business days make no sense there. "
            'Write e.g. "30 days" or "P30D"',
            field=at,
        )
    return parsed.delay


def _clean_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Known settings are checked; others are kept as they are (other features read them)."""

    def bad(key: str, message: str) -> ValidationError:
        return ValidationError(f"settings.{key}: {message}", field=f"settings.{key}")

    jitter = settings.get("jitter_seconds")
    if jitter is not None and (
        isinstance(jitter, bool) or not isinstance(jitter, int) or not 0 <= jitter <= 3600
    ):
        raise bad("jitter_seconds", "a whole number of seconds, 0 to 3600")
    interval = settings.get("min_reenroll_interval")
    if interval is not None:
        settings = {**settings, "min_reenroll_interval": _clean_interval(interval)}
    for key in ("pause_company_on_reply",):
        if key in settings and not isinstance(settings[key], bool):
            raise bad(key, "true or false")
    country = settings.get("holidays_country")
    subdivision = settings.get("holidays_subdivision")
    if country is not None and (
        not isinstance(country, str)
        or (subdivision is not None and not isinstance(subdivision, str))
        or not is_valid_country(country, subdivision)
    ):
        raise bad(
            "holidays_country", "an ISO 3166 country code with a holiday calendar (DE, US...)"
        )
    if subdivision is not None and country is None:
        raise bad("holidays_subdivision", "needs holidays_country")
    return settings


def clean_sequence(data: object, *, partial: bool = False) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError("body must be a JSON object")
    unknown = sorted(set(data) - SEQUENCE_KEYS - READ_ONLY_SEQUENCE_KEYS)
    if unknown:
        raise ValidationError(f"{unknown[0]}: unknown field", field=unknown[0])
    out: dict[str, Any] = {}
    if "name" in data or not partial:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValidationError("name: required, at most 200 characters", field="name")
        out["name"] = name.strip()
    if "timezone" in data:
        if not isinstance(data["timezone"], str) or not is_valid_timezone(data["timezone"]):
            raise ValidationError("timezone: not an IANA time zone", field="timezone")
        out["timezone"] = data["timezone"]
    if "send_window" in data:
        if data["send_window"] is not None and not isinstance(data["send_window"], dict):
            raise ValidationError("send_window: an object, or null for any hour", "send_window")
        try:
            parse_window(data["send_window"])
        except ScheduleError as exc:
            raise ValidationError(f"send_window: {exc}", field="send_window") from None
        out["send_window"] = data["send_window"] or None
    if "settings" in data:
        if not isinstance(data["settings"], dict):
            raise ValidationError("settings: must be an object", field="settings")
        out["settings"] = _clean_settings(data["settings"])
    if "mailbox_id" in data:
        if data["mailbox_id"] is not None and (
            isinstance(data["mailbox_id"], bool)
            or not isinstance(data["mailbox_id"], int)
            or not 0 < data["mailbox_id"] < 2**31
        ):
            raise ValidationError("mailbox_id: a mailbox id", field="mailbox_id")
        out["mailbox_id"] = data["mailbox_id"]
    if "steps" in data or not partial:
        out["steps"] = clean_steps(data.get("steps"))
    return out


def _apply_steps(
    sequence: Sequence, steps: list[dict[str, Any]], session: Session | None = None
) -> None:
    if sequence.steps:
        sequence.steps.clear()
        if session is not None:
            session.flush()  # old rows go before new ones take their positions
    for step in steps:
        sequence.steps.append(Step(**step))


def _check_mailbox(session: Session, team_id: int, mailbox_id: int | None) -> None:
    """A sequence sends from a mailbox of its own team; another team's, or none with that id,
    is answered as an unknown id (404), before anything is written."""
    if mailbox_id is None:
        return
    mailbox = session.get(Mailbox, mailbox_id)
    if mailbox is None or mailbox.team_id != team_id:
        raise NotFound(f"mailbox_id: no mailbox {mailbox_id} in your team")


def create_sequence(
    session: Session, team_id: int, owner_id: int | None, data: object, now: datetime
) -> Sequence:
    values = clean_sequence(data)
    _check_mailbox(session, team_id, values.get("mailbox_id"))
    steps = values.pop("steps")
    sequence = Sequence(team_id=team_id, owner_id=owner_id, created_at=now, **values)
    sequence.settings = values.get("settings") or {}
    _apply_steps(sequence, steps)
    session.add(sequence)
    session.flush()
    return sequence


def update_sequence(session: Session, sequence: Sequence, data: object) -> Sequence:
    """Edit a sequence in place; enrollments keep their position by step index."""
    values = clean_sequence(data, partial=True)
    _check_mailbox(session, sequence.team_id, values.get("mailbox_id"))
    steps = values.pop("steps", None)
    for key, value in values.items():
        setattr(sequence, key, value)
    if steps is not None:
        _apply_steps(sequence, steps, session)
        session.flush()
    return sequence


def sequence_json(sequence: Sequence) -> dict[str, Any]:
    return {
        "id": sequence.id,
        "name": sequence.name,
        "timezone": sequence.timezone,
        "send_window": sequence.send_window,
        "settings": sequence.settings or {},
        "mailbox_id": sequence.mailbox_id,
        "steps": [step_json(s, sequence) for s in sequence.steps],
        # Read-only, for display: when the emails go out, in words (schedule_words).
        "window_text": sequence_window_text(sequence),
    }


def step_json(step: Step, sequence: Sequence | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": step.type, "delay": step.delay}
    if step.business_days:
        out["business_days"] = True
    out["delay_text"] = step_delay_text(sequence or step.sequence, step)
    if step.type == "email":
        out["subject"] = step.subject
        out["body_html"] = step.body_html
        if step.body_text:
            out["body_text"] = step.body_text
        if step.thread_with is not None:
            out["thread_with"] = step.thread_with
    elif step.subject:
        out["title"] = step.subject
    if step.notes:
        out["notes"] = step.notes
    if step.options:
        out["options"] = step.options
    return out


def load_definition(text: str, filename: str = "") -> object:
    """Parse a sequence file: JSON for *.json, YAML otherwise (YAML also reads JSON)."""
    try:
        if filename.lower().endswith(".json"):
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ValidationError(f"cannot parse {filename or 'the file'}{line}: {exc}") from None


def export_definition(sequence: Sequence, fmt: str = "yaml") -> str:
    """A file that `followup sequence import` turns back into the same sequence."""
    data = sequence_json(sequence)
    del data["id"]
    # The words are written from the definition; a file holds the definition only.
    for key in READ_ONLY_SEQUENCE_KEYS:
        data.pop(key, None)
    for step in data["steps"]:
        for key in READ_ONLY_STEP_KEYS:
            step.pop(key, None)
    if data["mailbox_id"] is None:
        del data["mailbox_id"]
    if not data["settings"]:
        del data["settings"]
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
