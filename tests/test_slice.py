"""The first tracked email, end to end: API -> scheduler -> worker -> SMTP sink -> pixel and click."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from sequences import runtime
from sequences.actors import enqueue_step
from sequences.clock import FrozenClock
from sequences.scheduler import tick

from .conftest import Cast, Sink

BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Safari/605.1.15"
)
PRICING = "https://example.com/pricing?plan=pro&ref=mail#compare"
UNICODE_LINK = "https://example.com/caf\u00e9/men\u00fc?q=\u00fcber"


def _path(url: str) -> str:
    return urlsplit(url).path


def create_slice(client: Any, cast: Cast) -> dict[str, Any]:
    prospect = client.post(
        "/api/v1/prospects",
        json={
            "email": "zoe@prospect.example",
            "first_name": "Zo\u00eb",
            "company": "Initech",
            "fields": {"need": "faster onboarding"},
        },
        headers=cast.auth(),
    )
    assert prospect.status_code == 201, prospect.json
    sequence = client.post(
        "/api/v1/sequences",
        json={
            "name": "First touch",
            "steps": [
                {
                    "type": "email",
                    "delay": "PT0S",
                    "subject": "Hello {{ first_name }} \U0001f44b",
                    "body_html": (
                        "<p>Hi {{ first_name | default('there') }},</p>"
                        "<p>You said you need {{ fields.need }} at {{ company }}.</p>"
                        f'<p><a href="{PRICING.replace("&", "&amp;")}">See pricing</a> or '
                        f'<a href="{UNICODE_LINK}">the caf\u00e9</a> or '
                        '<a href="mailto:rita@example.com">mail me</a>.</p>'
                        "<p>{{ sender.signature }}</p>"
                    ),
                }
            ],
        },
        headers=cast.auth(),
    )
    assert sequence.status_code == 201, sequence.json
    enrollment = client.post(
        "/api/v1/enrollments",
        json={"prospect_id": prospect.json["id"], "sequence_id": sequence.json["id"]},
        headers=cast.auth(),
    )
    assert enrollment.status_code == 201, enrollment.json
    assert enrollment.json["status"] == "active"
    return {"prospect": prospect.json, "sequence": sequence.json, "enrollment": enrollment.json}


def send_due(rt: runtime.Runtime, broker: Any) -> int:
    count = tick(rt, enqueue_step)
    broker.join("send", fail_fast=True)
    return count


def test_first_tracked_email_end_to_end(
    client: Any,
    cast: Cast,
    rt: runtime.Runtime,
    clock: FrozenClock,
    smtp_sink: Sink,
    stub_worker: Any,
) -> None:
    made = create_slice(client, cast)
    assert send_due(rt, stub_worker) == 1

    [stored] = smtp_sink.messages()
    msg = stored.message
    assert stored.envelope_to == ["zoe@prospect.example"]
    assert stored.envelope_from.startswith("bounce+") and stored.envelope_from.endswith(
        "@mail.example.test"
    )
    assert str(msg["Subject"]) == "Hello Zo\u00eb \U0001f44b"
    assert str(msg["To"]) == "Zo\u00eb <zoe@prospect.example>"
    assert msg["Message-ID"].endswith("@mail.example.test>")
    assert msg["Date"] and msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative"
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    assert "You said you need faster onboarding at Initech." in html
    assert "Rita Rep" in html
    assert "mailto:rita@example.com" in html  # mailto links are not tracked
    assert PRICING not in html and "http://track.example.test/c/" in text

    pixel = re.search(r'<img src="(http://track\.example\.test/o/[^"]+\.gif)"', html)
    assert pixel is not None
    clicks = re.findall(r'href="(http://track\.example\.test/c/[^"]+)"', html)
    assert len(clicks) == 3  # pricing, unicode link, and the hidden honeypot

    clock.advance(minutes=3)
    response = client.get(_path(pixel.group(1)), headers={"User-Agent": BROWSER})
    assert response.status_code == 200 and response.mimetype == "image/gif"
    assert "no-store" in response.headers["Cache-Control"]

    response = client.get(_path(clicks[0]), headers={"User-Agent": BROWSER})
    assert response.status_code == 302 and response.headers["Location"] == PRICING
    # A person, not a scanner: every link clicked within seconds would be a scanner's burst.
    clock.advance(seconds=40)
    response = client.get(_path(clicks[1]), headers={"User-Agent": BROWSER})
    assert response.status_code == 302
    assert response.headers["Location"] == "https://example.com/caf%C3%A9/men%C3%BC?q=%C3%BCber"

    prospect_id = made["prospect"]["id"]
    activity = client.get(f"/api/v1/prospects/{prospect_id}/activity", headers=cast.auth()).json
    types = [e["type"] for e in activity["events"]]
    assert types[:3] == ["click", "click", "open"]
    assert "sent" in types and "enrolled" in types
    assert activity["summary"]["opens"] == 1 and activity["summary"]["clicks"] == 2
    assert activity["summary"]["last_open_at"] is not None
    sent = next(e for e in activity["events"] if e["type"] == "sent")
    assert sent["subject"] == "Hello Zo\u00eb \U0001f44b"

    enrollment = client.get(
        f"/api/v1/enrollments/{made['enrollment']['id']}", headers=cast.auth()
    ).json
    assert enrollment["status"] == "finished"  # a one-step sequence ends after its email


def test_conversion_stops_the_enrollment(
    client: Any,
    cast: Cast,
    rt: runtime.Runtime,
    clock: FrozenClock,
    smtp_sink: Sink,
    stub_worker: Any,
) -> None:
    prospect = client.post(
        "/api/v1/prospects", json={"email": "pat@prospect.example"}, headers=cast.auth()
    ).json
    sequence = client.post(
        "/api/v1/sequences",
        json={
            "name": "Two",
            "steps": [
                {"type": "email", "delay": "P1D", "subject": "One", "body_html": "<p>one</p>"},
                {"type": "email", "delay": "P3D", "subject": "Two", "body_html": "<p>two</p>"},
            ],
        },
        headers=cast.auth(),
    ).json
    enrollment = client.post(
        "/api/v1/enrollments",
        json={"prospect_id": prospect["id"], "sequence_id": sequence["id"]},
        headers=cast.auth(),
    ).json
    assert send_due(rt, stub_worker) == 0  # not due for a day
    response = client.post(f"/api/v1/prospects/{prospect['id']}/conversion", headers=cast.auth())
    assert response.status_code == 200
    assert response.json["stopped_enrollment_ids"] == [enrollment["id"]]
    assert (
        client.get(f"/api/v1/enrollments/{enrollment['id']}", headers=cast.auth()).json["status"]
        == "converted"
    )
    clock.advance(days=2)
    assert send_due(rt, stub_worker) == 0
    assert smtp_sink.messages() == []


def test_tampered_tokens_record_nothing_and_never_redirect(
    client: Any,
    cast: Cast,
    rt: runtime.Runtime,
    clock: FrozenClock,
    smtp_sink: Sink,
    stub_worker: Any,
) -> None:
    made = create_slice(client, cast)
    send_due(rt, stub_worker)
    html = smtp_sink.messages()[0].message.get_body(("html",)).get_content()
    pixel = re.search(r'/o/([^"]+)\.gif', html).group(1)  # type: ignore[union-attr]
    click = re.search(r'/c/([^"]+)"', html).group(1)  # type: ignore[union-attr]
    before = client.get(
        f"/api/v1/prospects/{made['prospect']['id']}/activity", headers=cast.auth()
    ).json

    flipped = lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1]  # noqa: E731
    for path in (f"/o/{flipped(pixel)}.gif", f"/o/{pixel[:-5]}.gif", "/o/nonsense.gif", "/o/x/y/z"):
        response = client.get(path)
        assert response.status_code == 200 and response.mimetype == "image/gif"
    for path in (
        f"/c/{flipped(click)}",
        f"/c/{click[:10]}",
        f"/c/{pixel}",
        f"/c/{click}x?url=https://evil.example",
    ):
        response = client.get(path)
        assert response.status_code == 404 and "Location" not in response.headers

    after = client.get(
        f"/api/v1/prospects/{made['prospect']['id']}/activity", headers=cast.auth()
    ).json
    assert len(after["events"]) == len(before["events"])
