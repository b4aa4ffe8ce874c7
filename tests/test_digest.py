"""The daily digest: yesterday's engaged prospects and today's tasks, through real SMTP, once a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from sequences import runtime
from sequences.actors import dispatch_digests
from sequences.clock import FrozenClock
from sequences.config import load_settings
from sequences.enrollment import record
from sequences.models import DigestSetting, Task
from sequences.sending.sink import free_port
from sequences.smtp.transport import TemporaryFailure
from sequences.workspace.digest import send_digest
from tracker.cli.main import main

from .conftest import Cast, Sink, make_env

# Tuesday 6 January 2026, 08:30 in Paris: "yesterday" is Monday the 5th, Paris time.
NOW = datetime(2026, 1, 6, 7, 30, tzinfo=UTC)
MONDAY_NOON = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)


def prospect(client: Any, cast: Cast, email: str, key: str | None = None, **extra: Any) -> int:
    response = client.post(
        "/api/v1/prospects", json={"email": email, **extra}, headers=cast.auth(key)
    )
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def opt_in(client: Any, cast: Cast, **extra: Any) -> dict[str, Any]:
    body = {"enabled": True, "hour": 7, "timezone": "Europe/Paris", **extra}
    response = client.patch("/api/v1/me/digest", json=body, headers=cast.auth())
    assert response.status_code == 200, response.json
    return dict(response.json)


def hit(rt: runtime.Runtime, prospect_id: int, type_: str, at: datetime, **kw: Any) -> None:
    verdict = kw.pop("verdict", "human" if type_ in ("open", "click") else None)
    with rt.sessions.begin() as s:
        event = record(s, type_, at, prospect_id=prospect_id, **kw)
        event.verdict = verdict


def task(rt: runtime.Runtime, prospect_id: int, owner_id: int, due: datetime, title: str) -> None:
    with rt.sessions.begin() as s:
        s.add(
            Task(
                prospect_id=prospect_id,
                owner_id=owner_id,
                type="call",
                title=title,
                due_at=due,
                status="open",
            )
        )


def send_due(rt: runtime.Runtime, broker: Any) -> int:
    rt.extras.pop("digest_checked_at", None)  # the hook looks once a minute; tests look now
    count = dispatch_digests(rt)
    broker.join("digest", fail_fast=True)
    return count


@pytest.fixture
def monday(client: Any, cast: Cast, rt: runtime.Runtime, clock: FrozenClock) -> dict[str, int]:
    """A rep's Monday: a reply, a click, opens, a bot; tasks for Tuesday and one overdue."""
    clock.set(MONDAY_NOON - timedelta(days=3))
    ids = {
        "ann": prospect(client, cast, "ann@acme.example", first_name="Ann", phone="+33 1 23"),
        "bob": prospect(client, cast, "bob@initech.example", company="Initech"),
        "bot": prospect(client, cast, "bot@scanner.example"),
        "quiet": prospect(client, cast, "quiet@example.org"),
        "theirs": prospect(client, cast, "theirs@example.org", cast.manager_key),
    }
    hit(rt, ids["ann"], "open", MONDAY_NOON)
    hit(rt, ids["ann"], "open", MONDAY_NOON + timedelta(hours=1))
    hit(rt, ids["ann"], "click", MONDAY_NOON, url="https://acme.example/pricing")
    hit(rt, ids["bob"], "reply", MONDAY_NOON)
    hit(rt, ids["bot"], "open", MONDAY_NOON, verdict="machine")
    hit(rt, ids["quiet"], "open", MONDAY_NOON - timedelta(days=2))  # Saturday: too old
    hit(rt, ids["quiet"], "open", NOW - timedelta(minutes=5))  # Tuesday: today, not yesterday
    hit(rt, ids["theirs"], "click", MONDAY_NOON, url="https://x.example")  # the manager's
    task(rt, ids["bob"], cast.rep_id, NOW + timedelta(hours=2), "Call Bob about the reply")
    task(rt, ids["ann"], cast.rep_id, NOW - timedelta(days=2), "Call Ann (from Sunday)")
    task(rt, ids["quiet"], cast.rep_id, NOW + timedelta(days=1), "Wednesday's call")
    task(rt, ids["theirs"], cast.manager_id, NOW, "The manager's call")
    clock.set(NOW)
    return ids


