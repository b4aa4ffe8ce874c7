"""Stored opens and clicks judged again by today's rules: shown, applied on confirmation, on the timeline."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select, update

from sequences.clock import FrozenClock
from sequences.models import Event, Prospect, User
from sequences.runtime import Runtime
from sequences.tracking import apply_recheck, plan_recheck
from sequences.tracking.events import inferred_hit_id
from sequences.workspace.accounts import create_user, default_team
from sequences.workspace.activity import summarize
from tracker.cli.main import main

from .conftest import Sink, make_env
from .tracking_support import BROWSER, Sent, events, send_message, verdicts
from .webkit import CHEAP_HASH, login

OUTLOOK_IOS = "Outlook-iOS/709.2189947.prod.iphone (3.24.0)"
APPLE_MAIL_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
MONTH = timedelta(days=30)


def get(client: Any, path: str, ua: str, ip: str = "198.51.100.7") -> Any:
    return client.get(path, headers={"User-Agent": ua}, environ_base={"REMOTE_ADDR": ip})


def as_old_rules_left_it(rt: Runtime, event_id: int, verdict: str, reason: str | None) -> None:
    with rt.sessions.begin() as s:
        s.execute(update(Event).where(Event.id == event_id).values(verdict=verdict, reason=reason))


def outlook_open_taken_for_a_machine(
    client: Any, rt: Runtime, clock: FrozenClock, sent: Sent
) -> None:
    """A person's Outlook for iOS open, as rules that did not know the client stored it."""
    clock.advance(hours=2)
    get(client, sent.pixel, OUTLOOK_IOS)
    with rt.sessions() as s:
        [opened] = events(s, sent.message_id, "open")
    as_old_rules_left_it(rt, opened.id, "machine", "bot")


def recheck(rt: Runtime, clock: FrozenClock) -> list[str]:
    with rt.sessions.begin() as s:
        return apply_recheck(s, plan_recheck(s, clock.now() - MONTH), clock.now())


def timeline(rt: Runtime, sent: Sent) -> list[dict[str, Any]]:
    with rt.sessions() as s:
        return [
            e.data
            for e in s.scalars(
                select(Event)
                .where(Event.prospect_id == sent.prospect_id, Event.type == "verdict_changed")
                .order_by(Event.id)
            )
        ]


def test_a_mail_client_open_the_old_rules_took_for_a_machine_counts_again(
    client: Any, rt: Runtime, clock: FrozenClock
) -> None:
    sent = send_message(rt)
    outlook_open_taken_for_a_machine(client, rt, clock, sent)

    clock.advance(days=3)
    with rt.sessions() as s:
        [change] = plan_recheck(s, clock.now() - MONTH)
        assert change.transition == "open machine -> human" and "Outlook for iOS" in change.why
        assert verdicts(s, sent.message_id) == [("open", "machine", "bot")]  # shown, not applied

    [done] = recheck(rt, clock)
    assert "now counted as the person's open" in done
    with rt.sessions() as s:
        assert summarize(events(s, sent.message_id))["opens"] == 1
        [stored] = events(s, sent.message_id, "open")
        assert stored.data["rechecked"]["verdict"] == "machine"
    [entry] = timeline(rt, sent)
    assert (entry["from"], entry["to"], entry["kind"]) == ("machine", "human", "open")
    assert recheck(rt, clock) == []  # nothing left to change: a second run is a no-op


def test_a_feed_readers_open_the_old_rules_took_for_a_person_stops_counting(
    client: Any, rt: Runtime, clock: FrozenClock
) -> None:
    # Before the feed-reader family rule, an Apple app's own fetch counted as a person's open.
    sent = send_message(rt)
    clock.advance(hours=2)
    get(client, sent.pixel, "Reeder/5.0 CFNetwork/1410.0.3 Darwin/22.6.0")
    with rt.sessions() as s:
        [opened] = events(s, sent.message_id, "open")
        assert (opened.verdict, opened.reason) == ("machine", "bot")
    as_old_rules_left_it(rt, opened.id, "human", None)

    with rt.sessions() as s:
        [change] = plan_recheck(s, clock.now() - MONTH)
        assert change.transition == "open human -> machine" and "feed reader" in change.why
    assert len(recheck(rt, clock)) == 1
    with rt.sessions() as s:
        assert summarize(events(s, sent.message_id))["opens"] == 0
    [entry] = timeline(rt, sent)
    assert (entry["from"], entry["to"], entry["kind"]) == ("human", "machine", "open")


