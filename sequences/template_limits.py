"""Bounded cost for step templates: a sandbox that caps what a template may build and how long
it may run, and the save-time check for attribute access the sandbox would refuse at send time.

Jinja's sandbox keeps templates away from Python internals but not from cost: `"a" * 20000000`,
`{% set x = x ~ x %}` a few dozen times, a macro that calls itself twice, or
`"x" | center(10 ** 9)` each take seconds or gigabytes. Here:
- repetition, concatenation (`+`, `~`), powers and `%`-formatting are checked *before* they
  allocate (`call_binop`, and `~` rewritten into a checked call);
- filters and methods that grow a string (center, indent, replace, join, format, ljust...) are
  checked before they run, and every filter or call result is checked after;
- every loop iteration and every call spends from a per-render budget of steps, and the render
  stops at a deadline, so no template loops or recurses for long;
- each part's output is streamed and stops at MAX_OUTPUT_CHARS.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from jinja2 import nodes, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import (
    UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    UNSAFE_COROUTINE_ATTRIBUTES,
    UNSAFE_FUNCTION_ATTRIBUTES,
    UNSAFE_GENERATOR_ATTRIBUTES,
    UNSAFE_METHOD_ATTRIBUTES,
    ImmutableSandboxedEnvironment,
)

MAX_TEMPLATE_CHARS = 100_000  # one saved part (subject, HTML body, text body)
MAX_OUTPUT_CHARS = 1_000_000  # one rendered part, and any string a template builds
MAX_ITEMS = 100_000  # any list a template builds
MAX_STEPS = 200_000  # loop iterations plus calls, per rendered part
MAX_SECONDS = 2.0  # wall time per rendered part
MAX_INT_BITS = 4096  # integers a template computes

# What the sandbox refuses on any object (besides every `_name`), and the dict methods the
# immutable sandbox refuses: template values are dicts and strings.
UNSAFE_NAMES = frozenset(
    {
        "mro",
        *UNSAFE_FUNCTION_ATTRIBUTES,
        *UNSAFE_METHOD_ATTRIBUTES,
        *UNSAFE_GENERATOR_ATTRIBUTES,
        *UNSAFE_COROUTINE_ATTRIBUTES,
        *UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
        "clear",
        "pop",
        "popitem",
        "setdefault",
        "update",
    }
)

# A width or precision of five digits or more in a %- or {}-format string.
_WIDE_FORMAT = re.compile(r"%[-+ #0*]*(?:\d{5,}|\d*\.\d{5,})|:[^{}]*?\d{5,}[^{}]*}")
_LOOP, _CONCAT = "__followup_loop", "__followup_concat"


class LimitExceeded(SecurityError):
    """A template went over one of the limits; the message says which."""


@dataclass
class Budget:
    """What one rendered part may still spend."""

    steps: int = MAX_STEPS
    deadline: float = field(default_factory=lambda: time.monotonic() + MAX_SECONDS)

    def spend(self, n: int = 1) -> None:
        self.steps -= n
        if self.steps < 0:
            raise LimitExceeded(f"more than {MAX_STEPS:,} loop iterations and calls")
        if time.monotonic() > self.deadline:
            raise LimitExceeded(f"rendering took longer than {MAX_SECONDS:g} s")


_budget: ContextVar[Budget | None] = ContextVar("followup_template_budget", default=None)


def _spend(n: int = 1) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.spend(n)


def _too_long(length: int) -> LimitExceeded:
    return LimitExceeded(f"would build more than {MAX_OUTPUT_CHARS:,} characters")


def _check_text(length: int) -> None:
    if length > MAX_OUTPUT_CHARS:
        raise _too_long(length)


def _check_items(length: int) -> None:
    if length > MAX_ITEMS:
        raise LimitExceeded(f"would build a list of more than {MAX_ITEMS:,} items")


def check_result(value: Any) -> Any:
    """A value a filter, call or operator produced: refuse one too large to go on with."""
    if isinstance(value, str):
        _check_text(len(value))
    elif isinstance(value, list | tuple | dict | set | frozenset):
        _check_items(len(value))
    return value


def _check_format(fmt: object) -> None:
    if isinstance(fmt, str) and _WIDE_FORMAT.search(fmt):
        raise LimitExceeded("a format width or precision of more than four digits")


def _int_arg(args: tuple[Any, ...], kwargs: dict[str, Any], name: str, default: int = 0) -> Any:
    return args[0] if args else kwargs.get(name, default)


def _replace_bound(text: str, old: object, new: object) -> int:
    """The longest `text.replace(old, new)` can be."""
    if not isinstance(old, str) or not isinstance(new, str) or len(new) <= len(old):
        return len(text)
    return len(text) + (len(text) // max(len(old), 1) + 1) * (len(new) - len(old))


def _join_bound(separator: object, items: object) -> int:
    if not isinstance(items, list | tuple | str):
        return 0  # an iterator or dict: checked after
    sep = len(separator) if isinstance(separator, str) else 0
    return sum(len(i) if isinstance(i, str) else 20 for i in items) + sep * max(len(items) - 1, 0)


def _precheck_growth(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse, before it runs, a filter or str method whose result would be too long."""
    if name in ("center", "ljust", "rjust", "zfill"):
        width = _int_arg(args, kwargs, "width", 80)
        if isinstance(width, int):
            _check_text(width)
    elif name == "expandtabs" and isinstance(value, str):
        size = _int_arg(args, kwargs, "tabsize", 8)
        if isinstance(size, int):
            _check_text(len(value) * max(size, 1))
    elif name == "indent" and isinstance(value, str):
        width = _int_arg(args, kwargs, "width", 4)
        per_line = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        _check_text(len(value) + (value.count("\n") + 1) * max(per_line, 0))
    elif name == "wordwrap" and isinstance(value, str):
        wrap = kwargs.get("wrapstring", args[2] if len(args) > 2 else None)
        width = _int_arg(args, kwargs, "width", 79)
        if isinstance(wrap, str) and isinstance(width, int) and width > 0:
            _check_text(len(value) + (len(value) // width + 1) * len(wrap))
    elif name == "replace" and isinstance(value, str) and len(args) >= 2:
        _check_text(_replace_bound(value, args[0], args[1]))
    elif name == "join" and isinstance(value, str):  # str.join: value is the separator
        _check_text(_join_bound(value, args[0] if args else ()))
    elif name in ("format", "format_map") and isinstance(value, str):
        _check_format(value)


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that spends a step, is checked before it grows a string, and after."""
    takes_context = getattr(function, "jinja_pass_arg", None) is not None

    @wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _spend()
        call_args = args[1:] if takes_context else args
        if call_args:
            value, rest = call_args[0], tuple(call_args[1:])
            if name == "join":
                # join(value, d=""): the separator is the argument, the items the value.
                sep = rest[0] if rest else kwargs.get("d", "")
                _check_text(_join_bound(sep, value))
            else:
                _precheck_growth(name, value, rest, kwargs)
        return check_result(function(*args, **kwargs))

    return bounded


@pass_eval_context
def _concat(eval_ctx: EvalContext, parts: list[Any]) -> Any:
    """`a ~ b`, refused before joining when the result would be too long."""
    _check_text(sum(len(p) if isinstance(p, str) else len(str(p)) for p in parts))
    return markup_join(parts) if eval_ctx.autoescape else str_join(parts)


def _loop(iterable: Iterable[Any]) -> Iterator[Any]:
    """A for loop's sequence: every iteration spends a step."""
    budget = _budget.get()
    for item in iterable:
        if budget is not None:
            budget.spend()
        yield item


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with the limits above; compile templates with `compile_bounded`."""

    intercepted_binops = frozenset({"*", "+", "**", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        # Filters, not globals: a filter is called directly, a global through `call`.
        self.filters[_LOOP] = _loop
        self.filters[_CONCAT] = _concat

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _spend()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(times, int) and isinstance(seq, str):
                    _check_text(len(seq) * times)
                elif isinstance(times, int) and isinstance(seq, list | tuple):
                    _check_items(len(seq) * times)
            if isinstance(left, int) and isinstance(right, int):
                self._check_bits(abs(left).bit_length() + abs(right).bit_length())
        elif operator == "+":
            if isinstance(left, str) and isinstance(right, str):
                _check_text(len(left) + len(right))
            elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
                _check_items(len(left) + len(right))
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
                self._check_bits(right * math.log2(abs(left)))
        elif operator == "%" and isinstance(left, str):
            _check_format(left)
        return check_result(super().call_binop(context, operator, left, right))

    @staticmethod
    def _check_bits(bits: float) -> None:
        if bits > MAX_INT_BITS:
            raise LimitExceeded(f"a number of more than {MAX_INT_BITS} bits")

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _spend()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            _precheck_growth(getattr(__obj, "__name__", ""), owner, args, kwargs)
        return check_result(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is not None:
            _check_format(value.__self__)
        return wrapper


def _bound_tree(tree: nodes.Template) -> nodes.Template:
    """Route every loop's sequence and every `~` through the budgeted helper filters."""
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _LOOP, [], [], None, None, lineno=loop.lineno)
    for concat in list(tree.find_all(nodes.Concat)):
        parts = nodes.List(concat.nodes, lineno=concat.lineno)
        checked = nodes.Filter(parts, _CONCAT, [], [], None, None, lineno=concat.lineno)
        _replace(tree, concat, checked)
    return tree


def _replace(tree: nodes.Node, old: nodes.Node, new: nodes.Node) -> None:
    """Put `new` where `old` is in the tree (Jinja nodes have no parent links)."""
    for parent in tree.find_all(nodes.Node):
        for name in parent.fields:
            value = getattr(parent, name, None)
            if value is old:
                setattr(parent, name, new)
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return


def compile_bounded(env: BoundedSandbox, source: str) -> Any:
    """A template whose loops and `~` spend from the render's budget."""
    return env.from_string(_bound_tree(env.parse(source)))


def render_bounded(template: Any, context: dict[str, Any]) -> str:
    """Render with a fresh budget, streaming the output and stopping at MAX_OUTPUT_CHARS."""
    token = _budget.set(Budget())
    try:
        out: list[str] = []
        length = 0
        for chunk in template.generate(context):
            length += len(chunk)
            if length > MAX_OUTPUT_CHARS:
                raise LimitExceeded(f"the output is longer than {MAX_OUTPUT_CHARS:,} characters")
            out.append(chunk)
        return "".join(out)
    finally:
        _budget.reset(token)


def unsafe_access(tree: nodes.Template) -> list[tuple[int, str]]:
    """(line, what) for every attribute the sandbox would refuse at send time, found by name:
    `x.__class__`, `x._private`, `x.mro`, `fields.update`, `x["__globals__"]`,
    `x|attr("__class__")`."""
    found: list[tuple[int, str]] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        name: object = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
            if isinstance(name, str) and not name.startswith("__"):
                continue  # a key ("fields['x']"), not an attribute
        elif isinstance(node, nodes.Filter) and node.name == "attr" and node.args:
            arg = node.args[0]
            name = arg.value if isinstance(arg, nodes.Const) else None
        if isinstance(name, str) and (name.startswith("_") or name in UNSAFE_NAMES):
            found.append((int(node.lineno), name))
    return sorted(found)
