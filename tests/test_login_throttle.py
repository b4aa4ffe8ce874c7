"""Sign-in and API-key throttling through the app, and the failed attempts managers read,
on SQLite and PostgreSQL (the parallel test against real gunicorn workers is in
tests/test_login_throttle_workers.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sequences import runtime
from sequences.clock import FrozenClock
from sequences.models import LoginFailure, Team, ThrottleCounter
from sequences.workspace import (
    API_KEY_ADDRESS,
    LOGIN_ACCOUNT,
    LOGIN_ADDRESS,
    LOGIN_PAIR,
    create_api_key,
    create_user,
)

from .webkit import CHEAP_HASH, login, seed_team
from .webkit import Team as Cast


@pytest.fixture
def team(session: Session) -> Cast:
    return seed_team(session)


def _from(app: Any, address: str) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _key(rt: runtime.Runtime, user_id: int) -> str:
    from sequences.models import User

    with rt.sessions.begin() as s:
        found = s.get(User, user_id)
        assert found is not None
        return create_api_key(s, found, rt.clock.now())


def test_an_unknown_account_and_a_wrong_password_get_the_same_answers(app: Any, team: Cast) -> None:
    known, unknown = _from(app, "198.51.100.1"), _from(app, "198.51.100.2")
    answers = []
    for client, email in ((known, team.rep_email), (unknown, "nobody@example.com")):
        got = [login(client, email, "guess") for _ in range(LOGIN_PAIR.free + 1)]
        answers.append([(r.status_code, r.headers.get("Retry-After")) for r in got])
        assert "Wrong email or password." in got[0].text
        assert "Too many failed attempts from here" in got[-1].text
    assert answers[0] == answers[1]
    assert answers[0][-1] == (429, "1")


def test_the_wait_doubles_with_each_failure_past_the_free_ones(
    app: Any, team: Cast, clock: FrozenClock
) -> None:
    client = _from(app, "198.51.100.3")
    for _ in range(LOGIN_PAIR.free):
        assert login(client, team.rep_email, "guess").status_code == 401
    waits = []
    for _ in range(4):
        refused = login(client, team.rep_email, "guess")
        waits.append(int(refused.headers["Retry-After"]))
        clock.advance(seconds=waits[-1])
        assert login(client, team.rep_email, "guess").status_code == 401
    assert waits == [1, 2, 4, 8]


def test_one_address_spraying_many_accounts_is_held_back_for_all_of_them(
    app: Any, team: Cast
) -> None:
    sprayer = _from(app, "198.51.100.4")
    for n in range(LOGIN_ADDRESS.free):
        # A few guesses per account, under the per-account limit each time.
        assert login(sprayer, f"user{n}@example.com", "guess").status_code == 401
    assert login(sprayer, "fresh@example.com", "guess").status_code == 429
    assert login(sprayer, team.rep_email).status_code == 429  # the right one too, from there
    assert login(_from(app, "198.51.100.5"), team.rep_email).status_code == 302


def test_signing_in_forgets_that_clients_failures_for_the_account(app: Any, team: Cast) -> None:
    client = _from(app, "198.51.100.6")
    for _ in range(LOGIN_PAIR.free - 1):
        assert login(client, team.rep_email, "guess").status_code == 401
    assert login(client, team.rep_email).status_code == 302
    for _ in range(LOGIN_PAIR.free):  # a fresh allowance
        assert login(client, team.rep_email, "guess").status_code == 401


def test_bad_api_keys_from_one_address_are_throttled_and_the_user_elsewhere_is_not(
    app: Any, rt: runtime.Runtime, team: Cast, clock: FrozenClock
) -> None:
    right = _key(rt, team.rep_id)
    guesser = _from(app, "198.51.100.7")

    def get(client: Any, key: str) -> Any:
        return client.get("/api/v1/prospects", headers={"Authorization": f"Bearer {key}"})

    for n in range(API_KEY_ADDRESS.free):
        assert get(guesser, f"fu_{n:012x}_nope").status_code == 401
    refused = get(guesser, right)  # even the right key: a right guess must look like the others
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert "too many bad API keys" in refused.json["error"]["message"]
    assert get(_from(app, "198.51.100.8"), right).status_code == 200
    clock.advance(seconds=1)
    assert get(guesser, right).status_code == 200


def test_failed_attempts_are_listed_to_the_teams_managers_only(
    app: Any, rt: runtime.Runtime, session: Session, team: Cast
) -> None:
    attacker = _from(app, "198.51.100.9")
    login(attacker, team.rep_email, "hunter2-secret")
    login(attacker, "nobody@example.com", "hunter2-secret")
    attacker.get("/api/v1/prospects", headers={"Authorization": "Bearer fu_abcdef012345_x"})
    elsewhere = Team(name="Elsewhere")
    session.add(elsewhere)
    session.flush()
    other = create_user(session, "eve@example.com", manager=True, team=elsewhere)
    admin = create_user(session, "ada@example.com", team=elsewhere)
    admin.is_admin = True
    other.password_hash = admin.password_hash = CHEAP_HASH
    session.commit()
    manager_key, rep_key = _key(rt, team.manager_id), _key(rt, team.rep_id)
    other_key, admin_key = _key(rt, other.id), _key(rt, admin.id)

    def listed(key: str) -> Any:
        return attacker.get("/api/v1/login-failures", headers={"Authorization": f"Bearer {key}"})

    mine = listed(manager_key).json["items"]
    assert [(r["account"], r["client_address"], r["reason"], r["kind"]) for r in mine] == [
        (team.rep_email, "198.51.100.9", "wrong password", "password")
    ]
    assert listed(rep_key).status_code == 403
    assert listed(other_key).json["items"] == []  # another team's manager
    reasons = {(r["account"], r["reason"]) for r in listed(admin_key).json["items"]}
    assert reasons == {
        ("nobody@example.com", "unknown account"),
        ("fu_abcdef012345", "unknown API key"),
    }
    stored = " ".join(
        str(v) for r in session.scalars(select(LoginFailure)) for v in vars(r).values()
    )
    assert "hunter2" not in stored  # never the password tried
    # The counters keep hashes, not addresses or emails.
    keys = " ".join(session.scalars(select(ThrottleCounter.key)))
    assert "198.51" not in keys and "@" not in keys


def test_the_settings_page_shows_failed_sign_ins_to_managers_not_reps(app: Any, team: Cast) -> None:
    login(_from(app, "198.51.100.10"), team.other_email, "guess")
    manager, rep = app.test_client(), app.test_client()
    assert login(manager, team.manager_email).status_code == 302
    assert login(rep, team.rep_email).status_code == 302
    page = manager.get("/settings").text
    assert "Failed sign-ins" in page and team.other_email in page and "198.51.100.10" in page
    assert "Failed sign-ins" not in rep.get("/settings").text


def test_guesses_from_many_addresses_hold_back_new_browsers_but_not_the_users_own(
    app: Any, team: Cast
) -> None:
    laptop = _from(app, "198.51.100.20")
    assert login(laptop, team.rep_email).status_code == 302  # the user's own browser
    guessers = [_from(app, f"203.0.113.{n}") for n in range(1, 1 + LOGIN_ACCOUNT.free)]
    for guesser in guessers:  # one guess per address: under every per-address limit
        assert login(guesser, team.rep_email, "guess").status_code == 401
    assert login(_from(app, "198.51.100.21"), team.rep_email).status_code == 429  # a new browser
    assert login(laptop, team.rep_email).status_code == 302  # the known browser signs in
    # The cookie names one account: it lets no other account's sign-in past that one's limit.
    for guesser in guessers:
        assert login(guesser, team.manager_email, "guess").status_code == 401
    assert login(laptop, team.manager_email).status_code == 429
    forged = _from(app, "198.51.100.22")
    forged.set_cookie("followup_device", "1.forged.signature")
    assert login(forged, team.rep_email).status_code == 429