def test_a_click_after_apples_proxy_open_is_the_first_human_engagement(
    client: Any, rt: Runtime, clock: FrozenClock
) -> None:
    sent = send_message(rt)
    clock.advance(seconds=20)
    get(client, sent.pixel, APPLE_MAIL_IOS)  # Apple's proxy, seconds after delivery
    clock.advance(hours=3)
    get(client, sent.clicks[0], BROWSER)  # the person, hours later
    with rt.sessions() as s:
        opened, inferred = events(s, sent.message_id, "open")
        [clicked] = events(s, sent.message_id, "click")
        assert (opened.reason, inferred.reason, clicked.verdict) == (
            "apple_privacy_proxy",
            "inferred",
            "human",
        )
        # The old rules: the proxy's open was a person, the click was held against it.
        s.delete(s.get(Event, inferred.id))
        s.commit()
    as_old_rules_left_it(rt, opened.id, "human", None)
    as_old_rules_left_it(rt, clicked.id, "machine", "security_scanner")

    with rt.sessions() as s:
        planned = plan_recheck(s, clock.now() - MONTH)
    assert sorted(c.transition for c in planned) == [
        "click machine -> human",
        "open human -> machine",
        "open none -> human",
    ]
    assert len(recheck(rt, clock)) == 3
    with rt.sessions() as s:
        summary = summarize(events(s, sent.message_id))
        assert (summary["opens"], summary["inferred_opens"], summary["clicks"]) == (1, 1, 1)
        assert summary["machine_opens"] == 1
        assert summary["first_open_at"] == clicked.at  # engagement starts with the click
    assert len(timeline(rt, sent)) == 3
    assert recheck(rt, clock) == []


def test_a_scanner_click_taken_for_a_person_loses_the_open_inferred_from_it(
    client: Any, rt: Runtime, clock: FrozenClock
) -> None:
    sent = send_message(rt)
    clock.advance(hours=1)
    get(client, sent.clicks[0], "Mozilla/5.0")  # a bare agent: a scanner's
    with rt.sessions() as s:
        [clicked] = events(s, sent.message_id, "click")
        assert (clicked.verdict, clicked.reason) == ("machine", "security_scanner")
        clicked_id, hit = clicked.id, clicked.hit_id
    with rt.sessions.begin() as s:
        s.add(  # what the old rules wrote: a person's click, and the open inferred from it
            Event(
                type="open",
                at=clicked.at,
                prospect_id=sent.prospect_id,
                message_id=sent.message_id,
                verdict="human",
                reason="inferred",
                data={"inferred_from": "click", "hit": hit},
                hit_id=inferred_hit_id(hit or ""),
            )
        )
    as_old_rules_left_it(rt, clicked_id, "human", None)

    assert len(recheck(rt, clock)) == 2
    with rt.sessions() as s:
        summary = summarize(events(s, sent.message_id))
        assert (summary["opens"], summary["clicks"], summary["machine_clicks"]) == (0, 0, 1)
    assert {(e["kind"], e["from"], e["to"]) for e in timeline(rt, sent)} == {
        ("click", "human", "machine"),
        ("open", "human", "machine"),
    }


def test_only_hits_since_the_window_are_rechecked(
    client: Any, rt: Runtime, clock: FrozenClock
) -> None:
    sent = send_message(rt)
    outlook_open_taken_for_a_machine(client, rt, clock, sent)
    clock.advance(days=40)
    assert recheck(rt, clock) == []
    with rt.sessions() as s:
        assert verdicts(s, sent.message_id) == [("open", "machine", "bot")]


def test_the_command_shows_counts_and_a_sample_then_applies_on_confirmation(
    client: Any, app: Any, rt: Runtime, clock: FrozenClock, tmp_path: Path, smtp_sink: Sink
) -> None:
    sent = send_message(rt)
    with rt.sessions.begin() as s:
        rep = create_user(s, "rita.recheck@example.com", name="Rita", team=default_team(s))
        rep.password_hash = CHEAP_HASH
        prospect = s.get(Prospect, sent.prospect_id)
        assert prospect is not None
        prospect.owner_id = rep.id
        rep_email = rep.email
    outlook_open_taken_for_a_machine(client, rt, clock, sent)
    runner = CliRunner(env=make_env(rt.settings.database_url, smtp_sink.port, tmp_path))

    shown = runner.invoke(main, ["verdicts", "recheck", "--since", "9999d"], input="n\n")
    assert shown.exit_code == 0, shown.output
    assert "Opens and clicks: 1 verdict(s) would change" in shown.output
    assert "open machine -> human" in shown.output and "Nothing changed." in shown.output
    with rt.sessions() as s:
        assert verdicts(s, sent.message_id) == [("open", "machine", "bot")]

    applied = runner.invoke(main, ["verdicts", "recheck", "--since", "9999d", "--yes"])
    assert applied.exit_code == 0, applied.output
    assert "Applied 1 change(s)" in applied.output
    with rt.sessions() as s:
        assert verdicts(s, sent.message_id, "open") == [("open", "human", None)]
        assert s.scalar(select(User.id).where(User.email == rep_email)) is not None

    browser = app.test_client()
    login(browser, rep_email)
    page = browser.get(f"/prospects/{sent.prospect_id}").text
    assert "Verdict rechecked (open of" in page and "now counted as the person" in page
    again = runner.invoke(main, ["verdicts", "recheck", "--since", "9999d", "--yes"])
    assert "No stored verdict" in again.output
