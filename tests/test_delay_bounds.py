"""A step delay is at most ten years everywhere: the API (words or ISO), the import CLI, the
re-enroll interval, and old rows stored before the bound (refused at enrollment, failed with a
`bad_delay` Needs-attention item by the scheduler, never a crash)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sequences import runtime
from sequences.enrollment import EnrollmentRefused, enroll
from sequences.leads import accept
from sequences.models import (
    Enrollment,
    EnrollmentStatus,
    Event,
    Prospect,
    Sequence,
    Step,
    Team,
    User,
    Webhook,
)
from sequences.scheduler import tick
from sequences.sending import run_batch
from sequences.workspace.accounts import default_team
from tracker.cli.main import main

from .conftest import Cast, Sink, make_env
from .sending_helpers import (
    email,
    enroll_ids,
    enrollment,
    events,
    held_for_acceptance,
    make_prospect,
    make_sequence,
)
from .webkit import CHEAP_HASH, login

TOO_LONG = "A delay can be at most 10 years; 'P999999999D' is longer. Write e.g. '3 days' or 'P3D'."
RAW = ("Traceback", "OverflowError", "date value out of range", "isodate")


def _create(client: Any, cast: Cast, *steps: dict[str, Any], **extra: Any) -> Any:
    body = {"name": "Delays", "steps": list(steps), **extra}
    return client.post("/api/v1/sequences", json=body, headers=cast.auth())


def _corrupt(rt: runtime.Runtime, sequence_id: int, position: int, delay: str) -> None:
    """What a row saved before the ten-year bound holds (no API accepts it any more)."""
    with rt.sessions.begin() as s:
        s.execute(
            update(Step)
            .where(Step.sequence_id == sequence_id, Step.position == position)
            .values(delay=delay)
        )


def test_the_api_takes_words_or_iso_saves_iso_and_answers_the_words(
    client: Any, cast: Cast
) -> None:
    made = _create(
        client,
        cast,
        email(delay="immediately"),
        email(delay="2 business days"),
        email(delay="90 minutes"),
        email(delay="P3D"),
        email(delay="3 days", business_days=True),
    )
    assert made.status_code == 201, made.json
    steps = made.json["steps"]
    assert [s["delay"] for s in steps] == ["PT0S", "P2D", "PT1H30M", "P3D", "P3D"]
    assert [s.get("business_days", False) for s in steps] == [False, True, False, False, True]
    assert [s["delay_text"] for s in steps] == [
        "immediately",
        "2 business days after the previous step",
        "1 hour and 30 minutes after the previous step",
        "3 days after the previous step",
        "3 business days after the previous step",
    ]
    # What GET answers goes back as it is (delay_text is read-only), and words work on PATCH.
    got = client.get(f"/api/v1/sequences/{made.json['id']}", headers=cast.auth()).json
    again = client.patch(
        f"/api/v1/sequences/{made.json['id']}",
        json={"steps": [*got["steps"][:1], {**got["steps"][1], "delay": "1 week"}]},
        headers=cast.auth(),
    )
    assert again.status_code == 200, again.json
    assert again.json["steps"][1]["delay"] == "P7D"
    assert again.json["steps"][1]["delay_text"] == "7 business days after the previous step"


@pytest.mark.parametrize(
    ("step", "field", "words"),
    [
        ({"delay": "P999999999D"}, "steps[1].delay", TOO_LONG),
        ({"delay": "P99999999999999D"}, "steps[1].delay", "at most 10 years"),
        ({"delay": "3651 days"}, "steps[1].delay", "at most 10 years"),
        ({"delay": "-P2D"}, "steps[1].delay", "negative"),
        ({"delay": "-2 days"}, "steps[1].delay", "negative"),
        ({"delay": "soonish"}, "steps[1].delay", "Write it like"),
        ({"delay": 3}, "steps[1].delay", 'e.g. "3 days"'),
        ({"delay": ["P1D"]}, "steps[1].delay", 'e.g. "3 days"'),
        ({"business_days": "yes"}, "steps[1].business_days", "true or false"),
        ({"business_days": 1}, "steps[1].business_days", "true or false"),
        (
            {"delay": "2 business days", "business_days": False},
            "steps[1].business_days",
            "make them agree",
        ),
    ],
)
def test_a_bad_delay_is_a_422_naming_the_field_with_the_fix(
    client: Any, cast: Cast, step: dict[str, Any], field: str, words: str
) -> None:
    made = _create(client, cast, email(), email(**step))
    assert made.status_code == 422, made.json
    error = made.json["error"]
    assert error["field"] == field
    assert error["message"].startswith(f"{field}: ")
    assert any(d["field"] == field and words in d["message"] for d in error["details"])
    assert not any(raw in made.text for raw in RAW)
    # The same on an update, and nothing changes.
    good = _create(client, cast, email(), email(delay="P1D"))
    assert good.status_code == 201
    patched = client.patch(
        f"/api/v1/sequences/{good.json['id']}",
        json={"steps": [email(), email(**step)]},
        headers=cast.auth(),
    )
    assert patched.status_code == 422 and patched.json["error"]["field"] == field
    kept = client.get(f"/api/v1/sequences/{good.json['id']}", headers=cast.auth()).json
    assert kept["steps"][1]["delay"] == "P1D"


@pytest.mark.parametrize(
    ("interval", "saved", "words"),
    [
        ("30 days", "P30D", None),
        ("P2W", "P2W", None),
        ("2 business days", None, "business days make no sense there"),
        ("P999999999D", None, "at most 10 years"),
        ("11000 days", None, "at most 10 years"),
        (30, None, 'e.g. "30 days"'),
    ],
)
def test_the_reenroll_interval_takes_the_same_words_and_bound_in_calendar_time(
    client: Any, cast: Cast, interval: object, saved: str | None, words: str | None
) -> None:
    made = _create(client, cast, email(), settings={"min_reenroll_interval": interval})
    if saved is not None:
        assert made.status_code == 201, made.json
        assert made.json["settings"]["min_reenroll_interval"] == saved
        return
    assert made.status_code == 422
    assert made.json["error"]["field"] == "settings.min_reenroll_interval"
    assert words is not None and words in made.json["error"]["message"]


def test_sequence_import_with_a_bad_delay_prints_one_error_and_saves_nothing(
    rt: runtime.Runtime, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: Too long\nsteps:\n  - subject: Hi\n    body_html: <p>Hi</p>\n"
        "  - subject: Later\n    body_html: <p>Later</p>\n    delay: P999999999D\n"
    )
    env = make_env(rt.settings.database_url, rt.settings.smtp.port, tmp_path)
    result = CliRunner().invoke(main, ["sequence", "import", str(bad)], env=env)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.strip()]
    assert errors == [f"Error: error: steps[1].delay: {TOO_LONG}"]
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Sequence)) == 0
    words = tmp_path / "words.yaml"
    words.write_text(
        "name: In words\nsteps:\n  - subject: Hi\n    body_html: <p>Hi</p>\n"
        "  - subject: Later\n    body_html: <p>Later</p>\n    delay: 3 business days\n"
    )
    result = CliRunner().invoke(main, ["sequence", "import", str(words)], env=env)
    assert result.exit_code == 0, result.output
    with rt.sessions() as s:
        [sequence] = s.scalars(select(Sequence))
        assert [(st.delay, st.business_days) for st in sequence.steps] == [
            ("PT0S", False),
            ("P3D", True),
        ]


def test_an_old_row_with_a_huge_delay_is_refused_at_the_door_with_bad_delay(
    rt: runtime.Runtime, client: Any, cast: Cast
) -> None:
    sequence = make_sequence(rt, [email(), email(delay="P2D")])
    _corrupt(rt, sequence, 1, "P999999999D")
    prospect = make_prospect(rt, "zoe@acme.example", first_name="Zoë")
    refused = client.post(
        "/api/v1/enrollments",
        json={"prospect_id": prospect, "sequence_id": sequence},
        headers=cast.auth(),
    )
    assert refused.status_code == 422, refused.json
    assert not any(raw in refused.text for raw in RAW)
    message = refused.json["error"]["message"]
    assert "step 2" in message and "longer than 10 years" in message
    assert "give step 2 a delay of at most 10 years" in message
    bulk = client.post(
        "/api/v1/enrollments/bulk",
        json={"sequence_id": sequence, "prospect_ids": [prospect], "dry_run": True},
        headers=cast.auth(),
    )
    assert bulk.status_code == 200, bulk.json
    assert "bad_delay" in bulk.text and not any(raw in bulk.text for raw in RAW)
    # The state machine's own last word says the same (a path that skips the check).
    _corrupt(rt, sequence, 0, "P999999999D")
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Enrollment)) == 0
        found = s.get(Sequence, sequence)
        person = s.get(Prospect, prospect)
        assert found is not None and person is not None
        with pytest.raises(EnrollmentRefused, match="at most 10 years"):
            enroll(s, person, found, rt.clock.now())


def _tick_one_batch(rt: runtime.Runtime) -> list[str]:
    """One scheduler tick, everything due sent in one batch (the bulk send path)."""
    due: list[tuple[int, int]] = []
    tick(rt, lambda e, p: due.append((e, p)), limit=1000)
    return run_batch(rt, due) if due else []


@pytest.mark.parametrize("path", ["bulk", "per_event"])
def test_the_scheduler_fails_an_old_huge_delay_with_bad_delay_and_sends_the_others(
    rt: runtime.Runtime, client: Any, cast: Cast, smtp_sink: Sink, path: str
) -> None:
    stuck = make_sequence(rt, [email(), email(delay="P2D")], name="Stuck")
    fine = make_sequence(rt, [email(), email(delay="P2D")], name="Fine")
    people = [make_prospect(rt, f"p{i}@acme.example", first_name=f"P{i}") for i in range(3)]
    [first, second] = enroll_ids(rt, people[:2], stuck)
    [other] = enroll_ids(rt, people[2:], fine)
    _corrupt(rt, stuck, 1, "P999999999D")  # stored before the bound, after enrolling
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
    going = enrollment(rt, other)
    assert going.status == EnrollmentStatus.ACTIVE and going.next_due_at is not None
    attention = [e for e in events(rt, "attention") if e.enrollment_id in (first, second)]
    assert [e.data["kind"] for e in attention] == ["bad_delay", "bad_delay"]
    assert _tick_one_batch(rt) == []  # nothing stuck in a loop
    listed = client.get("/api/v1/attention", headers=cast.auth())
    assert listed.status_code == 200
    items = {i["enrollment_id"]: i for i in listed.json["items"]}
    assert set(items) == {first, second}
    item = items[first]
    assert item["kind"] == "bad_delay" and item["step"] == 2
    assert item["actions"] == ["open_template", "retry", "skip"]
    assert "at most 10 years" in item["fix"]
    assert not any(raw in listed.text for raw in RAW)
    if path == "bulk":  # the rep's dashboard shows it with the way to the fix
        with rt.sessions.begin() as s:
            s.execute(update(User).where(User.id == cast.rep_id).values(password_hash=CHEAP_HASH))
        login(client, "rita@example.com")
        page = client.get("/")
        assert page.status_code == 200 and "Needs attention" in page.text
        assert "Step 2 was not scheduled" in page.text and "Open the sequence" in page.text
        assert not any(raw in page.text for raw in RAW)
    # Retry is refused until the delay is fixed; then the step goes out.
    early = client.post(f"/api/v1/enrollments/{first}/retry", headers=cast.auth())
    assert early.status_code == 409 and "longer than 10 years" in early.json["error"]["message"]
    _corrupt(rt, stuck, 1, "P2D")
    retried = client.post(f"/api/v1/enrollments/{first}/retry", headers=cast.auth())
    assert retried.status_code == 200 and retried.json["status"] == "active"


def test_lead_acceptance_fails_an_old_huge_first_delay_instead_of_crashing(
    session: Session, rt: runtime.Runtime
) -> None:
    lead, owner, sequence, held = held_for_acceptance(session, rt)
    session.execute(update(Step).where(Step.sequence_id == sequence.id).values(delay="P999999999D"))
    session.commit()
    session.expire_all()
    accept(session, owner, lead.id, rt.clock.now())
    session.commit()
    session.refresh(held)
    assert held.status == EnrollmentStatus.FAILED and held.next_due_at is None
    kinds = session.scalars(select(Event.data).where(Event.type == "attention")).all()
    assert [k["kind"] for k in kinds] == ["bad_delay"]


def test_a_huge_recontact_days_is_clamped_to_the_bound(
    rt: runtime.Runtime, client: Any, cast: Cast
) -> None:
    with rt.sessions.begin() as s:
        s.execute(update(Team).values(recontact_days=2**31 - 1))
    sequence = make_sequence(rt, [email()])
    prospect = make_prospect(rt, "zoe@acme.example")
    with rt.sessions.begin() as s:
        from sequences.enroll_checks import recontact_days

        assert recontact_days(s, default_team(s).id) == 3650
    enrolled = client.post(
        "/api/v1/enrollments",
        json={"prospect_id": prospect, "sequence_id": sequence},
        headers=cast.auth(),
    )
    assert enrolled.status_code == 201, enrolled.json
