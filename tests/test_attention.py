"""Failures after enrollment in a rep's words: the timeline, the "Needs attention" list, retry, skip."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import select, update

from sequences import runtime
from sequences.failures import (
    BAD_ADDRESS,
    GAVE_UP,
    MAILBOX_CAP,
    RENDER_FIELD,
    UNKNOWN,
    explain,
)
from sequences.models import Prospect, User

from .conftest import Cast, Sink
from .sending_helpers import (
    drain,
    email,
    enroll_ids,
    enrollment,
    events,
    make_mailbox,
    make_prospect,
    make_sequence,
)
from .webkit import CHEAP_HASH, csrf_of, login

RAW = ("dict object", "UndefinedError", "jinja", "Traceback", "sqlalchemy", "smtplib")


def _auth(cast: Cast) -> dict[str, str]:
    return {"Authorization": f"Bearer {cast.rep_key}"}


def _failed_for_a_missing_field(rt: runtime.Runtime) -> tuple[int, int]:
    sequence = make_sequence(
        rt, [email(body_html="<p>You need {{ fields.need }}</p>"), email(delay="P2D")]
    )
    prospect = make_prospect(rt, "zoe@acme.example", first_name="Zoë", fields={"need": "speed"})
    [enrolled] = enroll_ids(rt, [prospect], sequence)
    with rt.sessions.begin() as s:  # the data changes after enrollment
        s.execute(update(Prospect).where(Prospect.id == prospect).values(fields={}))
    [outcome] = drain(rt)
    assert outcome.startswith("failed: missing_field")
    return prospect, enrolled


def test_every_kind_has_a_message_a_fix_and_an_error_id_and_logs_the_detail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, "sequences.failures"):
        problem = explain(
            RENDER_FIELD,
            2,
            detail="'dict object' has no attribute 'need'",
            who="Zoë",
            field="fields.need",
        )
    assert problem.message == "Step 2 was not sent: Zoë has no `need` any more"
    assert problem.actions == ("edit_prospect", "retry", "skip")
    assert problem.error_id in problem.text and "dict object" not in problem.text
    assert f"error {problem.error_id}" in caplog.text and "dict object" in caplog.text
    for kind in (BAD_ADDRESS, GAVE_UP, UNKNOWN, MAILBOX_CAP):
        words = explain(kind, 1, detail="550 5.1.1 smtplib said no", code=550)
        assert words.message.startswith("Step 1") and words.fix
        assert "smtplib" not in words.text


def test_a_render_failure_after_a_data_change_is_on_the_timeline_and_the_list(
    rt: runtime.Runtime, client: Any, cast: Cast, smtp_sink: Sink
) -> None:
    prospect, enrolled = _failed_for_a_missing_field(rt)
    [attention] = events(rt, "attention")
    assert attention.enrollment_id == enrolled and attention.data["kind"] == "missing_field"

    listed = client.get("/api/v1/attention", headers=_auth(cast))
    assert listed.status_code == 200
    [item] = listed.json["items"]
    assert item["enrollment_id"] == enrolled and item["prospect"] == "Zoë"
    assert item["message"] == "Step 1 was not sent: Zoë has no `need` any more"
    assert item["actions"] == ["edit_prospect", "retry", "skip"]
    assert item["error_id"].startswith("E-")
    timeline = client.get(f"/api/v1/prospects/{prospect}/activity", headers=_auth(cast))
    for text in (listed.text, timeline.text):
        assert not any(raw in text for raw in RAW)

    # Retrying before the fix says what is still missing; after it, the step goes out.
    early = client.post(f"/api/v1/enrollments/{enrolled}/retry", headers=_auth(cast))
    assert early.status_code == 409 and "still cannot be sent" in early.json["error"]["message"]
    fixed = client.patch(
        f"/api/v1/prospects/{prospect}", json={"fields": {"need": "speed"}}, headers=_auth(cast)
    )
    assert fixed.status_code == 200
    retried = client.post(f"/api/v1/enrollments/{enrolled}/retry", headers=_auth(cast))
    assert retried.status_code == 200 and retried.json["status"] == "active"
    assert client.get("/api/v1/attention", headers=_auth(cast)).json["items"] == []
    assert drain(rt) == ["sent"]
    [sent] = smtp_sink.messages()
    assert "You need speed" in sent.message.get_body(("html",)).get_content()


def test_a_webhook_on_attention_carries_the_reps_words_and_the_error_id_never_raw_text(
    rt: runtime.Runtime, client: Any, cast: Cast
) -> None:
    from sequences.models import WebhookDelivery
    from sequences.webhooks import payload

    subscribed = client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example/followup", "events": ["attention"]},
        headers=_auth(cast),
    )
    assert subscribed.status_code == 201, subscribed.json
    _, enrolled = _failed_for_a_missing_field(rt)
    with rt.sessions() as s:
        [delivery] = s.scalars(select(WebhookDelivery))
        body = payload(s, delivery)
    text = json.dumps(body)
    assert body["type"] == "attention" and body["event"]["enrollment_id"] == enrolled
    assert body["event"]["kind"] == "missing_field"
    assert "Step 1 was not sent: Zo\u00eb has no `need` any more" in body["event"]["message"]
    assert body["event"]["error_id"].startswith("E-")
    assert body["event"]["fix"] == (
        "add `need` to the prospect, or give it a default in step 1, then retry"
    )
    assert body["event"]["actions"] == ["edit_prospect", "retry", "skip"]
    assert not any(raw.lower() in text.lower() for raw in RAW)


def test_skip_leaves_the_failed_step_unsent_and_goes_on(
    rt: runtime.Runtime, client: Any, cast: Cast, smtp_sink: Sink
) -> None:
    _, enrolled = _failed_for_a_missing_field(rt)
    skipped = client.post(f"/api/v1/enrollments/{enrolled}/skip", headers=_auth(cast))
    assert skipped.status_code == 200 and skipped.json["current_step"] == 1
    assert enrollment(rt, enrolled).status == "active"
    assert client.get("/api/v1/attention", headers=_auth(cast)).json["items"] == []
    again = client.post(f"/api/v1/enrollments/{enrolled}/retry", headers=_auth(cast))
    assert again.status_code == 409  # nothing failed any more


def test_the_dashboard_lists_the_failure_and_its_retry_form_retries(
    rt: runtime.Runtime, client: Any, cast: Cast, smtp_sink: Sink
) -> None:
    with rt.sessions.begin() as s:
        s.execute(update(User).where(User.id == cast.rep_id).values(password_hash=CHEAP_HASH))
    login(client, "rita@example.com")
    prospect, enrolled = _failed_for_a_missing_field(rt)
    page = client.get("/")
    assert page.status_code == 200
    assert "Needs attention" in page.text and "has no `need` any more" in page.text
    assert "Edit the prospect" in page.text and not any(raw in page.text for raw in RAW)
    with rt.sessions.begin() as s:
        s.execute(update(Prospect).where(Prospect.id == prospect).values(fields={"need": "x"}))
    answer = client.post(
        f"/prospects/{prospect}/enrollments/{enrolled}/retry",
        data={"csrf_token": csrf_of(page.text), "next": "/"},
    )
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/")
    assert enrollment(rt, enrolled).status == "active"
    assert "Needs attention" not in client.get("/").text


def _held_by_a_paused_mailbox(rt: runtime.Runtime, owner_id: int) -> tuple[int, int]:
    mailbox = make_mailbox(
        rt, owner_id=owner_id, paused=True, paused_reason="bounce rate 9.0% over the last 40 sends"
    )
    sequence = make_sequence(rt, [email()], mailbox_id=mailbox)
    [enrolled] = enroll_ids(rt, [make_prospect(rt, "yan@acme.example", first_name="Yan")], sequence)
    [outcome] = drain(rt)
    assert outcome.startswith("rolled to ") and "(mailbox paused: " in outcome
    return mailbox, enrolled


def test_a_paused_mailbox_is_listed_with_a_resume_action_that_sends_the_held_step(
    rt: runtime.Runtime, client: Any, cast: Cast, smtp_sink: Sink
) -> None:
    mailbox, enrolled = _held_by_a_paused_mailbox(rt, cast.manager_id)
    [item] = client.get("/api/v1/attention", headers=_auth(cast)).json["items"]
    assert item["kind"] == "mailbox_paused" and item["mailbox_id"] == mailbox
    assert item["actions"] == ["resume_mailbox", "skip"]
    assert "resume the mailbox" in item["fix"]

    # The rep does not own the mailbox: refused in words, nothing changed.
    refused = client.post(f"/api/v1/enrollments/{enrolled}/resume-mailbox", headers=_auth(cast))
    assert refused.status_code == 403
    assert "only the owner of rita@sales.example or a manager" in refused.json["error"]["message"]
    manager = _auth(cast) | {"Authorization": f"Bearer {cast.manager_key}"}
    resumed = client.post(f"/api/v1/enrollments/{enrolled}/resume-mailbox", headers=manager)
    assert resumed.status_code == 200, resumed.json
    assert resumed.json == {
        "mailbox_id": mailbox,
        "from_email": "rita@sales.example",
        "paused": False,
    }
    assert client.get("/api/v1/attention", headers=_auth(cast)).json["items"] == []
    assert [e.data["paused_reason"] for e in events(rt, "mailbox_resumed")] == [
        "bounce rate 9.0% over the last 40 sends"
    ]
    assert drain(rt) == ["sent"]  # the held step goes out now, not in an hour
    again = client.post(f"/api/v1/enrollments/{enrolled}/resume-mailbox", headers=manager)
    assert again.status_code == 409 and "not paused" in again.json["error"]["message"]
