"""Opens and clicks through the real routes: verdicts with reasons, repeats, inferred opens, summary."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sequences.clock import FrozenClock
from sequences.models import Event, Message
from sequences.runtime import Runtime
from sequences.tracking.events import infer_open
from sequences.tracking.verdicts import SCANNER
from sequences.workspace.activity import summarize

from .tracking_support import BROWSER, events, send_message, verdicts

GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


def get(client: Any, path: str, ua: str = BROWSER, ip: str = "198.51.100.7", **kw: Any) -> Any:
    return client.get(path, headers={"User-Agent": ua}, environ_base={"REMOTE_ADDR": ip}, **kw)


def test_pixel_records_a_human_open_with_ip_and_agent(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(minutes=5)
    response = get(client, sent.pixel)
    assert response.status_code == 200 and response.data[:6] == b"GIF89a"
    assert response.headers["Cache-Control"].startswith("no-store")
    assert response.headers["Pragma"] == "no-cache" and response.headers["Expires"] == "0"
    [event] = events(session, sent.message_id, "open")
    assert (event.verdict, event.reason) == ("human", None)
    assert event.ip == "198.51.100.7" and event.user_agent == BROWSER
    assert event.at == clock.now() and event.hit_id and len(event.hit_id) == 32


def test_apple_privacy_proxy_open_is_a_machine(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(seconds=30)
    get(client, sent.pixel, ua="Mozilla/5.0", ip="17.58.63.10")
    assert verdicts(session, sent.message_id) == [("open", "machine", "apple_privacy_proxy")]


def test_gmail_proxy_open_is_a_human_open_via_the_proxy(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(hours=2)
    get(client, sent.pixel, ua=GMAIL, ip="66.249.84.1")
    assert verdicts(session, sent.message_id) == [("open", "human", "google_image_proxy")]


def test_open_seconds_after_delivery_is_a_prefetch(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(seconds=2)
    get(client, sent.pixel)
    [event] = events(session, sent.message_id, "open")
    assert (event.verdict, event.reason) == ("machine", "prefetch")
    assert "after delivery" in event.data["why"]


def test_head_request_is_a_prefetch(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(hours=1)
    assert client.head(sent.pixel, headers={"User-Agent": BROWSER}).status_code == 200
    response = client.head(sent.clicks[0], headers={"User-Agent": BROWSER})
    assert response.status_code == 302
    assert verdicts(session, sent.message_id) == [
        ("open", "machine", "prefetch"),
        ("click", "machine", "prefetch"),
    ]


def test_hidden_honeypot_click_is_a_prefetch_and_never_infers_an_open(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(hours=1)
    honeypot = sent.clicks[-1]
    assert sent.links[-1][2] is True  # the last link is the hidden one
    assert get(client, honeypot).status_code == 302
    assert verdicts(session, sent.message_id) == [("click", "machine", "prefetch")]


def test_scanner_address_range_is_a_security_scanner_even_with_a_browser_agent(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(minutes=10)
    get(client, sent.clicks[0], ip="40.107.22.9")  # Exchange Online Protection
    [event] = events(session, sent.message_id, "click")
    assert (event.verdict, event.reason) == ("machine", "security_scanner")
    assert "Microsoft" in event.data["why"]


def test_burst_on_every_link_is_a_scanner_and_relabels_the_earlier_click(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(minutes=10)
    get(client, sent.clicks[0])
    first = verdicts(session, sent.message_id)
    assert ("click", "human", None) in first and ("open", "human", "inferred") in first
    clock.advance(seconds=3)
    get(client, sent.clicks[1])
    assert verdicts(session, sent.message_id) == [
        ("click", "machine", "security_scanner"),
        ("open", "machine", "security_scanner"),  # the open inferred from it goes too
        ("click", "machine", "security_scanner"),
    ]
    assert summarize(events(session, sent.message_id))["clicks"] == 0


def test_click_seconds_after_a_machine_open_is_a_scanner(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(minutes=1)
    get(client, sent.pixel, ua="Mozilla/5.0 (compatible; Barracuda Sentinel (EE))")
    clock.advance(seconds=4)
    get(client, sent.clicks[0])
    assert verdicts(session, sent.message_id) == [
        ("open", "machine", "security_scanner"),
        ("click", "machine", "security_scanner"),
    ]


def test_known_crawler_is_a_bot(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(minutes=1)
    get(
        client,
        sent.clicks[0],
        ua="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    )
    get(client, sent.pixel, ua="")
    assert verdicts(session, sent.message_id) == [
        ("click", "machine", "bot"),
        ("open", "machine", "bot"),
    ]


def test_human_click_without_an_open_records_an_inferred_open_once(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(hours=3)
    get(client, sent.clicks[0])
    clock.advance(minutes=5)
    get(client, sent.clicks[0])
    opens = events(session, sent.message_id, "open")
    assert [(e.verdict, e.reason, e.data["inferred_from"]) for e in opens] == [
        ("human", "inferred", "click")
    ]
    summary = summarize(events(session, sent.message_id))
    assert summary["opens"] == 1 and summary["inferred_opens"] == 1 and summary["clicks"] == 2


def test_no_inferred_open_when_a_human_open_exists(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(hours=3)
    get(client, sent.pixel)
    clock.advance(minutes=1)
    get(client, sent.clicks[1])
    assert verdicts(session, sent.message_id) == [("open", "human", None), ("click", "human", None)]


def test_reply_infers_an_open_for_a_message_with_images_blocked(
    rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    message = session.get(Message, sent.message_id)
    assert message is not None
    assert infer_open(session, message, clock.now(), via="reply") is True
    session.commit()
    assert infer_open(session, message, clock.now(), via="reply") is False
    [event] = events(session, sent.message_id, "open")
    assert (event.verdict, event.reason, event.data["inferred_from"]) == (
        "human",
        "inferred",
        "reply",
    )


def test_repeated_opens_within_a_minute_are_kept_but_counted_once(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(hours=1)
    first = clock.now()
    for _ in range(3):
        get(client, sent.pixel)
        clock.advance(seconds=10)
    clock.advance(minutes=5)
    get(client, sent.pixel)
    last = clock.now()
    opens = events(session, sent.message_id, "open")
    assert len(opens) == 4
    assert [bool(e.data.get("repeat")) for e in opens] == [False, True, True, False]
    summary = summarize(events(session, sent.message_id))
    assert summary["opens"] == 2
    assert (summary["first_open_at"], summary["last_open_at"]) == (first, last)


def test_summary_separates_human_and_machine(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(seconds=1)
    get(client, sent.pixel, ua="Mozilla/5.0")  # Apple's proxy at delivery
    get(client, sent.clicks[-1])  # a scanner on the honeypot
    clock.advance(hours=5)
    get(client, sent.pixel, ua=GMAIL)
    clock.advance(minutes=2)
    get(client, sent.clicks[0])
    summary = summarize(events(session, sent.message_id))
    assert summary["opens"] == 1 and summary["machine_opens"] == 1
    assert summary["clicks"] == 1 and summary["machine_clicks"] == 1
    assert summary["inferred_opens"] == 0


def test_activity_api_shows_verdict_and_reason(
    client: Any, cast: Any, rt: Runtime, clock: FrozenClock
) -> None:
    sent = send_message(rt)
    clock.advance(hours=1)
    get(client, sent.pixel, ua=GMAIL)
    body = client.get(f"/api/v1/prospects/{sent.prospect_id}/activity", headers=cast.auth()).json
    [open_] = [e for e in body["events"] if e["type"] == "open"]
    assert open_["verdict"] == "human" and open_["reason"] == "google_image_proxy"
    assert body["summary"]["opens"] == 1


def test_ip_truncation_setting_keeps_only_the_network(
    rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    import dataclasses

    from tracker import create_app

    rt.settings = dataclasses.replace(rt.settings, ip_truncate=True)
    client = create_app({"RUNTIME": rt, "TESTING": True}).test_client()
    sent = send_message(rt)
    clock.advance(hours=1)
    get(client, sent.pixel, ip="203.0.113.77")
    get(client, sent.clicks[0], ip="2001:db8:1234:5678::1")
    assert [e.ip for e in events(session, sent.message_id)] == ["203.0.113.0", "2001:db8:1234::"]


def test_every_raw_hit_is_kept(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(hours=1)
    for _ in range(5):
        get(client, sent.pixel)
    total = session.scalar(select(Event.id).where(Event.message_id == sent.message_id).limit(1))
    assert total is not None and len(events(session, sent.message_id, "open")) == 5


def test_webhook_subscribed_to_opens_gets_a_delivery_per_tracked_open(
    client: Any, cast: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    from sequences.models import WebhookDelivery

    made = client.post(
        "/api/v1/webhooks",
        json={"url": "http://hooks.example.invalid/hook", "events": ["open", "click"]},
        headers=cast.auth(cast.manager_key),
    )
    assert made.status_code == 201, made.json
    sent = send_message(rt)
    clock.advance(hours=1)
    get(client, sent.pixel)
    get(client, sent.clicks[0])
    [open_, click] = events(session, sent.message_id)
    deliveries = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    assert [(d.event_id, d.event_type) for d in deliveries] == [
        (open_.id, "open"),
        (click.id, "click"),
    ]
    assert open_.hit_id and open_.verdict == "human"


APPLE_MAIL_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)


def test_a_persons_click_after_a_machine_open_is_the_first_human_engagement(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(seconds=20)
    get(client, sent.pixel, ua=APPLE_MAIL_IOS, ip="172.225.10.5")  # Apple's proxy, via the relay
    clock.advance(hours=2)
    get(client, sent.clicks[0])
    assert verdicts(session, sent.message_id) == [
        ("open", "machine", "apple_privacy_proxy"),
        ("click", "human", None),
        ("open", "human", "inferred"),
    ]
    summary = summarize(events(session, sent.message_id))
    assert summary["opens"] == 1 and summary["clicks"] == 1 and summary["machine_opens"] == 1
    assert summary["first_open_at"] == summary["last_click_at"] == clock.now()


def test_a_click_seconds_after_delivery_before_any_open_is_a_scanner(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(seconds=20)
    get(client, sent.clicks[0])
    [event] = events(session, sent.message_id, "click")
    assert (event.verdict, event.reason) == ("machine", "security_scanner")
    assert "before any open" in event.data["why"]
    assert summarize(events(session, sent.message_id))["opens"] == 0  # no open inferred


def test_a_quick_click_after_the_person_opened_it_stays_human(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(seconds=15)
    get(client, sent.pixel)
    clock.advance(seconds=10)
    get(client, sent.clicks[1])
    assert verdicts(session, sent.message_id) == [("open", "human", None), ("click", "human", None)]


def test_two_links_clicked_within_a_second_are_both_a_scanner(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(hours=1)
    get(client, sent.clicks[0])
    clock.advance(seconds=0.5)
    get(client, sent.clicks[1])
    assert [(e.verdict, e.reason) for e in events(session, sent.message_id, "click")] == [
        ("machine", "security_scanner"),
        ("machine", "security_scanner"),
    ]
    assert summarize(events(session, sent.message_id))["opens"] == 0  # its inferred open went too


def test_loopback_addresses_are_not_looked_up_in_any_range(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(hours=1)
    get(client, sent.pixel, ua=APPLE_MAIL_IOS, ip="127.0.0.1")
    assert verdicts(session, sent.message_id) == [("open", "human", None)]


def test_apples_bare_webkit_open_seconds_after_delivery_is_the_proxy_and_hours_later_a_person(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    # From an ordinary public address: only the timing says it is Apple's prefetch.
    early, late = send_message(rt), send_message(rt, email="ann@prospect.example")
    clock.advance(seconds=20)
    get(client, early.pixel, ua=APPLE_MAIL_IOS, ip="81.2.69.160")
    clock.advance(hours=3)
    get(client, late.pixel, ua=APPLE_MAIL_IOS, ip="81.2.69.160")
    assert verdicts(session, early.message_id) == [("open", "machine", "apple_privacy_proxy")]
    assert verdicts(session, late.message_id) == [("open", "human", None)]


@pytest.mark.parametrize(
    ("ua", "reason"),
    [
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7; Trident/7.0; rv:11.0) like Gecko",
            SCANNER,
        ),
        ("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)", SCANNER),  # ancient MSIE
        ("Mozilla/5.0", SCANNER),  # a bare agent on a click
        ("Mozilla/5.0 (Linux; Android 13) Viber/20.3.0.0", "link_preview"),
    ],
)
def test_scanner_disguises_and_a_messengers_preview_are_machines_an_hour_later(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session, ua: str, reason: str
) -> None:
    sent = send_message(rt)
    clock.advance(hours=1)
    get(client, sent.clicks[0], ua=ua)
    assert verdicts(session, sent.message_id) == [("click", "machine", reason)]
    assert summarize(events(session, sent.message_id))["clicks"] == 0


@pytest.mark.parametrize(
    "ua",
    [
        "Outlook-iOS/709.2189947.prod.iphone (3.24.0)",
        "MacOutlook/16.46.21021202 (Intelx64 Mac OS X 11.2.2 (Build 20D80))",
        "Outlook/16.16.18071205 CFNetwork/902.1 Darwin/17.7.0 (x86_64)",
        "Airmail 1.4 rv:238 (Macintosh; Mac OS X 10.9.2; hr_HR)",
    ],
)
def test_outlook_for_ios_and_mac_and_airmail_opens_are_people(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session, ua: str
) -> None:
    sent = send_message(rt)
    clock.advance(hours=2)
    get(client, sent.pixel, ua=ua)
    assert verdicts(session, sent.message_id) == [("open", "human", None)]
    assert summarize(events(session, sent.message_id))["opens"] == 1


OUTLOOK_IOS_WEBKIT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Outlook-iOS-Android/1.0 Mobile/15E148 Safari/604.1"
)


def test_an_outlook_mobile_in_app_open_is_a_persons_open_on_the_prospects_activity(
    client: Any, cast: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    # Outlook for iOS/Android's WebKit agent carries "Outlook-iOS-Android/1.0", which the
    # crawler lists count as a bot: the mail-client family must win, end to end.
    sent = send_message(rt)
    clock.advance(hours=3)
    get(client, sent.pixel, ua=OUTLOOK_IOS_WEBKIT, ip="203.0.113.9")
    [event] = events(session, sent.message_id, "open")
    assert (event.verdict, event.reason) == ("human", None)
    assert event.data["why"] == "mail client: Outlook for iOS/Android"
    body = client.get(f"/api/v1/prospects/{sent.prospect_id}/activity", headers=cast.auth()).json
    [open_] = [e for e in body["events"] if e["type"] == "open"]
    assert open_["verdict"] == "human"
    assert body["summary"]["opens"] == 1 and body["summary"]["machine_opens"] == 0


@pytest.mark.parametrize(
    ("ua", "why"),
    [
        # Mail clients that send their own agent, no Mozilla token: the "neither a browser nor a
        # known mail client" rule took them for programs before the maintained lists.
        ("Evolution/3.50.2", "mail client: a mail reader Debian ships"),
        ("K-9 Mail/6.710", "mail client: a mail client of ua-parser-js's list"),
    ],
)
def test_a_self_identifying_mail_clients_open_is_a_persons_open_on_the_prospects_activity(
    client: Any, cast: Any, rt: Runtime, clock: FrozenClock, session: Session, ua: str, why: str
) -> None:
    sent = send_message(rt)
    clock.advance(hours=3)
    get(client, sent.pixel, ua=ua, ip="203.0.113.9")
    [event] = events(session, sent.message_id, "open")
    assert (event.verdict, event.reason, event.data["why"]) == ("human", None, why)
    body = client.get(f"/api/v1/prospects/{sent.prospect_id}/activity", headers=cast.auth()).json
    assert body["summary"]["opens"] == 1 and body["summary"]["machine_opens"] == 0


@pytest.mark.parametrize(
    ("kind", "ua"),
    [
        (
            "open",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.21 (KHTML, like Gecko) "
            "Clementine/1.3.1 Safari/537.21",
        ),
        ("open", "TuneIn Radio/27.4 (iPhone; iOS 17.2; Scale/3.00)"),
        (
            "click",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/131.0.0.0 Safari/537.36 CookieHubScan/3.0",
        ),
    ],
)
def test_media_players_and_listed_crawlers_with_a_browsers_agent_are_not_counted_as_people(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session, kind: str, ua: str
) -> None:
    sent = send_message(rt)
    clock.advance(hours=2)
    get(client, sent.pixel if kind == "open" else sent.clicks[0], ua=ua, ip="203.0.113.9")
    assert verdicts(session, sent.message_id) == [(kind, "machine", "bot")]
    summary = summarize(events(session, sent.message_id))
    assert summary["opens"] == 0 and summary["clicks"] == 0
