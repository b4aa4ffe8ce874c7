"""Outgoing webhooks against a real local HTTP server: signed, retried with backoff, never lost."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, update

from sequences import runtime, webhooks
from sequences.actors import deliver_webhook, dispatch_webhooks
from sequences.clock import FrozenClock
from sequences.config import Settings, load_settings
from sequences.egress import TargetPolicy
from sequences.enrollment import record
from sequences.models import WebhookDelivery
from sequences.webhooks import dispatch, verify

from .conftest import Cast, Sink, make_env
from .test_slice import BROWSER, create_slice, send_due


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP server that records each POST and can fail the first N, or hang."""

    url: str
    requests: list[Received] = field(default_factory=list)
    fail_first: int = 0
    status: int = 200
    fail_status: int = 500
    delay: float = 0.0
    trickle: bool = False  # answer 500 with a long body, one byte at a time
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def settings(database_url: str, smtp_sink: Sink, tmp_path: Path) -> Settings:
    """These tests deliver to a real server on 127.0.0.1, which only this setting allows."""
    env = make_env(database_url, smtp_sink.port, tmp_path, FOLLOWUP_WEBHOOK_ALLOW_PRIVATE="true")
    return load_settings(env)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.requests.append(Received(self.path, dict(self.headers), body))
                failing = len(state.requests) <= state.fail_first
            if state.delay:
                time.sleep(state.delay)  # a slow endpoint, not synchronisation
            if state.trickle:
                self.send_response(500)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(1000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)  # a slow endpoint, not synchronisation
                return
            self.send_response(state.fail_status if failing else state.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/followup?src=test"
    yield state
    server.shutdown()
    server.server_close()


def register(client: Any, cast: Cast, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/webhooks", json={"url": url, "events": events, **extra}, headers=cast.auth()
    )
    assert response.status_code == 201, response.json
    return dict(response.json)


def new_prospect(client: Any, cast: Cast, email: str, key: str | None = None) -> int:
    response = client.post("/api/v1/prospects", json={"email": email}, headers=cast.auth(key))
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def deliver_due(rt: runtime.Runtime, broker: Any) -> int:
    """What the scheduler's hook and the worker do, in this process."""
    count = dispatch_webhooks(rt)
    broker.join("webhooks", fail_fast=True)
    return count


def deliveries(rt: runtime.Runtime) -> list[WebhookDelivery]:
    with rt.sessions() as s:
        return list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_conversion_is_posted_signed_to_the_registered_url(
    client: Any, cast: Cast, rt: runtime.Runtime, receiver: Receiver, stub_worker: Any
) -> None:
    hook = register(client, cast, receiver.url, ["conversion", "reply"])
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["reply", "conversion"]
    assert "secret" not in client.get(f"/api/v1/webhooks/{hook['id']}", headers=cast.auth()).json
    prospect_id = new_prospect(client, cast, "zed@prospect.example")
    client.post(f"/api/v1/prospects/{prospect_id}/conversion", headers=cast.auth())

    assert deliver_due(rt, stub_worker) == 1
    [got] = receiver.requests
    assert got.path == "/hooks/followup?src=test"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Followup-Event"] == "conversion"
    now = int(rt.clock.now().timestamp())
    assert verify(hook["secret"], got.headers["X-Followup-Signature"], got.body, now)
    assert not verify(hook["secret"], got.headers["X-Followup-Signature"], got.body + b" ", now)
    assert not verify("whsec_other", got.headers["X-Followup-Signature"], got.body, now)
    assert not verify(hook["secret"], got.headers["X-Followup-Signature"], got.body, now + 3600)
    assert got.json["type"] == "conversion"
    assert got.json["prospect"]["email"] == "zed@prospect.example"
    assert got.json["id"] == int(got.headers["X-Followup-Delivery"])

    listed = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=cast.auth()).json
    [row] = listed["items"]
    assert row["status"] == "delivered" and row["attempts"] == 1
    assert row["last_status_code"] == 200 and row["event_type"] == "conversion"
    assert deliver_due(rt, stub_worker) == 0 and len(receiver.requests) == 1


