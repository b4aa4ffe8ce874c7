"""How right the verdicts are: inbound mail and tracking hits, a confusion matrix per category.

Inbound: the corpus in tests/data/verdicts/inbound/ (bench/verdicts_inbound_build.py) read by
the same code the inbound server runs (`read`, then `decide`), scored on its tuning part and its
held-out part apart. Harmful mistakes are listed by name: a person's reply taken as an
unsubscribe, an auto-reply or a bounce (suppressed or paused), a weak request taken as a sure
unsubscribe, a hard bounce taken as soft, as an auto-reply or as a machine notice (mailing a dead
address), a reply taken as a machine notice (a read receipt, a list's or a filter's notice).
Tracking: bench.verdicts_tracking.

    .venv/bin/python bench/verdicts.py            # both
    .venv/bin/python bench/verdicts.py inbound    # one of them
    .venv/bin/python bench/verdicts.py real       # real mail copied from talon's and sisimai's fixtures
    .venv/bin/python bench/verdicts.py fresh      # more real mail, measured blind once, tuned on since
    .venv/bin/python bench/verdicts.py fresh2     # real mail from other sources, measured blind once, tuned on since
    .venv/bin/python bench/verdicts.py fresh3     # real mail from five more sources, measured blind once, tuned on since
    .venv/bin/python bench/verdicts.py fresh4     # real mail from seven more sources, measured blind once, tuned on since
    .venv/bin/python bench/verdicts.py fresh5     # real mail from five more sources, blind: measured once
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.verdicts_tracking import tracking_matrix  # noqa: E402
from sequences.inbound.ingest import read  # noqa: E402
from sequences.inbound.verdicts import (  # noqa: E402
    AUTO_REPLY,
    BOUNCE_HARD,
    BOUNCE_SOFT,
    CONFIRM_UNSUBSCRIBE,
    LABELS,
    MACHINE_NOTICE,
    REPLY,
    UNSUBSCRIBE,
    Verdict,
    decide,
)

CORPUS = ROOT / "tests" / "data" / "verdicts" / "inbound"
REAL = ROOT / "tests" / "data" / "verdicts" / "inbound_real"  # copied verbatim, see its README
FRESH = ROOT / "tests" / "data" / "verdicts" / "inbound_fresh"  # measured blind once, now tuning
FRESH2 = (
    ROOT / "tests" / "data" / "verdicts" / "inbound_fresh2"
)  # measured blind once, tuned on since
FRESH3 = (
    ROOT / "tests" / "data" / "verdicts" / "inbound_fresh3"
)  # measured blind once, tuned on since
FRESH4 = ROOT / "tests" / "data" / "verdicts" / "inbound_fresh4"  # measured blind once, now tuning
FRESH5 = ROOT / "tests" / "data" / "verdicts" / "inbound_fresh5"  # blind: labelled before any run
PARTS = ("tuning", "held_out")
SHORT = {
    REPLY: "reply",
    UNSUBSCRIBE: "unsub",
    CONFIRM_UNSUBSCRIBE: "unsub?",
    AUTO_REPLY: "auto",
    MACHINE_NOTICE: "notice",
    BOUNCE_HARD: "hard",
    BOUNCE_SOFT: "soft",
    "unreadable": "unread",
}
# (expected, predicted) -> the harm, in a rep's words.
HARMFUL = {
    (REPLY, UNSUBSCRIBE): "reply taken as unsubscribe (a live lead suppressed for good)",
    (REPLY, AUTO_REPLY): "reply taken as auto-reply (paused, would mail someone who answered)",
    (REPLY, MACHINE_NOTICE): "reply taken as a machine notice (the person's answer not seen)",
    (REPLY, BOUNCE_HARD): "reply taken as a bounce (address suppressed)",
    (REPLY, BOUNCE_SOFT): "reply taken as a bounce (the sequence goes on)",
    (
        CONFIRM_UNSUBSCRIBE,
        UNSUBSCRIBE,
    ): "weak request taken as sure unsubscribe (suppressed on weak evidence)",
    (CONFIRM_UNSUBSCRIBE, AUTO_REPLY): "reply that may ask to stop taken as auto-reply (paused)",
    (BOUNCE_HARD, BOUNCE_SOFT): "hard bounce taken as soft (mailing a dead address)",
    (BOUNCE_HARD, REPLY): "hard bounce taken as a reply",
    (
        BOUNCE_HARD,
        AUTO_REPLY,
    ): "hard bounce taken as auto-reply (paused, then mails a dead address)",
    (
        BOUNCE_HARD,
        MACHINE_NOTICE,
    ): "hard bounce taken as a machine notice (mailing a dead address)",
}


def manifest() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load((CORPUS / "manifest.yaml").read_text())
    return entries


def real_cases(folder: Path = REAL) -> list[tuple[Path, str]]:
    """The real messages and what a careful rep would call each (its manifest)."""
    entries: list[dict[str, Any]] = yaml.safe_load((folder / "manifest.yaml").read_text())
    return [(folder / entry["file"], entry["expected"]) for entry in entries]


def real_score(folder: Path = REAL, part: str = "real") -> InboundScore:
    """A part of real mail scored like the others."""
    result = InboundScore(part)
    for path, expected in real_cases(folder):
        result.add(path.name, path.read_bytes(), expected)
    return result


def judge(raw: bytes) -> tuple[str, Verdict | None, str]:
    """The label the inbound code gives these bytes, its verdict and its reason."""
    _, parsed, problem = read(raw, 25 * 1024 * 1024)
    if parsed is None:
        return "unreadable", None, problem or ""
    verdict = decide(parsed)
    return verdict.label, verdict, verdict.reason


@dataclass
class InboundScore:
    part: str
    matrix: Counter[tuple[str, str]] = field(default_factory=Counter)
    harmful: list[tuple[str, str, str, str]] = field(default_factory=list)  # file, harm, reason
    wrong: list[tuple[str, str, str, str]] = field(default_factory=list)

    def total(self, label: str | None = None) -> int:
        return sum(n for (a, _), n in self.matrix.items() if label in (None, a))

    def right(self, label: str | None = None) -> int:
        return sum(n for (a, p), n in self.matrix.items() if a == p and label in (None, a))

    def accuracy(self, label: str | None = None) -> float:
        return self.right(label) / max(1, self.total(label))

    def add(self, name: str, raw: bytes, expected: str) -> None:
        """Judge one message and count it, naming it if wrong or harmful."""
        predicted, _, reason = judge(raw)
        self.matrix[(expected, predicted)] += 1
        if predicted != expected:
            self.wrong.append((name, expected, predicted, reason))
        harm = HARMFUL.get((expected, predicted))
        if harm:
            self.harmful.append((name, harm, predicted, reason))


def inbound_score(part: str) -> InboundScore:
    result = InboundScore(part)
    for entry in manifest():
        if entry["split"] != part:
            continue
        result.add(entry["file"], (CORPUS / entry["file"]).read_bytes(), entry["expected"])
    return result


def render_inbound(s: InboundScore, verbose: bool = False) -> str:
    columns = [*LABELS, "unreadable"]
    lines = [f"inbound {s.part}: {s.total()} messages, {s.accuracy():.1%} right"]
    lines.append(
        "expected \\ verdict".ljust(32) + "".join(SHORT[c].rjust(8) for c in columns) + "   right"
    )
    for label in LABELS:
        if not s.total(label):
            continue
        row = "".join(str(s.matrix[(label, p)]).rjust(8) for p in columns)
        lines.append(label.ljust(32) + row + f"  {s.accuracy(label):6.1%}")
    lines.append(f"harmful mistakes: {len(s.harmful)}")
    for file, harm, _, reason in s.harmful:
        lines.append(f"  {file}: {harm} [{reason[:100]}]")
    if verbose:
        for file, expected, predicted, reason in s.wrong:
            lines.append(f"  wrong: {file}: {expected} -> {predicted} [{reason[:110]}]")
    return "\n".join(lines)


def inbound_matrix(
    parts: tuple[str, ...] = PARTS, echo: bool = True, verbose: bool = False
) -> dict[str, InboundScore]:
    """Score every part of the inbound corpus; print each matrix and its harmful mistakes."""
    scores = {part: inbound_score(part) for part in parts}
    if echo:
        for s in scores.values():
            print(render_inbound(s, verbose))
            print()
    return scores


def main(argv: list[str]) -> None:
    every = {"inbound", "real", "fresh", "fresh2", "fresh3", "fresh4", "fresh5", "tracking"}
    which = set(argv) & every or every
    parts = tuple(p for p in PARTS if p in argv) or PARTS
    if "inbound" in which:
        inbound_matrix(parts, verbose="-v" in argv)
    if "real" in which:
        print(render_inbound(real_score(), verbose="-v" in argv))
        print()
    if "fresh" in which:
        print(render_inbound(real_score(FRESH, "fresh"), verbose="-v" in argv))
        print()
    if "fresh2" in which:
        print(render_inbound(real_score(FRESH2, "fresh2"), verbose="-v" in argv))
        print()
    if "fresh3" in which:
        print(render_inbound(real_score(FRESH3, "fresh3"), verbose="-v" in argv))
        print()
    if "fresh4" in which:
        print(render_inbound(real_score(FRESH4, "fresh4"), verbose="-v" in argv))
        print()
    if "fresh5" in which:
        print(render_inbound(real_score(FRESH5, "fresh5"), verbose="-v" in argv))
        print()
    if "tracking" in which:
        tracking_matrix()


if __name__ == "__main__":
    main(sys.argv[1:])
