"""A step as a prospect reads it, fields marked: the editor's preview and the pages' subjects.

The template is rendered by the sender's own path (`sending.compose`, sandboxed and bounded)
for a real prospect or a sample one. Each value that came from the prospect is marked, and a
field the prospect lacks (which would stop the send) is filled with a marked placeholder, so
the preview always renders, and is listed with the fix. Other failures come back as a
`failures.Problem` in words; the exception itself goes to the log only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from html import escape
from types import SimpleNamespace
from typing import Any

from markupsafe import Markup

from .enroll_checks import fix_words
from .failures import BAD_VALUE, RENDER_TEMPLATE, Problem, explain
from .rendering import PROSPECT_NAMES, RenderError, prospect_context, render
from .sending import TrackingUrls, compose

# Private-use characters around marked text while it is rendered; replaced by <mark> after.
_VALUE, _MISSING, _END = "\ue000", "\ue001", "\ue002"
_SENTINELS = re.compile(f"[{_VALUE}{_MISSING}{_END}]")
_TAG = re.compile(r"(<[^>]*>)")
_RAW_TEXT = re.compile(r"<(/?)(style|script|title|textarea)\b", re.IGNORECASE)
MAX_MISSING = 20  # a template naming more missing fields than this is listed in part

SAMPLE = {"first_name": "Jane", "last_name": "Doe", "company": "Example Inc"}
SAMPLE_EMAIL = "jane@example.com"
SAMPLE_SENDER = {"name": "Sam Sender", "first_name": "Sam", "email": "sam@example.com"}
# How marks look inside the email (the preview's iframe allows inline styles, not our CSS).
EMAIL_MARKS = (
    '<mark style="background:#fef3c7">',
    '<mark style="background:#fecaca;color:#7f1d1d" title="missing for this prospect">',
)
PAGE_MARKS = ('<mark class="field">', '<mark class="field missing">')
_PART_WORDS = {"subject": "subject", "body_html": "body", "body_text": "plain-text body"}


class _Value(str):
    """A prospect's value: compares and filters as itself, prints marked."""

    def __str__(self) -> str:
        return _VALUE + str.__str__(self) + _END

    def __html__(self) -> Markup:
        return Markup(_VALUE + escape(str.__str__(self), quote=True) + _END)


class _Placeholder(str):
    """Stands for a field the prospect lacks: "[company]", marked as missing."""

    def __str__(self) -> str:
        return _MISSING + str.__str__(self) + _END

    def __html__(self) -> Markup:
        return Markup(_MISSING + escape(str.__str__(self), quote=True) + _END)


@dataclass(frozen=True)
class MissingField:
    """A field this prospect lacks that the step uses without a default, and the fix."""

    name: str  # "company", "fields.need"
    parts: tuple[str, ...]  # "subject", "body", "plain text"
    fix: str

    @property
    def label(self) -> str:
        return self.name.partition(".")[2] if self.name.startswith("fields.") else self.name


@dataclass
class Preview:
    """The step as this prospect would receive it; HTML with marks, ready for a page."""

    who: str  # "Ana", or "the sample prospect"
    email: str
    subject_html: str = ""
    body_html: str = ""  # for a sandboxed iframe
    body_text: str = ""
    missing: list[MissingField] = field(default_factory=list)
    problem: Problem | None = None


def sample_prospect() -> Any:
    """The prospect a preview uses when none is chosen (no custom fields)."""
    values: dict[str, Any] = dict.fromkeys(PROSPECT_NAMES)
    values.update(SAMPLE, email=SAMPLE_EMAIL)
    return SimpleNamespace(**values, fields={})


def _marked_prospect(prospect: Any) -> SimpleNamespace:
    values: dict[str, Any] = {}
    for name in PROSPECT_NAMES:
        value = getattr(prospect, name, None)
        values[name] = _Value(value) if isinstance(value, str) and value else value
    fields = {k: _Value(v) if isinstance(v, str) else v for k, v in (prospect.fields or {}).items()}
    return SimpleNamespace(**values, fields=fields)


def _fill(holder: SimpleNamespace, sender: dict[str, Any], name: str) -> bool:
    """Put a placeholder where `name` is missing; False when it cannot be (not a field)."""
    top, _, key = name.partition(".")
    placeholder = _Placeholder(f"[{key or top}]")
    if key and top == "fields" and key not in holder.fields:
        holder.fields[key] = placeholder
    elif key and top == "sender" and key not in sender:
        sender[key] = placeholder
    elif not key and top in PROSPECT_NAMES and not getattr(holder, top, None):
        setattr(holder, top, placeholder)
    else:
        return False
    return True


def marks_in_html(html: str, opens: tuple[str, str]) -> str:
    """Turn the render's sentinels into <mark> in text, and drop them inside tags (a value in
    an href stays a working link) and in <style>, <title> and the like."""
    out: list[str] = []
    open_mark = raw = False
    for piece in _TAG.split(html):
        if piece.startswith("<") and piece.endswith(">"):
            if open_mark:
                out.append("</mark>")
                open_mark = False
            found = _RAW_TEXT.match(piece)
            if found:
                raw = not found.group(1)
            out.append(_SENTINELS.sub("", piece))
            continue
        if raw:
            out.append(_SENTINELS.sub("", piece))
            continue
        for char_or_text in re.split(f"([{_VALUE}{_MISSING}{_END}])", piece):
            if char_or_text in (_VALUE, _MISSING):
                if open_mark:
                    out.append("</mark>")
                out.append(opens[0] if char_or_text == _VALUE else opens[1])
                open_mark = True
            elif char_or_text == _END:
                if open_mark:
                    out.append("</mark>")
                    open_mark = False
            else:
                out.append(char_or_text)
    if open_mark:
        out.append("</mark>")
    return "".join(out)


