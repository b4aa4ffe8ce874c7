"""The third fresh part of real inbound mail: blind, its one measured figure kept as a floor."""

from __future__ import annotations

from pathlib import Path

import yaml

from bench.verdicts import FRESH, FRESH2, FRESH3, REAL, real_cases, real_score

# Measured once, blind, before any rule was changed for it (docs/inbound.md): 74 of 83.
FRESH3_RIGHT = 74
FRESH3_KNOWN_HARMFUL = {
    "phpbh_34.eml",
    "bp_warning-5.eml",
    "djmb_message_with_utf8_char.eml",
    "djmb_message_with_image_jpg_mimetype.eml",
}


def _repos(folder: Path) -> set[str]:
    """The repositories a part's manifest names as sources (owner/name, the first word)."""
    entries = yaml.safe_load((folder / "manifest.yaml").read_text())
    return {str(entry["source"]).split()[0] for entry in entries}


def test_the_third_fresh_part_is_there_sourced_and_apart_from_the_others() -> None:
    cases = real_cases(FRESH3)
    assert len(cases) >= 80 and all(path.is_file() for path, _ in cases)
    assert {path.name for path, _ in cases} == {path.name for path in FRESH3.glob("*.eml")}
    earlier = {p.read_bytes() for folder in (REAL, FRESH, FRESH2) for p in folder.glob("*.eml")}
    assert not {path.read_bytes() for path, _ in cases} & earlier
    # Not one source repository in common with an earlier part.
    assert not _repos(FRESH3) & (_repos(REAL) | _repos(FRESH) | _repos(FRESH2))
    entries = yaml.safe_load((FRESH3 / "manifest.yaml").read_text())
    assert all(e["why"] and "@" in e["source"] for e in entries)
    readme = (FRESH3 / "README.md").read_text(encoding="utf-8")
    for repo in _repos(FRESH3):
        assert repo in readme


def test_the_third_fresh_part_keeps_its_one_blind_figure() -> None:
    score = real_score(FRESH3, "fresh3")
    assert score.right() >= FRESH3_RIGHT, score.wrong
    harmful = {name for name, *_ in score.harmful}
    assert harmful <= FRESH3_KNOWN_HARMFUL, harmful - FRESH3_KNOWN_HARMFUL