def test_a_human_open_reaches_the_webhook_end_to_end(
    client: Any,
    cast: Cast,
    rt: runtime.Runtime,
    clock: FrozenClock,
    smtp_sink: Sink,
    stub_worker: Any,
    receiver: Receiver,
) -> None:
    register(client, cast, receiver.url, ["open", "click", "sent"])
    create_slice(client, cast)
    send_due(rt, stub_worker)
    html = smtp_sink.messages()[0].message.get_body(("html",)).get_content()
    pixel = re.search(r'src="(http://track\.example\.test/o/[^"]+\.gif)"', html).group(1)  # type: ignore[union-attr]
    clock.advance(minutes=3)
    assert client.get(urlsplit(pixel).path, headers={"User-Agent": BROWSER}).status_code == 200
    # The pixel only wrote rows: nothing has been POSTed until the worker runs.
    assert receiver.requests == []

    assert deliver_due(rt, stub_worker) == 2
    by_type = {r.json["type"]: r.json for r in receiver.requests}
    assert set(by_type) == {"sent", "open"}
    assert by_type["open"]["event"]["verdict"] == "human"
    assert by_type["open"]["prospect"]["email"] == "zoe@prospect.example"


def test_a_failing_endpoint_is_retried_with_exponential_backoff(
    client: Any,
    cast: Cast,
    rt: runtime.Runtime,
    clock: FrozenClock,
    receiver: Receiver,
    stub_worker: Any,
) -> None:
    receiver.fail_first = 2
    register(client, cast, receiver.url, ["conversion"])
    prospect_id = new_prospect(client, cast, "retry@prospect.example")
    client.post(f"/api/v1/prospects/{prospect_id}/conversion", headers=cast.auth())

    assert deliver_due(rt, stub_worker) == 1
    [first] = deliveries(rt)
    assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
    wait1 = first.next_attempt_at - clock.now()  # type: ignore[operator]
    assert 24 <= wait1.total_seconds() <= 36  # 30 s +-20%
    assert deliver_due(rt, stub_worker) == 0  # not due yet

    clock.advance(seconds=40)
    assert deliver_due(rt, stub_worker) == 1
    [second] = deliveries(rt)
    assert (second.status, second.attempts) == ("pending", 2)
    wait2 = second.next_attempt_at - clock.now()  # type: ignore[operator]
    assert 48 <= wait2.total_seconds() <= 72  # doubled

    clock.advance(seconds=80)
    assert deliver_due(rt, stub_worker) == 1
    [done] = deliveries(rt)
    assert (done.status, done.attempts, done.last_error) == ("delivered", 3, None)
    attempts = [r.headers["X-Followup-Attempt"] for r in receiver.requests]
    assert attempts == ["1", "2", "3"]
    assert len({r.headers["X-Followup-Delivery"] for r in receiver.requests}) == 1


def test_gives_up_after_max_attempts_and_can_be_retried_by_hand(
    client: Any,
    cast: Cast,
    rt: runtime.Runtime,
    clock: FrozenClock,
    receiver: Receiver,
    stub_worker: Any,
) -> None:
    receiver.fail_first = 10_000
    hook = register(client, cast, receiver.url, ["conversion"])
    prospect_id = new_prospect(client, cast, "never@prospect.example")
    client.post(f"/api/v1/prospects/{prospect_id}/conversion", headers=cast.auth())
    for _ in range(webhooks.MAX_ATTEMPTS + 2):
        deliver_due(rt, stub_worker)
        clock.advance(hours=2)
    [row] = deliveries(rt)
    assert (row.status, row.attempts) == ("failed", webhooks.MAX_ATTEMPTS)
    assert len(receiver.requests) == webhooks.MAX_ATTEMPTS
    failed = client.get(
        f"/api/v1/webhooks/{hook['id']}/deliveries?status=failed", headers=cast.auth()
    ).json["items"]
    assert [d["id"] for d in failed] == [row.id] and "HTTP 500" in failed[0]["last_error"]

    receiver.fail_first = 0
    again = client.post(
        f"/api/v1/webhooks/{hook['id']}/deliveries/{row.id}/retry", headers=cast.auth()
    )
    assert again.status_code == 200 and again.json["status"] == "pending"
    assert deliver_due(rt, stub_worker) == 1
    assert deliveries(rt)[0].status == "delivered"


