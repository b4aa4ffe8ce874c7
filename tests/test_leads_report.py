"""The manager's view of leads: pool, leads per rep, time to first touch, hand-overs by reason;
and the follow-up discipline report crediting touches to the rep who made them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from sequences.enrollment import record
from sequences.leads import (
    accept,
    assign_manual,
    change_status,
    intake,
    lead_report,
    reject,
    report_json,
    update_settings,
)
from sequences.leads.report import (
    Handover,
    StatusChange,
    conversion_paths,
    first_touch_delays,
    percentile,
    status_path,
)
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


# Conversions by status path


def _change(i: int, frm: str, to: str, minutes: int, pid: int = 1) -> StatusChange:
    return StatusChange(pid, T0 + timedelta(minutes=minutes), i, frm, to)


def test_a_status_path_runs_from_the_first_status_to_the_first_conversion() -> None:
    changes = [
        _change(3, "interested", "converted", 30),
        _change(1, "new", "contacted", 10),
        _change(2, "contacted", "interested", 20),
        _change(4, "converted", "lost", 40),  # after the conversion: not part of the path
    ]
    path, conversion = status_path(changes)
    assert path == ("new", "contacted", "interested", "converted")
    assert conversion is not None and conversion.event_id == 3
    back_and_forth = [_change(1, "new", "contacted", 1), _change(2, "contacted", "new", 2)]
    assert status_path(back_and_forth) == (("new", "contacted", "new"), None)


def test_the_conversion_rate_of_a_path_is_among_those_who_went_through_its_steps() -> None:
    paths = {
        1: ("new", "contacted", "interested", "converted"),
        2: ("new", "contacted", "interested", "converted"),
        3: ("new", "contacted", "interested", "lost"),
        4: ("new", "contacted", "interested"),
        5: ("new", "converted"),
        6: ("new", "contacted"),
    }
    got = {f.path: (f.converted, f.entered) for f in conversion_paths(paths, [1, 2, 5])}
    assert got == {
        ("new", "contacted", "interested", "converted"): (2, 4),
        ("new", "converted"): (1, 6),
    }
    first = conversion_paths(paths, [1, 2, 5])[0]
    assert first.rate == 0.5 and first.to_json()["conversion_rate"] == 0.5


def test_the_report_counts_conversions_by_status_path_per_rep(
    session: Session, rt: Runtime
) -> None:
    (ann, bob), manager = _team(session)
    team_id = manager.team_id
    start = rt.clock.now()

    def prospect(owner: User, email: str) -> Prospect:
        p = Prospect(team_id=team_id, owner_id=owner.id, email=email, fields={})
        session.add(p)
        session.flush()
        return p

    def walk(p: Prospect, statuses: list[str], hours: float) -> None:
        at = start + timedelta(hours=hours)
        for i, status in enumerate(statuses):
            change_status(session, p, status, at + timedelta(minutes=i), by_user_id=None)

    converted_earlier = prospect(ann, "old@x.example")
    walk(converted_earlier, ["contacted", "converted"], -48)  # before the period
    a1, a2, a3 = (prospect(ann, f"a{i}@x.example") for i in range(3))
    b1 = prospect(bob, "b1@x.example")
    walk(a1, ["contacted", "interested"], -30)  # the path began before the period
    walk(a1, ["converted"], 1)
    walk(a2, ["contacted", "interested", "converted"], 2)
    walk(a3, ["contacted", "interested"], 3)  # not (yet) converted
    walk(b1, ["contacted"], 4)
    record(session, "conversion", start + timedelta(hours=5), prospect_id=b1.id)  # the system's
    session.commit()

    report = lead_report(session, team_id, start, start + timedelta(days=1), start)
    team = {f.path: (f.converted, f.entered) for f in report.status_paths}
    assert team == {
        ("new", "contacted", "interested", "converted"): (2, 3),
        ("new", "contacted", "converted"): (1, 4),
    }
    assert report.changed == 4  # the prospect converted before the period is not counted
    by_name = {r.name: r for r in report.reps}
    ann_paths = {f.path: (f.converted, f.entered) for f in by_name["Rep 1"].status_paths}
    assert ann_paths == {("new", "contacted", "interested", "converted"): (2, 3)}
    bob_paths = {f.path: (f.converted, f.entered) for f in by_name["Rep 2"].status_paths}
    assert bob_paths == {("new", "contacted", "converted"): (1, 1)}
    body = report_json(report, start)
    top = body["status_paths"][0]  # type: ignore[index]
    assert top == {
        "path": ["new", "contacted", "interested", "converted"],
        "converted": 2,
        "entered": 3,
        "conversion_rate": 0.6667,
    }
