"""Machine notices through the inbound SMTP server: a read receipt, a list's notice, a challenge."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bench.verdicts import CORPUS
from sequences import runtime
from sequences.inbound.recheck import apply, plan
from sequences.inbound.server import start_inbound
from sequences.models import Enrollment, Event, InboundMessage, Task, User
from sequences.sending.sink import free_port
from tracker.cli.main import main

from .conftest import Sink, make_env
from .test_inbound import World, enrollment_of, events, mail, prospect_of, seed
from .webkit import CHEAP_HASH, login


@pytest.fixture
def inbound_port(rt: runtime.Runtime) -> Iterator[int]:
    rt.settings = replace(rt.settings, inbound_max_bytes=256 * 1024)
    port = free_port()
    controller = start_inbound(rt, "127.0.0.1", port, [rt.settings.mail_domain])
    yield port
    controller.stop()


def _send(port: int, world: World, raw: bytes, sender: str = "zoe@prospect.example") -> None:
    # On the wire lines end in CRLF (the corpus files keep bare LF; smtplib sends bytes as is).
    wire = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.sendmail(sender, [world.reply], wire)


def _stored(rt: runtime.Runtime) -> InboundMessage:
    with rt.sessions() as s:
        [row] = s.scalars(select(InboundMessage))
        return row


def _tasks(rt: runtime.Runtime, world: World) -> list[Task]:
    with rt.sessions() as s:
        return list(s.scalars(select(Task).where(Task.prospect_id == world.prospect_id)))


def _all_events(rt: runtime.Runtime, world: World) -> list[str]:
    with rt.sessions() as s:
        found = s.scalars(select(Event.type).where(Event.prospect_id == world.prospect_id))
        return sorted(found)


def test_a_read_receipt_for_a_sent_step_is_a_timeline_event_and_the_sequence_goes_on(
    rt: runtime.Runtime, inbound_port: int, app: Any
) -> None:
    world = seed(rt)
    before = enrollment_of(rt, world)
    _send(inbound_port, world, (CORPUS / "notice_outlook_read_receipt.eml").read_bytes())

    row = _stored(rt)
    assert row.verdict == "machine_notice", row.reason
    assert "read receipt" in row.reason and "displayed" in row.reason
    after = enrollment_of(rt, world)
    assert after.status == "active" and after.paused_until is None
    assert after.next_due_at == before.next_due_at
    assert prospect_of(rt, world).status == "active"
    [receipt] = events(rt, world, "read_receipt")
    assert receipt.data["summary"] == "read receipt from zoe@prospect.example: displayed"
    # Not a reply, and not counted as an open by a person.
    assert _all_events(rt, world) == ["read_receipt"]

    with rt.sessions.begin() as s:
        rep = s.get(User, world.rep_id)
        assert rep is not None
        rep.password_hash = CHEAP_HASH
        rep_email = rep.email
    browser = app.test_client()
    login(browser, rep_email)
    page = browser.get(f"/prospects/{world.prospect_id}").text
    assert "Read receipt" in page and "not counted as an open" in page


def test_a_boxbe_challenge_pauses_the_sequence_and_asks_the_rep_to_verify(
    rt: runtime.Runtime, inbound_port: int
) -> None:
    world = seed(rt)
    raw = (CORPUS / "notice_boxbe_challenge.eml").read_bytes()
    _send(inbound_port, world, raw, sender="noreply@boxbe.com")

    row = _stored(rt)
    assert row.verdict == "machine_notice" and "challenge-response" in row.reason, row.reason
    enrollment = enrollment_of(rt, world)
    assert enrollment.status == "paused"
    days = rt.settings.auto_reply_pause_days
    assert enrollment.paused_until == rt.clock.now() + timedelta(days=days)
    assert prospect_of(rt, world).status == "active"
    [task] = _tasks(rt, world)
    assert task.title == "Verify your address with Boxbe so zoe@prospect.example gets your mail"
    assert task.status == "open" and task.owner_id == world.rep_id
    assert "https://www.boxbe.com/crs?tc=5150_8c2f" in (task.notes or "")
    [challenge] = events(rt, world, "challenge")
    assert challenge.data["link"] == "https://www.boxbe.com/crs?tc=5150_8c2f"
    assert events(rt, world, "reply") == []


def test_a_challenge_link_that_is_not_http_is_never_offered(
    rt: runtime.Runtime, inbound_port: int
) -> None:
    world = seed(rt)
    raw = (
        (CORPUS / "notice_boxbe_challenge.eml")
        .read_bytes()
        .replace(b"https://www.boxbe.com/crs?tc=5150_8c2f", b"javascript:alert(1)//crs")
    )
    _send(inbound_port, world, raw, sender="noreply@boxbe.com")
    [task] = _tasks(rt, world)
    assert "javascript" not in (task.notes or "") and "No verify link" in (task.notes or "")
    assert enrollment_of(rt, world).status == "paused"


def test_a_mailing_list_notice_changes_nothing_but_the_record(
    rt: runtime.Runtime, inbound_port: int
) -> None:
    world = seed(rt)
    before = enrollment_of(rt, world)
    raw = (CORPUS / "notice_mailman_moderation.eml").read_bytes()
    _send(inbound_port, world, raw, sender="sales-bounces@lists.prospect.example")

    row = _stored(rt)
    assert row.verdict == "machine_notice" and "mailing-list server notice" in row.reason
    after = enrollment_of(rt, world)
    assert (after.status, after.paused_until, after.next_due_at) == (
        "active",
        None,
        before.next_due_at,
    )
    assert prospect_of(rt, world).status == "active"
    assert _tasks(rt, world) == []
    assert _all_events(rt, world) == ["list_notice"]


def test_a_real_reply_that_quotes_a_read_receipt_phrase_is_still_a_reply(
    rt: runtime.Runtime, inbound_port: int
) -> None:
    world = seed(rt)
    body = (
        "My client said 'Your message was read' and 'Disposition: displayed' - yes, I read it. "
        "Can we talk on Thursday?"
    )
    _send(inbound_port, world, mail(body, subject="Re: Hello (read receipt)"))

    assert _stored(rt).verdict == "reply"
    assert enrollment_of(rt, world).status == "replied"
    assert prospect_of(rt, world).status == "replied"
    assert events(rt, world, "read_receipt") == []


def test_recheck_records_an_old_auto_reply_that_was_a_read_receipt_and_keeps_its_pause(
    rt: runtime.Runtime, tmp_path: Path, smtp_sink: Sink
) -> None:
    world = seed(rt)
    raw = (CORPUS / "notice_gmail_mdn.eml").read_bytes()
    now = rt.clock.now()
    with rt.sessions.begin() as s:
        # What the older rules stored: an auto-reply, and the sequence paused for it.
        s.add(
            InboundMessage(
                dedupe_key="old-mdn",
                source="imap",
                received_at=now,
                verdict="auto_reply",
                reason="auto-reply (machine notice, not a reply: read receipt)",
                prospect_id=world.prospect_id,
                enrollment_ids=[world.enrollment_id],
                size=len(raw),
                raw=raw,
            )
        )
        enrollment = s.get(Enrollment, world.enrollment_id)
        assert enrollment is not None
        enrollment.status, enrollment.paused_until = "paused", now + timedelta(days=7)

    with rt.sessions() as s:
        changes = plan(s, now - timedelta(days=1), rt.settings.secret_keys)
    assert [(c.old, c.new, c.notice) for c in changes] == [
        ("auto_reply", "machine_notice", "read_receipt")
    ]
    runner = CliRunner(env=make_env(rt.settings.database_url, smtp_sink.port, tmp_path))
    applied = runner.invoke(main, ["verdicts", "recheck", "--since", "9999d", "--yes"])
    assert applied.exit_code == 0, applied.output
    assert "auto_reply -> machine_notice" in applied.output
    assert "the pause it set stays" in applied.output
    [change] = events(rt, world, "verdict_changed")
    assert change.data["from"] == "auto_reply" and change.data["to"] == "machine_notice"
    assert enrollment_of(rt, world).status == "paused"  # nothing resumes on its own
    with rt.sessions() as s:
        [row] = s.scalars(select(InboundMessage))
        assert row.verdict == "machine_notice" and row.reason.startswith("rechecked")


def test_recheck_gives_an_old_auto_reply_that_was_a_challenge_its_verify_task(
    rt: runtime.Runtime,
) -> None:
    world = seed(rt)
    raw = (CORPUS / "challenge_response.eml").read_bytes()
    now = rt.clock.now()
    with rt.sessions.begin() as s:
        s.add(
            InboundMessage(
                dedupe_key="old-challenge",
                source="imap",
                received_at=now,
                verdict="auto_reply",
                reason="auto-reply (challenge-response (sender verification))",
                prospect_id=world.prospect_id,
                enrollment_ids=[],
                size=len(raw),
                raw=raw,
            )
        )
    with rt.sessions() as s:
        changes = plan(s, now - timedelta(days=1), rt.settings.secret_keys)
    assert [(c.old, c.new, c.verify) for c in changes] == [
        ("auto_reply", "machine_notice", ("SpamArrest", "http://verify.example/abc"))
    ]
    with rt.sessions.begin() as s:
        [done] = apply(s, changes, now)
    assert "a task asks the owner to verify with SpamArrest" in done
    [task] = _tasks(rt, world)
    assert (
        task.title == "Verify your address with SpamArrest so zoe@prospect.example gets your mail"
    )
    assert "http://verify.example/abc" in (task.notes or "")
    [change] = events(rt, world, "verdict_changed")
    assert change.data["to"] == "machine_notice"
