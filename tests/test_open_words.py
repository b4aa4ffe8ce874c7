"""Opens a person did not make say so: inferred from a click or a reply, or a machine's, on
every page and API answer that counts or lists opens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from sequences.clock import FrozenClock
from sequences.models import User
from sequences.runtime import Runtime
from sequences.tracking.events import infer_open
from sequences.workspace import collect, create_api_key, open_words

from .tracking_support import BROWSER, send_message
from .webkit import add_prospect, add_sequence, enrolled, hit, login, seed_team, send

EMAIL_STEP = {"type": "email", "delay": "PT0S", "subject": "Hi", "body_html": "<p>Hi</p>"}


def get(client: Any, path: str, ua: str = BROWSER, ip: str = "198.51.100.7") -> Any:
    return client.get(path, headers={"User-Agent": ua}, environ_base={"REMOTE_ADDR": ip})


def test_the_words_for_each_kind_of_open() -> None:
    assert open_words.label("open", "human", None, {}) == "opened"
    assert (
        open_words.label("open", "human", "inferred", {"inferred_from": "click"})
        == "opened (inferred from a click)"
    )
    assert (
        open_words.label("open", "human", "inferred", {"inferred_from": "reply"})
        == "opened (inferred from a reply)"
    )
    assert (
        open_words.label("open", "machine", "apple_privacy_proxy", {})
        == "opened by a machine (Apple Mail Privacy Protection)"
    )
    assert (
        open_words.label("click", "machine", "security_scanner", {})
        == "clicked by a machine (a security scanner)"
    )
    assert open_words.label("reply", None, None, {}) is None
    assert open_words.opens_phrase(3, {"click": 1}) == "3 opens (1 inferred from a click)"
    assert open_words.opens_phrase(1, {"reply": 1}) == "1 open (inferred from a reply)"
    assert open_words.opens_phrase(2) == "2 opens"


def test_an_open_inferred_from_a_click_and_a_machine_open_are_labelled_on_the_timeline_the_hot_list_and_the_api(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    team = seed_team(session)
    key = create_api_key(session, session.get(User, team.rep_id), clock.now())  # type: ignore[arg-type]
    session.commit()
    sent = send_message(rt)
    clock.advance(seconds=30)
    get(client, sent.pixel, ua="Mozilla/5.0", ip="17.58.63.10")  # Apple's proxy fetches it
    clock.advance(hours=3)
    get(client, sent.clicks[0])  # images blocked: the click proves the open

    auth = {"Authorization": f"Bearer {key}"}
    activity = client.get(f"/api/v1/prospects/{sent.prospect_id}/activity", headers=auth).json
    opens = [e for e in activity["events"] if e["type"] == "open"]
    assert [(e["label"], e["by_machine"], e["inferred_from"]) for e in opens] == [
        ("opened (inferred from a click)", False, "click"),
        ("opened by a machine (Apple Mail Privacy Protection)", True, None),
    ]
    [click] = [e for e in activity["events"] if e["type"] == "click"]
    assert (click["label"], click["by_machine"]) == ("clicked", False)
    summary = activity["summary"]
    assert (summary["opens"], summary["inferred_opens"], summary["machine_opens"]) == (1, 1, 1)
    assert summary["inferred_opens_from"] == {"click": 1}
    assert summary["opens_label"] == "1 open (inferred from a click)"
    page = client.get(f"/api/v1/events?prospect_id={sent.prospect_id}", headers=auth).json
    assert {e.get("label") for e in page["items"] if e["type"] == "open"} == {
        "opened (inferred from a click)",
        "opened by a machine (Apple Mail Privacy Protection)",
    }

    hot = client.get("/api/v1/hotlist", headers=auth).json["items"]
    assert [(h["opens"], h["inferred_opens"], h["opens_label"]) for h in hot] == [
        (1, 1, "1 open (inferred from a click)")
    ]

    login(client, team.rep_email)
    timeline = client.get(f"/prospects/{sent.prospect_id}").text
    assert "Opened (inferred from a click)" in timeline
    assert "Opened by a machine (Apple Mail Privacy Protection)" in timeline
    assert "1 human open (inferred from a click)" in timeline
    assert "1 open by a machine (Apple Mail Privacy Protection x1)" in timeline
    assert "1 open (inferred from a click)" in client.get("/").text


def test_stats_count_opens_inferred_from_a_reply_apart_and_the_digest_says_so(
    client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    team = seed_team(session)
    now = clock.now()
    prospect = add_prospect(session, team.rep_id, "zoe@example.com", first_name="Zoe")
    sequence = add_sequence(session, team.rep_id, now, [EMAIL_STEP])
    enrollment = enrolled(session, prospect, sequence, now)
    yan = add_prospect(session, team.rep_id, "yan@example.com", first_name="Yan")
    read = send(session, enrollment, 0, now - timedelta(hours=5))
    answered = send(session, enrolled(session, yan, sequence, now), 0, now - timedelta(hours=5))
    hit(session, read, "open", now - timedelta(hours=4))
    hit(session, read, "open", now - timedelta(hours=5), "machine", "apple_privacy_proxy")
    assert infer_open(session, answered, now - timedelta(hours=2), via="reply")
    key = create_api_key(session, session.get(User, team.rep_id), now)  # type: ignore[arg-type]
    session.commit()

    stats = client.get(
        f"/api/v1/sequences/{sequence.id}/stats", headers={"Authorization": f"Bearer {key}"}
    ).json["items"]
    assert [(s["opened"], s["inferred_opened"], s["machine_opened"]) for s in stats] == [(2, 1, 1)]
    login(client, team.rep_email)
    page = client.get(f"/sequences/{sequence.id}").text
    assert "of which opened (inferred from a click or a reply)" in page
    assert "Opened by a machine (Apple Mail Privacy Protection, scanners)" in page

    rep = session.get(User, team.rep_id)
    assert rep is not None
    replied_day = (now - timedelta(hours=2)).date()
    digest = collect(session, rep, replied_day + timedelta(days=1), ZoneInfo("UTC"))
    words = {row.prospect.email: row.opens_words for row in digest.engaged}
    assert words["yan@example.com"] == "1 open (inferred from a reply)"
