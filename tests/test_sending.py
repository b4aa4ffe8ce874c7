"""The worker's send: content, headers, threading, variants, SMTP answers, re-checks, crash recovery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from sequences import runtime
from sequences.actors import send_step
from sequences.clock import FrozenClock
from sequences.config import load_settings
from sequences.db import session_scope
from sequences.enrollment import stop_prospect
from sequences.models import Enrollment, Message, Prospect
from sequences.sending.batch import RetryLater, run_step
from sequences.sending.sink import store_message
from sequences.tracking.tokens import new_token_id

from .conftest import Cast, Sink, make_env
from .sending_helpers import (
    drain,
    email,
    enroll_ids,
    enrollment,
    events,
    make_mailbox,
    make_prospect,
    make_sequence,
    messages,
)


def test_missing_field_without_fallback_fails_the_enrollment_not_half_an_email(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    sequence = make_sequence(
        rt,
        [
            email(
                subject="Before {{ fields.deadline }}",
                body_html="<p>Hi {{ first_name | default('there') }}, by {{ fields.deadline }}</p>",
            )
        ],
    )
    lacking, having = (
        make_prospect(rt, "no-deadline@acme.example"),
        make_prospect(rt, "deadline@acme.example", fields={"deadline": "March"}),
    )
    [failed, sent] = enroll_ids(rt, [lacking, having], sequence)
    outcomes = sorted(drain(rt))
    assert outcomes[0].startswith("failed: missing_field (E-") and outcomes[1] == "sent"

    gone = enrollment(rt, failed)
    assert gone.status == "failed"
    # In a rep's words, with the fix and the log's error id; never the template engine's text.
    assert (gone.reason or "").startswith(
        "Step 1 was not sent: no-deadline@acme.example has no `deadline` any more; "
        "add `deadline` to the prospect"
    )
    assert "dict object" not in (gone.reason or "") and "(error E-" in (gone.reason or "")
    assert enrollment(rt, sent).status == "finished"
    [stored] = smtp_sink.messages()
    assert stored.envelope_to == ["deadline@acme.example"]
    html = stored.message.get_body(("html",)).get_content()
    assert "Hi there, by March" in html  # the fallback where a field has one
    failed_message = next(m for m in messages(rt) if m.enrollment_id == failed)
    assert failed_message.status == "failed"
    assert [e.data["to"] for e in events(rt, "status_change") if e.enrollment_id == failed] == [
        "failed"
    ]


def test_follow_up_replies_in_the_thread_of_the_first_email(
    rt: runtime.Runtime, clock: FrozenClock, smtp_sink: Sink
) -> None:
    sequence = make_sequence(
        rt,
        [
            email(subject="A question for {{ company }}"),
            email(delay="P2D", subject="ignored when threaded", thread_with=0),
            email(delay="P2D", subject="A new thread"),
            email(delay="P2D", subject="ignored", thread_with=0),
        ],
    )
    enroll_ids(rt, [make_prospect(rt, "zoe@initech.example", company="Initech")], sequence)
    for _ in range(4):
        assert drain(rt) == ["sent"]
        clock.advance(days=2)
    first, second, third, fourth = (s.message for s in smtp_sink.messages())
    assert str(first["Subject"]) == "A question for Initech"
    assert str(second["Subject"]) == "Re: A question for Initech"
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["References"] == first["Message-ID"]
    assert str(third["Subject"]) == "A new thread" and third["In-Reply-To"] is None
    assert str(fourth["Subject"]) == "Re: A question for Initech"
    assert fourth["In-Reply-To"] == first["Message-ID"]
    recorded = messages(rt)
    assert recorded[1].in_reply_to == first["Message-ID"]


def test_ab_variants_split_evenly_and_are_recorded_on_the_message(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    sequence = make_sequence(
        rt,
        [
            email(
                subject="Subject A",
                options={"variants": [{"subject": "Subject B", "body_html": "<p>Body B</p>"}]},
            )
        ],
    )
    enroll_ids(rt, [make_prospect(rt, f"p{i}@ab.example") for i in range(20)], sequence)
    assert drain(rt).count("sent") == 20
    sent = messages(rt)
    assert sorted(m.variant or "" for m in sent).count("A") == 10
    assert sorted(m.variant or "" for m in sent).count("B") == 10
    by_subject = {m.subject: m.variant for m in sent}
    assert by_subject == {"Subject A": "A", "Subject B": "B"}
    for stored in smtp_sink.messages():
        if str(stored.message["Subject"]) == "Subject B":
            assert "Body B" in stored.message.get_body(("html",)).get_content()


def test_emails_are_well_formed_utf8_with_the_mailboxs_name_and_reply_to(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    mailbox = make_mailbox(
        rt,
        from_name="Zo\u00eb from Acm\u00e9",
        from_email="zoe@acme.example",
        reply_to="replies@acme.example",
    )
    sequence = make_sequence(
        rt,
        [
            email(
                subject="\u00a1Hola {{ first_name }}! \U0001f680",
                body_html="<p>Gr\u00fc\u00dfe, " + "x" * 2000 + "</p>",
            )
        ],
        mailbox_id=mailbox,
    )
    enroll_ids(rt, [make_prospect(rt, "jos\u00e9@example.com", first_name="Jos\u00e9")], sequence)
    assert drain(rt) == ["sent"]
    [stored] = smtp_sink.messages()
    msg = stored.message
    assert str(msg["From"]) == "Zo\u00eb from Acm\u00e9 <zoe@acme.example>"
    assert str(msg["Reply-To"]) == "replies@acme.example"
    assert str(msg["Subject"]) == "\u00a1Hola Jos\u00e9! \U0001f680"
    assert msg["Date"] and msg["Message-ID"].endswith("@mail.example.test>")
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    assert text.get_content_charset() == "utf-8"
    assert "Gr\u00fc\u00dfe" in text.get_content()  # derived from the HTML
    raw = stored.path.read_bytes()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert messages(rt)[0].mailbox_id == mailbox


def test_a_line_break_in_any_header_field_stops_the_send(
    rt: runtime.Runtime, smtp_sink: Sink, client: Any, cast: Cast
) -> None:
    bad_name = make_mailbox(rt, from_name="Rita\r\nBcc: victim@example.com")
    sequence = make_sequence(rt, [email()], mailbox_id=bad_name)
    [stopped] = enroll_ids(rt, [make_prospect(rt, "a@acme.example")], sequence)
    [outcome] = drain(rt)
    assert outcome.startswith("failed: bad_value (E-")
    assert enrollment(rt, stopped).status == "failed"
    assert smtp_sink.messages() == []

    # A subject template's newlines never reach the header: a subject is one line.
    folded = make_sequence(rt, [email(subject="Hi\n{{ first_name }}\r\nBcc: victim@example.com")])
    enroll_ids(rt, [make_prospect(rt, "b@acme.example", first_name="Bo")], folded)
    assert drain(rt) == ["sent"]
    [stored] = smtp_sink.messages()
    assert str(stored.message["Subject"]) == "Hi Bo Bcc: victim@example.com"
    assert stored.message["Bcc"] is None and stored.envelope_to == ["b@acme.example"]

    response = client.post(
        "/api/v1/prospects",
        json={"email": "c@acme.example", "first_name": "C\r\nBcc: victim@example.com"},
        headers=cast.auth(),
    )
    assert response.status_code == 422 and response.json["error"]["field"] == "first_name"


class PickyHandler:
    """An SMTP server that answers chosen recipients with an error and stores the rest."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.answers: dict[str, str] = {}
        self.on_rcpt: Any = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.on_rcpt is not None:
            self.on_rcpt(address)
        answer = self.answers.get(address)
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        store_message(self.directory, envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        return "250 OK: stored"


@pytest.fixture
def picky(
    database_url: str, tmp_path: Path, clock: FrozenClock
) -> Iterator[tuple[runtime.Runtime, PickyHandler, Sink]]:
    from sequences.sending.sink import free_port

    port = free_port()
    handler = PickyHandler(tmp_path / "picky")
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    built = runtime.build(load_settings(make_env(database_url, port, tmp_path)), clock)
    previous = runtime.install(built)
    yield built, handler, Sink("127.0.0.1", port, handler.directory)
    runtime.install(previous)
    built.dispose()
    controller.stop()


def test_a_4xx_answer_is_retried_later_and_sends_once(
    picky: tuple[runtime.Runtime, PickyHandler, Sink],
) -> None:
    rt, handler, sink = picky
    handler.answers["busy@acme.example"] = "450 4.2.1 Mailbox busy, try later"
    sequence = make_sequence(rt, [email()])
    [enrolled] = enroll_ids(rt, [make_prospect(rt, "busy@acme.example")], sequence)
    with pytest.raises(RetryLater, match=r"450 4\.2\.1 Mailbox busy"):
        run_step(rt, enrolled, 0)
    [message] = messages(rt)
    assert message.status == "claimed" and message.error and "450" in message.error
    assert enrollment(rt, enrolled).status == "active"
    # Dramatiq retries the actor with exponential backoff (RetryLater is an ordinary error).
    assert send_step.options["max_retries"] >= 5 and send_step.options["min_backoff"] >= 1000

    del handler.answers["busy@acme.example"]
    assert run_step(rt, enrolled, 0) == "sent"
    assert run_step(rt, enrolled, 0) == "not active (finished)"
    assert len(sink.messages()) == 1
    assert messages(rt)[0].attempts == 2


def test_a_5_1_x_answer_marks_the_address_bounced_and_stops_its_enrollments(
    picky: tuple[runtime.Runtime, PickyHandler, Sink],
) -> None:
    rt, handler, sink = picky
    handler.answers["nobody@acme.example"] = "550 5.1.1 <nobody@acme.example>: User unknown"
    prospect = make_prospect(rt, "nobody@acme.example")
    first = make_sequence(rt, [email()])
    other = make_sequence(rt, [email(delay="P3D")], name="Other")
    [enrolled] = enroll_ids(rt, [prospect], first)
    [elsewhere] = enroll_ids(rt, [prospect], other)
    assert run_step(rt, enrolled, 0) == "failed: SMTP 550"
    [message] = messages(rt)
    assert message.status == "failed"
    assert (message.error or "").startswith("SMTP 550 5.1.1 <nobody@acme.example>: User unknown")
    assert enrollment(rt, enrolled).status == "bounced"
    assert enrollment(rt, elsewhere).status == "bounced"
    with rt.sessions() as s:
        assert s.get(Prospect, prospect).status == "bounced"  # type: ignore[union-attr]
    [bounce] = events(rt, "bounce")
    assert bounce.data["permanent"] is True and sink.messages() == []


def test_other_5xx_answers_fail_the_enrollment_with_the_reply_and_keep_the_address(
    picky: tuple[runtime.Runtime, PickyHandler, Sink],
) -> None:
    rt, handler, _ = picky
    handler.answers["policy@acme.example"] = "554 5.7.1 Message rejected by policy"
    prospect = make_prospect(rt, "policy@acme.example")
    [enrolled] = enroll_ids(rt, [prospect], make_sequence(rt, [email()]))
    assert run_step(rt, enrolled, 0) == "failed: SMTP 554"
    stopped = enrollment(rt, enrolled)
    assert stopped.status == "failed"
    assert (stopped.reason or "").startswith(
        "Step 1 was not sent: the receiving server refused it (SMTP 554); "
        "check the address with the prospect, or skip this step (error E-"
    )
    with rt.sessions() as s:
        assert s.get(Prospect, prospect).status == "active"  # type: ignore[union-attr]


def test_a_reply_recorded_between_queueing_and_data_cancels_the_send(
    picky: tuple[runtime.Runtime, PickyHandler, Sink],
) -> None:
    rt, handler, sink = picky
    prospect = make_prospect(rt, "quick@acme.example")
    [enrolled] = enroll_ids(rt, [prospect], make_sequence(rt, [email(), email(delay="P1D")]))

    def reply_arrives(address: str) -> None:
        # The prospect's reply is processed while our worker is already talking SMTP.
        with session_scope(rt.sessions) as s:
            stop_prospect(s, prospect, "replied", rt.clock.now(), "reply received")

    handler.on_rcpt = reply_arrives
    assert run_step(rt, enrolled, 0) == "cancelled: enrollment stopped"
    assert sink.messages() == []
    [message] = messages(rt)
    assert message.status == "cancelled"
    assert enrollment(rt, enrolled).status == "replied"


def test_mailbox_limits_roll_sends_to_the_next_opening(
    rt: runtime.Runtime, clock: FrozenClock, smtp_sink: Sink
) -> None:
    mailbox = make_mailbox(rt, daily_limit=3, hourly_limit=2)
    window = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00"}
    sequence = make_sequence(rt, [email()], mailbox_id=mailbox, send_window=window)
    enrolled = enroll_ids(
        rt, [make_prospect(rt, f"p{i}@limits.example") for i in range(5)], sequence
    )
    # Monday 09:00: two this hour, then the rest roll to 10:00.
    outcomes = drain(rt)
    assert outcomes.count("sent") == 2
    assert sum(o.startswith("rolled to 2026-01-05T10:00:00") for o in outcomes) == 3
    assert "over hourly limit 2" in outcomes[-1]
    clock.advance(hours=1)
    outcomes = drain(rt)
    # One more reaches the daily limit of 3; the last two wait for Tuesday's window opening.
    assert outcomes.count("sent") == 1
    assert sum(o.startswith("rolled to 2026-01-06T08:00:00") for o in outcomes) == 2
    clock.set(clock.now().replace(day=6, hour=8))
    assert drain(rt).count("sent") == 2
    assert len(smtp_sink.messages()) == 5
    assert {enrollment(rt, e).status for e in enrolled} == {"finished"}


def test_minimum_gap_between_sends_of_one_mailbox(
    rt: runtime.Runtime, clock: FrozenClock, smtp_sink: Sink
) -> None:
    mailbox = make_mailbox(rt, min_gap_seconds=90)
    sequence = make_sequence(rt, [email()], mailbox_id=mailbox)
    enroll_ids(rt, [make_prospect(rt, f"g{i}@gap.example") for i in range(3)], sequence)
    outcomes = drain(rt)
    assert outcomes.count("sent") == 1 and "over minimum gap 90s" in outcomes[-1]
    clock.advance(seconds=90)
    assert drain(rt).count("sent") == 1
    clock.advance(seconds=89)
    assert drain(rt).count("sent") == 0
    clock.advance(seconds=1)
    assert drain(rt).count("sent") == 1


def test_warm_up_ramps_the_daily_limit(rt: runtime.Runtime) -> None:
    from sequences.models import Mailbox
    from sequences.sending.limits import daily_limit

    mailbox_id = make_mailbox(rt, daily_limit=50, warmup_per_day=20)
    with rt.sessions() as s:
        mailbox = s.get(Mailbox, mailbox_id)
        assert mailbox is not None
        now = rt.clock.now()
        assert [daily_limit(mailbox, now + timedelta(days=d)) for d in range(4)] == [20, 40, 50, 50]
        mailbox.warmup_per_day = None
        assert daily_limit(mailbox, now) == 50


def test_limits_hold_across_connections_taking_slots_at_once(rt: runtime.Runtime) -> None:
    """Twelve workers, each with its own database connection, race for 30 slots: 30 are given."""
    import threading

    from sequences.sending.limits import reserve

    mailbox = make_mailbox(rt, daily_limit=30)
    taken: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def worker() -> None:
        start.wait()
        for _ in range(5):
            with session_scope(rt.sessions) as s:
                slot = reserve(s, mailbox, rt.clock.now())
            with lock:
                taken.append(slot.taken)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 60 and taken.count(True) == 30


def _take_slots(url: str, mailbox_id: int, now_iso: str, tries: int) -> int:
    """In a separate process: try to take `tries` slots; return how many were given."""
    from datetime import datetime

    from sequences.db import make_engine, make_sessionmaker
    from sequences.sending.limits import reserve

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    given = 0
    for _ in range(tries):
        with session_scope(sessions) as s:
            given += reserve(s, mailbox_id, datetime.fromisoformat(now_iso)).taken
    engine.dispose()
    return given


def test_limits_hold_across_worker_processes(rt: runtime.Runtime) -> None:
    """Four processes race for an hourly limit of 25: 25 slots in all, not 25 each."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    mailbox = make_mailbox(rt, daily_limit=1000, hourly_limit=25)
    now = rt.clock.now().isoformat()
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        given = list(
            pool.map(
                _take_slots, [rt.settings.database_url] * 4, [mailbox] * 4, [now] * 4, [15] * 4
            )
        )
    assert sum(given) == 25


def test_bounce_rate_over_the_threshold_pauses_the_mailbox_and_emails_its_owner(
    picky: tuple[runtime.Runtime, PickyHandler, Sink], cast: Any
) -> None:
    rt, handler, sink = picky
    mailbox = make_mailbox(rt, bounce_pause_rate=0.1, owner_id=cast.rep_id)
    sequence = make_sequence(rt, [email()], mailbox_id=mailbox)
    good = [make_prospect(rt, f"ok{i}@acme.example") for i in range(17)]
    bad = [make_prospect(rt, f"bad{i}@acme.example") for i in range(3)]
    for i in range(3):
        handler.answers[f"bad{i}@acme.example"] = "550 5.1.1 User unknown"
    for e in enroll_ids(rt, good + bad, sequence):
        run_step(rt, e, 0)
    [paused] = events(rt, "mailbox_paused")
    assert paused.data["owner_id"] == cast.rep_id and paused.data["bounced"] == 3
    assert "bounce rate 15.0% over the last 20 sends" in paused.data["reason"]
    [later] = enroll_ids(rt, [make_prospect(rt, "later@acme.example")], sequence)
    outcome = run_step(rt, later, 0)
    assert outcome.startswith("rolled to") and "mailbox paused" in outcome
    # 17 emails to prospects, and the owner's notice.
    stored = sink.messages()
    assert len(stored) == 18
    notice = stored[-1]
    assert notice.envelope_to == ["rita@example.com"]
    assert str(notice.message["Subject"]) == "Sending paused for rita@sales.example"
    assert "bounce rate 15.0%" in notice.message.get_body(("plain",)).get_content()


def _stuck_in_sending(rt: runtime.Runtime) -> tuple[int, str]:
    """A send whose worker died during DATA: the message row says "sending", its lease is over."""
    sequence = make_sequence(rt, [email(), email(delay="P1D")])
    [enrolled] = enroll_ids(rt, [make_prospect(rt, "crash@acme.example")], sequence)
    message_id = "<stuck-0001@mail.example.test>"
    with rt.sessions.begin() as s:
        s.add(
            Message(
                token_id=new_token_id(),
                prospect_id=s.get(Enrollment, enrolled).prospect_id,  # type: ignore[union-attr]
                enrollment_id=enrolled,
                step_position=0,
                message_id=message_id,
                to_email="crash@acme.example",
                status="sending",
                attempts=1,
                lease_until=rt.clock.now() - timedelta(seconds=1),
                created_at=rt.clock.now(),
            )
        )
    return enrolled, message_id


def test_a_send_the_server_accepted_before_the_crash_is_not_sent_again(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    enrolled, message_id = _stuck_in_sending(rt)
    asked: list[str] = []
    outcome = run_step(rt, enrolled, 0, probe=lambda mid: asked.append(mid) or True)
    assert outcome == "sent (recovered by probe)" and asked == [message_id]
    assert smtp_sink.messages() == []
    assert enrollment(rt, enrolled).current_step == 1


def test_a_send_that_never_reached_the_server_is_sent_once_with_the_same_message_id(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    enrolled, message_id = _stuck_in_sending(rt)
    assert run_step(rt, enrolled, 0, probe=lambda mid: False) == "sent"
    [stored] = smtp_sink.messages()
    assert stored.message["Message-ID"] == message_id
    assert run_step(rt, enrolled, 0, probe=lambda mid: False) == "stale (step already done)"


def test_an_undecidable_send_is_flagged_for_review_never_resent(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    enrolled, _ = _stuck_in_sending(rt)
    assert run_step(rt, enrolled, 0, probe=None) == "unknown: flagged for review"
    flagged = enrollment(rt, enrolled)
    assert flagged.needs_review and flagged.next_due_at is None
    assert "may or may not have reached" in (flagged.reason or "")
    assert run_step(rt, enrolled, 0, probe=None) == "not due"
    assert smtp_sink.messages() == []
    with rt.sessions() as s:
        assert s.scalar(select(Message.status)) == "unknown"


def test_an_unsubscribe_recorded_between_queueing_and_data_cancels_the_send(
    picky: tuple[runtime.Runtime, PickyHandler, Sink],
) -> None:
    from sequences.enrollment import mark_prospect

    rt, handler, sink = picky
    prospect = make_prospect(rt, "leaving@acme.example")
    [enrolled] = enroll_ids(rt, [prospect], make_sequence(rt, [email()]))

    def unsubscribes(address: str) -> None:
        # Only the address is marked (the enrollment is still active): the check still holds.
        with session_scope(rt.sessions) as s:
            mark_prospect(s, prospect, "unsubscribed", rt.clock.now())

    handler.on_rcpt = unsubscribes
    assert run_step(rt, enrolled, 0) == "cancelled: enrollment stopped"
    assert sink.messages() == []
    assert messages(rt)[0].status == "cancelled"


def test_sent_records_are_the_same_whether_or_not_a_webhook_wants_sent_events(
    rt: runtime.Runtime, smtp_sink: Sink, cast: Cast
) -> None:
    """Without a "sent" webhook a batch writes its records with bulk statements; with one,
    through record() and advance() (the outbox needs the ORM events). Same rows either way."""
    from sequences.models import Event, Webhook, WebhookDelivery
    from sequences.workspace.accounts import default_team

    two_steps = make_sequence(rt, [email(), email(delay="P2D")], name="Two steps")
    one_step = make_sequence(rt, [email()], name="One step")

    def send_pair(tag: str) -> list[int]:
        first = make_prospect(rt, f"{tag}1@acme.example", first_name="Ana")
        second = make_prospect(rt, f"{tag}2@acme.example", first_name="Bo")
        ids = enroll_ids(rt, [first], two_steps) + enroll_ids(rt, [second], one_step)
        assert drain(rt) == ["sent", "sent"]
        return ids

    def recorded(enrollment_ids: list[int]) -> list[Any]:
        out: list[Any] = []
        with rt.sessions() as s:
            for enrollment_id in enrollment_ids:
                e = s.get(Enrollment, enrollment_id)
                assert e is not None
                out.append((e.status, e.current_step, e.next_due_at, e.reason, e.enqueued_at))
                out.append(
                    [
                        (ev.type, ev.at, ev.data, ev.message_id is not None)
                        for ev in s.scalars(
                            select(Event)
                            .where(Event.enrollment_id == enrollment_id, Event.type != "enrolled")
                            .order_by(Event.id)
                        )
                    ]
                )
        return out

    bulk = recorded(send_pair("bulk"))
    with rt.sessions.begin() as s:
        team = default_team(s)
        s.add(Webhook(team_id=team.id, user_id=cast.manager_id, url="https://h.example/",
                      events=["sent"], secret="s" * 32))  # fmt: skip
    through_orm = recorded(send_pair("orm"))
    assert through_orm == bulk
    assert bulk[1] == [("sent", rt.clock.now(), {"subject": "Hello Ana", "step": 0}, True)]
    assert [t for t, *_ in bulk[3]] == ["sent", "status_change"]
    with rt.sessions() as s:
        assert len(s.scalars(select(WebhookDelivery)).all()) == 2  # the two ORM-path sends


@pytest.mark.parametrize("driver", ["psycopg", "another"])
def test_the_sending_mark_checks_and_marks_on_every_driver_path(
    rt: runtime.Runtime, smtp_sink: Sink, monkeypatch: pytest.MonkeyPatch, driver: str
) -> None:
    """The mark goes to psycopg directly on PostgreSQL, through SQLAlchemy otherwise: both send
    an active enrollment's step and refuse one stopped after the claim."""
    if rt.engine.dialect.name == "postgresql":
        monkeypatch.setattr(rt.engine.dialect, "driver", driver)
    elif driver != "psycopg":
        pytest.skip("one path on SQLite")
    sequence = make_sequence(rt, [email()])
    [going, stopped] = enroll_ids(
        rt,
        [make_prospect(rt, "going@acme.example"), make_prospect(rt, "stopped@acme.example")],
        sequence,
    )
    send = rt.transport.send

    def stop_one_before_data(payload: bytes, sender: str, to: str, before_data: Any) -> Any:
        if to == "stopped@acme.example":
            with rt.sessions.begin() as s:
                stop_prospect(s, enrollment(rt, stopped).prospect_id, "replied", rt.clock.now())
        return send(payload, sender, to, before_data)

    monkeypatch.setattr(rt.transport, "send", stop_one_before_data)
    assert sorted(drain(rt)) == ["cancelled: enrollment stopped", "sent"]
    assert [m.envelope_to for m in smtp_sink.messages()] == [["going@acme.example"]]
    assert {m.enrollment_id: m.status for m in messages(rt)} == {
        going: "sent",
        stopped: "cancelled",
    }
    with rt.engine.connect() as conn:  # the connection went back to the pool as it came
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
