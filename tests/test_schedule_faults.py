"""A stored schedule the scheduler cannot use (an unknown holiday calendar, a send window with
no day or unreadable, an unreadable re-enroll interval, an unknown time zone) is refused at
enrollment with the fix, and fails an enrolled row with a `bad_schedule` Needs-attention item
on both send paths, on resume and at lead acceptance: the tick goes on, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sequences import runtime
from sequences.enrollment import EnrollmentRefused, enroll, pause, schedule_problem
from sequences.leads import accept
from sequences.models import (
    Enrollment,
    EnrollmentStatus,
    Event,
    Prospect,
    Sequence,
    Step,
    User,
    Webhook,
)
from sequences.schedule import NeverOpens, ScheduleError, add_business_days
from sequences.scheduler import tick
from sequences.sending import run_batch
from sequences.workspace.accounts import default_team

from .conftest import Cast, Sink
from .sending_helpers import (
    email,
    enroll_ids,
    enrollment,
    events,
    held_for_acceptance,
    make_mailbox,
    make_prospect,
    make_sequence,
)
from .webkit import CHEAP_HASH, login

RAW = ("Traceback", "ScheduleError", "ZoneInfo", "KeyError", "never opens within a year")

# What an old or hand-edited row can hold that no API accepts any more, and the words that
# must name it: (column values, words in the problem, words in the fix).
FAULTS: dict[str, tuple[dict[str, Any], str, str]] = {
    "unknown_calendar": (
        {"settings": {"holidays_country": "XX"}},
        "holiday calendar 'XX' is unknown",
        "choose a country with a holiday calendar",
    ),
    "window_without_days": (
        {"send_window": {"days": [], "start": "08:00", "end": "17:00"}},
        "send window has no day",
        "tick at least one day",
    ),
    "unreadable_window": (
        {"send_window": {"days": ["mon"], "start": "25:00", "end": "17:00"}},
        "send window cannot be read",
        "set the send window again",
    ),
}


def _corrupt(rt: runtime.Runtime, sequence_id: int, **values: Any) -> None:
    with rt.sessions.begin() as s:
        s.execute(update(Sequence).where(Sequence.id == sequence_id).values(**values))


def _tick_one_batch(rt: runtime.Runtime) -> list[str]:
    """One scheduler tick, everything due sent in one batch (the bulk send path)."""
    due: list[tuple[int, int]] = []
    tick(rt, lambda e, p: due.append((e, p)), limit=1000)
    return run_batch(rt, due) if due else []


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("path", ["bulk", "per_event"])
def test_the_scheduler_fails_a_broken_schedule_with_bad_schedule_and_sends_the_others(
    rt: runtime.Runtime, client: Any, cast: Cast, smtp_sink: Sink, path: str, fault: str
) -> None:
    values, words, fix = FAULTS[fault]
    stuck = make_sequence(rt, [email(), email(delay="P2D")], name="Stuck")
    fine = make_sequence(rt, [email(), email(delay="P2D")], name="Fine")
    people = [make_prospect(rt, f"p{i}@acme.example", first_name=f"P{i}") for i in range(3)]
    [first, second] = enroll_ids(rt, people[:2], stuck)
    [other] = enroll_ids(rt, people[2:], fine)
    _corrupt(rt, stuck, **values)  # stored by hand, after enrolling
    if path == "per_event":  # a "sent" webhook: record() and advance(), one by one
        with rt.sessions.begin() as s:
            team = default_team(s)
            s.add(Webhook(team_id=team.id, user_id=cast.manager_id, url="https://h.example/",
                          events=["sent"], secret="s" * 32))  # fmt: skip
    outcomes = _tick_one_batch(rt)
    assert outcomes == ["sent", "sent", "sent"]
    assert len(smtp_sink.messages()) == 3
    for failed in (first, second):
        row = enrollment(rt, failed)
        assert row.status == EnrollmentStatus.FAILED and row.next_due_at is None
        assert row.current_step == 1 and "Step 2 was not scheduled" in (row.reason or "")
        assert words in (row.reason or "")
    going = enrollment(rt, other)
    assert going.status == EnrollmentStatus.ACTIVE and going.next_due_at is not None
    attention = [e for e in events(rt, "attention") if e.enrollment_id in (first, second)]
    assert [e.data["kind"] for e in attention] == ["bad_schedule", "bad_schedule"]
    assert _tick_one_batch(rt) == []  # nothing stuck in a loop
    listed = client.get("/api/v1/attention", headers=cast.auth())
    assert listed.status_code == 200
    items = {i["enrollment_id"]: i for i in listed.json["items"]}
    assert set(items) == {first, second}
    item = items[first]
    assert item["kind"] == "bad_schedule" and item["step"] == 2
    assert item["actions"] == ["open_template", "retry", "skip"]
    assert words in item["message"] and fix in item["fix"]
    assert not any(raw in listed.text for raw in RAW)
    if path == "bulk" and fault == "unknown_calendar":  # the dashboard, with the way to the fix
        with rt.sessions.begin() as s:
            s.execute(update(User).where(User.id == cast.rep_id).values(password_hash=CHEAP_HASH))
        login(client, "rita@example.com")
        page = client.get("/")
        assert page.status_code == 200 and "Needs attention" in page.text
        assert "Step 2 was not scheduled" in page.text and "Open the sequence" in page.text
        assert not any(raw in page.text for raw in RAW)
    # Retry is refused until the sequence is fixed; then the step is scheduled.
    early = client.post(f"/api/v1/enrollments/{first}/retry", headers=cast.auth())
    assert early.status_code == 409 and words in early.json["error"]["message"]
    assert not any(raw in early.text for raw in RAW)
    skipped = client.post(f"/api/v1/enrollments/{second}/skip", headers=cast.auth())
    assert skipped.status_code in (200, 409) and not any(raw in skipped.text for raw in RAW)
    _corrupt(rt, stuck, settings={}, send_window=None)
    retried = client.post(f"/api/v1/enrollments/{first}/retry", headers=cast.auth())
    assert retried.status_code == 200 and retried.json["status"] == "active"


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_paused_row_resuming_into_a_broken_schedule_fails_and_the_tick_goes_on(
    rt: runtime.Runtime, smtp_sink: Sink, fault: str
) -> None:
    values, words, _ = FAULTS[fault]
    stuck = make_sequence(rt, [email(), email(delay="P2D")], name="Stuck")
    fine = make_sequence(rt, [email()], name="Fine")
    [held] = enroll_ids(rt, [make_prospect(rt, "held@acme.example")], stuck)
    with rt.sessions.begin() as s:
        row = s.get(Enrollment, held)
        assert row is not None
        pause(s, row, rt.clock.now(), until=rt.clock.now() + timedelta(minutes=1))
    _corrupt(rt, stuck, **values)
    rt.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    [other] = enroll_ids(rt, [make_prospect(rt, "other@acme.example")], fine)
    assert _tick_one_batch(rt) == ["sent"]
    assert enrollment(rt, other).status == EnrollmentStatus.FINISHED
    failed = enrollment(rt, held)
    assert failed.status == EnrollmentStatus.FAILED and failed.next_due_at is None
    assert "Step 1 was not scheduled" in (failed.reason or "") and words in (failed.reason or "")
    assert [e.data["kind"] for e in events(rt, "attention")] == ["bad_schedule"]
    assert _tick_one_batch(rt) == []


def test_lead_acceptance_fails_a_broken_schedule_instead_of_crashing(
    session: Session, rt: runtime.Runtime
) -> None:
    lead, owner, sequence, held = held_for_acceptance(session, rt)
    session.execute(
        update(Sequence)
        .where(Sequence.id == sequence.id)
        .values(settings={"holidays_country": "XX"})
    )
    session.commit()
    session.expire_all()
    accept(session, owner, lead.id, rt.clock.now())
    session.commit()
    session.refresh(held)
    assert held.status == EnrollmentStatus.FAILED and held.next_due_at is None
    data = session.scalars(select(Event.data).where(Event.type == "attention")).all()
    assert [d["kind"] for d in data] == ["bad_schedule"]
    assert "holiday calendar 'XX' is unknown" in data[0]["message"]


ENROLL_FAULTS: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    **{name: (values, {}, words) for name, (values, words, _) in FAULTS.items()},
    "unreadable_interval": (
        {"settings": {"min_reenroll_interval": "soonish"}},
        {},
        "re-enroll interval 'soonish' cannot be read",
    ),
    "unknown_sequence_zone": ({"timezone": "Mars/Base"}, {}, "time zone 'Mars/Base' is unknown"),
    "unknown_prospect_zone": ({}, {"timezone": "Mars/Base"}, "time zone 'Mars/Base' is unknown"),
}


@pytest.mark.parametrize("fault", sorted(ENROLL_FAULTS))
def test_a_broken_schedule_is_refused_at_enrollment_with_the_fix(
    rt: runtime.Runtime, client: Any, cast: Cast, fault: str
) -> None:
    values, prospect_values, words = ENROLL_FAULTS[fault]
    sequence = make_sequence(rt, [email(), email(delay="P2D")])
    if values:
        _corrupt(rt, sequence, **values)
    prospect = make_prospect(rt, "zoe@acme.example", first_name="Zoë", **prospect_values)
    refused = client.post(
        "/api/v1/enrollments",
        json={"prospect_id": prospect, "sequence_id": sequence},
        headers=cast.auth(),
    )
    assert refused.status_code == 422, refused.json
    assert not any(raw in refused.text for raw in RAW)
    assert words in refused.json["error"]["message"]
    bulk = client.post(
        "/api/v1/enrollments/bulk",
        json={"sequence_id": sequence, "prospect_ids": [prospect], "dry_run": True},
        headers=cast.auth(),
    )
    assert bulk.status_code == 200, bulk.json
    assert "bad_schedule" in bulk.text and words in bulk.text
    assert not any(raw in bulk.text for raw in RAW)
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Enrollment)) == 0
    if fault in FAULTS:  # the state machine's own last word says the same
        with rt.sessions() as s:
            found = s.get(Sequence, sequence)
            person = s.get(Prospect, prospect)
            assert found is not None and person is not None
            with pytest.raises(EnrollmentRefused, match=words):
                enroll(s, person, found, rt.clock.now())


def test_a_mailbox_roll_into_a_broken_window_fails_the_row_and_the_batch_goes_on(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    mailbox = make_mailbox(rt, hourly_limit=1)
    sequence = make_sequence(rt, [email()], mailbox_id=mailbox, name="Capped")
    [sent, rolled] = enroll_ids(
        rt, [make_prospect(rt, f"p{i}@acme.example") for i in range(2)], sequence
    )
    _corrupt(rt, sequence, send_window={"days": [], "start": "08:00", "end": "17:00"})
    outcomes = sorted(_tick_one_batch(rt))
    assert outcomes == ["failed: cannot be scheduled", "sent"]
    assert len(smtp_sink.messages()) == 1
    failed = [e for e in (sent, rolled) if enrollment(rt, e).status == EnrollmentStatus.FAILED]
    assert len(failed) == 1
    assert "send window has no day" in (enrollment(rt, failed[0]).reason or "")
    assert [e.data["kind"] for e in events(rt, "attention")] == ["bad_schedule"]
    assert _tick_one_batch(rt) == []


def test_a_window_that_never_opens_is_named_as_such() -> None:
    sequence = Sequence(name="Closed", send_window={"days": ["sat"]}, settings={})
    step = Step(position=0, type="email", delay="P1D")
    sequence.steps = [step]
    problem = schedule_problem(sequence, step, ScheduleError("send window never opens"))
    assert problem.kind == "bad_schedule" and problem.step == 1
    assert "never opens in the coming year" in problem.message
    assert "allow more days in its send window" in problem.fix
    assert not any(raw in problem.text for raw in RAW)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"send_window": {"days": [], "start": "08:00", "end": "17:00"}}, "send_window"),
        ({"send_window": {"days": ["mon"], "start": "25:00", "end": "17:00"}}, "send_window"),
        ({"send_window": "mon"}, "send_window"),
        ({"settings": {"holidays_country": "XX"}}, "settings.holidays_country"),
        ({"settings": {"holidays_country": 49}}, "settings.holidays_country"),
        ({"settings": {"min_reenroll_interval": "soonish"}}, "settings.min_reenroll_interval"),
        ({"timezone": "Mars/Base"}, "timezone"),
    ],
)
def test_the_api_refuses_a_schedule_the_scheduler_could_not_use_at_the_door(
    client: Any, cast: Cast, body: dict[str, Any], field: str
) -> None:
    made = client.post(
        "/api/v1/sequences", json={"name": "Door", "steps": [email()], **body}, headers=cast.auth()
    )
    assert made.status_code == 422, made.json
    assert made.json["error"]["field"] == field
    assert not any(raw in made.text for raw in RAW)


def test_business_days_in_a_calendar_of_only_holidays_end_with_the_words_not_a_hang() -> None:
    class Everything:
        def __contains__(self, day: object) -> bool:
            return True

    with pytest.raises(NeverOpens) as raised:
        add_business_days(datetime(2026, 1, 5, tzinfo=UTC), 2, ZoneInfo("UTC"), Everything())
    sequence = Sequence(name="Closed", send_window=None, settings={})
    step = Step(position=1, type="email", delay="P2D", business_days=True)
    sequence.steps = [step]
    problem = schedule_problem(sequence, step, raised.value)
    assert problem.message == (
        "Step 2 was not scheduled: the sequence's holiday calendar leaves no working day in the "
        "coming year for a delay in business days"
    )
    assert "count the delay in calendar days" in problem.fix


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_the_sequence_pages_open_on_a_broken_schedule_so_a_rep_can_fix_it(
    rt: runtime.Runtime, client: Any, cast: Cast, fault: str
) -> None:
    values, _, _ = FAULTS[fault]
    sequence = make_sequence(rt, [email(), email(delay="P2D")])
    _corrupt(rt, sequence, **values)
    with rt.sessions.begin() as s:
        s.execute(update(User).where(User.id == cast.manager_id).values(password_hash=CHEAP_HASH))
    login(client, "max@example.com")  # a manager may open the editor
    for page in (
        f"/sequences/{sequence}",
        f"/sequences/{sequence}/edit",
        f"/sequences/{sequence}/enroll",
    ):
        answer = client.get(page)
        assert answer.status_code == 200, page
        assert not any(raw in answer.text for raw in RAW)
