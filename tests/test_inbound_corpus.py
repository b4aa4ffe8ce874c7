"""Every message of the real-world-shaped corpus in tests/data/inbound gets its expected verdict."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from sequences import runtime
from sequences.inbound.ingest import VERDICTS, receive
from sequences.models import Event, InboundMessage

from .test_inbound import OUR_MESSAGE_ID, enrollment_of, prospect_of, seed

CORPUS = Path(__file__).parent / "data" / "inbound"
MANIFEST: list[dict[str, Any]] = yaml.safe_load((CORPUS / "manifest.yaml").read_text())

# What each verdict leaves behind: (enrollment status, prospect status).
EFFECTS = {
    "reply": ("replied", "replied"),
    "auto_reply": ("paused", "active"),
    # The corpus's machine notices are challenges, which pause like an auto-reply; a read
    # receipt or a list's notice changes nothing (tests/test_inbound_notices.py).
    "machine_notice": ("paused", "active"),
    "bounce": ("bounced", "bounced"),
    "soft_bounce": ("active", "active"),
    "unsubscribe": ("unsubscribed", "unsubscribed"),
    "unmatched": ("active", "active"),
    "unprocessable": ("active", "active"),
}


def test_corpus_is_big_and_covers_every_verdict() -> None:
    assert len(MANIFEST) >= 40
    assert {e["verdict"] for e in MANIFEST} == set(VERDICTS)
    assert sorted(p.name for p in CORPUS.iterdir() if p.name != "manifest.yaml") == sorted(
        e["file"] for e in MANIFEST
    )


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_corpus_message_gets_its_verdict(rt: runtime.Runtime, entry: dict[str, Any]) -> None:
    world = seed(rt)
    raw = world.fill((CORPUS / entry["file"]).read_bytes())
    recipients = [world.placeholders().get(r, r) for r in entry.get("rcpt", ["rita@example.com"])]

    outcome = receive(rt, raw, source="api", recipients=recipients)

    assert outcome.verdict == entry["verdict"], outcome.reason
    assert outcome.reason
    if "reason" in entry:
        assert entry["reason"] in outcome.reason
    enrollment_status, prospect_status = EFFECTS[entry["verdict"]]
    assert enrollment_of(rt, world).status == enrollment_status
    assert prospect_of(rt, world).status == prospect_status
    with rt.sessions() as s:
        row = s.get(InboundMessage, outcome.inbound_id)
        assert row is not None and row.verdict == outcome.verdict
        if "text" in entry:
            assert row.text is not None and entry["text"] in row.text
        if "not_text" in entry:
            assert entry["not_text"] not in (row.text or "")
        events = s.scalar(select(func.count()).select_from(Event))
    if "until" in entry:
        paused_until = enrollment_of(rt, world).paused_until
        assert paused_until is not None and paused_until.date().isoformat() == entry["until"]

    again = receive(rt, raw, source="imap", recipients=recipients)
    assert again.duplicate and again.verdict == outcome.verdict
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == events


def test_reply_with_a_20_mb_attachment_is_still_a_reply(rt: runtime.Runtime) -> None:
    world = seed(rt)
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Zoe Walker <zoe@prospect.example>"
    msg["To"] = "rita@example.com"
    msg["Subject"] = "Re: Hello"
    msg["Message-ID"] = "<big.deck@prospect.example>"
    msg["In-Reply-To"] = OUR_MESSAGE_ID
    msg.set_content("Here is our requirements deck, let's discuss.")
    msg.add_attachment(
        bytes(range(256)) * (20 * 1024 * 4),
        maintype="application",
        subtype="pdf",
        filename="deck.pdf",
    )
    raw = msg.as_bytes()
    assert len(raw) > 20 * 1024 * 1024

    outcome = receive(rt, raw, source="api")

    assert outcome.verdict == "reply"
    assert enrollment_of(rt, world).status == "replied"
    with rt.sessions() as s:
        row = s.get(InboundMessage, outcome.inbound_id)
        assert row is not None and row.text == "Here is our requirements deck, let's discuss."
