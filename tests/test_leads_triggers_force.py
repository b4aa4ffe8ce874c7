"""What a status rule's enrollment goes past: a recent reply yes; a live enrollment never (no
restart, no second sequence on top); each case as the rep sees it on the timeline."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from sequences import runtime
from sequences.clock import FrozenClock
from sequences.enrollment import record
from sequences.leads import change_status, fire_due, save_rule
from sequences.models import Enrollment, Event, Prospect, RuleFiring
from sequences.workspace.accounts import default_team

from .conftest import Sink
from .sending_helpers import drain, email, enroll_ids, make_prospect, make_sequence

BROCHURE = {
    "status": "interested",
    "action": "send_email",
    "subject": "The brochure you asked for",
    "body_html": "<p>Here it is.</p>",
}


def _rule(rt: runtime.Runtime, data: dict[str, object]) -> int:
    with rt.sessions.begin() as s:
        return save_rule(s, default_team(s).id, data, rt.clock.now(), by_user_id=None).id


def _enter(rt: runtime.Runtime, prospect_id: int, status: str = "interested") -> None:
    with rt.sessions.begin() as s:
        prospect = s.get(Prospect, prospect_id)
        assert prospect is not None
        change_status(s, prospect, status, rt.clock.now(), by_user_id=None)


def _results(rt: runtime.Runtime) -> list[str]:
    with rt.sessions() as s:
        return [f.result for f in s.scalars(select(RuleFiring).order_by(RuleFiring.id))]


def _notes(rt: runtime.Runtime, prospect_id: int) -> list[str]:
    """The "Status rule ... did not run: <why>" lines of the prospect page's timeline."""
    with rt.sessions() as s:
        return [
            e.data["why"]
            for e in s.scalars(
                select(Event)
                .where(Event.prospect_id == prospect_id, Event.type == "status_rule_refused")
                .order_by(Event.id)
            )
        ]


def _enrollments(rt: runtime.Runtime, prospect_id: int) -> list[tuple[int, int, str, int]]:
    """(id, sequence, status, current step) of each of the prospect's enrollments."""
    with rt.sessions() as s:
        return [
            (e.id, e.sequence_id, e.status, e.current_step)
            for e in s.scalars(
                select(Enrollment)
                .where(Enrollment.prospect_id == prospect_id)
                .order_by(Enrollment.id)
            )
        ]


def test_an_enroll_rule_goes_past_a_recent_reply(rt: runtime.Runtime) -> None:
    nurture = make_sequence(rt, [email()], name="Nurture")
    _rule(rt, {"status": "interested", "action": "enroll", "sequence_id": nurture})
    ann = make_prospect(rt, "ann@acme.example", first_name="Ann")
    with rt.sessions.begin() as s:  # "yes, tell me more": the rep marks her interested
        record(s, "reply", rt.clock.now(), prospect_id=ann)
    _enter(rt, ann)
    assert fire_due(rt.sessions, rt.clock.now()) == 1
    [(enrollment_id, sequence_id, status, _)] = _enrollments(rt, ann)
    assert (sequence_id, status) == (nurture, "active")
    assert _results(rt) == [f"enrolled: enrollment {enrollment_id}"]
    assert _notes(rt, ann) == []


def test_an_enroll_rule_leaves_a_live_enrollment_of_its_sequence_as_it_is(
    rt: runtime.Runtime, smtp_sink: Sink, clock: FrozenClock
) -> None:
    nurture = make_sequence(rt, [email(), email(subject="Second", delay="P2D")], name="Nurture")
    _rule(rt, {"status": "interested", "action": "enroll", "sequence_id": nurture})
    ann = make_prospect(rt, "ann@acme.example", first_name="Ann")
    [live] = enroll_ids(rt, [ann], nurture)
    assert drain(rt) == ["sent"]  # step 1 went out; step 2 waits two days
    before = _enrollments(rt, ann)
    _enter(rt, ann)
    assert fire_due(rt.sessions, clock.now()) == 1
    assert _results(rt) == ["skipped: already in this sequence"]
    [note] = _notes(rt, ann)
    assert note.startswith(f"already active in this sequence (enrollment {live}) since ")
    assert note.endswith("; left as it is, not restarted")
    assert _enrollments(rt, ann) == before and before[0][:3] == (live, nurture, "active")
    assert drain(rt) == [] and len(smtp_sink.messages()) == 1  # step 1 is not sent again


