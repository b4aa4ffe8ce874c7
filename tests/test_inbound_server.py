"""The inbound SMTP server, for real: aiosmtpd on a free port, smtplib as the sending MTA."""

from __future__ import annotations

import os
import smtplib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sequences import runtime
from sequences.inbound.server import start_inbound
from sequences.models import InboundMessage
from sequences.sending.batch import run_step
from sequences.sending.sink import free_port

from .conftest import make_env
from .procs import FOLLOWUP, Proc, _port_open, wait_for
from .test_inbound import enrollment_of, events, mail, prospect_of, seed


@pytest.fixture
def inbound_port(rt: runtime.Runtime) -> Iterator[int]:
    rt.settings = replace(rt.settings, inbound_max_bytes=64 * 1024)
    port = free_port()
    controller = start_inbound(rt, "127.0.0.1", port, [rt.settings.mail_domain])
    yield port
    controller.stop()


def _send(port: int, rcpt: str, raw: bytes) -> Any:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        code, _ = smtp.mail("")
        assert code == 250
        code, reply = smtp.rcpt(rcpt)
        if code != 250:
            return code, reply
        return smtp.data(raw)


def test_reply_by_smtp_stops_the_sequence(rt: runtime.Runtime, inbound_port: int) -> None:
    world = seed(rt)
    code, reply = _send(inbound_port, world.reply, mail("Sure, let's talk.", in_reply_to=None))
    assert code == 250 and b"reply" in reply
    assert enrollment_of(rt, world).status == "replied"
    with rt.sessions() as s:
        row = s.scalar(select(InboundMessage))
        assert row is not None and row.source == "smtp" and row.recipients == world.reply


def test_bounce_to_the_verp_address_is_recorded(rt: runtime.Runtime, inbound_port: int) -> None:
    world = seed(rt)
    raw = mail(
        "550 5.1.1 user unknown",
        sender="MAILER-DAEMON@mx.example.com",
        subject="Undelivered Mail Returned to Sender",
        in_reply_to=None,
    )
    code, reply = _send(inbound_port, world.bounce, raw)
    assert code == 250 and b"bounce" in reply
    assert enrollment_of(rt, world).status == "bounced"


def test_other_domains_are_refused_at_rcpt(rt: runtime.Runtime, inbound_port: int) -> None:
    code, _ = _send(inbound_port, "someone@elsewhere.example", mail("hi"))
    assert code == 550


def test_garbage_and_oversize_never_stop_the_server(rt: runtime.Runtime, inbound_port: int) -> None:
    world = seed(rt)
    garbage = b"\r\n".join([b"\x00\x01garbage\xff\xfe" * 5] * 100)
    code, reply = _send(inbound_port, world.reply, garbage)
    assert code == 250 and b"unprocessable" in reply
    code, _ = _send(inbound_port, world.reply, mail("x" * 70_000, message_id="<big@p.example>"))
    assert code == 552
    # Still serving, and both were stored with a reason.
    code, _ = _send(inbound_port, world.reply, mail("Yes please", message_id="<ok@p.example>"))
    assert code == 250
    with rt.sessions() as s:
        rows = list(s.scalars(select(InboundMessage).order_by(InboundMessage.id)))
    assert [r.verdict for r in rows] == ["unprocessable", "unprocessable", "reply"]
    assert rows[0].reason.startswith("not an email") and rows[1].reason.startswith("oversize")


def test_opt_in_reply_to_carries_a_token_that_matches_the_reply(
    rt: runtime.Runtime, smtp_sink: Any, clock: Any, inbound_port: int
) -> None:
    world = seed(rt)
    rt.settings = replace(rt.settings, reply_to_inbound=True)
    clock.advance(days=3)
    assert run_step(rt, world.enrollment_id, 1) == "sent"
    [sent] = smtp_sink.messages()
    reply_to = str(sent.message["Reply-To"])
    assert reply_to.startswith("reply+") and reply_to.endswith("@mail.example.test")
    # The prospect answers from another address, without threading headers: the token decides.
    raw = mail("Yes, from my phone.", sender="zoe.mobile@phone.example", in_reply_to=None)
    code, reply = _send(inbound_port, reply_to, raw)
    assert code == 250 and b"reply" in reply
    assert prospect_of(rt, world).status == "replied"
    [event] = events(rt, world, "reply")
    assert event.data["matched_by"] == "reply-token" and event.message_id != world.message_pk


def test_followup_inbound_command_serves_until_sigterm(
    rt: runtime.Runtime, database_url: str, smtp_sink: Any, tmp_path: Path
) -> None:
    world = seed(rt)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")},
        **make_env(database_url, smtp_sink.port, tmp_path),
    }
    proc = Proc("inbound", [FOLLOWUP, "inbound", "--port", str(port)], env, tmp_path / "in.log")
    proc.start()
    try:
        wait_for(lambda: _port_open(port) or not proc.alive(), 30, "followup inbound")
        assert proc.alive(), proc.log()
        code, reply = _send(port, world.reply, mail("Yes!", in_reply_to=None))
        assert code == 250 and b"reply" in reply
        assert enrollment_of(rt, world).status == "replied"
        code, _ = _send(port, "x@not-ours.example", mail("hi"))
        assert code == 550
    finally:
        proc.stop()
    assert proc.popen is not None and proc.popen.returncode == 0, proc.log()
