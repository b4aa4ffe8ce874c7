"""Real replies copied from public fixtures (tests/data/verdicts/inbound_real/): read as replies."""

from __future__ import annotations

import pytest

from bench.verdicts import REAL, judge, real_cases


def test_the_real_part_is_there_and_sourced() -> None:
    cases = real_cases()
    assert len(cases) >= 12 and all(expected == "reply" for _, expected in cases)
    assert "mailgun/talon" in (REAL / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [path.name for path, _ in real_cases()])
def test_a_real_reply_is_never_taken_for_an_unsubscribe_auto_reply_or_bounce(name: str) -> None:
    label, _, reason = judge((REAL / name).read_bytes())
    assert label == "reply", reason
