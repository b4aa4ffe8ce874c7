"""Real mail copied from public fixtures (tests/data/verdicts/inbound_real/): floors per category."""

from __future__ import annotations

import pytest

from bench.verdicts import REAL, judge, real_cases, real_score

# Right answers per category on the real part: the first, blind run (docs/inbound.md), plus the
# one hard bounce fixed since by a rule that generalises (a `post_master@` sender).
FLOORS = {
    "reply": 14,
    "auto_reply": 4,
    "bounce_hard": 39,
    "bounce_soft": 12,
}
# Harmful mistakes seen in that first run and not yet fixed by a rule that generalises
# (docs/inbound.md names them); any other harmful mistake fails.
KNOWN_HARMFUL = {"sisimai_lhost-fml-02.eml"}


def test_the_real_part_is_there_and_sourced() -> None:
    cases = real_cases()
    assert len(cases) >= 90 and all(path.is_file() for path, _ in cases)
    readme = (REAL / "README.md").read_text(encoding="utf-8")
    assert "mailgun/talon" in readme and "sisimai/set-of-emails" in readme
    listed = {path.name for path, _ in cases}
    assert listed == {path.name for path in REAL.glob("*.eml")}, "every file is in the manifest"


def test_the_real_part_meets_its_floor_per_category() -> None:
    score = real_score()
    for label, floor in FLOORS.items():
        assert score.right(label) >= floor, (label, score.wrong)


def test_the_real_part_has_no_harmful_mistake_beyond_those_recorded() -> None:
    harmful = {name for name, *_ in real_score().harmful}
    assert harmful <= KNOWN_HARMFUL, harmful - KNOWN_HARMFUL


def test_a_report_from_post_master_with_a_550_is_a_hard_bounce() -> None:
    label, verdict, reason = judge((REAL / "sisimai_lhost-apachejames-01.eml").read_bytes())
    assert label == "bounce_hard", reason
    assert verdict is not None and verdict.bounce is not None and verdict.bounce.permanent


@pytest.mark.parametrize("name", [p.name for p, e in real_cases() if e == "reply"])
def test_a_real_reply_is_never_taken_for_an_unsubscribe_auto_reply_or_bounce(name: str) -> None:
    label, _, reason = judge((REAL / name).read_bytes())
    assert label == "reply", reason