def test_an_enroll_rule_does_not_start_a_second_sequence_on_a_live_one(
    rt: runtime.Runtime,
) -> None:
    outreach = make_sequence(rt, [email(), email(delay="P3D")], name="Cold outreach")
    nurture = make_sequence(rt, [email()], name="Nurture")
    _rule(rt, {"status": "interested", "action": "enroll", "sequence_id": nurture})
    ann = make_prospect(rt, "ann@acme.example", first_name="Ann")
    [running] = enroll_ids(rt, [ann], outreach)
    _enter(rt, ann)
    assert fire_due(rt.sessions, rt.clock.now()) == 1
    [note] = _notes(rt, ann)
    assert note.startswith('refused: active in the sequence "Cold outreach" since ')
    assert "does not start a second sequence on top of a live one" in note
    assert _results(rt) == [note]
    assert [e[:3] for e in _enrollments(rt, ann)] == [(running, outreach, "active")]


def test_a_send_email_rule_sends_its_one_email_beside_a_live_sequence(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    outreach = make_sequence(rt, [email(delay="P1D"), email(delay="P3D")], name="Cold outreach")
    _rule(rt, BROCHURE)
    ann = make_prospect(rt, "ann@acme.example", first_name="Ann")
    [running] = enroll_ids(rt, [ann], outreach)
    _enter(rt, ann)
    assert fire_due(rt.sessions, rt.clock.now()) == 1
    [result] = _results(rt)
    assert result.startswith("enrolled: enrollment ")
    assert 'one email beside the live enrollment: active in the sequence "Cold outreach"' in result
    assert drain(rt) == ["sent"]
    [sent] = smtp_sink.messages()
    assert sent.message["Subject"] == "The brochure you asked for"
    assert (running, outreach, "active") in [e[:3] for e in _enrollments(rt, ann)]  # runs on
    assert _notes(rt, ann) == []


def test_the_brochure_and_an_enroll_rule_on_one_status_both_run(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    nurture = make_sequence(rt, [email(subject="Welcome", delay="P1D")], name="Nurture")
    _rule(rt, BROCHURE)  # fires first: its one email is live when the enroll rule runs
    _rule(rt, {"status": "interested", "action": "enroll", "sequence_id": nurture})
    ann = make_prospect(rt, "ann@acme.example", first_name="Ann")
    _enter(rt, ann)
    assert fire_due(rt.sessions, rt.clock.now()) == 2
    assert all(r.startswith("enrolled: enrollment ") for r in _results(rt))
    assert nurture in [sequence for _, sequence, _, _ in _enrollments(rt, ann)]
    assert drain(rt) == ["sent"]
    assert _notes(rt, ann) == []


def test_a_quick_second_entry_does_not_send_the_brochure_twice(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    _rule(rt, BROCHURE)
    ann = make_prospect(rt, "ann@acme.example", first_name="Ann")
    _enter(rt, ann)
    assert fire_due(rt.sessions, rt.clock.now()) == 1  # queued, not sent yet
    _enter(rt, ann, "qualified")
    _enter(rt, ann)
    assert fire_due(rt.sessions, rt.clock.now()) == 1
    assert _results(rt)[1] == "skipped: already in this sequence"
    assert drain(rt) == ["sent"] and len(smtp_sink.messages()) == 1
    [note] = _notes(rt, ann)
    assert note.endswith("left as it is, not restarted")


def test_an_enroll_rule_keeps_to_the_sequences_re_enroll_interval(
    rt: runtime.Runtime, smtp_sink: Sink, clock: FrozenClock
) -> None:
    nurture = make_sequence(
        rt, [email()], name="Nurture", settings={"min_reenroll_interval": "P30D"}
    )
    _rule(rt, {"status": "interested", "action": "enroll", "sequence_id": nurture})
    ann = make_prospect(rt, "ann@acme.example", first_name="Ann")
    [first] = enroll_ids(rt, [ann], nurture)
    assert drain(rt) == ["sent"]  # the one step went out: the enrollment is over
    clock.advance(timedelta(days=3))
    _enter(rt, ann)
    assert fire_due(rt.sessions, clock.now()) == 1
    [note] = _notes(rt, ann)
    assert note.startswith("refused: enrolled in this sequence on ")
    assert note.endswith("; a status rule keeps to it")
    assert [e[0] for e in _enrollments(rt, ann)] == [first]
    assert len(smtp_sink.messages()) == 1