def test_a_lost_broker_message_is_found_again(
    client: Any,
    cast: Cast,
    rt: runtime.Runtime,
    clock: FrozenClock,
    receiver: Receiver,
    stub_worker: Any,
) -> None:
    register(client, cast, receiver.url, ["conversion"])
    prospect_id = new_prospect(client, cast, "lost@prospect.example")
    client.post(f"/api/v1/prospects/{prospect_id}/conversion", headers=cast.auth())
    lost: list[int] = []
    assert dispatch(rt, lost.append) == 1  # handed to a broker that then forgets it
    assert deliver_due(rt, stub_worker) == 0  # not handed off twice at once
    clock.advance(webhooks.REQUEUE_AFTER * 1.1)
    assert deliver_due(rt, stub_worker) == 1
    assert len(receiver.requests) == 1 and deliveries(rt)[0].status == "delivered"
    # The lost message turning up late changes nothing.
    deliver_webhook.send(lost[0])
    stub_worker.join("webhooks", fail_fast=True)
    assert len(receiver.requests) == 1


def test_a_duplicate_message_while_in_flight_does_not_post_twice(
    client: Any, cast: Cast, rt: runtime.Runtime, receiver: Receiver
) -> None:
    register(client, cast, receiver.url, ["conversion"])
    prospect_id = new_prospect(client, cast, "dup@prospect.example")
    client.post(f"/api/v1/prospects/{prospect_id}/conversion", headers=cast.auth())
    [delivery] = deliveries(rt)
    inner: list[str] = []

    def post_and_redeliver(
        url: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> tuple[int, str]:
        inner.append(webhooks.deliver(rt, delivery.id))  # the duplicate arrives mid-POST
        return webhooks.http_post(
            url, body, headers, timeout, targets=TargetPolicy(allow_private=True)
        )

    assert webhooks.deliver(rt, delivery.id, post=post_and_redeliver) == "delivered"
    assert inner == ["pending"] and len(receiver.requests) == 1


def test_a_slow_endpoint_times_out_and_is_retried_later(
    client: Any, cast: Cast, rt: runtime.Runtime, receiver: Receiver
) -> None:
    receiver.delay = 1.0
    register(client, cast, receiver.url, ["conversion"])
    prospect_id = new_prospect(client, cast, "slow@prospect.example")
    client.post(f"/api/v1/prospects/{prospect_id}/conversion", headers=cast.auth())
    [delivery] = deliveries(rt)
    assert webhooks.deliver(rt, delivery.id, timeout=0.2) == "pending"
    [row] = deliveries(rt)
    assert row.attempts == 1 and row.last_status_code is None
    assert row.last_error == webhooks.NO_ANSWER


def test_gone_disables_the_webhook(
    client: Any, cast: Cast, rt: runtime.Runtime, receiver: Receiver
) -> None:
    receiver.status = 410
    hook = register(client, cast, receiver.url, ["conversion"])
    for email in ("a@prospect.example", "b@prospect.example"):
        prospect_id = new_prospect(client, cast, email)
        client.post(f"/api/v1/prospects/{prospect_id}/conversion", headers=cast.auth())
    for delivery in deliveries(rt):  # one after the other
        webhooks.deliver(rt, delivery.id)
    assert len(receiver.requests) == 1  # the second is skipped once the first saw 410
    assert sorted(d.status for d in deliveries(rt)) == ["failed", "skipped"]
    got = client.get(f"/api/v1/webhooks/{hook['id']}", headers=cast.auth()).json
    assert got["active"] is False and "410" in got["disabled_reason"]
    # Re-enabled by hand, it hears about new events again.
    client.patch(f"/api/v1/webhooks/{hook['id']}", json={"active": True}, headers=cast.auth())
    assert client.get(f"/api/v1/webhooks/{hook['id']}", headers=cast.auth()).json["active"]


def test_machine_opens_are_skipped_unless_asked_for(
    client: Any, cast: Cast, rt: runtime.Runtime, receiver: Receiver, stub_worker: Any
) -> None:
    register(client, cast, receiver.url, ["open"])
    register(client, cast, receiver.url + "&all=1", ["open"], include_machine=True)
    prospect_id = new_prospect(client, cast, "bot@prospect.example")
    with rt.sessions.begin() as s:
        event = record(s, "open", rt.clock.now(), prospect_id=prospect_id)
        event.verdict, event.reason = "machine", "apple_mpp"
    deliver_due(rt, stub_worker)
    assert [r.path for r in receiver.requests] == ["/hooks/followup?src=test&all=1"]
    statuses = sorted(d.status for d in deliveries(rt))
    assert statuses == ["delivered", "skipped"]


def test_a_reps_webhook_hears_only_their_prospects_and_a_managers_all(
    client: Any, cast: Cast, rt: runtime.Runtime, receiver: Receiver, stub_worker: Any
) -> None:
    register(client, cast, receiver.url + "&who=rep", ["conversion"])
    managers = client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url + "&who=manager", "events": ["conversion"]},
        headers=cast.auth(cast.manager_key),
    )
    assert managers.status_code == 201
    mine = new_prospect(client, cast, "mine@prospect.example")
    theirs = new_prospect(client, cast, "theirs@prospect.example", cast.manager_key)
    for prospect_id in (mine, theirs):
        client.post(
            f"/api/v1/prospects/{prospect_id}/conversion", headers=cast.auth(cast.manager_key)
        )
    deliver_due(rt, stub_worker)
    heard = sorted((r.path.split("who=")[1], r.json["prospect"]["id"]) for r in receiver.requests)
    assert heard == sorted([("manager", mine), ("manager", theirs), ("rep", mine)])
    # A rep does not see the manager's webhook.
    assert (
        client.get(f"/api/v1/webhooks/{managers.json['id']}", headers=cast.auth()).status_code
        == 404
    )


