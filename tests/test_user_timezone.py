"""People's time zones: "today", "overdue", the digest's day, report periods and due times follow
the user's zone (else the team's), around midnight at UTC-8 and UTC+10 and across DST changes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from sequences import runtime
from sequences.clock import FrozenClock
from sequences.enrollment import record
from sequences.models import Prospect, Task, Team, User
from sequences.workspace import create_api_key, create_user, default_team, local_day_bounds
from tracker.cli.main import main

from .conftest import Sink, make_env
from .test_digest import send_due
from .webkit import CHEAP_HASH, login, token

LA = "America/Los_Angeles"  # UTC-8 in January (PST), UTC-7 in July
BRISBANE = "Australia/Brisbane"  # UTC+10 all year
SYDNEY = "Australia/Sydney"  # UTC+10 in July (AEST), UTC+11 in January
NEW_YORK = "America/New_York"


@dataclass
class People:
    team_id: int
    ids: dict[str, int]
    keys: dict[str, str]
    emails: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


@pytest.fixture
def people(rt: runtime.Runtime) -> People:
    """Three reps of one team (LA, Brisbane, no zone of their own) and a manager, with keys."""
    zones = {"la": LA, "bne": BRISBANE, "utc": None, "boss": None}
    ids, keys, emails = {}, {}, {}
    with rt.sessions.begin() as s:
        team = default_team(s)
        for who, zone in zones.items():
            email = f"{who}@example.com"
            u = create_user(s, email, name=who.upper(), manager=who == "boss", team=team)
            u.password_hash = CHEAP_HASH
            u.timezone = zone
            s.flush()
            ids[who], keys[who], emails[who] = u.id, create_api_key(s, u, rt.clock.now()), email
        team_id = team.id
    return People(team_id, ids, keys, emails)


def _task(rt: runtime.Runtime, owner_id: int, due: datetime, title: str) -> int:
    with rt.sessions.begin() as s:
        prospect = Prospect(
            team_id=s.get(User, owner_id).team_id,  # type: ignore[union-attr]
            owner_id=owner_id,
            email=f"{title.lower().replace(' ', '.')}.{owner_id}@prospect.example",
        )
        s.add(prospect)
        s.flush()
        task = Task(
            prospect_id=prospect.id, owner_id=owner_id, type="call", title=title, due_at=due
        )
        s.add(task)
        s.flush()
        return task.id


def _due(client: Any, people: People, who: str, due: str) -> list[int]:
    answer = client.get("/api/v1/tasks", query_string={"due": due}, headers=people.auth(who))
    assert answer.status_code == 200, answer.json
    return [t["id"] for t in answer.json["items"]]


def _page_sections(client: Any) -> dict[str, list[int]]:
    """The task ids in the Overdue and Today cards of /tasks."""
    html = client.get("/tasks").text
    overdue, _, today = html.partition('id="today"')
    return {
        "overdue": [int(x) for x in re.findall(r'data-task="(\d+)"', overdue)],
        "today": [int(x) for x in re.findall(r'data-task="(\d+)"', today)],
    }


def test_just_after_midnight_utc_la_and_brisbane_see_the_same_due_times_on_different_days(
    app: Any, client: Any, people: People, rt: runtime.Runtime, clock: FrozenClock
) -> None:
    # 00:30 UTC on Tuesday 6 January: 16:30 Monday in LA, 10:30 Tuesday in Brisbane.
    clock.set(datetime(2026, 1, 6, 0, 30, tzinfo=UTC))
    monday_noon = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # 04:00 Mon LA, 22:00 Mon Brisbane
    tuesday_ten = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)  # 02:00 Tue LA, 20:00 Tue Brisbane
    tasks = {
        who: (
            _task(rt, people.ids[who], monday_noon, "Call A"),
            _task(rt, people.ids[who], tuesday_ten, "Call B"),
        )
        for who in ("la", "bne", "utc")
    }
    la_a, la_b = tasks["la"]
    bne_a, bne_b = tasks["bne"]
    utc_a, utc_b = tasks["utc"]
    assert _due(client, people, "la", "today") == [la_a]  # still Monday in LA
    assert _due(client, people, "la", "overdue") == []
    assert _due(client, people, "bne", "today") == [bne_b]  # Tuesday in Brisbane
    assert _due(client, people, "bne", "overdue") == [bne_a]
    assert _due(client, people, "utc", "today") == [utc_b]  # no zone of their own: the team's, UTC
    assert _due(client, people, "utc", "overdue") == [utc_a]

    listed = client.get("/api/v1/tasks", headers=people.auth("la")).json
    assert listed["timezone"] == LA
    assert {t["id"]: t["due"] for t in listed["items"]} == {la_a: "today", la_b: "later"}

    # The same on the page, with the due time in the rep's own zone and its abbreviation.
    la_page = app.test_client()
    assert login(la_page, people.emails["la"]).status_code == 302
    assert _page_sections(la_page) == {"overdue": [], "today": [la_a]}
    html = la_page.get("/tasks").text
    assert (
        "2026-01-05 04:00 PST" in html
        and "Today is Monday 05 January in America/Los_Angeles" in html
    )
    bne_page = app.test_client()
    assert login(bne_page, people.emails["bne"]).status_code == 302
    assert _page_sections(bne_page) == {"overdue": [bne_a], "today": [bne_b]}
    assert "2026-01-06 20:00 AEST" in bne_page.get("/tasks").text

    # Midnight in LA (08:00 UTC): Monday's call is overdue there now, Tuesday's is today.
    clock.set(datetime(2026, 1, 6, 7, 59, tzinfo=UTC))
    assert _due(client, people, "la", "overdue") == []
    clock.advance(minutes=1)
    assert _due(client, people, "la", "overdue") == [la_a]
    assert _due(client, people, "la", "today") == [la_b]
    assert _page_sections(la_page) == {"overdue": [la_a], "today": [la_b]}


def test_sydney_at_utc_plus_10_in_july_is_a_day_ahead_of_la_around_midnight_utc(
    client: Any, people: People, rt: runtime.Runtime, clock: FrozenClock
) -> None:
    # 23:30 UTC on Wednesday 1 July: 16:30 Wednesday in LA (UTC-7), 09:30 Thursday in Sydney.
    clock.set(datetime(2026, 7, 1, 23, 30, tzinfo=UTC))
    patched = client.patch("/api/v1/me", json={"timezone": SYDNEY}, headers=people.auth("bne"))
    assert patched.status_code == 200 and patched.json["effective_timezone"] == SYDNEY
    wednesday_evening = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)  # 03:00 Wed LA, 20:00 Wed Sydney
    la_task = _task(rt, people.ids["la"], wednesday_evening, "Call")
    syd_task = _task(rt, people.ids["bne"], wednesday_evening, "Call")
    assert _due(client, people, "la", "today") == [la_task]
    assert _due(client, people, "bne", "overdue") == [syd_task]
    clock.advance(minutes=30)  # midnight UTC: LA and Sydney keep their own days
    assert _due(client, people, "la", "today") == [la_task]
    assert _due(client, people, "bne", "overdue") == [syd_task]
    assert _due(client, people, "utc", "today") == []


def test_a_rep_who_changes_zone_sees_the_same_task_move_between_today_and_overdue(
    client: Any, people: People, rt: runtime.Runtime, clock: FrozenClock
) -> None:
    clock.set(datetime(2026, 1, 6, 0, 30, tzinfo=UTC))
    task = _task(rt, people.ids["la"], datetime(2026, 1, 5, 12, 0, tzinfo=UTC), "Call")
    assert _due(client, people, "la", "today") == [task]
    assert (
        client.patch(
            "/api/v1/me", json={"timezone": BRISBANE}, headers=people.auth("la")
        ).status_code
        == 200
    )
    assert _due(client, people, "la", "overdue") == [task]
    cleared = client.patch("/api/v1/me", json={"timezone": None}, headers=people.auth("la"))
    assert cleared.json["timezone"] is None and cleared.json["effective_timezone"] == "UTC"
    assert _due(client, people, "la", "overdue") == [task]  # Monday noon UTC, Tuesday UTC now


def test_a_user_without_a_zone_follows_the_teams_which_an_admin_sets(
    client: Any, people: People, rt: runtime.Runtime, clock: FrozenClock
) -> None:
    with rt.sessions.begin() as s:
        s.get(User, people.ids["boss"]).is_admin = True  # type: ignore[union-attr]
    clock.set(datetime(2026, 1, 6, 0, 30, tzinfo=UTC))
    task = _task(rt, people.ids["utc"], datetime(2026, 1, 5, 12, 0, tzinfo=UTC), "Call")
    assert _due(client, people, "utc", "overdue") == [task]
    team = client.patch(
        f"/api/v1/teams/{people.team_id}", json={"timezone": LA}, headers=people.auth("boss")
    )
    assert team.status_code == 200 and team.json["timezone"] == LA
    assert _due(client, people, "utc", "today") == [task]  # Monday in LA, the team's zone
    me = client.get("/api/v1/me", headers=people.auth("utc")).json
    assert me["timezone"] is None and me["effective_timezone"] == LA


@pytest.mark.parametrize(
    ("now", "inside", "outside", "hours"),
    [
        # Sunday 8 March 2026, New York springs forward at 02:00: a 23-hour day, 05:00-04:00 UTC.
        (
            datetime(2026, 3, 9, 3, 30, tzinfo=UTC),  # 23:30 EDT on the 8th
            datetime(2026, 3, 8, 5, 0, tzinfo=UTC),  # 00:00 EST on the 8th
            datetime(2026, 3, 9, 4, 30, tzinfo=UTC),  # 00:30 EDT on the 9th: tomorrow
            23,
        ),
        # Sunday 1 November 2026, New York falls back at 02:00: a 25-hour day, 04:00-05:00 UTC.
        (
            datetime(2026, 11, 2, 4, 30, tzinfo=UTC),  # 23:30 EST on the 1st
            datetime(2026, 11, 2, 4, 45, tzinfo=UTC),  # 23:45 EST on the 1st: still today
            datetime(2026, 11, 1, 3, 59, tzinfo=UTC),  # 23:59 EDT on 31 October: overdue
            25,
        ),
    ],
)
def test_day_boundaries_stay_at_local_midnight_across_a_dst_change(
    client: Any,
    people: People,
    rt: runtime.Runtime,
    clock: FrozenClock,
    now: datetime,
    inside: datetime,
    outside: datetime,
    hours: int,
) -> None:
    client.patch("/api/v1/me", json={"timezone": NEW_YORK}, headers=people.auth("la"))
    clock.set(now)
    today = _task(rt, people.ids["la"], inside, "Inside")
    other = _task(rt, people.ids["la"], outside, "Outside")
    assert _due(client, people, "la", "today") == [today]
    listed = client.get("/api/v1/tasks", headers=people.auth("la")).json["items"]
    expected = "later" if outside > now else "overdue"
    assert {t["id"]: t["due"] for t in listed}[other] == expected
    assert local_day_bounds(now, ZoneInfo(NEW_YORK)).hours == hours


def test_the_report_counts_the_managers_days_midnight_to_midnight_across_spring_forward(
    client: Any, people: People, rt: runtime.Runtime, clock: FrozenClock
) -> None:
    client.patch("/api/v1/me", json={"timezone": NEW_YORK}, headers=people.auth("boss"))
    prospect = client.post(
        "/api/v1/prospects", json={"email": "p@prospect.example"}, headers=people.auth("utc")
    ).json["id"]
    for at in (
        datetime(2026, 3, 8, 4, 30, tzinfo=UTC),  # 23:30 EST on the 7th
        datetime(2026, 3, 8, 5, 30, tzinfo=UTC),  # 00:30 EST on the 8th
        datetime(2026, 3, 9, 3, 30, tzinfo=UTC),  # 23:30 EDT on the 8th
        datetime(2026, 3, 9, 4, 30, tzinfo=UTC),  # 00:30 EDT on the 9th
    ):
        clock.set(at)
        made = client.post(
            f"/api/v1/prospects/{prospect}/calls",
            json={"outcome": "connected"},
            headers=people.auth("utc"),
        )
        assert made.status_code == 201, made.json

    def calls(day: str, who: str = "boss") -> int:
        report = client.get(
            "/api/v1/report", query_string={"start": day, "end": day}, headers=people.auth(who)
        )
        assert report.status_code == 200, report.json
        rows = [r for r in report.json["items"] if r["user_id"] == people.ids["utc"]]
        return int(rows[0]["call_touches"]) if rows else 0

    assert [calls(d) for d in ("2026-03-07", "2026-03-08", "2026-03-09")] == [1, 2, 1]
    client.patch("/api/v1/me", json={"timezone": "UTC"}, headers=people.auth("boss"))
    assert [calls(d) for d in ("2026-03-07", "2026-03-08", "2026-03-09")] == [0, 2, 2]


def test_the_digest_follows_the_users_zone_for_its_hour_and_its_day(
    client: Any,
    people: People,
    rt: runtime.Runtime,
    clock: FrozenClock,
    smtp_sink: Sink,
    stub_worker: Any,
) -> None:
    clock.set(datetime(2026, 1, 6, 14, 30, tzinfo=UTC))  # 06:30 Tuesday in LA
    task_id = _task(rt, people.ids["la"], datetime(2026, 1, 6, 20, 0, tzinfo=UTC), "Tuesday call")
    with rt.sessions.begin() as s:
        prospect_id = s.get(Task, task_id).prospect_id  # type: ignore[union-attr]
        # Opened at 12:00 Monday in LA (20:00 UTC): yesterday in LA's digest of Tuesday.
        record(s, "open", datetime(2026, 1, 5, 20, 0, tzinfo=UTC), prospect_id=prospect_id)
        # 07:30 Tuesday UTC is 23:30 Monday in LA: yesterday's there.
        record(s, "click", datetime(2026, 1, 6, 7, 30, tzinfo=UTC), prospect_id=prospect_id)
        # 08:30 Tuesday UTC is 00:30 Tuesday in LA: today's, not in the digest.
        record(s, "click", datetime(2026, 1, 6, 8, 30, tzinfo=UTC), prospect_id=prospect_id)
    setting = client.patch(
        "/api/v1/me/digest", json={"enabled": True, "hour": 7}, headers=people.auth("la")
    ).json
    assert setting["timezone"] == LA and setting["follows_user_timezone"] is True
    assert send_due(rt, stub_worker) == 0  # 06:30 in LA: not yet
    clock.set(datetime(2026, 1, 6, 15, 0, tzinfo=UTC))  # 07:00 in LA
    assert send_due(rt, stub_worker) == 1
    [sent] = smtp_sink.messages()
    assert sent.message["X-Followup-Digest"] == "2026-01-06"
    body = sent.message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Tuesday call" in text and "1 open, 1 click; last at 23:30 PST" in text
    # A zone chosen for the digest itself still wins over the user's.
    own = client.patch("/api/v1/me/digest", json={"timezone": BRISBANE}, headers=people.auth("la"))
    assert own.json["timezone"] == BRISBANE and own.json["follows_user_timezone"] is False


# Bad input: a clear error naming the field and the fix, nothing changed.


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (
            "Mars/Olympus",
            "unknown time zone 'Mars/Olympus'; use an IANA name such as Europe/Berlin",
        ),
        ("america/los_angeles", "did you mean America/Los_Angeles?"),
        ("../../etc/passwd", "unknown time zone"),
        (5, "an IANA time zone name is required, such as Europe/Berlin"),
        ("", None),  # "" clears, like null: accepted
    ],
)
def test_an_unknown_zone_through_the_api_is_refused_and_changes_nothing(
    client: Any, people: People, value: object, words: str | None
) -> None:
    answer = client.patch("/api/v1/me", json={"timezone": value}, headers=people.auth("la"))
    me = client.get("/api/v1/me", headers=people.auth("la")).json
    if words is None:
        assert answer.status_code == 200 and me["timezone"] is None
        return
    assert answer.status_code == 422, answer.json
    assert answer.json["error"]["field"] == "timezone"
    assert words in answer.json["error"]["message"]
    assert me["timezone"] == LA


def test_unknown_fields_and_bad_team_zones_are_refused_with_nothing_changed(
    client: Any, people: People, rt: runtime.Runtime
) -> None:
    other = client.patch("/api/v1/me", json={"email": "x@example.com"}, headers=people.auth("la"))
    assert other.status_code == 422 and "only timezone can be changed" in other.text
    with rt.sessions.begin() as s:
        s.get(User, people.ids["boss"]).is_admin = True  # type: ignore[union-attr]
    bad = client.patch(
        f"/api/v1/teams/{people.team_id}",
        json={"name": "Renamed", "timezone": "Europe/Berln"},
        headers=people.auth("boss"),
    )
    assert bad.status_code == 422 and bad.json["error"]["field"] == "timezone"
    assert "Europe/Berlin" in bad.json["error"]["message"]
    created = client.post(
        "/api/v1/teams", json={"name": "East", "timezone": "Nope"}, headers=people.auth("boss")
    )
    assert created.status_code == 422
    with rt.sessions() as s:
        team = s.get(Team, people.team_id)
        assert team is not None and team.name != "Renamed" and team.timezone == "UTC"
        assert [t.name for t in s.query(Team)] == [team.name]
    rep = client.patch(
        f"/api/v1/teams/{people.team_id}", json={"timezone": LA}, headers=people.auth("la")
    )
    assert rep.status_code == 403  # only an admin sets the team's zone


def test_the_settings_page_sets_the_zone_and_refuses_an_unknown_one(
    app: Any, people: People, rt: runtime.Runtime
) -> None:
    page = app.test_client()
    assert login(page, people.emails["utc"]).status_code == 302
    html = page.get("/settings").text
    assert 'list="zone-names"' in html and '<option value="Europe/Berlin">' in html
    assert "UTC</strong> (your team's)" in html

    refused = page.post(
        "/settings/timezone", data={"timezone": "Mars/Olympus", "csrf_token": token(page)}
    )
    assert refused.status_code == 422
    assert (
        "unknown time zone &#39;Mars/Olympus&#39;; use an IANA name such as Europe/Berlin"
        in refused.text
    )
    no_csrf = page.post("/settings/timezone", data={"timezone": LA})
    assert no_csrf.status_code == 400
    with rt.sessions() as s:
        assert s.get(User, people.ids["utc"]).timezone is None  # type: ignore[union-attr]

    saved = page.post("/settings/timezone", data={"timezone": LA, "csrf_token": token(page)})
    assert saved.status_code == 302
    after = page.get("/settings").text
    assert "Time zone saved: America/Los_Angeles." in after
    assert f'value="{LA}"' in after and "(your team's)" not in after
    with rt.sessions() as s:
        assert s.get(User, people.ids["utc"]).timezone == LA  # type: ignore[union-attr]
    cleared = page.post("/settings/timezone", data={"timezone": "", "csrf_token": token(page)})
    assert cleared.status_code == 302
    with rt.sessions() as s:
        assert s.get(User, people.ids["utc"]).timezone is None  # type: ignore[union-attr]


def test_the_cli_sets_user_and_team_zones_and_refuses_unknown_ones(
    people: People, rt: runtime.Runtime, smtp_sink: Sink, tmp_path: Path
) -> None:
    runner = CliRunner(env=make_env(rt.settings.database_url, smtp_sink.port, tmp_path))
    bad = runner.invoke(
        main, ["user", "update", "--email", "utc@example.com", "--timezone", "Mars/Olympus"]
    )
    assert bad.exit_code != 0
    assert (
        "timezone: unknown time zone 'Mars/Olympus'; use an IANA name such as Europe/Berlin"
        in bad.output
    )
    done = runner.invoke(
        main, ["user", "update", "--email", "utc@example.com", "--timezone", SYDNEY]
    )
    assert done.exit_code == 0, done.output
    assert "time zone Australia/Sydney (own)" in done.output
    nobody = runner.invoke(main, ["user", "update", "--email", "no@example.com", "--timezone", LA])
    assert nobody.exit_code != 0 and "no user with email no@example.com" in nobody.output

    team_name = "Sales"
    bad_team = runner.invoke(
        main, ["team", "update", team_name, "--timezone", "Nowhere", "--name", "X"]
    )
    assert bad_team.exit_code != 0 and "timezone: unknown time zone 'Nowhere'" in bad_team.output
    ok_team = runner.invoke(main, ["team", "update", team_name, "--timezone", NEW_YORK])
    assert ok_team.exit_code == 0 and "time zone America/New_York" in ok_team.output
    listed = runner.invoke(main, ["team", "list"])
    assert NEW_YORK in listed.output
    cleared = runner.invoke(
        main, ["user", "update", "--email", "utc@example.com", "--timezone", ""]
    )
    assert cleared.exit_code == 0 and "America/New_York (team Sales's)" in cleared.output
    with rt.sessions() as s:
        team = s.get(Team, people.team_id)
        assert team is not None and team.name == team_name and team.timezone == NEW_YORK
