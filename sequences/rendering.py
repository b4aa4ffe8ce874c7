"""Sandboxed Jinja2 rendering of step templates, and their validation when a sequence is saved."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.utils import missing as _no_object

from .template_limits import (
    MAX_TEMPLATE_CHARS,
    BoundedSandbox,
    LimitExceeded,
    compile_bounded,
    render_bounded,
    unsafe_access,
)

# Names a template may use. Prospect attributes are top-level; custom fields live under `fields`.
PROSPECT_NAMES = ("first_name", "last_name", "company", "email", "phone", "timezone")
KNOWN_NAMES = frozenset((*PROSPECT_NAMES, "fields", "sender", "unsubscribe_url", "prospect"))


class RenderError(ValueError):
    """A template could not be rendered for this prospect; the send must stop, not half-happen.

    `part` is "subject", "body_html" or "body_text" when known; `missing` the name the prospect
    lacks ("company", "fields.need") when that was the cause.
    """

    def __init__(self, message: str, *, part: str | None = None, missing: str | None = None):
        super().__init__(message)
        self.part = part
        self.missing = missing


# The (object, name) the last failing undefined value stood for, so the error can name the field.
_LACKED: ContextVar[tuple[Any, Any] | None] = ContextVar("followup_lacked", default=None)


class _NamedUndefined(StrictUndefined):
    """StrictUndefined that remembers what it lacked when it fails (same behaviour otherwise)."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        _LACKED.set((self._undefined_obj, self._undefined_name))
        return str(super()._undefined_message)


def _missing_name(context: Mapping[str, Any]) -> str | None:
    lacked = _LACKED.get()
    if lacked is None:
        return None
    obj, name = lacked
    if not isinstance(name, str):
        return None
    if obj is _no_object:
        return name
    for holder in ("fields", "sender"):
        if obj is context.get(holder):
            return f"{holder}.{name}"
    return None


@dataclass(frozen=True)
class TemplateProblem:
    """Something wrong with a template, found when a sequence is saved."""

    field: str
    line: int | None
    message: str


@lru_cache(maxsize=4)
def _environment(autoescape: bool, strict: bool = True) -> BoundedSandbox:
    # StrictUndefined: a variable the prospect lacks is an error unless the template gives a
    # fallback with `| default(...)`, so nobody receives "Hi ," by accident. The lenient one
    # is for the trial render at save time, which looks for cost, not for missing values.
    return BoundedSandbox(
        undefined=_NamedUndefined if strict else ChainableUndefined,
        autoescape=autoescape,
        keep_trailing_newline=True,
    )


@lru_cache(maxsize=1024)
def _compile(source: str, autoescape: bool, strict: bool = True) -> Any:
    return compile_bounded(_environment(autoescape, strict), source)


def _costly(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "too costly: macros call each other too deeply"
    if isinstance(exc, MemoryError):
        return "too costly: out of memory"
    return f"too costly: {exc}"


def render(source: str, context: Mapping[str, Any], *, html: bool, part: str | None = None) -> str:
    """Render one template within the limits; raise RenderError with a readable reason (and
    the part, "subject" or "body_html", when given) on any failure."""
    where = f"{part}: " if part else ""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise RenderError(
            f"{where}template longer than {MAX_TEMPLATE_CHARS:,} characters", part=part
        )
    _LACKED.set(None)
    try:
        return render_bounded(_compile(source, html), dict(context))
    except UndefinedError as exc:
        lacked = _missing_name(context)
        raise RenderError(
            f"{where}missing value: {exc.message}", part=part, missing=lacked
        ) from None
    except (LimitExceeded, RecursionError, MemoryError) as exc:
        raise RenderError(where + _costly(exc), part=part) from None
    except SecurityError as exc:
        raise RenderError(f"{where}not allowed in a template: {exc}", part=part) from None
    except TemplateError as exc:
        raise RenderError(f"{where}template error: {exc.message or exc}", part=part) from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise RenderError(f"{where}template error: {exc}", part=part) from None


def prospect_context(
    prospect: Any, sender: Mapping[str, Any], unsubscribe_url: str
) -> dict[str, Any]:
    """The names a template sees. Empty attributes are left out so `default` applies."""
    context: dict[str, Any] = {}
    for name in PROSPECT_NAMES:
        value = getattr(prospect, name, None)
        if value not in (None, ""):
            context[name] = value
    context["fields"] = {k: v for k, v in (prospect.fields or {}).items() if v not in (None, "")}
    context["sender"] = dict(sender)
    context["unsubscribe_url"] = unsubscribe_url
    return context


def _line_of_name(ast: nodes.Template, name: str) -> int | None:
    for node in ast.find_all(nodes.Name):
        if node.name == name:
            return int(node.lineno)
    return None


# What the trial render at save time gives the template (values are placeholders).
_TRIAL = {
    "first_name": "Jane",
    "last_name": "Doe",
    "company": "Example Inc",
    "email": "jane@example.com",
    "fields": {},
    "sender": {"name": "Sam Sender", "first_name": "Sam", "email": "sam@example.com"},
    "unsubscribe_url": "https://example.com/u/x",
}


def _trial(field: str, source: str) -> TemplateProblem | None:
    """Render once with placeholder values: a template over a limit fails its save, not its
    send. Other errors here are the placeholders' doing, and are left to the send."""
    try:
        render_bounded(_compile(source, field == "body_html", False), dict(_TRIAL))
    except (LimitExceeded, RecursionError, MemoryError) as exc:
        return TemplateProblem(field, None, _costly(exc))
    except Exception:
        return None
    return None


def validate(field: str, source: str | None) -> list[TemplateProblem]:
    """Syntax errors, unknown variables, attribute access the sandbox refuses, and templates
    over the size or cost limits, with their line numbers where there is one."""
    if not source:
        return []
    if len(source) > MAX_TEMPLATE_CHARS:
        message = f"too long: {len(source):,} characters, at most {MAX_TEMPLATE_CHARS:,}"
        return [TemplateProblem(field, None, message)]
    env = _environment(True)
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        return [TemplateProblem(field, exc.lineno, f"syntax error: {exc.message}")]
    problems = [
        TemplateProblem(field, line, f"attribute {name!r} is not allowed in a template")
        for line, name in unsafe_access(ast)
    ]
    if problems:
        return problems
    for name in sorted(meta.find_undeclared_variables(ast) - KNOWN_NAMES):
        problems.append(
            TemplateProblem(
                field,
                _line_of_name(ast, name),
                f"unknown variable {name!r}; use one of {', '.join(sorted(KNOWN_NAMES))}",
            )
        )
    if not problems:
        costly = _trial(field, source)
        if costly is not None:
            problems.append(costly)
    return problems
