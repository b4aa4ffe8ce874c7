"""Inbound verdicts a rep can trust: floors on the corpus, and each named mistake, through ingest."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bench.verdicts import CORPUS, HARMFUL, PARTS, inbound_matrix, manifest
from bench.verdicts_inbound_build import owa_html_only
from sequences import runtime
from sequences.inbound.ingest import read, receive
from sequences.inbound.server import start_inbound
from sequences.inbound.verdicts import CONFIRM_UNSUBSCRIBE, LABELS, decide
from sequences.models import InboundMessage, Prospect, Task, User
from sequences.sending.sink import free_port
from tracker.cli.main import main

from .conftest import Sink, make_env
from .test_inbound import enrollment_of, events, mail, prospect_of, seed
from .webkit import CHEAP_HASH, login

# The floor per category on each part: what the rules reached, less a margin for one miss.
FLOORS = {
    "reply": 0.95,
    "unsubscribe": 0.9,
    "unsubscribe-needs-confirmation": 0.7,
    "auto_reply": 0.95,
    "machine_notice": 0.95,
    "bounce_hard": 0.95,
    "bounce_soft": 0.85,
}
SCORES = inbound_matrix(echo=False)


def test_corpus_is_big_sourced_and_split_up_front() -> None:
    entries = manifest()
    assert len(entries) >= 150
    assert {e["expected"] for e in entries} == set(LABELS)
    assert all(e["source"] and e["split"] in PARTS for e in entries)
    on_disk = sorted(p.name for p in CORPUS.glob("*.eml"))
    assert on_disk == sorted(e["file"] for e in entries)
    for part in PARTS:
        assert {e["expected"] for e in entries if e["split"] == part} == set(LABELS)


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("label", sorted(FLOORS))
def test_each_category_is_right_at_least_its_floor(part: str, label: str) -> None:
    score = SCORES[part]
    assert score.total(label) > 0
    assert score.accuracy(label) >= FLOORS[label], [w for w in score.wrong if w[1] == label]


@pytest.mark.parametrize("part", PARTS)
def test_no_harmful_mistake_on_either_part(part: str) -> None:
    assert SCORES[part].harmful == []
    assert SCORES[part].accuracy() >= 0.95
    assert ("reply", "unsubscribe") in HARMFUL and ("bounce_hard", "bounce_soft") in HARMFUL


# The named mistakes, each through the real ingest path


DISCLAIMER = (
    "Zoe Walker | Initech\n\n"
    "This email and any attachments are confidential. If you no longer wish to receive "
    "our newsletter, unsubscribe at initech.example/preferences."
)


def test_reply_whose_footer_says_unsubscribe_is_a_reply_not_an_unsubscribe(
    rt: runtime.Runtime,
) -> None:
    world = seed(rt)
    body = f"Thursday at 2pm works, talk then.\n\nBest regards,\n{DISCLAIMER}\n"
    outcome = receive(rt, mail(body), source="api")
    assert outcome.verdict == "reply", outcome.reason
    assert prospect_of(rt, world).status == "replied"
    assert events(rt, world, "unsubscribe") == []


def test_html_only_webmail_reply_is_a_reply(rt: runtime.Runtime) -> None:
    world = seed(rt)
    # Outlook on the web: text/html only, our email (and its Unsubscribe link) quoted below.
    raw = owa_html_only("Good timing.\nTuesday works for me, send an invite.", "T1").encode()
    outcome = receive(rt, raw, source="api")
    assert outcome.verdict == "reply", outcome.reason
    assert prospect_of(rt, world).status == "replied"
    [reply] = events(rt, world, "reply")
    assert "Tuesday works for me" in reply.data["text"]
    assert "Unsubscribe" not in reply.data["text"]


def test_person_who_was_out_of_office_is_a_reply_not_an_auto_reply(rt: runtime.Runtime) -> None:
    world = seed(rt)
    body = "Sorry, I was out of the office last week; yes, let's talk. Does Thursday work?"
    outcome = receive(rt, mail(body), source="api")
    assert outcome.verdict == "reply", outcome.reason
    assert enrollment_of(rt, world).status == "replied"  # stopped, not paused to resume later
    assert events(rt, world, "auto_reply") == []


def test_person_away_next_week_who_answers_is_a_reply(rt: runtime.Runtime) -> None:
    world = seed(rt)
    body = "I'm out of the office next week, but yes, let's talk. Friday 3pm?"
    outcome = receive(rt, mail(body), source="api")
    assert outcome.verdict == "reply", outcome.reason
    assert "a person answers" in outcome.reason
    assert enrollment_of(rt, world).status == "replied"


@pytest.fixture
def inbound_port(rt: runtime.Runtime) -> Iterator[int]:
    rt.settings = replace(rt.settings, inbound_max_bytes=256 * 1024)
    port = free_port()
    controller = start_inbound(rt, "127.0.0.1", port, [rt.settings.mail_domain])
    yield port
    controller.stop()


def test_one_word_stop_from_a_phone_suppresses_the_address(
    rt: runtime.Runtime, inbound_port: int
) -> None:
    world = seed(rt)
    raw = (Path(CORPUS) / "unsub_stop_phone.eml").read_bytes()
    with smtplib.SMTP("127.0.0.1", inbound_port, timeout=10) as smtp:
        smtp.sendmail("zoe@prospect.example", [world.reply], raw)
    assert prospect_of(rt, world).status == "unsubscribed"
    assert enrollment_of(rt, world).status == "unsubscribed"
    [event] = events(rt, world, "unsubscribe")
    assert '"stop"' in event.data["reason"]


def test_spanish_darme_de_baja_suppresses_the_address(rt: runtime.Runtime) -> None:
    world = seed(rt)
    outcome = receive(rt, mail("Por favor, darme de baja de esta lista.\n\nSaludos"), source="api")
    assert outcome.verdict == "unsubscribe", outcome.reason
    assert "darme de baja" in outcome.reason
    assert prospect_of(rt, world).status == "unsubscribed"


@pytest.mark.parametrize(
    "words",
    [
        "Bitte entfernen Sie mich aus Ihrem Verteiler.",
        "Merci de me désinscrire.",
        "Por favor, me descadastre.",
    ],
)
def test_requests_in_german_french_portuguese_suppress(rt: runtime.Runtime, words: str) -> None:
    world = seed(rt)
    outcome = receive(rt, mail(words), source="api")
    assert outcome.verdict == "unsubscribe", outcome.reason
    assert prospect_of(rt, world).status == "unsubscribed"


EXIM = b"""Return-Path: <>
From: Mail Delivery System <Mailer-Daemon@mx.prospect.example>
To: rita@example.com
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1vXyZ-0004aB-Cd@mx.prospect.example>
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. The following address(es) failed:

  zoe@prospect.example
    SMTP error from remote mail server after RCPT TO:<zoe@prospect.example>:
    host mx1.prospect.example [192.0.2.10]: 550 Requested action not taken: mailbox unavailable