def test_the_delivery_row_commits_or_rolls_back_with_its_event(
    client: Any, cast: Cast, rt: runtime.Runtime, receiver: Receiver
) -> None:
    register(client, cast, receiver.url, ["reply"])
    prospect_id = new_prospect(client, cast, "tx@prospect.example")
    with rt.sessions() as s:
        record(s, "reply", rt.clock.now(), prospect_id=prospect_id)
        s.flush()
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
        s.rollback()
    assert deliveries(rt) == []
    with rt.sessions.begin() as s:
        record(s, "reply", rt.clock.now(), prospect_id=prospect_id)
        record(s, "status_change", rt.clock.now(), prospect_id=prospect_id)  # not subscribable
    assert [d.event_type for d in deliveries(rt)] == ["reply"]


INVALID_WEBHOOKS = [
    ({"events": ["open"]}, "url"),
    ({"url": "ftp://example.com/x", "events": ["open"]}, "url"),
    ({"url": "http://", "events": ["open"]}, "url"),
    ({"url": "http://example.com:99999/", "events": ["open"]}, "url"),
    ({"url": "http://example.com/"}, "events"),
    ({"url": "http://example.com/", "events": []}, "events"),
    ({"url": "http://example.com/", "events": ["opened"]}, "events"),
    ({"url": "http://example.com/", "events": "open"}, "events"),
    ({"url": "http://example.com/", "events": ["open"], "active": "yes"}, "active"),
    ({"url": "http://example.com/", "events": ["open"], "secret": "mine"}, "secret"),
]


def test_invalid_webhook_is_422_naming_the_field(client: Any, cast: Cast) -> None:
    for body, name in INVALID_WEBHOOKS:  # one test, not ten: the app is built once
        response = client.post("/api/v1/webhooks", json=body, headers=cast.auth())
        assert response.status_code == 422, (body, response.json)
        assert response.json["error"]["field"] == name, body


