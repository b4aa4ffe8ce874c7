"""Lead statuses and their triggers: changes by compare-and-set, once-per-entry firings with a
lease, the triggered email through the sequences' send path, and bad input refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from sequences import runtime
from sequences.clock import FrozenClock
from sequences.enrollment import record
from sequences.errors import Conflict, ValidationError
from sequences.leads import (
    change_status,
    fire_due,
    replace_statuses,
    save_rule,
    team_statuses,
)
from sequences.leads.triggers import LEASE, claim, due_firings, run_firing
from sequences.models import Event, Prospect, RuleFiring, Sequence, Task
from sequences.workspace.accounts import default_team

from .conftest import Sink
from .sending_helpers import drain, email, enroll_ids, make_prospect, make_sequence

BROCHURE = {
    "status": "interested",
    "action": "send_email",
    "subject": "The brochure you asked for, {{ first_name | default('there') }}",
    "body_html": '<p>Here it is: <a href="https://example.com/brochure.pdf">the brochure</a></p>',
}


def _team_id(rt: runtime.Runtime) -> int:
    with rt.sessions.begin() as s:
        return default_team(s).id


def _rule(rt: runtime.Runtime, data: dict[str, object]) -> int:
    with rt.sessions.begin() as s:
        return save_rule(s, _team_id(rt), data, rt.clock.now(), by_user_id=None).id


def _set(rt: runtime.Runtime, prospect_id: int, to: str, **kw: object) -> Event | None:
    with rt.sessions.begin() as s:
        prospect = s.get(Prospect, prospect_id)
        assert prospect is not None
        return change_status(s, prospect, to, rt.clock.now(), by_user_id=None, **kw)  # type: ignore[arg-type]


def _status(rt: runtime.Runtime, prospect_id: int) -> str:
    with rt.sessions() as s:
        prospect = s.get(Prospect, prospect_id)
        assert prospect is not None
        return prospect.lead_status


def _changes(rt: runtime.Runtime, prospect_id: int) -> list[tuple[str, str, str]]:
    with rt.sessions() as s:
        return [
            (e.data["from"], e.data["to"], e.data["source"])
            for e in s.scalars(
                select(Event)
                .where(Event.prospect_id == prospect_id, Event.type == "prospect.status_changed")
                .order_by(Event.id)
            )
        ]


def _firings(rt: runtime.Runtime) -> list[tuple[str, str]]:
    with rt.sessions() as s:
        return [(f.state, f.result) for f in s.scalars(select(RuleFiring).order_by(RuleFiring.id))]


def test_a_new_prospect_is_new_and_a_change_is_a_timeline_event_with_who_and_note(
    rt: runtime.Runtime,
) -> None:
    prospect_id = make_prospect(rt, "ann@acme.example")
    assert _status(rt, prospect_id) == "new"
    with rt.sessions() as s:
        assert team_statuses(s, _team_id(rt))[:3] == ["new", "contacted", "interested"]
    event = _set(rt, prospect_id, "Interested", note="asked for prices")
    assert event is not None
    assert _status(rt, prospect_id) == "interested"
    with rt.sessions() as s:
        stored = s.get(Event, event.id)
        assert stored is not None
        assert stored.data == {
            "from": "new",
            "to": "interested",
            "by_user_id": None,
            "note": "asked for prices",
            "source": "manual",
        }
    assert _set(rt, prospect_id, "interested") is None  # no change, no event
    assert len(_changes(rt, prospect_id)) == 1


def test_an_unknown_status_is_refused_naming_the_statuses_and_nothing_changes(
    rt: runtime.Runtime,
) -> None:
    prospect_id = make_prospect(rt, "ann@acme.example")
    with pytest.raises(ValidationError, match=r'unknown status "hot".*new, contacted'):
        _set(rt, prospect_id, "hot")
    assert _status(rt, prospect_id) == "new" and _changes(rt, prospect_id) == []


def test_two_changes_from_the_same_read_one_wins_the_other_is_a_conflict(
    rt: runtime.Runtime,
) -> None:
    prospect_id = make_prospect(rt, "ann@acme.example")
    first, second = rt.sessions(), rt.sessions(expire_on_commit=False)
    try:
        b = second.get(Prospect, prospect_id)  # read as "new" ...
        second.commit()
        a = first.get(Prospect, prospect_id)
        assert a is not None and b is not None and a.lead_status == b.lead_status == "new"
        change_status(first, a, "interested", rt.clock.now(), by_user_id=None)  # ... moved
        first.commit()
        with pytest.raises(Conflict, match='changed meanwhile to "interested"'):
            change_status(second, b, "lost", rt.clock.now(), by_user_id=None)
        second.rollback()
    finally:
        first.close()
        second.close()
    assert _status(rt, prospect_id) == "interested"
    with pytest.raises(Conflict, match='is "interested", not "new"'):
        _set(rt, prospect_id, "lost", expected="new")


def test_the_team_list_replaces_the_defaults_but_keeps_statuses_in_use(
    rt: runtime.Runtime,
) -> None:
    team_id = _team_id(rt)
    prospect_id = make_prospect(rt, "ann@acme.example")
    _set(rt, prospect_id, "qualified")
    with rt.sessions.begin() as s, pytest.raises(Conflict, match=r"still in use.*qualified"):
        replace_statuses(s, team_id, {"statuses": ["new", "won"]}, rt.clock.now())
    with rt.sessions.begin() as s:
        out = replace_statuses(
            s,
            team_id,
            {"statuses": ["new", "contacted", "qualified", "replied"], "on_reply": "replied"},
            rt.clock.now(),
        )
    assert out["statuses"] == ["new", "contacted", "qualified", "replied"]
    with rt.sessions.begin() as s, pytest.raises(ValidationError, match="on_reply"):
        replace_statuses(
            s, team_id, {"statuses": ["new", "qualified"], "on_reply": "x"}, rt.clock.now()
        )


def test_the_system_moves_new_to_contacted_on_the_first_email_and_a_reply_and_a_conversion(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    with rt.sessions.begin() as s:
        replace_statuses(
            s,
            _team_id(rt),
            {"statuses": ["new", "contacted", "replied", "converted"], "on_reply": "replied"},
            rt.clock.now(),
        )
    sequence = make_sequence(rt, [email(subject="Hello", body_html="<p>Hi</p>")])
    prospect_id = make_prospect(rt, "ann@acme.example")
    enroll_ids(rt, [prospect_id], sequence)
    assert drain(rt) == ["sent"]
    assert _status(rt, prospect_id) == "contacted"
    with rt.sessions.begin() as s:
        record(s, "reply", rt.clock.now(), prospect_id=prospect_id)
    assert _status(rt, prospect_id) == "replied"
    with rt.sessions.begin() as s:
        record(s, "conversion", rt.clock.now(), prospect_id=prospect_id)
    assert [(f, t) for f, t, _ in _changes(rt, prospect_id)] == [
        ("new", "contacted"),
        ("contacted", "replied"),
        ("replied", "converted"),
    ]
    assert [src for *_, src in _changes(rt, prospect_id)] == ["sent", "reply", "conversion"]


def test_interested_sends_the_brochure_once_through_the_send_path(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    _rule(rt, BROCHURE)
    prospect_id = make_prospect(rt, "ann@acme.example", first_name="Ann")
    _set(rt, prospect_id, "interested")
    assert fire_due(rt.sessions, rt.clock.now()) == 1
    assert fire_due(rt.sessions, rt.clock.now()) == 0  # done: never again for this entry
    assert drain(rt) == ["sent"]
    [stored] = smtp_sink.messages()
    assert stored.envelope_to == ["ann@acme.example"]
    assert stored.message["Subject"] == "The brochure you asked for, Ann"
    assert "brochure" in stored.message.get_body(("html",)).get_content()
    [(state, result)] = _firings(rt)
    assert state == "done" and result.startswith("enrolled")
    with rt.sessions() as s:  # the hidden sequence is listed nowhere
        assert s.scalar(select(func.count()).select_from(Sequence).where(Sequence.hidden)) == 1


def test_a_triggered_email_is_never_sent_to_an_unsubscribed_address(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    _rule(rt, BROCHURE)
    prospect_id = make_prospect(rt, "gone@acme.example", status="unsubscribed")
    _set(rt, prospect_id, "interested")
    assert fire_due(rt.sessions, datetime.now(UTC)) == 1  # the CLI's clock is the real one
    assert drain(rt) == [] and smtp_sink.messages() == []
    [(state, result)] = _firings(rt)
    assert state == "done" and "unsubscribed" in result
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).where(Event.type == "status_rule_refused")) == 1


def test_each_entry_fires_once_and_an_entry_left_before_the_tick_fires_nothing(
    rt: runtime.Runtime, clock: FrozenClock
) -> None:
    _rule(rt, {"status": "interested", "action": "task", "title": "Call about the brochure"})
    prospect_id = make_prospect(rt, "ann@acme.example")
    _set(rt, prospect_id, "interested")
    _set(rt, prospect_id, "qualified")  # a mistaken click, undone within seconds
    _set(rt, prospect_id, "interested")
    assert fire_due(rt.sessions, clock.now()) == 2
    results = [r for _, r in _firings(rt)]
    assert results[0].startswith("skipped: the prospect left") and results[1].startswith("task")
    _set(rt, prospect_id, "qualified")
    _set(rt, prospect_id, "interested")  # a later, real entry: fires again
    fire_due(rt.sessions, clock.now())
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Task)) == 2


def test_two_claimers_of_one_firing_only_one_acts(rt: runtime.Runtime) -> None:
    _rule(rt, {"status": "interested", "action": "task", "title": "Call"})
    prospect_id = make_prospect(rt, "ann@acme.example")
    _set(rt, prospect_id, "interested")
    now = rt.clock.now()
    with rt.sessions.begin() as s:
        [firing_id] = due_firings(s, now)
    first, second = rt.sessions(), rt.sessions()
    try:
        # Both saw it pending; each tries the compare-and-set.
        a = claim(first, firing_id, now)
        first.commit()
        b = claim(second, firing_id, now)
        second.commit()
    finally:
        first.close()
        second.close()
    assert a == 1 and b is None
    with rt.sessions.begin() as s:
        assert run_firing(s, firing_id, 1, now) is not None
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Task)) == 1


def test_a_worker_dead_between_claim_and_done_is_taken_over_after_its_lease(
    rt: runtime.Runtime, clock: FrozenClock
) -> None:
    _rule(rt, {"status": "interested", "action": "task", "title": "Call"})
    prospect_id = make_prospect(rt, "ann@acme.example")
    _set(rt, prospect_id, "interested")
    with rt.sessions.begin() as s:
        [firing_id] = due_firings(s, clock.now())
        assert claim(s, firing_id, clock.now()) == 1  # ... and the worker dies here
    assert fire_due(rt.sessions, clock.now()) == 0  # its lease still holds
    clock.advance(LEASE + timedelta(seconds=1))
    assert fire_due(rt.sessions, clock.now()) == 1
    with rt.sessions.begin() as s:  # the dead worker, back: its claim is stale, nothing done
        assert run_firing(s, firing_id, 1, clock.now()) is None
        s.rollback()
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Task)) == 1
        firing = s.get(RuleFiring, firing_id)
        assert firing is not None and firing.state == "done" and firing.attempts == 2


def test_a_set_status_rule_chains_and_a_loop_is_refused_at_save(rt: runtime.Runtime) -> None:
    _rule(rt, {"status": "contacted", "action": "set_status", "set_status": "interested"})
    with pytest.raises(ValidationError, match='a loop: entering "contacted"'):
        _rule(rt, {"status": "interested", "action": "set_status", "set_status": "contacted"})
    with pytest.raises(ValidationError, match="a loop"):
        _rule(rt, {"status": "lost", "action": "set_status", "set_status": "lost"})
    _rule(rt, BROCHURE)
    prospect_id = make_prospect(rt, "ann@acme.example")
    _set(rt, prospect_id, "contacted")
    fire_due(rt.sessions, rt.clock.now())  # contacted -> interested
    fire_due(rt.sessions, rt.clock.now())  # interested -> the brochure
    assert _status(rt, prospect_id) == "interested"
    assert [r.split(":")[0] for _, r in _firings(rt)] == ['status set to "interested"', "enrolled"]


def test_a_template_naming_what_no_prospect_has_is_refused_and_nothing_saved(
    rt: runtime.Runtime,
) -> None:
    with pytest.raises(ValidationError, match="`shoe_size` is not something a prospect has"):
        _rule(rt, {**BROCHURE, "body_html": "<p>{{ shoe_size }}</p>"})
    with pytest.raises(ValidationError, match="sequence_id"):
        _rule(rt, {"status": "interested", "action": "enroll", "sequence_id": 999})
    with pytest.raises(ValidationError, match="action: one of"):
        _rule(rt, {"status": "interested", "action": "dance"})
    _rule(rt, {**BROCHURE, "body_html": "<p>{{ fields.need | default('it') }}</p>"})
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Sequence)) == 1


def test_the_cli_replaces_the_list_adds_a_rule_and_sets_a_status(
    rt: runtime.Runtime, database_url: str, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from tests.conftest import make_env
    from tracker.cli.main import main

    prospect_id = make_prospect(rt, "ann@acme.example")
    env = make_env(database_url, 2525, tmp_path)
    runner = CliRunner()
    listed = runner.invoke(main, ["leads", "status", "list"], env=env)
    assert listed.exit_code == 0 and '"not interested"' in listed.output
    rule = tmp_path / "rule.yaml"
    rule.write_text("status: interested\naction: task\ntitle: Call about the brochure\n")
    added = runner.invoke(main, ["leads", "status-rules", "add", str(rule)], env=env)
    assert added.exit_code == 0, added.output
    rule.write_text("status: interested\naction: send_email\nsubject: x\nbody_html: '{{ nope }}'\n")
    bad = runner.invoke(main, ["leads", "status-rules", "add", str(rule)], env=env)
    assert bad.exit_code != 0 and "`nope` is not something a prospect has" in bad.output
    moved = runner.invoke(
        main, ["leads", "status", "set", "interested", "ann@acme.example"], env=env
    )
    assert moved.exit_code == 0 and '"changed": true' in moved.output, moved.output
    unknown = runner.invoke(main, ["leads", "status", "set", "hot", "ann@acme.example"], env=env)
    assert unknown.exit_code != 0 and 'unknown status "hot"' in unknown.output
    assert _status(rt, prospect_id) == "interested"
    assert fire_due(rt.sessions, datetime.now(UTC)) == 1  # the CLI's clock is the real one


def test_the_playbooks_interested_rule_sends_the_brochure_through_the_sink(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    playbook = Path(__file__).resolve().parent.parent / "sequences" / "data" / "playbook.yaml"
    data = yaml.safe_load(playbook.read_text(encoding="utf-8"))
    [rule] = data["status_rules"]
    assert rule["status"] == "interested"
    _rule(rt, rule)
    prospect_id = make_prospect(
        rt, "zoe@initech.example", first_name="Zoe", fields={"brochure_url": "https://x.test/b.pdf"}
    )
    _set(rt, prospect_id, "interested")
    fire_due(rt.sessions, rt.clock.now())
    assert drain(rt) == ["sent"]
    [stored] = smtp_sink.messages()
    assert stored.message["Subject"] == "The brochure you asked for, Zoe"
    assert "The brochure (PDF)" in stored.message.get_body(("html",)).get_content()
