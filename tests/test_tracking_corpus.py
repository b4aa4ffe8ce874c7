"""The tracking corpus (public user agents, timings, addresses) scored per category, both parts."""

from __future__ import annotations

import pytest

from bench.verdicts_tracking import CATEGORIES, PARTS, load, tracking_matrix

# What the verdicts must keep: the share of each category shown on the right side (a person as
# a person, a machine as a machine), and of the whole part in exactly the right category.
SIDE_FLOOR = {"tuning": 0.98, "held_out": 0.95, "fresh": 0.85}
CATEGORY_FLOOR = {"tuning": 0.95, "held_out": 0.90, "fresh": 0.90}
# The fresh part's first and only measurement (docs/tracking.md): crawlers it shows as people.
# Fixing them means a rule that generalises, then a new fresh part, never matching these.
FRESH_MACHINES_SHOWN_AS_PEOPLE = 2


def test_corpus_is_big_split_and_sourced() -> None:
    cases = {part: load(part) for part in PARTS}
    assert sum(len(c) for c in cases.values()) >= 300
    assert all(len(c) >= 150 for c in cases.values())
    for part in PARTS:
        labels = {c["label"] for c in cases[part]}
        assert labels == set(CATEGORIES) if part != "fresh" else labels == {"person", "crawler"}
        assert all(c["source"] and c["ua"] is not None for c in cases[part])
    ids = [c["id"] for part in PARTS for c in cases[part]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("part", PARTS)
def test_every_category_is_on_the_right_side_of_person_or_machine(part: str) -> None:
    score = tracking_matrix((part,), echo=False)[part]
    for label in {c["label"] for c in load(part)}:
        assert score.side_accuracy(label) >= SIDE_FLOOR[part], (label, score.harmful)
    assert score.accuracy() >= CATEGORY_FLOOR[part]


@pytest.mark.parametrize("part", ("tuning", "held_out"))
def test_no_harmful_mistake_in_either_part(part: str) -> None:
    # A known mail client shown as a machine, or a scanner, preview, crawler or Apple's proxy
    # shown as a person: each is named, so a rule change that brings one back fails here.
    score = tracking_matrix((part,), echo=False)[part]
    assert [case["id"] for case, _ in score.harmful] == []


def test_the_fresh_part_shows_no_person_as_a_machine_and_no_more_machines_as_people() -> None:
    score = tracking_matrix(("fresh",), echo=False)["fresh"]
    people_lost = [case["id"] for case, _ in score.harmful if case["label"] == "person"]
    assert people_lost == []
    assert len(score.harmful) <= FRESH_MACHINES_SHOWN_AS_PEOPLE