def test_webhooks_and_deliveries_are_paginated_and_deletable(
    client: Any, cast: Cast, rt: runtime.Runtime, receiver: Receiver
) -> None:
    ids = [register(client, cast, f"{receiver.url}&n={n}", ["reply"])["id"] for n in range(3)]
    first = client.get("/api/v1/webhooks?limit=2", headers=cast.auth()).json
    assert [w["id"] for w in first["items"]] == ids[:2] and first["next_cursor"]
    rest = client.get(
        f"/api/v1/webhooks?limit=2&cursor={first['next_cursor']}", headers=cast.auth()
    ).json
    assert [w["id"] for w in rest["items"]] == ids[2:] and rest["next_cursor"] is None

    prospect_id = new_prospect(client, cast, "page@prospect.example")
    with rt.sessions.begin() as s:
        for _ in range(3):
            record(s, "reply", rt.clock.now(), prospect_id=prospect_id)
    page = client.get(f"/api/v1/webhooks/{ids[0]}/deliveries?limit=2", headers=cast.auth()).json
    assert len(page["items"]) == 2 and page["items"][0]["id"] > page["items"][1]["id"]
    more = client.get(
        f"/api/v1/webhooks/{ids[0]}/deliveries?limit=2&cursor={page['next_cursor']}",
        headers=cast.auth(),
    ).json
    assert len(more["items"]) == 1 and more["next_cursor"] is None
    for bad in ("cursor=abc", "limit=-1", "status=lost"):
        response = client.get(f"/api/v1/webhooks/{ids[0]}/deliveries?{bad}", headers=cast.auth())
        assert response.status_code == 422 and response.json["error"]["field"] == bad.split("=")[0]

    assert client.delete(f"/api/v1/webhooks/{ids[0]}", headers=cast.auth()).status_code == 204
    assert client.get(f"/api/v1/webhooks/{ids[0]}", headers=cast.auth()).status_code == 404
    assert len(deliveries(rt)) == 6  # the other two webhooks' rows remain


def test_sending_never_waits_for_a_slow_endpoint(
    client: Any,
    cast: Cast,
    rt: runtime.Runtime,
    smtp_sink: Sink,
    stub_worker: Any,
    receiver: Receiver,
) -> None:
    receiver.delay = 30.0  # would hold any thread that POSTed to it
    register(client, cast, receiver.url, ["sent"])
    create_slice(client, cast)
    assert send_due(rt, stub_worker) == 1  # joins the "send" queue only
    assert len(smtp_sink.messages()) == 1
    # The send wrote its outbox row and went on: nothing was POSTed, nothing is queued yet.
    [row] = deliveries(rt)
    assert (row.event_type, row.status, row.attempts) == ("sent", "pending", 0)
    assert receiver.requests == [] and stub_worker.queues["webhooks"].qsize() == 0


def test_a_long_lived_session_sees_a_webhook_registered_meanwhile(
    client: Any, cast: Cast, rt: runtime.Runtime, receiver: Receiver
) -> None:
    prospect_id = new_prospect(client, cast, "long@prospect.example")
    with rt.sessions() as s:
        record(s, "reply", rt.clock.now(), prospect_id=prospect_id)
        s.commit()  # nobody listened yet
        register(client, cast, receiver.url, ["reply"])
        record(s, "reply", rt.clock.now(), prospect_id=prospect_id)
        s.commit()
    assert len(deliveries(rt)) == 1


def test_finished_deliveries_are_pruned_after_thirty_days(
    client: Any,
    cast: Cast,
    rt: runtime.Runtime,
    clock: FrozenClock,
    receiver: Receiver,
    stub_worker: Any,
) -> None:
    register(client, cast, receiver.url, ["reply"])
    prospect_id = new_prospect(client, cast, "old@prospect.example")
    with rt.sessions.begin() as s:
        record(s, "reply", rt.clock.now(), prospect_id=prospect_id)
    deliver_due(rt, stub_worker)
    clock.advance(days=29)
    with rt.sessions.begin() as s:
        record(s, "reply", rt.clock.now(), prospect_id=prospect_id)  # left pending
        assert webhooks.prune(s, rt.clock.now()) == 0
    clock.advance(days=2)
    with rt.sessions.begin() as s:
        assert webhooks.prune(s, rt.clock.now()) == 1  # the delivered one; pending ones stay
    assert [d.status for d in deliveries(rt)] == ["pending"]


def test_an_error_answer_that_trickles_is_cut_short(
    client: Any, cast: Cast, rt: runtime.Runtime, receiver: Receiver
) -> None:
    receiver.trickle = True  # 1,000 bytes at 20 a second: 50 s if waited for
    register(client, cast, receiver.url, ["conversion"])
    prospect_id = new_prospect(client, cast, "trickle@prospect.example")
    client.post(f"/api/v1/prospects/{prospect_id}/conversion", headers=cast.auth())
    [delivery] = deliveries(rt)
    assert webhooks.deliver(rt, delivery.id, timeout=0.3) == "pending"
    [row] = deliveries(rt)
    assert row.last_status_code == 500
    assert (row.last_error or "").startswith("HTTP 500: x")
    assert len(row.last_error or "") < 100  # read until the deadline, not to the end


