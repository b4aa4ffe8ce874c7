"""Inbound mail, decided and acted on: replies stop, auto-replies pause, bounces suppress."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from sqlalchemy import func, select

from sequences import runtime
from sequences.clock import FrozenClock
from sequences.inbound.ingest import RETRY_AFTER, receive
from sequences.models import (
    Enrollment,
    Event,
    InboundMessage,
    Message,
    MessageStatus,
    Prospect,
    Sequence,
    Step,
)
from sequences.scheduler import resume_paused
from sequences.sending.batch import run_step
from sequences.sending.compose import TrackingUrls
from sequences.workspace.accounts import create_user, default_team

OUR_MESSAGE_ID = "<seed.0001@mail.example.test>"
TOKEN_ID = "00112233445566778899aabb"


@dataclass
class World:
    """A rep, prospect Zoë in a two-step sequence whose first email was sent."""

    rep_id: int
    prospect_id: int
    enrollment_id: int
    message_pk: int
    bounce: str
    reply: str
    unsubscribe: str

    def placeholders(self) -> dict[str, str]:
        return {"{{BOUNCE}}": self.bounce, "{{REPLY}}": self.reply, "{{UNSUB}}": self.unsubscribe}

    def fill(self, raw: bytes) -> bytes:
        for key, value in self.placeholders().items():
            raw = raw.replace(key.encode(), value.encode())
        return raw


def seed(rt: runtime.Runtime, email: str = "zoe@prospect.example") -> World:
    now = rt.clock.now()
    with rt.sessions.begin() as s:
        team = default_team(s)
        rep_user = create_user(s, "rita.seed@example.com", name="Rita Rep", team=team)
        rep = rep_user.id
        prospect = Prospect(
            team_id=team.id, owner_id=rep, email=email, first_name="Zoë", company="Initech"
        )
        sequence = Sequence(team_id=team.id, owner_id=rep, name="Outreach")
        sequence.steps = [
            Step(position=0, type="email", delay="PT0S", subject="Hello", body_html="<p>Hi</p>"),
            Step(position=1, type="email", delay="P3D", subject="Bump", body_html="<p>Bump</p>"),
        ]
        s.add_all([prospect, sequence])
        s.flush()
        enrollment = Enrollment(
            prospect_id=prospect.id,
            sequence_id=sequence.id,
            status="active",
            current_step=1,
            next_due_at=now + timedelta(days=3),
            created_at=now,
            updated_at=now,
        )
        s.add(enrollment)
        s.flush()
        message = Message(
            token_id=TOKEN_ID,
            direction="out",
            prospect_id=prospect.id,
            enrollment_id=enrollment.id,
            step_position=0,
            message_id=OUR_MESSAGE_ID,
            subject="Hello",
            to_email=email,
            status=MessageStatus.SENT,
            sent_at=now,
            created_at=now,
        )
        s.add(message)
        s.flush()
        urls = TrackingUrls(rt.settings.base_url, rt.settings.secret_keys, rt.settings.mail_domain)
        return World(
            rep_id=rep,
            prospect_id=prospect.id,
            enrollment_id=enrollment.id,
            message_pk=message.id,
            bounce=urls.bounce_address(TOKEN_ID),
            reply=urls.reply_address(TOKEN_ID),
            unsubscribe=urls.unsubscribe_mailto(TOKEN_ID).removeprefix("mailto:").split("?", 1)[0],
        )


def mail(
    body: str,
    *,
    sender: str = "Zoe Walker <zoe@prospect.example>",
    subject: str = "Re: Hello",
    message_id: str | None = "<r1@prospect.example>",
    in_reply_to: str | None = OUR_MESSAGE_ID,
    **headers: str,
) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = "rita@example.com"
    msg["Subject"] = subject
    if message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def enrollment_of(rt: runtime.Runtime, world: World) -> Enrollment:
    with rt.sessions() as s:
        found = s.get(Enrollment, world.enrollment_id)
        assert found is not None
        return found


def prospect_of(rt: runtime.Runtime, world: World) -> Prospect:
    with rt.sessions() as s:
        found = s.get(Prospect, world.prospect_id)
        assert found is not None
        return found


def events(rt: runtime.Runtime, world: World, type_: str) -> list[Event]:
    with rt.sessions() as s:
        return list(
            s.scalars(
                select(Event)
                .where(Event.prospect_id == world.prospect_id, Event.type == type_)
                .order_by(Event.id)
            )
        )


def test_reply_stops_every_live_enrollment_and_notifies_the_owner(rt: runtime.Runtime) -> None:
    world = seed(rt)
    body = "Yes, let's talk Tuesday.\n\nOn Mon, Jan 5, 2026 at 9:00 AM Rita wrote:\n> Hi Zoe\n"
    outcome = receive(rt, mail(body), source="api")
    assert outcome.verdict == "reply"
    assert outcome.prospect_id == world.prospect_id
    assert outcome.enrollment_ids == [world.enrollment_id]
    assert enrollment_of(rt, world).status == "replied"
    assert prospect_of(rt, world).status == "replied"
    [reply] = events(rt, world, "reply")
    assert reply.data["text"] == "Yes, let's talk Tuesday."
    assert reply.message_id == world.message_pk
    [note] = events(rt, world, "notification")
    assert note.data["kind"] == "reply" and note.data["user_id"] == world.rep_id


def test_same_message_twice_changes_nothing_the_second_time(rt: runtime.Runtime) -> None:
    world = seed(rt)
    raw = mail("Interested!")
    first = receive(rt, raw, source="smtp")
    second = receive(rt, raw, source="imap")
    assert not first.duplicate and second.duplicate
    assert second.verdict == first.verdict == "reply"
    assert second.inbound_id == first.inbound_id
    assert len(events(rt, world, "reply")) == 1
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 1


def test_auto_reply_pauses_until_the_return_date_then_resumes(
    rt: runtime.Runtime, clock: FrozenClock
) -> None:
    world = seed(rt)
    raw = mail(
        "I am out of the office until January 12, 2026.",
        subject="Automatic reply: Hello",
        Auto_Submitted="auto-replied",
    )
    outcome = receive(rt, raw, source="api")
    assert outcome.verdict == "auto_reply"
    paused = enrollment_of(rt, world)
    assert paused.status == "paused"
    assert paused.paused_until == datetime(2026, 1, 13, tzinfo=UTC)
    with rt.sessions.begin() as s:
        assert resume_paused(s, clock.now()) == 0
    clock.set(datetime(2026, 1, 13, 0, 1, tzinfo=UTC))
    with rt.sessions.begin() as s:
        assert resume_paused(s, clock.now()) == 1
    assert enrollment_of(rt, world).status == "active"


def test_auto_reply_without_a_date_pauses_for_the_configured_days(rt: runtime.Runtime) -> None:
    world = seed(rt)
    raw = mail("Thanks, we got your mail.", X_Autoreply="yes", in_reply_to=None)
    assert receive(rt, raw, source="api").verdict == "auto_reply"
    expected = rt.clock.now() + timedelta(days=rt.settings.auto_reply_pause_days)
    assert enrollment_of(rt, world).paused_until == expected


def test_a_human_reply_after_an_auto_reply_stops_the_paused_enrollment(
    rt: runtime.Runtime,
) -> None:
    world = seed(rt)
    receive(rt, mail("Out of office.", subject="Out of Office: Hello"), source="api")
    assert enrollment_of(rt, world).status == "paused"
    receive(rt, mail("Back now - yes please!", message_id="<r2@prospect.example>"), source="api")
    assert enrollment_of(rt, world).status == "replied"


def test_permanent_bounce_suppresses_the_address_for_good(rt: runtime.Runtime) -> None:
    world = seed(rt)
    raw = mail(
        "550 5.1.1 <zoe@prospect.example>: User unknown",
        sender="MAILER-DAEMON@mx.example.com",
        subject="Undelivered Mail Returned to Sender",
        in_reply_to=None,
    )
    outcome = receive(rt, raw, source="smtp", recipients=[world.bounce])
    assert outcome.verdict == "bounce"
    assert "5.1.1" in outcome.reason
    assert enrollment_of(rt, world).status == "bounced"
    assert prospect_of(rt, world).status == "bounced"
    [bounce] = events(rt, world, "bounce")
    assert bounce.data["permanent"] is True


def test_temporary_bounces_are_counted_until_the_limit(rt: runtime.Runtime) -> None:
    world = seed(rt)
    verdicts = []
    for n in range(rt.settings.soft_bounce_limit):
        raw = mail(
            "452 4.2.2 Mailbox full",
            sender="MAILER-DAEMON@mx.example.com",
            subject="Delivery delayed",
            in_reply_to=None,
            message_id=f"<soft{n}@mx.example.com>",
        )
        verdicts.append(receive(rt, raw, source="smtp", recipients=[world.bounce]).verdict)
        if n < rt.settings.soft_bounce_limit - 1:
            assert enrollment_of(rt, world).status == "active"
    assert verdicts == ["soft_bounce"] * (rt.settings.soft_bounce_limit - 1) + ["bounce"]
    assert prospect_of(rt, world).status == "bounced"


def test_unsubscribe_words_in_a_reply_unsubscribe_the_prospect(rt: runtime.Runtime) -> None:
    world = seed(rt)
    outcome = receive(rt, mail("Please take me off your list."), source="api")
    assert outcome.verdict == "unsubscribe"
    assert prospect_of(rt, world).status == "unsubscribed"
    assert enrollment_of(rt, world).status == "unsubscribed"


def test_our_quoted_unsubscribe_footer_is_not_a_request(rt: runtime.Runtime) -> None:
    world = seed(rt)
    body = "Sounds great.\n\n> Hi Zoe\n> Not interested? Unsubscribe.\n"
    assert receive(rt, mail(body), source="api").verdict == "reply"
    assert prospect_of(rt, world).status == "replied"


def test_colleague_reply_in_the_thread_counts_for_the_prospect(rt: runtime.Runtime) -> None:
    world = seed(rt)
    raw = mail("I handle this at Initech, call me.", sender="Sam <sam@prospect.example>")
    outcome = receive(rt, raw, source="api")
    assert outcome.verdict == "reply" and "colleague" in outcome.reason
    assert outcome.prospect_id == world.prospect_id
    assert enrollment_of(rt, world).status == "replied"
    [reply] = events(rt, world, "reply")
    assert reply.data["colleague"] is True and reply.data["sender"] == "sam@prospect.example"


def test_unknown_sender_is_stored_as_unmatched(rt: runtime.Runtime) -> None:
    world = seed(rt)
    raw = mail("Hello?", sender="x@elsewhere.example", in_reply_to=None)
    outcome = receive(rt, raw, source="api")
    assert outcome.verdict == "unmatched" and outcome.prospect_id is None
    assert enrollment_of(rt, world).status == "active"
    with rt.sessions() as s:
        row = s.scalar(select(InboundMessage))
        assert row is not None and row.verdict == "unmatched" and row.raw == raw


def test_garbage_is_stored_as_unprocessable_with_a_reason(rt: runtime.Runtime) -> None:
    seed(rt)
    outcome = receive(rt, b"\x00\xff garbage \x13" * 100, source="smtp")
    assert outcome.verdict == "unprocessable" and outcome.reason
    assert receive(rt, b"\x00\xff garbage \x13" * 100, source="smtp").duplicate


def test_oversize_mail_is_unprocessable_and_not_kept(rt: runtime.Runtime) -> None:
    world = seed(rt)
    rt.settings = replace(rt.settings, inbound_max_bytes=4096)
    limit = rt.settings.inbound_max_bytes
    raw = mail("x" * 10, message_id="<big@prospect.example>") + b"y" * (limit + 1)
    outcome = receive(rt, raw, source="api")
    assert outcome.verdict == "unprocessable" and outcome.reason.startswith("oversize")
    assert enrollment_of(rt, world).status == "active"
    with rt.sessions() as s:
        row = s.scalar(select(InboundMessage))
        assert row is not None and row.raw is None and row.size == len(raw)
        assert row.dedupe_key == "<big@prospect.example>"


def test_reply_infers_an_open_of_the_answered_message(rt: runtime.Runtime) -> None:
    world = seed(rt)
    receive(rt, mail("Yes."), source="api")
    [opened] = events(rt, world, "open")
    assert opened.message_id == world.message_pk and opened.verdict == "human"
    assert opened.data["inferred_from"] == "reply"


def test_reply_pauses_colleagues_in_sequences_that_ask_for_it(rt: runtime.Runtime) -> None:
    world = seed(rt)
    now = rt.clock.now()
    with rt.sessions.begin() as s:
        zoe = s.get(Prospect, world.prospect_id)
        assert zoe is not None
        sam = Prospect(team_id=zoe.team_id, email="sam@prospect.example")
        sequence = Sequence(
            team_id=zoe.team_id, name="Company", settings={"pause_company_on_reply": True}
        )
        sequence.steps = [Step(position=0, type="email", subject="Hi", body_html="<p>Hi</p>")]
        s.add_all([sam, sequence])
        s.flush()
        colleague = Enrollment(
            prospect_id=sam.id, sequence_id=sequence.id, status="active", next_due_at=now
        )
        s.add(colleague)
        s.flush()
        colleague_id = colleague.id
    receive(rt, mail("Let's talk."), source="api")
    with rt.sessions() as s:
        paused = s.get(Enrollment, colleague_id)
        assert paused is not None and paused.status == "paused"


def _gave_up_report(world: World, status: str = "4.2.2") -> bytes:
    return (
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
        f"To: {world.bounce}\r\nSubject: Delivery Status Notification (Failure)\r\n"
        "Message-ID: <gave-up@mx.google.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThe account is over quota.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; g.example\r\n\r\n"
        f"Final-Recipient: rfc822; zoe@prospect.example\r\nAction: failed\r\nStatus: {status}\r\n"
        "\r\n--b--\r\n"
    ).encode()


def test_a_soft_bounce_the_relay_gave_up_on_is_sent_again_later(
    rt: runtime.Runtime, clock: FrozenClock, smtp_sink: Any
) -> None:
    world = seed(rt)
    outcome = receive(rt, _gave_up_report(world), source="smtp", recipients=[world.bounce])
    assert outcome.verdict == "soft_bounce" and "retried" in outcome.reason
    retrying = enrollment_of(rt, world)
    assert retrying.status == "active" and retrying.current_step == 0
    assert run_step(rt, world.enrollment_id, 0) == "not due"
    clock.advance(RETRY_AFTER)
    assert run_step(rt, world.enrollment_id, 0) == "sent"
    [again] = smtp_sink.messages()
    assert again.message["Message-ID"] == OUR_MESSAGE_ID  # the same message, a new attempt
    assert enrollment_of(rt, world).current_step == 1
    [retry] = events(rt, world, "retry_scheduled")
    assert retry.data["step"] == 0


def test_bounce_reports_count_toward_the_mailbox_bounce_rate_pause(rt: runtime.Runtime) -> None:
    """A mailbox whose mail keeps bouncing back by DSN is paused, as for SMTP-time bounces."""
    from sequences.models import Mailbox
    from sequences.sending.limits import BOUNCE_MIN_SENDS

    world = seed(rt)
    now = rt.clock.now()
    with rt.sessions.begin() as s:
        prospect = s.get(Prospect, world.prospect_id)
        assert prospect is not None
        mailbox = Mailbox(
            team_id=prospect.team_id,
            owner_id=world.rep_id,
            from_name="Rita",
            from_email="rita@example.com",
            bounce_pause_rate=0.01,
        )
        s.add(mailbox)
        s.flush()
        s.get(Message, world.message_pk).mailbox_id = mailbox.id  # type: ignore[union-attr]
        # Enough recent sends from this mailbox for a rate to mean something; one will bounce.
        for n in range(BOUNCE_MIN_SENDS):
            s.add(
                Message(
                    token_id=f"{n:024x}",
                    direction="out",
                    mailbox_id=mailbox.id,
                    message_id=f"<other{n}@mail.example.test>",
                    status=MessageStatus.SENT,
                    sent_at=now,
                    created_at=now - timedelta(minutes=1),
                )
            )
        mailbox_id = mailbox.id
    raw = mail(
        "550 5.1.1 <zoe@prospect.example>: User unknown",
        sender="MAILER-DAEMON@mx.example.com",
        subject="Undelivered Mail Returned to Sender",
        in_reply_to=None,
    )
    assert receive(rt, raw, source="smtp", recipients=[world.bounce]).verdict == "bounce"
    with rt.sessions() as s:
        from sequences.models import Mailbox

        paused = s.get(Mailbox, mailbox_id)
        assert paused is not None and paused.paused
        assert "bounce rate" in (paused.paused_reason or "")
