"""Paging through the lead pool (API and page): oldest first in a stable (pooled_at, id) order,
so no lead is skipped or shown twice when the ids' order is not the waiting order, or when leads
leave the pool between two pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from sequences.leads import assign_manual, intake, update_settings
from sequences.models import User
from sequences.runtime import Runtime
from tests.conftest import Cast

from .webkit import Team, login, seed_team

API = "/api/v1"


def _pool(session: Session, team_id: int, now: Any, count: int) -> list[int]:
    """Leads whose ids run opposite to their waiting order: the newest id waited longest."""
    update_settings(session, team_id, {"auto_assign": False}, now)
    ids = [
        intake(session, team_id, {"email": f"p{i}@c{i}.example"}, now - timedelta(hours=i))[0].id
        for i in range(count)
    ]
    session.commit()
    return ids


def _pages(client: Any, cast: Cast, limit: int) -> list[list[int]]:
    pages, query = [], f"?limit={limit}"
    while True:
        got = client.get(f"{API}/leads/pool{query}", headers=cast.auth(cast.manager_key))
        assert got.status_code == 200, got.json
        pages.append([item["prospect_id"] for item in got.json["items"]])
        if got.json["next_cursor"] is None:
            return pages
        query = f"?limit={limit}&cursor={got.json['next_cursor']}"


def test_the_api_pages_the_pool_oldest_first_without_skipping_or_repeating(
    client: Any, cast: Cast, rt: Runtime
) -> None:
    with rt.sessions() as s:
        manager = s.get(User, cast.manager_id)
        assert manager is not None
        ids = _pool(s, manager.team_id, rt.clock.now(), 5)
    pages = _pages(client, cast, 2)
    assert pages == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]
    first = client.get(f"{API}/leads/pool?limit=2", headers=cast.auth(cast.manager_key)).json
    assert first["total"] == 5 and first["next_after"] == ids[3]
    legacy = client.get(
        f"{API}/leads/pool?limit=2&after={ids[3]}", headers=cast.auth(cast.manager_key)
    ).json
    assert [i["prospect_id"] for i in legacy["items"]] == [ids[2], ids[1]]


def test_a_lead_leaving_the_pool_between_pages_moves_no_other_lead_off_the_next_page(
    client: Any, cast: Cast, rt: Runtime
) -> None:
    with rt.sessions() as s:
        manager = s.get(User, cast.manager_id)
        assert manager is not None
        ids = _pool(s, manager.team_id, rt.clock.now(), 4)
        first = client.get(f"{API}/leads/pool?limit=2", headers=cast.auth(cast.manager_key)).json
        assign_manual(s, manager.team_id, [ids[3]], cast.rep_id, rt.clock.now(), by=manager)
        s.commit()
    second = client.get(
        f"{API}/leads/pool?limit=2&cursor={first['next_cursor']}",
        headers=cast.auth(cast.manager_key),
    ).json
    assert [i["prospect_id"] for i in second["items"]] == [ids[1], ids[0]]


@pytest.mark.parametrize("cursor", ["nonsense", "bm9wZQ", "x" * 200])
def test_a_bad_pool_cursor_is_a_422_naming_it(client: Any, cast: Cast, cursor: str) -> None:
    got = client.get(f"{API}/leads/pool?cursor={cursor}", headers=cast.auth(cast.manager_key))
    assert got.status_code == 422 and "cursor" in got.json["error"]["message"]


def test_the_pool_page_links_to_the_next_page_and_back_to_the_first(
    app: Any, session: Session, monkeypatch: pytest.MonkeyPatch, rt: Runtime
) -> None:
    team: Team = seed_team(session)
    manager = session.get(User, team.manager_id)
    assert manager is not None
    ids = _pool(session, manager.team_id, rt.clock.now(), 3)
    monkeypatch.setattr("tracker.web.leads.POOL_PAGE", 2)
    client = app.test_client()
    assert login(client, team.manager_email).status_code == 302
    page = client.get("/leads/pool").text
    assert '<span class="badge" id="pool-size">3</span>' in page
    assert f'data-prospect="{ids[2]}"' in page and f'data-prospect="{ids[0]}"' not in page
    assert 'id="pool-first"' not in page
    link = page.split('id="pool-next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = client.get(link.replace("&amp;", "&")).text
    assert f'data-prospect="{ids[0]}"' in second and f'data-prospect="{ids[2]}"' not in second
    assert 'id="pool-first"' in second and 'id="pool-next"' not in second
    stale = client.get("/leads/pool?cursor=garbage").text
    assert "not valid any more" in stale and f'data-prospect="{ids[2]}"' in stale