def test_a_webhook_whose_deliveries_keep_failing_is_disabled(
    client: Any, cast: Cast, rt: runtime.Runtime, clock: FrozenClock, receiver: Receiver
) -> None:
    receiver.fail_first = 10_000
    hook = register(client, cast, receiver.url, ["reply"])
    prospect_id = new_prospect(client, cast, "dead@prospect.example")
    with rt.sessions.begin() as s:
        for _ in range(webhooks.DEAD_AFTER):
            record(s, "reply", rt.clock.now(), prospect_id=prospect_id)
    with rt.sessions.begin() as s:  # all but one attempt already spent
        s.execute(update(WebhookDelivery).values(attempts=webhooks.MAX_ATTEMPTS - 1))
    rows = deliveries(rt)
    for row in rows[:-1]:
        assert webhooks.deliver(rt, row.id) == "failed"
    assert client.get(f"/api/v1/webhooks/{hook['id']}", headers=cast.auth()).json["active"]
    assert webhooks.deliver(rt, rows[-1].id) == "failed"  # the tenth in a row
    got = client.get(f"/api/v1/webhooks/{hook['id']}", headers=cast.auth()).json
    assert got["active"] is False and "10 deliveries all failed" in got["disabled_reason"]


def test_the_delivery_log_does_not_tell_a_closed_port_from_a_silent_one(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    import socket

    from sequences.sending.sink import free_port

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts, never answers
    try:
        closed = register(client, cast, f"http://127.0.0.1:{free_port()}/", ["conversion"])
        quiet = register(
            client, cast, f"http://127.0.0.1:{silent.getsockname()[1]}/", ["conversion"]
        )
        prospect_id = new_prospect(client, cast, "ports@prospect.example")
        client.post(f"/api/v1/prospects/{prospect_id}/conversion", headers=cast.auth())
        for delivery in deliveries(rt):
            assert webhooks.deliver(rt, delivery.id, timeout=0.3) == "pending"
    finally:
        silent.close()
    shown = [
        client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=cast.auth()).json
        for hook in (closed, quiet)
    ]
    errors = {page["items"][0]["last_error"] for page in shown}
    assert errors == {webhooks.NO_ANSWER}


def test_a_webhook_of_another_team_hears_nothing_of_this_team_even_its_managers(
    client: Any, cast: Cast, rt: runtime.Runtime, receiver: Receiver, stub_worker: Any
) -> None:
    from sequences.workspace import create_api_key, create_team, create_user

    now = rt.clock.now()
    with rt.sessions.begin() as s:
        east = create_team(s, "East")
        bea = create_user(s, "bea@east.example", team=east, manager=True)
        east_key = create_api_key(s, bea, now)
    events = ["conversion", "prospect.status_changed", "reply"]
    east_hook = client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url + "&who=east", "events": events},
        headers=cast.auth(east_key),
    )
    assert east_hook.status_code == 201, east_hook.json
    register(
        client,
        cast,
        receiver.url + "&who=west",
        events,
    )
    west_prospect = new_prospect(client, cast, "west@prospect.example", cast.manager_key)
    east_prospect = new_prospect(client, cast, "east@prospect.example", east_key)
    client.post(
        f"/api/v1/prospects/{west_prospect}/conversion", headers=cast.auth(cast.manager_key)
    )
    client.post(f"/api/v1/prospects/{east_prospect}/conversion", headers=cast.auth(east_key))
    deliver_due(rt, stub_worker)

    heard = {(r.path.split("who=")[1], r.json["prospect"]["id"]) for r in receiver.requests}
    assert ("east", east_prospect) in heard
    assert ("east", west_prospect) not in heard  # a manager of another team hears nothing here
    assert ("west", east_prospect) not in heard
    # Nor can either team read, change or delete the other's webhook.
    hook_id = east_hook.json["id"]
    for method in ("get", "patch", "delete"):
        answer = getattr(client, method)(
            f"/api/v1/webhooks/{hook_id}",
            json={"active": False},
            headers=cast.auth(cast.manager_key),
        )
        assert answer.status_code == 404, (method, answer.status_code)
    listed = client.get("/api/v1/webhooks", headers=cast.auth(cast.manager_key)).json
    assert hook_id not in [w["id"] for w in listed["items"]]
