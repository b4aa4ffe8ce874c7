"""The lead pages a manager reads in real headless Chromium: a pool bigger than one page, paged
with its Next and First links, and the report's chart of conversions by status path (the page
watch fails either test on a console error or a request of ours that failed)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from sequences.clock import FrozenClock
from sequences.leads import change_status, intake, update_settings
from sequences.models import User
from tracker.web.leads import POOL_PAGE

from ..webkit import Team, add_prospect, seed_team
from .conftest import screenshot
from .test_workspace import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def team(session: Session) -> Team:
    return seed_team(session)


def _team_id(session: Session, team: Team) -> int:
    manager = session.get(User, team.manager_id)
    assert manager is not None
    return manager.team_id


def _emails(page: Any) -> list[str]:
    return [
        text.split(" · ")[0]
        for text in page.locator("#pool li[data-prospect] .who .small").all_inner_texts()
    ]


def test_a_manager_pages_through_a_pool_bigger_than_a_page_and_back_to_the_first(
    page_factory: Any, team: Team, session: Session, clock: FrozenClock
) -> None:
    now = clock.now()
    team_id = _team_id(session, team)
    update_settings(session, team_id, {"auto_assign": False}, now)
    count = POOL_PAGE + 5
    # Lead i waited i minutes less than lead 0: the page lists lead 0 first (longest waiting).
    for i in range(count):
        intake(
            session,
            team_id,
            {"email": f"lead{i:03}@pool.example"},
            now - timedelta(minutes=count - i),
        )
    session.commit()
    oldest_first = [f"lead{i:03}@pool.example" for i in range(count)]

    page = page_factory()
    sign_in(page, team.manager_email)
    page.click("header.top >> text=Pool")
    assert page.inner_text("#pool-size") == str(count)
    assert _emails(page) == oldest_first[:POOL_PAGE]
    assert page.locator("#pool-first").count() == 0  # already on the first page
    assert page.inner_text("#pool-next") == f"Next {POOL_PAGE} leads"

    page.click("#pool-next")
    page.wait_for_selector("#pool-first")
    assert _emails(page) == oldest_first[POOL_PAGE:]  # the rest, none skipped or shown twice
    assert page.inner_text("#pool-size") == str(count)  # the badge counts the whole pool
    assert page.locator("#pool-next").count() == 0  # the last page

    page.click("#pool-first")
    page.wait_for_selector("#pool-next")
    assert _emails(page) == oldest_first[:POOL_PAGE]
    assert page.locator("#pool-first").count() == 0

    # A page link that was tampered with (or kept from an old version) shows the first page.
    page.goto("/leads/pool?cursor=not-a-page")
    assert "That page link is not valid any more; showing the first page." in page.inner_text(
        ".error-box"
    )
    assert _emails(page) == oldest_first[:POOL_PAGE]


def test_the_report_draws_conversions_by_status_path_as_a_chart(
    page_factory: Any, team: Team, session: Session, clock: FrozenClock, tmp_path: Path
) -> None:
    now = clock.now()
    walks = (
        ["contacted", "interested", "converted"],
        ["contacted", "interested", "converted"],
        ["contacted", "interested"],
        ["contacted", "converted"],
    )
    for i, statuses in enumerate(walks):
        prospect = add_prospect(session, team.rep_id, f"path{i}@acme.example")
        for j, status in enumerate(statuses):
            change_status(
                session, prospect, status, now + timedelta(minutes=j), by_user_id=team.rep_id
            )
    session.commit()

    page = page_factory()
    sign_in(page, team.manager_email)
    page.click("header.top >> text=Report")
    chart = page.locator("#paths-chart")
    chart.scroll_into_view_if_needed()
    assert chart.is_visible()
    bars = chart.locator("rect")
    assert bars.count() == 2  # one bar per path that converted someone
    # The longer bar is the path that converted more (2 against 1): drawn, not just in the DOM.
    widths = [box["width"] for box in (bars.nth(i).bounding_box() for i in range(2)) if box]
    assert len(widths) == 2 and widths[0] > widths[1] > 0
    # SVG text has no innerText; its first text node is what is drawn (the rest is a tooltip).
    labels = chart.locator("text").evaluate_all("els => els.map(e => e.firstChild.textContent)")
    assert labels[0] == "new → contacted → interested → converted"
    assert labels[1] == "2 · 67% of 3"
    assert labels[2] == "new → contacted → converted"
    assert labels[3] == "1 · 25% of 4"
    rows = page.locator("#rep-paths tbody tr").all_inner_texts()
    assert [" ".join(r.split()) for r in rows] == [
        "Rita Rep new → contacted → interested → converted 2 67% of 3",
        "Rita Rep new → contacted → converted 1 25% of 4",
    ]
    page.locator("#status-paths").scroll_into_view_if_needed()
    screenshot(page, "report-status-paths", tmp_path)