def _plain(text: str) -> str:
    return _SENTINELS.sub("", text)


def _text_to_marked_html(text: str, opens: tuple[str, str] = PAGE_MARKS) -> str:
    return marks_in_html(escape(text, quote=False), opens)


def preview_step(
    *,
    subject: str,
    body_html: str,
    body_text: str | None,
    prospect: Any | None,
    who: str,
    sender: Mapping[str, Any],
    urls: TrackingUrls,
    token_id: str,
    step: int = 1,
) -> Preview:
    """Render one email step for `prospect` (None: the sample one) without tracking, always:
    missing fields become marked placeholders and are listed with the fix."""
    base = prospect if prospect is not None else sample_prospect()
    holder = _marked_prospect(base)
    senders = dict(sender)
    preview = Preview(who=who, email=str(getattr(base, "email", "") or ""))
    lacking = _lacking_by_part(
        base, sender, (("subject", subject), ("body_html", body_html), ("body_text", body_text))
    )
    for name in lacking:
        _fill(holder, senders, name)
    for _ in range(MAX_MISSING + 1):
        try:
            composed = compose(
                subject_template=subject,
                html_template=body_html or "<p></p>",
                text_template=body_text or None,
                prospect=holder,
                sender=senders,
                token_id=token_id,
                urls=urls,
                track=False,
            )
        except RenderError as exc:
            if exc.missing is None or len(lacking) >= MAX_MISSING:
                preview.problem = _cannot_render(step, exc)
                break
            lacking.setdefault(exc.missing, []).append(exc.part or "subject")
            if not _fill(holder, senders, exc.missing):
                preview.problem = _cannot_render(step, exc)
                break
        except ValueError as exc:  # a value that cannot go into an email
            preview.problem = explain(BAD_VALUE, step, detail=exc, who=who)
            break
        else:
            preview.subject_html = _text_to_marked_html(composed.subject)
            preview.body_html = marks_in_html(composed.html, EMAIL_MARKS)
            preview.body_text = _plain(composed.text)
            break
    preview.missing = [_missing_field(name, parts, step) for name, parts in lacking.items()]
    return preview


def _lacking_by_part(
    base: Any, sender: Mapping[str, Any], parts: tuple[tuple[str, str | None], ...]
) -> dict[str, list[str]]:
    """Each field the prospect lacks, with every part that uses it without a default (each
    part rendered on its own, filled in one missing field at a time, as enroll_checks does)."""
    lacking: dict[str, list[str]] = {}
    for part, source in parts:
        if not source:
            continue
        trial, senders = _marked_prospect(base), dict(sender)
        for _ in range(MAX_MISSING):
            context = prospect_context(trial, senders, "https://followup.invalid/u/preview")
            try:
                render(source, context, html=part == "body_html", part=part)
            except RenderError as exc:
                if exc.missing is None or not _fill(trial, senders, exc.missing):
                    break  # another error: the render below explains it
                lacking.setdefault(exc.missing, []).append(part)
                continue
            break
    return lacking


def _missing_field(name: str, parts: list[str], step: int) -> MissingField:
    unique = list(dict.fromkeys(parts))
    words = [_PART_WORDS.get(p, p) for p in unique]
    fix = fix_words(name, step, unique[0])
    if len(words) > 1:  # one default in each part that uses the field
        fix = fix.replace(f"step {step}'s {words[0]}", f"step {step}'s {' and '.join(words)}")
    return MissingField(name, tuple(words), fix)


def _cannot_render(step: int, exc: RenderError) -> Problem:
    """A template error in words for the editor; the exception goes to the log."""
    problem = explain(RENDER_TEMPLATE, step, detail=exc)
    part = _PART_WORDS.get(exc.part or "", "template")
    return replace(
        problem,
        message=f"Step {step}'s {part} cannot be written: its template has an error",
        fix=f"correct the {part} of step {step} (look for a name, a filter or a sum that "
        "cannot work for any prospect); the log has the detail under the error id",
    )


def subject_as_read(
    source: str | None, prospect: Any | None = None, sender: Mapping[str, Any] | None = None
) -> str:
    """A step's subject as `prospect` (or the sample one) reads it, values marked, as HTML.

    Missing fields show as marked placeholders; a subject that cannot render at all says so
    in words (the detail goes to the log)."""
    if not source:
        return ""
    holder = _marked_prospect(prospect if prospect is not None else sample_prospect())
    senders = dict(sender or SAMPLE_SENDER)
    for _ in range(MAX_MISSING + 1):
        context = prospect_context(holder, senders, "https://followup.invalid/u/preview")
        try:
            text = render(source, context, html=False, part="subject")
        except RenderError as exc:
            if exc.missing is None or not _fill(holder, senders, exc.missing):
                # The editor's preview explains it; a page listing steps only says so.
                return escape("(this subject has a template error; open the step in the editor)")
            continue
        return _text_to_marked_html(" ".join(text.split()))
    return escape("(this subject names too many missing fields)")
