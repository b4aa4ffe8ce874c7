"""The lead pool: fair assignment, capacity, vacations, company owners, acceptance, SLA."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sequences.clock import FrozenClock
from sequences.enrollment import enroll, record
from sequences.errors import Conflict, NotFound, ValidationError
from sequences.leads import (
    accept,
    assign_manual,
    assign_pool,
    import_leads,
    intake,
    reject,
    sla_tick,
    submit_form,
    update_rep,
    update_settings,
)
from sequences.leads.assignment import Candidate, choose, eligible
from sequences.models import (
    EnrollmentStatus,
    Event,
    Lead,
    LeadAssignment,
    Prospect,
    Sequence,
    Step,
    Task,
    Team,
    User,
)
from sequences.runtime import Runtime
from sequences.workspace.accounts import create_user, default_team


def _team(session: Session, reps: int = 4) -> tuple[Team, list[User], User]:
    team = default_team(session)
    users = [
        create_user(session, f"rep{i}@example.com", name=f"Rep {i}", team=team) for i in range(reps)
    ]
    manager = create_user(session, "boss@example.com", name="Boss", manager=True, team=team)
    session.commit()
    return team, users, manager


def _csv(count: int, start: int = 0, domain: str | None = None) -> io.StringIO:
    rows = ["email,first_name,company"]
    for i in range(start, start + count):
        rows.append(f"lead{i}@{domain or f'co{i}.example'},Lead {i},Company {i}")
    return io.StringIO("\n".join(rows) + "\n")


def _owners(session: Session) -> Counter[int | None]:
    return Counter(session.scalars(select(Lead.owner_id)))


# The pure rotation


def test_the_rotation_is_a_plain_round_robin_with_equal_weights() -> None:
    reps = [Candidate(user_id=i) for i in (1, 2, 3)]
    picks = [choose(reps, seq=n).user_id for n in range(9)]  # type: ignore[union-attr]
    assert Counter(picks) == {1: 3, 2: 3, 3: 3}
    assert picks[:3] == sorted(picks[:3])


def test_weights_share_leads_in_proportion_and_earlier_owners_come_last() -> None:
    reps = [Candidate(user_id=1, weight=3), Candidate(user_id=2, weight=1)]
    assert Counter(choose(reps, seq=n).user_id for n in range(400)) == {1: 300, 2: 100}  # type: ignore[union-attr]
    assert choose(reps, exclude=[1]).user_id == 2  # type: ignore[union-attr]
    assert choose([reps[0]], exclude=[1]).user_id == 1  # type: ignore[union-attr]  # nobody else


def test_away_and_full_reps_are_not_eligible() -> None:
    today = date(2026, 1, 5)
    reps = [
        Candidate(user_id=1, away_from=date(2026, 1, 1), away_until=date(2026, 1, 9)),
        Candidate(user_id=2, max_open=3, open_count=3),
        Candidate(user_id=3, max_daily=1, day_count=1),
        Candidate(user_id=4, active=False),
        Candidate(user_id=5, away_until=date(2026, 1, 4)),
    ]
    assert [c.user_id for c in eligible(reps, today)] == [5]  # back since yesterday


# Assignment on the database


def test_a_csv_of_1000_leads_is_shared_250_each_among_4_reps(session: Session, rt: Runtime) -> None:
    team, reps, _ = _team(session)
    summary = import_leads(session, team.id, _csv(1000), rt.clock.now())
    session.commit()
    assert summary.pooled == 1000
    counts = _owners(session)
    assert sorted(counts.values()) == [250, 250, 250, 250]
    assert set(counts) == {r.id for r in reps}
    assert session.scalar(select(func.count()).select_from(LeadAssignment)) == 1000
    assert set(session.scalars(select(LeadAssignment.reason))) == {"rule"}
    # The prospect's owner is the lead's owner, and the timeline says why.
    one = session.scalars(select(Prospect).limit(1)).one()
    event = session.scalars(
        select(Event).where(Event.prospect_id == one.id, Event.type == "lead.assigned")
    ).one()
    assert event.data["to_user_id"] == one.owner_id and event.data["reason"] == "rule"


def test_the_rotation_stays_fair_across_transactions(session: Session, rt: Runtime) -> None:
    team, _reps, _ = _team(session, reps=3)
    for start in range(0, 10, 1):  # ten transactions of one lead each
        intake(session, team.id, {"email": f"x{start}@c{start}.example"}, rt.clock.now())
        session.commit()
    assert sorted(_owners(session).values()) == [3, 3, 4]


WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sequences.db import make_engine, make_sessionmaker
    from sequences.clock import SystemClock
    from sequences import aftermath
    from sequences.leads import assign_pool
    url, team_id, ready, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    sessions = make_sessionmaker(make_engine(url))
    aftermath.wire()  # a process of its own: it wires what follows its events, as workers do
    ready.touch()
    while not go.exists():
        time.sleep(0.01)
    total = 0
    while True:
        with sessions.begin() as s:
            done = assign_pool(s, team_id, SystemClock().now(), limit=7)
        if not done:
            break
        total += len(done)
        time.sleep(0.002)  # SQLite: let the other process's busy wait win the lock sometimes
    print(total)
    """
)


