"""What follows an event is wired at each process's start, and an unwired process refuses events."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sequences import actors, aftermath, consequences, runtime
from sequences.clock import FrozenClock
from sequences.enrollment import record
from sequences.models import Event


def test_an_event_recorded_before_its_consequences_are_wired_is_refused(
    session: Session, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Silently committing an event whose webhook row never gets written would lose the
    # webhook for good; refusing makes a forgotten `wire()` fail at its first event.
    monkeypatch.setattr(consequences, "_wired", None)
    with pytest.raises(consequences.NotWired, match=r"aftermath\.wire"):
        record(session, "note", clock.now(), prospect_id=None)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Event)) == 0


def test_the_worker_wires_the_consequences_before_its_first_job(
    rt: runtime.Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consequences, "_wired", None)
    assert actors._runtime() is rt
    assert consequences.wired() is aftermath.CONSEQUENCES


def test_the_app_factory_wires_the_consequences(
    rt: runtime.Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.app import create_app

    monkeypatch.setattr(consequences, "_wired", None)
    create_app({"RUNTIME": rt, "TESTING": True})
    assert consequences.wired() is aftermath.CONSEQUENCES
