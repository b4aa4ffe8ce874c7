"""The fifth fresh part of real inbound mail: its one blind figure, kept as its floor."""

from __future__ import annotations

from pathlib import Path

import yaml

from bench.verdicts import (
    FRESH,
    FRESH2,
    FRESH3,
    FRESH4,
    FRESH5,
    REAL,
    judge,
    real_cases,
    real_score,
)
from sequences import runtime
from sequences.inbound.ingest import receive

from .test_inbound import enrollment_of, events, prospect_of, seed

# Measured once, blind, before any rule was looked at for it (docs/inbound.md): 102 of 102, with
# no harmful mistake; one message was then found to be there twice and dropped, so 101 of 101. No
# rule was changed for it, so the part is still blind to today's rules; a rule change that loses
# one of its messages shows here.
FRESH5_BLIND_RIGHT = 101
FRESH5_TOTAL = 101


def _fresh5(name: str) -> bytes:
    return (FRESH5 / name).read_bytes()


def _repos(folder: Path) -> set[str]:
    """The repositories a part's manifest names as sources (owner/name, the first word)."""
    entries = yaml.safe_load((folder / "manifest.yaml").read_text())
    return {str(entry["source"]).split()[0] for entry in entries}


def test_the_fifth_fresh_part_is_there_sourced_and_apart_from_the_others() -> None:
    cases = real_cases(FRESH5)
    assert len(cases) == FRESH5_TOTAL >= 80 and all(path.is_file() for path, _ in cases)
    assert {path.name for path, _ in cases} == {path.name for path in FRESH5.glob("*.eml")}
    assert len({path.read_bytes() for path, _ in cases}) == len(cases)  # none there twice
    earlier_parts = (REAL, FRESH, FRESH2, FRESH3, FRESH4)
    earlier = {p.read_bytes() for folder in earlier_parts for p in folder.glob("*.eml")}
    assert not {path.read_bytes() for path, _ in cases} & earlier
    # Not one source repository in common with an earlier part.
    assert not _repos(FRESH5) & set().union(*(_repos(folder) for folder in earlier_parts))
    entries = yaml.safe_load((FRESH5 / "manifest.yaml").read_text())
    assert all(e["why"] and "@" in e["source"] for e in entries)
    readme = (FRESH5 / "README.md").read_text(encoding="utf-8")
    for repo in _repos(FRESH5):
        assert repo in readme


def test_the_fifth_fresh_part_keeps_its_blind_figure_and_no_harmful_mistake() -> None:
    score = real_score(FRESH5, "fresh5")
    assert score.harmful == [], score.harmful
    assert score.total() == FRESH5_TOTAL
    assert score.right() >= FRESH5_BLIND_RIGHT, score.wrong


def test_an_exchange_out_of_office_in_base64_gb2312_pauses(rt: runtime.Runtime) -> None:
    # "Out of Office AutoReply: ..." from Exchange 2003, the body base64 in GB2312 with an English
    # "I am out of office till May 23" above a Chinese disclaimer, no Auto-Submitted.
    world = seed(rt, email="user@siemens.com")
    outcome = receive(rt, _fresh5("sa_MIME_BASE64_TEXT_fp-bug-5909.eml"), source="api")
    assert outcome.verdict == "auto_reply", outcome.reason
    assert prospect_of(rt, world).status == "active"
    assert enrollment_of(rt, world).paused_until is not None
    assert events(rt, world, "replied") == []


def test_a_persons_list_reply_with_precedence_bulk_stops_the_sequence_as_replied(
    rt: runtime.Runtime,
) -> None:
    # Alpine on the kernel list: the list's Precedence: bulk is not the person's doing.
    world = seed(rt, email="jkosina@suse.cz")
    outcome = receive(rt, _fresh5("nm_cur_1382298793.003501_2.eml"), source="api")
    assert outcome.verdict == "reply", outcome.reason
    assert prospect_of(rt, world).status == "replied"
    assert enrollment_of(rt, world).paused_until is None
    assert events(rt, world, "auto_reply") == []


def test_exim_delay_warnings_over_a_full_mailbox_are_soft_and_a_dead_address_is_hard() -> None:
    for name in ("sa_BOUNCE_MESSAGE_bug-5942-1.eml", "sa_BOUNCE_MESSAGE_bug-5942-2.eml"):
        label, _, reason = judge(_fresh5(name))
        assert label == "bounce_soft", (name, reason)
    label, _, reason = judge(_fresh5("sa_BOUNCE_MESSAGE_2.eml"))  # "no longer accepts mail"
    assert label == "bounce_hard", reason


def test_the_blind_figure_stays_in_the_docs() -> None:
    docs = (FRESH5.parent.parent.parent.parent / "docs" / "inbound.md").read_text(encoding="utf-8")
    assert "inbound fresh5: 102 messages, 100.0% right" in docs
    words = " ".join(docs.split())
    assert "**100.0% (102 of 102), no harmful mistake**" in words
    assert f"**100.0% ({FRESH5_BLIND_RIGHT} of {FRESH5_TOTAL})**" in words
    assert "nm_cur_51_2.eml" in docs
