"""Cursor pagination for API lists: `?cursor=<opaque>&limit=<1..200>` -> items and next_cursor."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import request
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from sequences.errors import ValidationError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def page_args() -> tuple[int | None, int]:
    """The request's cursor (an id, None for the first page) and limit (1..200, default 50)."""
    raw_cursor = request.args.get("cursor", "")
    raw_limit = request.args.get("limit", "")
    cursor: int | None = None
    if raw_cursor:
        if not raw_cursor.isascii() or not raw_cursor.isdigit() or len(raw_cursor) > 10:
            raise ValidationError("cursor: use next_cursor from the previous page", "cursor")
        cursor = int(raw_cursor)
    limit = DEFAULT_LIMIT
    if raw_limit:
        # Out of range is refused, not clamped: the document says 1..200, and a client asking
        # for 0 or 1000 items has a bug it should hear about.
        if (
            not raw_limit.isascii()
            or not raw_limit.isdigit()
            or len(raw_limit) > 6
            or not 1 <= int(raw_limit) <= MAX_LIMIT
        ):
            raise ValidationError(f"limit: a whole number from 1 to {MAX_LIMIT}", "limit")
        limit = int(raw_limit)
    return cursor, limit


def paginate(
    session: Session,
    query: Select[Any],
    key: InstrumentedAttribute[int],
    to_json: Callable[[Any], dict[str, Any]],
    *,
    newest_first: bool = False,
) -> dict[str, Any]:
    """Keyset pagination on an id column: stable while rows are added, O(limit) per page."""
    cursor, limit = page_args()
    if cursor is not None:
        query = query.where(key < cursor if newest_first else key > cursor)
    query = query.order_by(key.desc() if newest_first else key).limit(limit + 1)
    rows: Sequence[Any] = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [to_json(r) for r in rows],
        "next_cursor": str(getattr(rows[-1], key.key)) if more and rows else None,
    }
