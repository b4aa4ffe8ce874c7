"""The lead pages in real headless Chromium: a manager assigns from the pool, a rep accepts and
rejects from the top of the hot list, and the report shows the pool and speed to lead."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sequences.clock import FrozenClock
from sequences.leads import assign_manual, intake, update_settings
from sequences.models import Lead, User
from sequences.tasks import log_call

from ..webkit import Team, seed_team
from .conftest import screenshot
from .test_workspace import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def team(session: Session) -> Team:
    return seed_team(session)


def _history(session: Session, team: Team, clock: FrozenClock) -> int:
    """Last week's leads, handed out and touched at different speeds; a few new ones pooled."""
    manager = session.get(User, team.manager_id)
    assert manager is not None
    now = clock.now()
    team_id = manager.team_id
    update_settings(session, team_id, {"auto_assign": False, "acceptance_required": True}, now)
    people = [
        ("Ana", "Alvarez", "Acme"),
        ("Ben", "Brook", "Globex"),
        ("Chloe", "Chen", "Initech"),
        ("Dev", "Das", "Umbrella"),
        ("Eva", "Eklund", "Hooli"),
        ("Femi", "Folake", "Stark"),
    ]
    for i, (first, last, company) in enumerate(people):
        at = now - timedelta(days=3, hours=i)
        p, _ = intake(
            session,
            team_id,
            {
                "email": f"{first.lower()}@{company.lower()}.example",
                "first_name": first,
                "last_name": last,
                "company": company,
            },
            at,
        )
        rep = team.rep_id if i % 2 == 0 else team.other_rep_id
        assign_manual(session, team_id, [p.id], rep, at, by=manager)
        lead = session.get(Lead, p.id)
        assert lead is not None
        lead.state = "accepted"  # answered then; only the speed of the first touch matters here
        log_call(session, p.id, at + timedelta(minutes=15 + 40 * i), "connected", "")
    for first, company in (("Gus", "Wayne"), ("Hana", "Tyrell"), ("Ivo", "Cyberdyne")):
        intake(
            session,
            team_id,
            {
                "email": f"{first.lower()}@{company.lower()}.example",
                "first_name": first,
                "company": company,
            },
            now - timedelta(hours=5),
        )
    session.commit()
    return team_id


def _owner(session: Session, email_prefix: str) -> int | None:
    from sequences.models import Prospect

    owner = session.scalar(
        select(Lead.owner_id)
        .join(Prospect, Prospect.id == Lead.prospect_id)
        .where(Prospect.email.startswith(email_prefix))
    )
    session.rollback()  # the live server writes too: hold no SQLite lock
    return owner


def test_the_pool_the_pending_leads_and_the_lead_report_in_a_browser(
    page_factory: Any, team: Team, session: Session, clock: FrozenClock, tmp_path: Path
) -> None:
    _history(session, team, clock)
    manager = page_factory()
    sign_in(manager, team.manager_email)
    manager.click("header.top >> text=Pool")
    assert manager.locator("#pool li").count() == 3
    screenshot(manager, "lead-pool", tmp_path)
    # Bulk: tick Gus and Hana, give them to Rita.
    for name in ("gus@", "hana@"):
        manager.check(f"input[type=checkbox][aria-label^='Tick {name}']")
    manager.select_option("#bulk-rep", label="Rita Rep")
    manager.click("#bulk-assign")
    manager.wait_for_selector("text=Assigned 2 of 2 leads.")
    # One: Ivo by the rules.
    manager.locator("li[data-prospect]", has_text="Ivo").locator(
        "button", has_text="Assign"
    ).click()
    manager.wait_for_selector("#pool-empty")
    assert _owner(session, "gus@") == team.rep_id and _owner(session, "ivo@") is not None

    rep = page_factory()
    sign_in(rep, team.rep_email)
    pending = rep.locator("#pending-leads")
    assert "Gus" in pending.inner_text() and "Hana" in pending.inner_text()
    pending.locator("li", has_text="Gus").locator("button", has_text="Accept").click()
    rep.wait_for_selector("text=Accepted: the lead is yours")
    hana = rep.locator("#pending-leads li", has_text="Hana")
    hana.locator("summary", has_text="Reject").click()
    hana.locator("input[name=reason]").fill("Tyrell is a competitor's customer")
    hana.locator("form button", has_text="Reject").click()
    rep.wait_for_selector("text=Rejected: the lead goes to the next rep.")
    assert _owner(session, "hana@") == team.other_rep_id
    assert _owner(session, "gus@") == team.rep_id

    manager.goto("/report")
    leads = manager.locator("#leads-table").inner_text()
    assert "Rita Rep" in leads and "Omar Other" in leads
    assert "rejected" in manager.locator("#reassignments").inner_text()
    assert manager.locator("#speed-chart rect").count() >= 4
    manager.locator("#leads").scroll_into_view_if_needed()
    screenshot(manager, "lead-report", tmp_path)
