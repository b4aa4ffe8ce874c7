"""The pure parts behind the workspace: hot-list scores, report maths, the pre-call summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sequences.models import Event
from sequences.workspace.engagement import HALF_LIFE, Signal, rank, weight
from sequences.workspace.reports import RepReport
from tracker.web.prospects import link_label, timeline

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_weight_falls_with_age_and_a_click_counts_three_opens() -> None:
    ages = [timedelta(minutes=m) for m in (0, 90, 240, 600, 1200, 2400, 4000)]
    weights = [weight(Signal(1, "open", NOW - age), NOW) for age in ages]
    assert weights == sorted(weights, reverse=True) and len(set(weights)) == len(weights)
    assert weight(Signal(1, "open", NOW - HALF_LIFE * 0.99), NOW) > 0.5  # about 6 h: near half
    assert weight(Signal(1, "open", NOW - timedelta(hours=72)), NOW) == 0.0
    assert weight(Signal(1, "click", NOW), NOW) == 3 * weight(Signal(1, "open", NOW), NOW)
    assert weight(Signal(1, "open", NOW + timedelta(minutes=5)), NOW) == weights[0]  # clock skew


def test_a_fresh_click_outranks_many_old_opens_and_ties_go_to_the_latest() -> None:
    old_opens = [Signal(1, "open", NOW - timedelta(hours=30)) for _ in range(10)]
    click = [Signal(2, "click", NOW - timedelta(minutes=5))]
    tie = [Signal(3, "open", NOW - timedelta(hours=1)), Signal(4, "open", NOW - timedelta(hours=1))]
    ranked = rank([*old_opens, *click, *tie], NOW)
    assert [h.prospect_id for h in ranked][:1] == [2]
    assert ranked[0].clicks == 1 and ranked[0].last_type == "click"
    by_id = {h.prospect_id: h for h in ranked}
    assert by_id[1].opens == 10
    assert rank([*old_opens, *click], NOW, limit=1)[0].prospect_id == 2


def test_rep_rates_are_shares_of_touched_prospects_and_zero_without_any() -> None:
    rep = RepReport(1, "Rita", prospects_touched=4, touches=10, dropped_after_one=1, replied=2)
    assert rep.touches_per_prospect == 2.5 and rep.share(rep.replied) == 0.5
    row = rep.row()
    assert row["dropped_after_one_touch"] == 0.25 and row["median_days_between_touches"] is None
    empty = RepReport(2, "New")
    assert empty.touches_per_prospect == 0.0 and empty.share(0) == 0.0


def test_link_labels_are_short_and_readable() -> None:
    assert link_label("https://www.example.com/pricing/?a=1") == "example.com/pricing"
    assert link_label("https://example.com/") == "example.com"
    assert link_label("x" * 80).endswith("…")


def test_timeline_nests_opens_and_clicks_under_their_email() -> None:
    sent = Event(id=1, type="sent", message_id=7, at=NOW - timedelta(hours=2), data={})
    opened = Event(id=2, type="open", message_id=7, at=NOW - timedelta(hours=1), data={})
    call = Event(id=3, type="call", message_id=None, at=NOW, data={"outcome": "connected"})
    note = Event(id=4, type="notification", message_id=None, at=NOW, data={})
    items = timeline([note, call, opened, sent])
    assert [i.event.type for i in items] == ["call", "sent"]
    assert items[1].children == [opened]
