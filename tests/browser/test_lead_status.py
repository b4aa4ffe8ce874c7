"""The prospect page's lead status control in real headless Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sequences.models import Prospect

from ..webkit import Team, add_prospect, seed_team
from .conftest import screenshot
from .test_workspace import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def team(session: Session) -> Team:
    return seed_team(session)


def test_a_rep_changes_the_status_on_the_prospect_page_and_sees_it_on_the_timeline(
    page_factory: Any, team: Team, session: Session, tmp_path: Path
) -> None:
    prospect = add_prospect(session, team.rep_id, "zoe@initech.example", first_name="Zoe").id
    session.commit()
    page = page_factory()
    sign_in(page, team.rep_email)
    page.goto(f"/prospects/{prospect}")
    assert page.input_value("#lead-status-select") == "new"
    page.select_option("#lead-status-select", "interested")
    page.fill("#status-note", "asked for the brochure")
    page.click("#lead-status button[type=submit]")
    page.wait_for_selector("text=Status: interested.")
    assert page.input_value("#lead-status-select") == "interested"
    assert "asked for the brochure" in page.inner_text("body")
    screenshot(page, "lead-status", tmp_path)
    session.expire_all()
    status = session.scalar(select(Prospect.lead_status).where(Prospect.id == prospect))
    session.commit()
    assert status == "interested"


def test_a_rep_ticks_prospects_on_the_list_and_moves_them_to_a_status_together(
    page_factory: Any, team: Team, session: Session, tmp_path: Path
) -> None:
    names = ("Ada", "Ben", "Cy")
    ids = [
        add_prospect(session, team.rep_id, f"{n.lower()}@initech.example", first_name=n).id
        for n in names
    ]
    session.commit()
    page = page_factory()
    sign_in(page, team.rep_email)
    page.goto("/prospects")
    for prospect_id in ids[:2]:
        page.check(f'tr[data-prospect="{prospect_id}"] input[type=checkbox]')
    page.select_option("#bulk-status-select", "qualified")
    page.fill("#bulk-status-note", "met at the fair")
    page.click("#bulk-status-apply")
    page.wait_for_selector("text=Status qualified: 2 of 2 changed.")
    badges = {
        prospect_id: page.inner_text(f'tr[data-prospect="{prospect_id}"] .lead-status')
        for prospect_id in ids
    }
    assert badges == {ids[0]: "qualified", ids[1]: "qualified", ids[2]: "new"}
    screenshot(page, "lead-statuses", tmp_path)
    page.select_option("#status-filter", "qualified")
    page.click("form[method=get] button[type=submit]")
    page.wait_for_url("**/prospects?**status=qualified**")
    assert page.locator("#prospects-table tbody tr").count() == 2
    session.expire_all()
    statuses = dict(
        (pid, status)
        for pid, status in session.execute(
            select(Prospect.id, Prospect.lead_status).where(Prospect.id.in_(ids))
        )
    )
    session.commit()
    assert statuses == {ids[0]: "qualified", ids[1]: "qualified", ids[2]: "new"}
