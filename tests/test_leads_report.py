"""The manager's view of leads: pool, leads per rep, time to first touch, hand-overs by reason;
and the follow-up discipline report crediting touches to the rep who made them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from sequences.enrollment import record
from sequences.leads import (
    accept,
    assign_manual,
    intake,
    lead_report,
    reject,
    report_json,
    update_settings,
)
from sequences.leads.report import Handover, first_touch_delays, percentile
from sequences.models import Prospect, User
from sequences.runtime import Runtime
from sequences.tasks import log_call
from sequences.workspace import rep_report
from sequences.workspace.accounts import create_user, default_team

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


# The pure part


def test_percentile_interpolates_between_ranks_like_percentile_cont() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile(list(map(float, range(1, 11))), 0.9) == 9.1


def test_a_touch_counts_for_the_holding_whose_window_contains_it() -> None:
    handovers = [
        Handover(1, 10, T0),
        Handover(1, 20, T0 + timedelta(hours=5)),  # rep 10 never touched it before it moved
        Handover(2, 10, T0),
    ]
    touches = {1: [T0 + timedelta(hours=6)], 2: [T0 + timedelta(minutes=30)]}
    got = {(h.prospect_id, h.to_user_id): d for h, d in first_touch_delays(handovers, touches)}
    assert got == {(1, 10): None, (1, 20): 3600.0, (2, 10): 1800.0}


def test_a_hand_over_to_the_pool_has_no_clock() -> None:
    handovers = [Handover(1, 10, T0), Handover(1, None, T0 + timedelta(hours=1))]
    got = first_touch_delays(handovers, {1: [T0 + timedelta(hours=2)]})
    assert [(h.to_user_id, d) for h, d in got] == [(10, None)]


# On the database


def _team(session: Session) -> tuple[list[User], User]:
    team = default_team(session)
    reps = [create_user(session, f"r{i}@example.com", name=f"Rep {i}", team=team) for i in (1, 2)]
    manager = create_user(session, "boss@example.com", name="Boss", manager=True, team=team)
    session.commit()
    return reps, manager


def _touch(session: Session, prospect: Prospect, at: datetime) -> None:
    log_call(session, prospect.id, at, "connected", "")


def test_the_report_counts_the_pool_leads_per_rep_and_time_to_first_touch(
    session: Session, rt: Runtime
) -> None:
    (ann, bob), manager = _team(session)
    team_id = manager.team_id
    now = rt.clock.now()
    update_settings(session, team_id, {"auto_assign": False, "acceptance_required": True}, now)
    leads = [intake(session, team_id, {"email": f"l{i}@c{i}.example"}, now)[0] for i in range(6)]
    waiting = intake(session, team_id, {"email": "old@pool.example"}, now - timedelta(days=2))[0]
    assert waiting.owner_id is None
    assign_manual(session, team_id, [p.id for p in leads[:3]], ann.id, now, by=manager)
    assign_manual(session, team_id, [p.id for p in leads[3:5]], bob.id, now, by=manager)
    later = now + timedelta(minutes=10)
    accept(session, ann, leads[0].id, later)
    accept(session, ann, leads[1].id, later)
    _touch(session, leads[0], now + timedelta(minutes=20))
    _touch(session, leads[1], now + timedelta(minutes=60))
    reject(session, bob, leads[3].id, "not my territory", later)  # goes to Ann by the rules
    session.commit()

    report = lead_report(session, team_id, now - timedelta(days=1), now + timedelta(days=1), later)
    by_name = {r.name: r for r in report.reps}
    assert report.pool_size == 2  # leads[5] and the old one
    assert report.pool_over_day == 1
    age = report.pool_age_hours(later)
    assert age is not None and age > 48
    a, b = by_name["Rep 1"], by_name["Rep 2"]
    assert (a.open, a.accepted, a.pending) == (4, 2, 2)  # leads[2] and the rejected one pending
    assert (b.open, b.pending, b.rejected) == (1, 1, 1)
    assert a.assigned == 4 and a.touched == 2 and a.untouched == 2
    assert a.median_minutes == 40.0 and a.p90_minutes == 56.0
    assert b.median_minutes is None
    assert report.reassignments == {"rejected": 1}
    body = report_json(report, later)
    assert body["pool"]["size"] == 2  # type: ignore[index]
    assert {row["rep"] for row in body["reps"]} >= {"Rep 1", "Rep 2", "Boss"}  # type: ignore[attr-defined]


def test_the_discipline_report_credits_touches_to_the_rep_who_made_them(
    session: Session, rt: Runtime
) -> None:
    (ann, bob), manager = _team(session)
    team_id = manager.team_id
    start = rt.clock.now()
    update_settings(session, team_id, {"auto_assign": False}, start)
    lead = intake(session, team_id, {"email": "moving@c.example"}, start)[0]
    assign_manual(session, team_id, [lead.id], ann.id, start, by=manager)
    for hours in (1, 2, 3):  # Ann's three touches
        _touch(session, lead, start + timedelta(hours=hours))
    assign_manual(session, team_id, [lead.id], bob.id, start + timedelta(hours=4), by=manager)
    _touch(session, lead, start + timedelta(hours=5))  # Bob's one
    record(session, "reply", start + timedelta(hours=6), prospect_id=lead.id)
    session.commit()

    rows = {r.name: r for r in rep_report(session, team_id, start, start + timedelta(days=1))}
    assert (rows["Rep 1"].touches, rows["Rep 1"].prospects_touched) == (3, 1)
    assert (rows["Rep 2"].touches, rows["Rep 2"].prospects_touched) == (1, 1)
    assert rows["Rep 2"].replied == 1 and rows["Rep 1"].replied == 0
    assert rows["Rep 1"].dropped_after_one == 0


def test_touches_of_a_prospect_that_never_changed_hands_go_to_its_owner(
    session: Session, rt: Runtime
) -> None:
    (ann, _bob), manager = _team(session)
    start = rt.clock.now()
    prospect = Prospect(team_id=manager.team_id, owner_id=ann.id, email="p@x.example", fields={})
    session.add(prospect)
    session.flush()
    _touch(session, prospect, start + timedelta(hours=1))
    session.commit()
    rows = {
        r.name: r for r in rep_report(session, manager.team_id, start, start + timedelta(days=1))
    }
    assert rows["Rep 1"].touches == 1
