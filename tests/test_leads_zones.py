"""Lead assignment counts days in the rep's own time zone: vacations and the daily cap turn
over at the rep's midnight (UTC-8 and UTC+10 here), not at midnight UTC."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sequences.leads import assign_pool, import_leads, update_rep
from sequences.models import Lead, LeadRep, Team, User
from sequences.runtime import Runtime
from sequences.workspace import set_team_zone, set_user_zone
from sequences.workspace.accounts import create_user, default_team

LOS_ANGELES = "America/Los_Angeles"  # UTC-8 in January
BRISBANE = "Australia/Brisbane"  # UTC+10 all year (no daylight saving)


def _team(session: Session, reps: int) -> tuple[Team, list[User]]:
    team = default_team(session)
    users = [
        create_user(session, f"rep{i}@example.com", name=f"Rep {i}", team=team) for i in range(reps)
    ]
    session.commit()
    return team, users


def _csv(count: int, start: int = 0) -> io.StringIO:
    rows = ["email,first_name,company"]
    rows += [f"lead{i}@co{i}.example,Lead {i},Company {i}" for i in range(start, start + count)]
    return io.StringIO("\n".join(rows) + "\n")


def _owners(session: Session) -> Counter[int | None]:
    return Counter(session.scalars(select(Lead.owner_id)))


def test_a_rep_in_los_angeles_is_away_until_their_own_midnight(
    session: Session, rt: Runtime
) -> None:
    team, (west, other) = _team(session, reps=2)
    set_user_zone(session, west, LOS_ANGELES)
    update_rep(session, west, {"away_from": "2026-01-01", "away_until": "2026-01-05"})
    session.commit()
    # 07:30 UTC on the 6th is 23:30 on the 5th in Los Angeles: still on vacation there.
    rt.clock.set(datetime(2026, 1, 6, 7, 30, tzinfo=UTC))  # type: ignore[attr-defined]
    import_leads(session, team.id, _csv(2), rt.clock.now())
    session.commit()
    assert _owners(session) == {other.id: 2}
    # 00:01 on the 6th in Los Angeles: back at work, and the next leads are shared again.
    rt.clock.advance(minutes=31)  # type: ignore[attr-defined]
    import_leads(session, team.id, _csv(2, start=2), rt.clock.now())
    session.commit()
    assert _owners(session) == {other.id: 3, west.id: 1}


def test_a_rep_in_brisbane_goes_away_at_their_midnight_while_utc_is_still_the_day_before(
    session: Session, rt: Runtime
) -> None:
    team, (east, other) = _team(session, reps=2)
    set_user_zone(session, east, BRISBANE)
    update_rep(session, east, {"away_from": "2026-01-06", "away_until": "2026-01-09"})
    session.commit()
    # 13:59 UTC on the 5th is 23:59 on the 5th in Brisbane: the vacation has not started.
    rt.clock.set(datetime(2026, 1, 5, 13, 59, tzinfo=UTC))  # type: ignore[attr-defined]
    import_leads(session, team.id, _csv(2), rt.clock.now())
    session.commit()
    assert _owners(session) == {east.id: 1, other.id: 1}
    # 14:00 UTC, still the 5th in UTC, is 00:00 on the 6th in Brisbane: away now.
    rt.clock.advance(minutes=1)  # type: ignore[attr-defined]
    import_leads(session, team.id, _csv(2, start=2), rt.clock.now())
    session.commit()
    assert _owners(session) == {east.id: 1, other.id: 3}


def test_the_daily_cap_of_a_rep_in_los_angeles_starts_again_at_their_midnight_not_utcs(
    session: Session, rt: Runtime
) -> None:
    team, (west,) = _team(session, reps=1)
    set_user_zone(session, west, LOS_ANGELES)
    update_rep(session, west, {"max_daily": 2})
    session.commit()
    rt.clock.set(datetime(2026, 1, 5, 23, 0, tzinfo=UTC))  # type: ignore[attr-defined]  # 15:00 LA
    import_leads(session, team.id, _csv(3), rt.clock.now())
    session.commit()
    assert _owners(session) == {west.id: 2, None: 1}
    # Midnight UTC has passed (01:00 on the 6th) but it is 17:00 on the 5th in Los Angeles.
    rt.clock.set(datetime(2026, 1, 6, 1, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    assert [owner for _, owner in assign_pool(session, team.id, rt.clock.now())] == [None]
    session.commit()
    assert _owners(session) == {west.id: 2, None: 1}
    # 08:00 UTC is 00:00 on the 6th in Los Angeles: a new day for the cap.
    rt.clock.set(datetime(2026, 1, 6, 8, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    assigned = assign_pool(session, team.id, rt.clock.now())
    session.commit()
    assert [owner for _, owner in assigned] == [west.id]
    row = session.get(LeadRep, west.id)
    assert row is not None and row.day.isoformat() == "2026-01-06" and row.day_count == 1


def test_the_daily_cap_follows_the_teams_zone_for_a_rep_without_their_own(
    session: Session, rt: Runtime
) -> None:
    team, (east,) = _team(session, reps=1)
    set_team_zone(session, team, BRISBANE)  # the rep chose no zone: the team's is theirs
    update_rep(session, east, {"max_daily": 1})
    session.commit()
    rt.clock.set(datetime(2026, 1, 5, 13, 0, tzinfo=UTC))  # type: ignore[attr-defined]  # 23:00
    import_leads(session, team.id, _csv(2), rt.clock.now())
    session.commit()
    assert _owners(session) == {east.id: 1, None: 1}
    # 14:00 UTC on the 5th: the UTC day is the same, Brisbane's is the 6th, so the cap is fresh.
    rt.clock.set(datetime(2026, 1, 5, 14, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    assigned = assign_pool(session, team.id, rt.clock.now())
    session.commit()
    assert [owner for _, owner in assigned] == [east.id]