def test_digest_lists_yesterdays_engaged_prospects_and_todays_tasks(
    client: Any,
    cast: Cast,
    rt: runtime.Runtime,
    smtp_sink: Sink,
    stub_worker: Any,
    monday: dict[str, int],
) -> None:
    opt_in(client, cast)
    assert send_due(rt, stub_worker) == 1

    [stored] = smtp_sink.messages()
    msg = stored.message
    assert stored.envelope_to == ["rita@example.com"]
    assert str(msg["Subject"]) == "Your follow-up digest for Tue 06 Jan: 2 engaged, 2 tasks"
    assert msg["Auto-Submitted"] == "auto-generated"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    # Most engaged first: the reply outweighs two opens and a click.
    assert text.index("bob@initech.example") < text.index("Ann <ann@acme.example>")
    assert "2 opens, 1 click" in text and "clicked https://acme.example/pricing" in text
    assert "1 reply" in text and "+33 1 23" in text
    assert f"http://track.example.test/prospects/{monday['ann']}" in text
    for absent in ("bot@scanner.example", "quiet@example.org", "theirs@example.org"):
        assert absent not in text.split("Today's tasks")[0]
    tasks = text.split("Today's tasks (2):")[1]
    assert tasks.index("[overdue] call: Call Ann") < tasks.index("call: Call Bob")
    assert "Wednesday" not in tasks and "manager's call" not in tasks
    assert "<strong>1 reply</strong>" in html and 'href="tel:+33 1 23"' in html


def test_digest_is_sent_once_a_day_after_the_chosen_local_hour(
    client: Any,
    cast: Cast,
    rt: runtime.Runtime,
    clock: FrozenClock,
    smtp_sink: Sink,
    stub_worker: Any,
    monday: dict[str, int],
) -> None:
    opt_in(client, cast, hour=9)  # 09:00 Paris = 08:00 UTC
    assert send_due(rt, stub_worker) == 0  # 08:30 in Paris: not yet
    clock.set(NOW + timedelta(minutes=31))
    assert send_due(rt, stub_worker) == 1
    assert send_due(rt, stub_worker) == 0
    assert send_digest(rt, cast.rep_id) == "already sent"
    assert len(smtp_sink.messages()) == 1
    assert client.get("/api/v1/me/digest", headers=cast.auth()).json["last_sent_on"] == (
        "2026-01-06"
    )
    clock.advance(days=1)  # Wednesday: the overdue tasks are still there
    assert send_due(rt, stub_worker) == 1
    assert len(smtp_sink.messages()) == 2


def test_nothing_is_sent_when_disabled_or_empty(
    client: Any, cast: Cast, rt: runtime.Runtime, smtp_sink: Sink, stub_worker: Any
) -> None:
    assert client.get("/api/v1/me/digest", headers=cast.auth()).json == {
        "enabled": False,
        "hour": 7,
        "timezone": "UTC",  # the user's zone: they chose none, nor did their team
        "follows_user_timezone": True,
        "last_sent_on": None,
    }
    assert send_due(rt, stub_worker) == 0
    assert send_digest(rt, cast.rep_id) == "disabled"
    opt_in(client, cast, timezone="UTC", hour=0)
    assert send_due(rt, stub_worker) == 1  # due, but nobody engaged and no task
    assert smtp_sink.messages() == []
    assert send_digest(rt, cast.rep_id) == "already sent"


def test_a_failed_send_gives_the_day_back(
    client: Any,
    cast: Cast,
    rt: runtime.Runtime,
    smtp_sink: Sink,
    tmp_path: Path,
    monday: dict[str, int],
) -> None:
    opt_in(client, cast)
    closed = load_settings(make_env(rt.settings.database_url, free_port(), tmp_path))
    broken = runtime.build(closed, rt.clock)  # an SMTP server that is not there
    try:
        with pytest.raises(TemporaryFailure):
            send_digest(broken, cast.rep_id)
    finally:
        broken.dispose()
    with rt.sessions() as s:
        assert s.scalar(select(DigestSetting.sent_on)) is None
    assert send_digest(rt, cast.rep_id) == "sent"
    assert len(smtp_sink.messages()) == 1


def test_invalid_digest_setting_is_422_naming_the_field(client: Any, cast: Cast) -> None:
    for body, field in (
        ({"enabled": "yes"}, "enabled"),
        ({"hour": 24}, "hour"),
        ({"hour": True}, "hour"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"daily": True}, "daily"),
    ):
        response = client.patch("/api/v1/me/digest", json=body, headers=cast.auth())
        assert response.status_code == 422, body
        assert response.json["error"]["field"] == field, body


def test_cli_sends_and_previews(
    client: Any,
    cast: Cast,
    rt: runtime.Runtime,
    smtp_sink: Sink,
    tmp_path: Path,
    monday: dict[str, int],
) -> None:
    env = make_env(rt.settings.database_url, smtp_sink.port, tmp_path)
    runner = CliRunner(env=env)
    preview = runner.invoke(main, ["digest", "preview", "--user", "rita@example.com"])
    assert preview.exit_code == 0, preview.output
    assert "Subject: Your follow-up digest" in preview.output  # real clock: another day
    assert smtp_sink.messages() == []
    sent = runner.invoke(main, ["digest", "send", "--user", "rita@example.com", "--force"])
    assert sent.exit_code == 0, sent.output
    assert f"user {cast.rep_id}: sent" in sent.output
    assert len(smtp_sink.messages()) == 1
    unknown = runner.invoke(main, ["digest", "send", "--user", "nobody@example.com"])
    assert unknown.exit_code != 0 and "no user" in unknown.output
