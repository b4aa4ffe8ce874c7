"""The fixed-shape multi-row statements (sequences.bulk) write what SQLAlchemy's would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, select
from sqlalchemy.exc import DataError

from sequences import runtime
from sequences.models import Enrollment, Event, Message, MessageStatus
from sequences.sending.bulk import insert_rows, update_rows

from .sending_helpers import email, enroll_ids, make_prospect, make_sequence

MESSAGES = cast(Table, Message.__table__)
EVENTS = cast(Table, Event.__table__)
ENROLLMENTS = cast(Table, Enrollment.__table__)


def test_insert_and_update_rows_match_the_orm(rt: runtime.Runtime) -> None:
    sequence = make_sequence(rt, [email(), email()])
    prospects = [make_prospect(rt, f"p{i}@example.com") for i in range(3)]
    enrollments = enroll_ids(rt, prospects, sequence)
    now = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    rows: list[dict[str, Any]] = [
        {
            "token_id": f"{i:032x}",
            "prospect_id": prospect,
            "enrollment_id": enrollment,
            "step_position": 0,
            "message_id": f"<m{i}@example.com>",
            "subject": "Caf\u00e9" if i else None,
            "to_email": f"p{i}@example.com",
            "status": MessageStatus.CLAIMED,
            "attempts": 1,
            "lease_until": now + timedelta(minutes=5),
        }
        for i, (prospect, enrollment) in enumerate(zip(prospects, enrollments, strict=True))
    ]
    with rt.engine.begin() as conn:
        returned = insert_rows(conn, MESSAGES, rows, returning=("id", "enrollment_id"))
        ids = {enrollment: pk for pk, enrollment in returned}
        assert sorted(ids) == sorted(enrollments)
        insert_rows(
            conn,
            EVENTS,
            [
                {"type": "sent", "at": now, "prospect_id": p, "message_id": ids[e]}
                for p, e in zip(prospects, enrollments, strict=True)
            ],
        )
        update_rows(
            conn,
            MESSAGES,
            "id",
            [
                {"id": pk, "sent_at": now + timedelta(seconds=n)}
                for n, pk in enumerate(ids.values())
            ],
            {"status": MessageStatus.SENT, "lease_until": None},
        )
        update_rows(conn, ENROLLMENTS, "id", [{"id": e, "current_step": 1} for e in enrollments])
    with rt.sessions() as s:
        messages = list(s.scalars(select(Message).order_by(Message.id)))
        assert [m.direction for m in messages] == ["out"] * 3  # the Python-side default
        assert [m.subject for m in messages] == [None, "Caf\u00e9", "Caf\u00e9"]
        assert [m.status for m in messages] == ["sent"] * 3
        assert [m.lease_until for m in messages] == [None] * 3
        assert sorted(m.sent_at for m in messages if m.sent_at) == [
            now + timedelta(seconds=n) for n in range(3)
        ]
        assert [m.created_at.tzinfo for m in messages] == [UTC] * 3
        events = list(s.scalars(select(Event).where(Event.type == "sent")))
        assert [(e.data, e.at) for e in events] == [({}, now)] * 3  # data: its default, {}
        for enrollment in s.scalars(select(Enrollment).where(Enrollment.id.in_(enrollments))):
            assert enrollment.current_step == 1
            assert enrollment.updated_at > now  # onupdate, as SQLAlchemy's UPDATE applies it


def test_empty_batches_write_nothing(rt: runtime.Runtime) -> None:
    with rt.engine.begin() as conn:
        assert insert_rows(conn, MESSAGES, [], returning=("id",)) == []
        update_rows(conn, MESSAGES, "id", [])


def test_a_value_too_long_for_its_column_is_refused_not_cut(rt: runtime.Runtime) -> None:
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    sequence = make_sequence(rt, [email()])
    [prospect] = [make_prospect(rt, "p@example.com")]
    [enrollment] = enroll_ids(rt, [prospect], sequence)
    row = {
        "token_id": "0" * 32,
        "prospect_id": prospect,
        "enrollment_id": enrollment,
        "step_position": 0,
        "message_id": "<m@example.com>",
        "status": "claimed-too-long",  # String(10)
        "attempts": 1,
    }
    with pytest.raises(DataError), rt.engine.begin() as conn:
        insert_rows(conn, MESSAGES, [row], returning=("id",))
    with pytest.raises(DataError), rt.engine.begin() as conn:
        [(pk,)] = insert_rows(conn, MESSAGES, [{**row, "status": "claimed"}], returning=("id",))
        update_rows(conn, MESSAGES, "id", [{"id": pk, "status": "sent-too-long"}])