def test_two_processes_assigning_one_pool_at_once_never_double_assign_or_skew(
    session: Session, rt: Runtime, database_url: str, tmp_path: Path
) -> None:
    team, _reps, _ = _team(session)
    update_settings(session, team.id, {"auto_assign": False}, rt.clock.now())
    import_leads(session, team.id, _csv(1000), rt.clock.now())
    session.commit()
    assert _owners(session) == {None: 1000}
    session.close()  # SQLite: a transaction left open here would hold the write lock
    go = tmp_path / "go"
    procs = []
    for n in range(2):
        ready = tmp_path / f"ready{n}"
        procs.append(
            (
                ready,
                subprocess.Popen(
                    [sys.executable, "-c", WORKER, database_url, str(team.id), str(ready), str(go)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    from tests.procs import wait_for

    wait_for(lambda: all(r.exists() for r, _ in procs), timeout=60, what="both workers ready")
    go.touch()
    totals = []
    for _, proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        totals.append(int(out.strip()))
    assert sum(totals) == 1000
    assert all(t > 0 for t in totals), totals  # both really took part
    session.expire_all()
    counts = _owners(session)
    assert None not in counts
    assert max(counts.values()) - min(counts.values()) <= 1
    per_lead = Counter(session.scalars(select(LeadAssignment.prospect_id)))
    assert set(per_lead.values()) == {1}  # never assigned twice


def test_capacity_caps_skip_a_full_rep(session: Session, rt: Runtime) -> None:
    team, reps, _ = _team(session, reps=2)
    update_rep(session, reps[0], {"max_open": 2})
    update_rep(session, reps[1], {"max_daily": 3})
    import_leads(session, team.id, _csv(7), rt.clock.now())
    session.commit()
    counts = _owners(session)
    assert counts[reps[0].id] == 2 and counts[reps[1].id] == 3 and counts[None] == 2
    # The next day, the daily cap starts again; the pool's oldest leads go first.
    rt.clock.advance(days=1)  # type: ignore[attr-defined]
    assigned = assign_pool(session, team.id, rt.clock.now())
    session.commit()
    assert [owner for _, owner in assigned] == [reps[1].id, reps[1].id]


def test_reps_away_or_inactive_get_no_leads(session: Session, rt: Runtime) -> None:
    team, reps, _ = _team(session, reps=3)
    today = rt.clock.now().date()
    update_rep(
        session,
        reps[0],
        {
            "away_from": (today - timedelta(days=1)).isoformat(),
            "away_until": (today + timedelta(days=6)).isoformat(),
        },
    )
    update_rep(session, reps[1], {"active": False})
    import_leads(session, team.id, _csv(5), rt.clock.now())
    session.commit()
    assert _owners(session) == {reps[2].id: 5}
    with pytest.raises(ValidationError, match="away_until"):
        update_rep(session, reps[0], {"away_until": "2020-01-01"})


def test_a_lead_from_a_company_with_an_owner_goes_to_that_owner(
    session: Session, rt: Runtime
) -> None:
    team, reps, _ = _team(session, reps=3)
    session.add(Prospect(team_id=team.id, email="ceo@acme.example", owner_id=reps[2].id, fields={}))
    session.add(
        Prospect(
            team_id=team.id, email="cfo@gmail.com", company="Globex", owner_id=reps[1].id, fields={}
        )
    )
    session.commit()
    now = rt.clock.now()
    cto, _ = intake(session, team.id, {"email": "cto@acme.example"}, now)
    buyer, _ = intake(session, team.id, {"email": "buyer@hotmail.com", "company": "globex "}, now)
    other, _ = intake(session, team.id, {"email": "x@initech.example"}, now)
    session.commit()
    assert cto.owner_id == reps[2].id and buyer.owner_id == reps[1].id
    assert other.owner_id == reps[0].id  # the rotation, untouched by the company picks
    reason = session.scalar(
        select(LeadAssignment.reason).where(LeadAssignment.prospect_id == cto.id)
    )
    assert reason == "company"


def test_a_routing_rule_by_field_falls_back_to_round_robin(session: Session, rt: Runtime) -> None:
    team, reps, _ = _team(session, reps=3)
    update_settings(
        session,
        team.id,
        {"route_field": "territory", "routes": {"EMEA": [reps[1].id]}},
        rt.clock.now(),
    )
    now = rt.clock.now()
    a, _ = intake(session, team.id, {"email": "a@a.example", "fields": {"territory": "emea"}}, now)
    b, _ = intake(session, team.id, {"email": "b@b.example", "fields": {"territory": "EMEA"}}, now)
    c, _ = intake(session, team.id, {"email": "c@c.example", "fields": {"territory": "APAC"}}, now)
    session.commit()
    assert a.owner_id == b.owner_id == reps[1].id
    assert c.owner_id is not None
    with pytest.raises(NotFound, match="not a user of your team"):
        update_settings(session, team.id, {"routes": {"x": [999]}}, now)


def test_a_manager_assigns_in_bulk_and_never_to_another_team(session: Session, rt: Runtime) -> None:
    team, reps, manager = _team(session, reps=2)
    update_settings(session, team.id, {"auto_assign": False}, rt.clock.now())
    import_leads(session, team.id, _csv(3), rt.clock.now())
    other = Team(name="Other")
    session.add(other)
    session.flush()
    stranger = create_user(session, "x@other.example", team=other)
    session.commit()
    ids = list(session.scalars(select(Lead.prospect_id)))
    with pytest.raises(NotFound, match="not a user of your team"):
        assign_manual(session, team.id, ids, stranger.id, rt.clock.now(), by=manager)
    session.rollback()
    with pytest.raises(PermissionError):
        assign_manual(session, team.id, ids, reps[0].id, rt.clock.now(), by=reps[0])
    session.rollback()
    assign_manual(
        session, team.id, ids, reps[1].id, rt.clock.now(), by=manager, note="key accounts"
    )
    session.commit()
    assert _owners(session) == {reps[1].id: 3}
    row = session.scalars(select(LeadAssignment)).first()
    assert row is not None and row.reason == "manual" and row.by_user_id == manager.id


def test_the_web_form_honeypot_keeps_bots_out(session: Session, rt: Runtime) -> None:
    team, reps, _ = _team(session, reps=1)
    key = update_settings(session, team.id, {"form_enabled": True}, rt.clock.now()).form_key
    assert key
    assert (
        submit_form(
            session, key, {"email": "bot@spam.example", "website": "http://x"}, rt.clock.now()
        )
        is None
    )
    person = submit_form(
        session,
        key,
        {"email": "anna@shop.example", "message": "call me", "website": ""},
        rt.clock.now(),
    )
    session.commit()
    assert person is not None and person.owner_id == reps[0].id
    assert person.fields == {"message": "call me"}
    assert session.scalar(select(func.count()).select_from(Prospect)) == 1


# Acceptance


def _sequence(session: Session, team: Team) -> Sequence:
    seq = Sequence(team_id=team.id, name="Welcome", settings={})
    seq.steps = [Step(position=0, type="email", delay="PT0S", subject="Hi", body_html="<p>Hi</p>")]
    session.add(seq)
    session.flush()
    return seq


def test_a_lead_waits_for_acceptance_and_its_sequences_do_not_start(
    session: Session, rt: Runtime
) -> None:
    team, reps, _ = _team(session, reps=2)
    update_settings(
        session, team.id, {"acceptance_required": True, "accept_within_minutes": 60}, rt.clock.now()
    )
    lead_prospect, _ = intake(session, team.id, {"email": "p@p.example"}, rt.clock.now())
    owner = session.get(User, lead_prospect.owner_id)
    assert owner is not None
    enrollment = enroll(session, lead_prospect, _sequence(session, team), rt.clock.now())
    session.commit()
    assert enrollment.status == EnrollmentStatus.PAUSED and enrollment.next_due_at is None
    task = session.scalars(select(Task).where(Task.owner_id == owner.id)).one()
    assert "Accept or reject" in task.title
    other = next(r for r in reps if r.id != owner.id)
    with pytest.raises(PermissionError):
        accept(session, other, lead_prospect.id, rt.clock.now())
    session.rollback()
    accept(session, owner, lead_prospect.id, rt.clock.now())
    session.commit()
    session.refresh(enrollment)
    assert enrollment.status == EnrollmentStatus.ACTIVE and enrollment.next_due_at is not None
    assert session.get(Task, task.id).status == "done"  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        accept(session, owner, lead_prospect.id, rt.clock.now())


def test_a_rejected_or_unanswered_lead_goes_to_the_next_rep(session: Session, rt: Runtime) -> None:
    clock: FrozenClock = rt.clock  # type: ignore[assignment]
    team, _reps, _ = _team(session, reps=2)
    update_settings(
        session, team.id, {"acceptance_required": True, "accept_within_minutes": 30}, clock.now()
    )
    p, _ = intake(session, team.id, {"email": "p@p.example"}, clock.now())
    session.commit()
    first = session.get(User, p.owner_id)
    assert first is not None
    with pytest.raises(ValidationError):
        from sequences.leads.acceptance import clean_reason

        clean_reason({"reason": " "})
    second_id = reject(session, first, p.id, "not my territory", clock.now())
    session.commit()
    assert second_id is not None and second_id != first.id
    # The second rep says nothing: at the deadline the scheduler moves it on (back to the
    # first, the only other rep).
    clock.advance(minutes=29)
    assert sla_tick(session, clock.now())["checked"] == 0
    clock.advance(minutes=2)
    assert sla_tick(session, clock.now()).get("not_accepted") == 1
    session.commit()
    session.refresh(p)
    assert p.owner_id == first.id
    reasons = list(session.scalars(select(LeadAssignment.reason).order_by(LeadAssignment.id)))
    assert reasons == ["rule", "rejected", "not_accepted"]
    assert (
        session.scalar(select(func.count()).select_from(Event).where(Event.type == "lead.rejected"))
        == 2
    )


# Speed to lead and re-assignment


def test_sla_warns_the_rep_alerts_the_manager_then_reassigns(session: Session, rt: Runtime) -> None:
    clock: FrozenClock = rt.clock  # type: ignore[assignment]
    team, _reps, manager = _team(session, reps=2)
    update_settings(
        session,
        team.id,
        {"warn_after_minutes": 60, "alert_after_minutes": 120, "reassign_after_minutes": 240},
        clock.now(),
    )
    p, _ = intake(session, team.id, {"email": "p@p.example"}, clock.now())
    session.commit()
    first = p.owner_id
    clock.advance(minutes=61)
    assert sla_tick(session, clock.now()).get("warn") == 1
    clock.advance(minutes=60)
    assert sla_tick(session, clock.now()).get("alert") == 1
    assert (
        session.scalar(select(func.count()).select_from(Task).where(Task.owner_id == manager.id))
        == 1
    )
    assert sla_tick(session, clock.now())["checked"] == 0  # nothing due twice
    clock.advance(minutes=120)
    assert sla_tick(session, clock.now()).get("sla_breach") == 1
    session.commit()
    session.refresh(p)
    assert p.owner_id not in (None, first)
    types = list(
        session.scalars(select(Event.type).where(Event.prospect_id == p.id).order_by(Event.id))
    )
    assert types == [
        "lead_pooled",
        "lead.assigned",
        "lead_sla_warning",
        "lead_sla_alert",
        "lead.reassigned",
    ]


def test_a_first_touch_in_time_stops_the_clock(session: Session, rt: Runtime) -> None:
    clock: FrozenClock = rt.clock  # type: ignore[assignment]
    team, _reps, _ = _team(session, reps=2)
    update_settings(session, team.id, {"warn_after_minutes": 60}, clock.now())
    p, _ = intake(session, team.id, {"email": "p@p.example"}, clock.now())
    clock.advance(minutes=20)
    record(session, "call", clock.now(), prospect_id=p.id)
    session.commit()
    clock.advance(minutes=50)
    assert sla_tick(session, clock.now()) == {"checked": 1}
    lead = session.get(Lead, p.id)
    assert lead is not None and lead.first_touch_at == clock.now() - timedelta(minutes=50)
    assert lead.due_at is None


def test_n_touches_without_human_engagement_send_the_lead_on_and_stop_sequences(
    session: Session, rt: Runtime
) -> None:
    clock: FrozenClock = rt.clock  # type: ignore[assignment]
    team, _reps, _ = _team(session, reps=2)
    update_settings(session, team.id, {"max_touches": 3, "touch_check_minutes": 60}, clock.now())
    p, _ = intake(session, team.id, {"email": "p@p.example"}, clock.now())
    q, _ = intake(session, team.id, {"email": "q@q.example"}, clock.now())
    seq = _sequence(session, team)
    running = enroll(session, p, seq, clock.now())
    for _ in range(3):
        clock.advance(hours=1)
        for who in (p, q):
            record(session, "sent", clock.now(), prospect_id=who.id)
            # A scanner's open is not a person: it does not count as engagement.
            session.add(Event(prospect_id=who.id, type="open", at=clock.now(), verdict="machine"))
    session.add(Event(prospect_id=q.id, type="open", at=clock.now(), verdict="human"))
    session.commit()
    first_p, first_q = p.owner_id, q.owner_id
    clock.advance(minutes=61)
    counts = sla_tick(session, clock.now())
    session.commit()
    assert counts.get("no_engagement") == 1
    session.refresh(p)
    session.refresh(q)
    assert p.owner_id not in (None, first_p) and q.owner_id == first_q
    session.refresh(running)
    assert running.status == EnrollmentStatus.UNENROLLED
    lead = session.get(Lead, p.id)
    assert lead is not None and lead.previous_owners == [first_p]
    assert session.get(Lead, q.id).due_at is None  # type: ignore[union-attr]


def test_reassignment_to_the_pool_and_hand_over_are_team_choices(
    session: Session, rt: Runtime
) -> None:
    clock: FrozenClock = rt.clock  # type: ignore[assignment]
    team, _reps, _ = _team(session, reps=2)
    update_settings(
        session,
        team.id,
        {"reassign_after_minutes": 30, "reassign_to": "pool", "on_reassign": "hand_over"},
        clock.now(),
    )
    p, _ = intake(session, team.id, {"email": "p@p.example"}, clock.now())
    running = enroll(session, p, _sequence(session, team), clock.now())
    session.commit()
    clock.advance(minutes=31)
    sla_tick(session, clock.now())
    session.commit()
    session.refresh(p)
    session.refresh(running)
    assert p.owner_id is None and session.get(Lead, p.id).state == "pool"  # type: ignore[union-attr]
    assert running.status == EnrollmentStatus.ACTIVE


TICKER = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime
    from pathlib import Path
    from sequences.db import make_engine, make_sessionmaker
    from sequences import aftermath
    from sequences.leads import sla_tick
    url, now, ready, go = sys.argv[1], datetime.fromisoformat(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    sessions = make_sessionmaker(make_engine(url))
    aftermath.wire()  # a process of its own: it wires what follows its events, as workers do
    ready.touch()
    while not go.exists():
        time.sleep(0.01)
    acted = 0
    for _ in range(20):
        with sessions.begin() as s:
            counts = sla_tick(s, now, limit=25)
        acted += counts.get("warn", 0)
        time.sleep(0.002)
    print(acted)
    """
)


def test_two_schedulers_never_act_twice_on_the_same_lead(
    session: Session, rt: Runtime, database_url: str, tmp_path: Path
) -> None:
    clock: FrozenClock = rt.clock  # type: ignore[assignment]
    team, _reps, _ = _team(session, reps=3)
    update_settings(session, team.id, {"warn_after_minutes": 30}, clock.now())
    import_leads(session, team.id, _csv(200), clock.now())
    session.commit()
    session.close()
    now = clock.advance(minutes=31)
    go = tmp_path / "go"
    procs = []
    for n in range(2):
        ready = tmp_path / f"ready{n}"
        argv = [sys.executable, "-c", TICKER, database_url, now.isoformat(), str(ready), str(go)]
        procs.append(
            (
                ready,
                subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
            )
        )
    from tests.procs import wait_for

    wait_for(lambda: all(r.exists() for r, _ in procs), timeout=60, what="both schedulers ready")
    go.touch()
    acted = []
    for _, proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        acted.append(int(out.strip()))
    assert sum(acted) == 200
    warned = Counter(
        session.scalars(select(Event.prospect_id).where(Event.type == "lead_sla_warning"))
    )
    assert len(warned) == 200 and set(warned.values()) == {1}


def test_the_scheduler_process_runs_the_lead_rules(session: Session, rt: Runtime) -> None:
    from sequences import scheduler

    clock: FrozenClock = rt.clock  # type: ignore[assignment]
    team, _reps, _ = _team(session, reps=1)
    update_settings(session, team.id, {"warn_after_minutes": 10}, clock.now())
    intake(session, team.id, {"email": "p@p.example"}, clock.now())
    session.commit()
    assert scheduler.lead_rules(rt) == 0
    clock.advance(minutes=11)
    assert scheduler.lead_rules in scheduler.hooks
    assert scheduler.run_hooks(rt) >= 1
    assert (
        session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "lead_sla_warning")
        )
        == 1
    )


def test_the_cli_assigns_the_pool_by_the_rules_and_by_hand(
    session: Session, rt: Runtime, database_url: str, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from tests.conftest import make_env
    from tracker.cli.main import main

    team, _reps, _ = _team(session, reps=2)
    update_settings(session, team.id, {"auto_assign": False}, rt.clock.now())
    session.commit()
    env = make_env(database_url, 2525, tmp_path)
    runner = CliRunner()
    csv_path = tmp_path / "leads.csv"
    csv_path.write_text(_csv(10).getvalue())
    imported = runner.invoke(main, ["leads", "import", str(csv_path)], env=env)
    assert imported.exit_code == 0, imported.output
    assert "pooled 10" in imported.output
    ruled = runner.invoke(main, ["leads", "assign", "--pool", "--batch", "3"], env=env)
    assert ruled.exit_code == 0, ruled.output
    assert "rep0@example.com: 5" in ruled.output and "rep1@example.com: 5" in ruled.output
    pid = session.scalars(select(Lead.prospect_id).order_by(Lead.prospect_id)).first()
    session.commit()  # SQLite: end the read before the command writes
    manual = runner.invoke(main, ["leads", "assign", str(pid), "--to", "rep1@example.com"], env=env)
    assert manual.exit_code == 0, manual.output
    stranger = runner.invoke(
        main, ["leads", "assign", str(pid), "--to", "nobody@x.example"], env=env
    )
    assert stranger.exit_code != 0 and "no user with email" in stranger.output
    away = runner.invoke(
        main, ["leads", "rep", "rep0@example.com", "--away-from", "someday"], env=env
    )
    assert away.exit_code != 0 and "away_from" in away.output
    rules = runner.invoke(
        main, ["leads", "rules", "--set", "max_touches=4", "--set", "reassign_to=pool"], env=env
    )
    assert rules.exit_code == 0 and '"max_touches": 4' in rules.output