------ This is a copy of the message, including all the headers. ------

Message-ID: <seed.0001@mail.example.test>
From: Rita Rep <rita@example.com>
To: zoe@prospect.example
Subject: Hello

We will retry the demo if you like. Delivery delayed? Not at all.
"""


def test_plain_exim_bounce_with_550_and_no_dsn_part_is_hard(rt: runtime.Runtime) -> None:
    world = seed(rt)
    outcome = receive(rt, EXIM, source="api")
    assert outcome.verdict == "bounce", outcome.reason
    assert "SMTP 5xx" in outcome.reason
    assert prospect_of(rt, world).status == "bounced"
    assert enrollment_of(rt, world).status == "bounced"


def test_mixed_reply_stops_the_sequence_and_asks_the_rep_to_confirm(rt: runtime.Runtime) -> None:
    world = seed(rt)
    body = (
        "We went with another vendor this year, so please remove me from your list. "
        "My colleague Max in finance may still want the reporting case study though."
    )
    outcome = receive(rt, mail(body), source="api")
    assert outcome.verdict == "reply", outcome.reason
    assert "confirm the unsubscribe" in outcome.reason
    assert enrollment_of(rt, world).status == "replied"
    assert prospect_of(rt, world).status == "replied"  # never suppressed on weak evidence
    with rt.sessions() as s:
        [task] = s.scalars(select(Task).where(Task.prospect_id == world.prospect_id)).all()
        assert task.status == "open" and task.owner_id == world.rep_id
        assert "Confirm the unsubscribe" in task.title and "remove me" in (task.notes or "")
    [note] = events(rt, world, "unsubscribe_to_confirm")
    assert note.data["task_id"] == task.id


def test_ambiguous_one_liner_makes_a_task_not_a_suppression(rt: runtime.Runtime) -> None:
    world = seed(rt)
    outcome = receive(rt, mail("Not interested."), source="api")
    assert outcome.verdict == "reply" and "confirm" in outcome.reason
    assert prospect_of(rt, world).status == "replied"


def test_every_verdict_names_its_evidence_on_the_timeline(rt: runtime.Runtime) -> None:
    world = seed(rt)
    raw = mail("I am away until January 12.", subject="Automatic reply: Hello", X_Autoreply="yes")
    outcome = receive(rt, raw, source="api")
    assert outcome.verdict == "auto_reply"
    [auto] = events(rt, world, "auto_reply")
    assert "header X-Autoreply: yes" in auto.data["why"]
    assert "subject: Automatic reply" in auto.data["why"]


@pytest.mark.parametrize(
    ("body", "label"),
    [
        ("I'm on vacation until Monday, ping me then.", "reply"),  # a person, not a template
        ("Could you remove me from the invite and add Max instead?", "reply"),
        ("Please take me off the thread, Max will handle it.", "reply"),
        ("Please don't remove me from the list, let's talk in February.", "reply"),
        ("How do I unsubscribe my team from your newsletter? Then let's talk.", "reply"),
        ("Remove me from your list.", "unsubscribe"),
        ("Take me off.", "unsubscribe"),
        ("Por favor, dame de baja.", "unsubscribe"),
        ("Não quero mais receber esses e-mails.", "unsubscribe"),
        ("Bitte abmelden.", "unsubscribe"),
        ("If this is not relevant, feel free to remove me from the list.", CONFIRM_UNSUBSCRIBE),
        (
            "I am out of the office until 12 January with limited access to email. "
            "For urgent matters contact max@prospect.example.",
            "auto_reply",
        ),
    ],
)
def test_rules_read_intent_not_words(body: str, label: str) -> None:
    _, parsed, _ = read(mail(body), 1024 * 1024)
    assert parsed is not None
    verdict = decide(parsed)
    assert verdict.label == label, verdict.reason


def test_the_rep_sees_the_evidence_and_the_task_on_the_timeline(
    rt: runtime.Runtime, app: Any
) -> None:
    world = seed(rt)
    with rt.sessions.begin() as s:
        rep = s.get(User, world.rep_id)
        assert rep is not None
        rep.password_hash = CHEAP_HASH
        rep_email = rep.email
    body = "Thanks. If this is not for operations, feel free to remove me from the list."
    receive(rt, mail(body), source="api")
    browser = app.test_client()
    login(browser, rep_email)
    page = browser.get(f"/prospects/{world.prospect_id}").text
    assert "May have asked to unsubscribe" in page
    assert "asks to stop on a condition" in page
    assert "Confirm the unsubscribe" in browser.get("/tasks").text


def _as_old_rules_left_it(rt: runtime.Runtime, inbound_id: int | None, prospect_id: int) -> None:
    """What the old rules stored for a reply whose footer said unsubscribe."""
    with rt.sessions.begin() as s:
        row = s.get(InboundMessage, inbound_id)
        prospect = s.get(Prospect, prospect_id)
        assert row is not None and prospect is not None
        row.verdict, row.reason = "unsubscribe", 'unsubscribe request (reply: "unsubscribe")'
        prospect.status = "unsubscribed"


def test_recheck_shows_the_change_then_applies_it_on_confirmation(
    rt: runtime.Runtime, tmp_path: Path, smtp_sink: Sink, app: Any
) -> None:
    world = seed(rt)
    body = f"Thursday at 2pm works, talk then.\n\nBest regards,\n{DISCLAIMER}\n"
    outcome = receive(rt, mail(body), source="api")
    _as_old_rules_left_it(rt, outcome.inbound_id, world.prospect_id)
    runner = CliRunner(env=make_env(rt.settings.database_url, smtp_sink.port, tmp_path))

    shown = runner.invoke(main, ["verdicts", "recheck", "--since", "9999d"], input="n\n")
    assert shown.exit_code == 0, shown.output
    assert "1 verdict(s) would change" in shown.output and "unsubscribe -> reply" in shown.output
    assert "Nothing changed." in shown.output
    assert prospect_of(rt, world).status == "unsubscribed"

    applied = runner.invoke(main, ["verdicts", "recheck", "--since", "9999d"], input="y\n")
    assert applied.exit_code == 0, applied.output
    assert "released from suppression" in applied.output
    assert prospect_of(rt, world).status == "replied"
    [change] = events(rt, world, "verdict_changed")
    assert change.data["from"] == "unsubscribe" and change.data["to"] == "reply"
    with rt.sessions() as s:
        row = s.get(InboundMessage, outcome.inbound_id)
        assert row is not None and row.verdict == "reply" and row.reason.startswith("rechecked")

    with rt.sessions.begin() as s:
        rep = s.get(User, world.rep_id)
        assert rep is not None
        rep.password_hash = CHEAP_HASH
        rep_email = rep.email
    browser = app.test_client()
    login(browser, rep_email)
    page = browser.get(f"/prospects/{world.prospect_id}").text
    assert "Verdict rechecked" in page and "released from suppression" in page

    again = runner.invoke(main, ["verdicts", "recheck", "--since", "9999d", "--yes"])
    assert "No stored verdict" in again.output


def test_recheck_refuses_a_since_it_cannot_read(
    rt: runtime.Runtime, tmp_path: Path, smtp_sink: Sink
) -> None:
    runner = CliRunner(env=make_env(rt.settings.database_url, smtp_sink.port, tmp_path))
    result = runner.invoke(main, ["verdicts", "recheck", "--since", "last month"])
    assert result.exit_code == 2 and "for example 30d" in result.output
