"""Sandboxed Jinja2 rendering of step templates, and their validation when a sequence is saved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Names a template may use. Prospect attributes are top-level; custom fields live under `fields`.
PROSPECT_NAMES = ("first_name", "last_name", "company", "email", "phone", "timezone")
KNOWN_NAMES = frozenset((*PROSPECT_NAMES, "fields", "sender", "unsubscribe_url", "prospect"))


class RenderError(ValueError):
    """A template could not be rendered for this prospect; the send must stop, not half-happen."""


@dataclass(frozen=True)
class TemplateProblem:
    """Something wrong with a template, found when a sequence is saved."""

    field: str
    line: int | None
    message: str


@lru_cache(maxsize=2)
def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    # StrictUndefined: a variable the prospect lacks is an error unless the template gives a
    # fallback with `| default(...)`, so nobody receives "Hi ," by accident.
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=True
    )


@lru_cache(maxsize=1024)
def _compile(source: str, autoescape: bool) -> Any:
    return _environment(autoescape).from_string(source)


def render(source: str, context: Mapping[str, Any], *, html: bool) -> str:
    """Render one template; raise RenderError with a readable reason on any failure."""
    try:
        return str(_compile(source, html).render(context))
    except UndefinedError as exc:
        raise RenderError(f"missing value: {exc.message}") from None
    except SecurityError as exc:
        raise RenderError(f"not allowed in a template: {exc}") from None
    except TemplateError as exc:
        raise RenderError(f"template error: {exc.message or exc}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise RenderError(f"template error: {exc}") from None


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


def validate(field: str, source: str | None) -> list[TemplateProblem]:
    """Syntax errors and unknown variables in one template, with their line numbers."""
    if not source:
        return []
    env = _environment(True)
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        return [TemplateProblem(field, exc.lineno, f"syntax error: {exc.message}")]
    problems = []
    for name in sorted(meta.find_undeclared_variables(ast) - KNOWN_NAMES):
        problems.append(
            TemplateProblem(
                field,
                _line_of_name(ast, name),
                f"unknown variable {name!r}; use one of {', '.join(sorted(KNOWN_NAMES))}",
            )
        )
    return problems
