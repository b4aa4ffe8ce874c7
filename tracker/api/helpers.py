"""What the API's resource modules share: the JSON body, the clock, 201 answers, id parameters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify, request

from sequences.errors import ValidationError

from ..db import rt
from ..errors import request_json


def body() -> dict[str, Any]:
    return request_json()


def now() -> datetime:
    return rt().clock.now()


def created(answer: dict[str, Any]) -> tuple[Response, int]:
    return jsonify(answer), 201


def id_arg(name: str) -> int | None:
    """An id given as a query parameter (?prospect_id=3), or None without one."""
    raw = request.args.get(name, "")
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10 or not 0 < int(raw) < 2**31:
        raise ValidationError(f"{name}: an id", field=name)
    return int(raw)


def flag(data: dict[str, Any], name: str) -> bool:
    """An optional true/false in a request body (422 naming it otherwise)."""
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise ValidationError(f"{name}: must be true or false", field=name)
    return value
