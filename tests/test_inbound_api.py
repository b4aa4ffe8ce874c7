"""POST /api/v1/inbound (raw email webhook), the inbound list, and conversion/meeting stops."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sequences import runtime
from sequences.models import User

from .conftest import Cast
from .test_inbound import enrollment_of, mail, prospect_of, seed

RFC822 = {"Content-Type": "message/rfc822"}


def _post(client: Any, cast: Cast, raw: bytes, **query: Any) -> Any:
    return client.post(
        "/api/v1/inbound", data=raw, headers={**cast.auth(), **RFC822}, query_string=query
    )


def test_webhook_answers_the_verdict_and_what_it_stopped(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    world = seed(rt)
    response = _post(client, cast, mail("Yes, call me."))
    assert response.status_code == 200
    assert response.json["verdict"] == "reply"
    assert response.json["prospect_id"] == world.prospect_id
    assert response.json["enrollment_ids"] == [world.enrollment_id]
    assert response.json["reason"]
    assert enrollment_of(rt, world).status == "replied"


def test_webhook_retried_with_the_same_mail_acts_once(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    seed(rt)
    raw = mail("Yes, call me.")
    first = _post(client, cast, raw).json
    second = _post(client, cast, raw).json
    assert second["duplicate"] is True and first["duplicate"] is False
    assert second["verdict"] == first["verdict"] and second["inbound_id"] == first["inbound_id"]


def test_webhook_needs_an_api_key(client: Any, rt: runtime.Runtime) -> None:
    response = client.post("/api/v1/inbound", data=mail("hi"), headers=RFC822)
    assert response.status_code == 401


def test_webhook_refuses_json(client: Any, cast: Cast) -> None:
    response = client.post("/api/v1/inbound", json={"raw": "x"}, headers=cast.auth())
    assert response.status_code == 415
    assert "message/rfc822" in response.json["error"]["message"]


def test_webhook_stores_garbage_as_unprocessable(client: Any, cast: Cast) -> None:
    response = _post(client, cast, b"\x00\x01\x02 not mail at all \xff" * 50)
    assert response.status_code == 200
    assert response.json["verdict"] == "unprocessable" and response.json["reason"]


def test_webhook_stores_oversize_mail_as_unprocessable(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    rt.settings = replace(rt.settings, inbound_max_bytes=2048)
    response = _post(client, cast, mail("x" * 5000))
    assert response.status_code == 200
    assert response.json["verdict"] == "unprocessable"
    assert response.json["reason"].startswith("oversize")


def test_envelope_recipients_come_from_the_query(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    world = seed(rt)
    raw = mail(
        "550 5.1.1 user unknown",
        sender="MAILER-DAEMON@mx.example.com",
        subject="Undelivered Mail Returned to Sender",
        in_reply_to=None,
    )
    response = _post(client, cast, raw, to=world.bounce)
    assert response.json["verdict"] == "bounce"
    assert prospect_of(rt, world).status == "bounced"


def test_unmatched_mail_is_listed_to_the_installs_admins_only(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    seed(rt)
    _post(client, cast, mail("Who is this?", sender="x@elsewhere.example", in_reply_to=None))
    _post(client, cast, mail("Yes!", message_id="<yes@prospect.example>"))
    # Mail that matched no team could be another team's prospect: a rep never sees it.
    rep_sees = client.get("/api/v1/inbound", headers=cast.auth()).json["items"]
    assert [i["verdict"] for i in rep_sees] == ["reply"]
    with rt.sessions.begin() as s:
        s.get(User, cast.rep_id).is_admin = True  # type: ignore[union-attr]
    listed = client.get("/api/v1/inbound?verdict=unmatched", headers=cast.auth())
    assert listed.status_code == 200
    [item] = listed.json["items"]
    assert item["from"] == "x@elsewhere.example" and item["verdict"] == "unmatched"
    everything = client.get("/api/v1/inbound", headers=cast.auth()).json["items"]
    assert [i["verdict"] for i in everything] == ["reply", "unmatched"]
    one = client.get(f"/api/v1/inbound/{item['id']}", headers=cast.auth())
    assert one.json["text"] == "Who is this?"
    bad = client.get("/api/v1/inbound?verdict=nonsense", headers=cast.auth())
    assert bad.status_code == 422


def _enrolled(client: Any, cast: Cast, email: str) -> tuple[int, int]:
    prospect = client.post("/api/v1/prospects", json={"email": email}, headers=cast.auth())
    sequence = client.post(
        "/api/v1/sequences",
        json={
            "name": f"Seq {email}",
            "steps": [{"type": "email", "subject": "Hi", "body_html": "<p>Hi</p>"}],
        },
        headers=cast.auth(),
    )
    enrollment = client.post(
        "/api/v1/enrollments",
        json={"prospect_id": prospect.json["id"], "sequence_id": sequence.json["id"]},
        headers=cast.auth(),
    )
    assert enrollment.status_code == 201, enrollment.json
    return prospect.json["id"], enrollment.json["id"]


def test_conversion_stops_enrollments_and_a_retried_webhook_does_nothing_twice(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    prospect_id, enrollment_id = _enrolled(client, cast, "buyer@prospect.example")
    headers = {**cast.auth(), "Idempotency-Key": "deal-42"}
    first = client.post(f"/api/v1/prospects/{prospect_id}/conversion", json={}, headers=headers)
    again = client.post(f"/api/v1/prospects/{prospect_id}/conversion", json={}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json["stopped_enrollment_ids"] == [enrollment_id]
    assert first.json["replayed"] is False and again.json["replayed"] is True
    assert again.json["stopped_enrollment_ids"] == [enrollment_id]
    assert first.json["status"] == "converted"
    status = client.get(f"/api/v1/enrollments/{enrollment_id}", headers=cast.auth())
    assert status.json["status"] == "converted"
    activity = client.get(f"/api/v1/prospects/{prospect_id}/activity", headers=cast.auth())
    assert [e["type"] for e in activity.json["events"]].count("conversion") == 1


def test_meeting_booked_stops_enrollments_once_per_idempotency_key(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    prospect_id, enrollment_id = _enrolled(client, cast, "meet@prospect.example")
    headers = {**cast.auth(), "Idempotency-Key": "cal-7"}
    url = f"/api/v1/prospects/{prospect_id}/meetings"
    first = client.post(url, json={"starts_at": "2026-01-08T10:00:00Z"}, headers=headers)
    again = client.post(url, json={"starts_at": "2026-01-08T10:00:00Z"}, headers=headers)
    assert first.json["stopped_enrollment_ids"] == [enrollment_id]
    assert again.json["replayed"] is True
    status = client.get(f"/api/v1/enrollments/{enrollment_id}", headers=cast.auth())
    assert status.json["status"] == "meeting_booked"
    activity = client.get(f"/api/v1/prospects/{prospect_id}/activity", headers=cast.auth())
    assert [e["type"] for e in activity.json["events"]].count("meeting_booked") == 1


def test_the_envelope_must_name_addresses_and_nothing_is_stored_otherwise(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    seed(rt)
    for query in ({"to": "0"}, {"to": ""}, {"from": "not an address"}, {"to": "a b@x.example"}):
        refused = _post(client, cast, mail("Yes."), **query)
        assert refused.status_code == 422, query
        assert refused.json["error"]["field"] == next(iter(query))
    listed = client.get("/api/v1/inbound", headers=cast.auth()).json["items"]
    assert listed == []
    # A bounce's null sender is a valid envelope sender.
    bounced = _post(client, cast, mail("Yes."), **{"from": "<>", "to": "rita@example.com"})
    assert bounced.status_code == 200
