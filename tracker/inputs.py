"""One input layer for /api/: body size (413), content type (415), strict JSON (400), and text
without control characters (422 naming the field), checked before any view runs.

Every API request with a body goes through `check_request` (an app-wide before_request), so a
new route is covered without doing anything. A view that takes something other than JSON says
so with `@accepts("raw")` (the body is the view's own) or `@accepts("multipart")` (form fields
are checked like JSON strings). Views read the parsed body with `errors.request_json()`.

The rules, the same on SQLite and PostgreSQL (which refuses NUL in text, where SQLite stores it):
- JSON is UTF-8, at most FOLLOWUP_API_MAX_BODY_BYTES, nested at most MAX_DEPTH levels;
- NaN, Infinity and numbers too large for a double (1e400) are refused (they are not JSON, and
  would be served back as invalid JSON);
- strings and keys may hold no control character (C0, DEL, C1) except tab, line feed and
  carriage return in values, and no lone surrogate (`"\\ud800"`): such text cannot be stored
  or sent as mail.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, g, request

F = TypeVar("F", bound=Callable[..., Any])

MAX_DEPTH = 32
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Control characters a value may not hold (tab, LF and CR are text), and lone surrogates.
_BAD_VALUE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_KEY = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NO_BODY = object()


class InputError(Exception):
    """A request the input layer refuses: status 400, 413, 415 or 422, and the field at fault."""

    def __init__(self, status: int, message: str, field: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def accepts(kind: str) -> Callable[[F], F]:
    """Mark a view whose body is not JSON: "raw" (its own business) or "multipart"."""

    def mark(view: F) -> F:
        view.followup_accepts = kind  # type: ignore[attr-defined]
        return view

    return mark


def _has_body() -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def _not_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def describe(char: str) -> str:
    """A character as the error names it: U+0000, U+D800."""
    return f"U+{ord(char):04X}"


def check_text(value: str, field: str) -> None:
    """Refuse a string holding a control character or a lone surrogate (422 naming field)."""
    bad = _BAD_VALUE.search(value)
    if bad is not None:
        what = "a lone surrogate" if "\ud800" <= bad.group() <= "\udfff" else "a control character"
        raise InputError(
            422, f"{field}: contains {what} ({describe(bad.group())}), not allowed", field
        )


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def check_value(data: Any) -> None:
    """Walk a parsed JSON value (without recursion): depth, numbers and text."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            check_text(value, where or "body")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise InputError(422, f"{where or 'body'}: number out of range", where or "body")
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise InputError(400, f"body: nested deeper than {MAX_DEPTH} levels", "body")
            if isinstance(value, dict):
                for key, item in value.items():
                    bad = _BAD_KEY.search(key)
                    if bad is not None:
                        field = where or "body"
                        raise InputError(
                            422,
                            f"{field}: a key contains a control character"
                            f" ({describe(bad.group())})",
                            field,
                        )
                    stack.append((item, _path(where, key), depth + 1))
            else:
                for index, item in enumerate(value):
                    stack.append((item, _path(where or "body", index), depth + 1))


def parse_json(raw: bytes) -> Any:
    """Strict JSON from bytes: UTF-8, no NaN or Infinity, bounded depth, clean text."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(400, "body: not UTF-8", "body") from None
    try:
        data = json.loads(text, parse_constant=_not_json_constant)
    except RecursionError:
        raise InputError(400, f"body: nested deeper than {MAX_DEPTH} levels", "body") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            400, f"body: not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})", "body"
        ) from None
    except ValueError as exc:  # NaN/Infinity, or an integer of thousands of digits
        reason = str(exc) if "JSON number" in str(exc) else "a number too long"
        raise InputError(400, f"body: not valid JSON ({reason})", "body") from None
    check_value(data)
    return data


def _check_args() -> None:
    for name, value in request.args.items(multi=True):
        check_text(value, name)


def check_request() -> None:
    """The app-wide before_request for /api/: refuse what no view should see."""
    if not request.path.startswith("/api/"):
        return
    if request.routing_exception is not None:
        return  # no such route or method: Flask answers 404 or 405, whatever the body
    _check_args()
    g.followup_body = _NO_BODY
    if request.method not in BODY_METHODS or not _has_body():
        return
    view = current_app.view_functions.get(request.endpoint or "")
    kind = getattr(view, "followup_accepts", "json")
    if kind == "raw":
        return
    if kind == "multipart":
        if request.mimetype != "multipart/form-data":
            raise InputError(415, "send multipart/form-data", "Content-Type")
        for name, value in request.form.items(multi=True):
            check_text(value, name)
        for upload in request.files.values():
            check_text(upload.filename or "", "file")
        return
    if not _is_json(request.mimetype):
        raise InputError(415, "send JSON with Content-Type: application/json", "Content-Type")
    limit = int(current_app.extensions["followup"].settings.api_max_body_bytes)
    app_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if app_limit is not None:
        limit = min(limit, int(app_limit))
    if request.content_length is not None and request.content_length > limit:
        raise InputError(413, f"body: larger than {limit:,} bytes", "body")
    request.max_content_length = limit  # a chunked body is cut off at the limit too
    g.followup_body = parse_json(request.get_data(cache=True))


def has_body() -> bool:
    """Whether this request came with a JSON body (`null` included)."""
    return g.get("followup_body", _NO_BODY) is not _NO_BODY


def body() -> Any:
    """The parsed JSON body of this request, or None when it had none."""
    value = g.get("followup_body", _NO_BODY)
    if value is _NO_BODY:
        return None
    return value


def init_app(app: Flask) -> None:
    # Its refusals are answered by tracker/errors.py, with every other error answer.
    app.before_request(check_request)
