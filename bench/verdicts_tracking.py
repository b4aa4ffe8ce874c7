"""How right the open/click verdicts are on the tracking corpus: a confusion matrix per category.

The corpus (tests/data/tracking/, built by bench/tracking_corpus_build.py from public
user-agent fixtures) has a tuning part, a held-out part that rules were never adjusted
against (until its harmful mistakes were read, issue 17) and a fresh part built after that
fix from fixtures nothing had read (bench/tracking_fresh_build.py), a second fresh part
built after the first one's mistakes were fixed (bench/tracking_fresh2_build.py) and a third
built after the second one's were (bench/tracking_fresh3_build.py) and a fourth after
the third one's were (bench/tracking_fresh4_build.py) and a fifth after the fourth one's were
(bench/tracking_fresh5_build.py) and a sixth after the fifth one's were
(bench/tracking_fresh6_build.py) and a seventh after the sixth one's were
(bench/tracking_fresh7_build.py); each is scored apart. Harmful mistakes are named: a person shown as a machine (a
rep loses real engagement) and a machine shown as a person (a rep calls on a scanner's click).

    .venv/bin/python bench/verdicts_tracking.py
"""

from __future__ import annotations

import functools
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sequences.tracking.verdicts import (  # noqa: E402
    APPLE,
    BOT,
    HUMAN,
    PREFETCH,
    PREVIEW,
    SCANNER,
    Hit,
    Prior,
    Verdict,
    classify_in_context,
)

CORPUS = ROOT / "tests" / "data" / "tracking"
# fresh: built after the held-out mistakes were read and fixed (bench/tracking_fresh_build.py);
# fresh2: built after the fresh part's mistakes were read and fixed (bench/tracking_fresh2_build.py);
# fresh3: built after fresh2's were (bench/tracking_fresh3_build.py);
# fresh4: built after fresh3's were (bench/tracking_fresh4_build.py);
# fresh5: built after fresh4's were (bench/tracking_fresh5_build.py); its own were fixed since;
# fresh6: built after fresh5's were (bench/tracking_fresh6_build.py), tuned on since.
# fresh7: built after fresh6's were (bench/tracking_fresh7_build.py), its one category mistake
# read and fixed since.
# fresh8: built after the older parts' harmful mistakes were read again
# (bench/tracking_fresh8_build.py): mail clients and webmail image proxies.
PARTS = (
    "tuning", "held_out", "fresh", "fresh2", "fresh3", "fresh4", "fresh5", "fresh6", "fresh7",
    "fresh8",
)  # fmt: skip
CATEGORIES = ("person", "apple_privacy", "scanner", "preview", "crawler")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the message was delivered then


@functools.cache  # read once per process: the tests score the parts many times; never mutated
def load(part: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load((CORPUS / f"{part}.yaml").read_text())
    return cases


def category(verdict: Verdict) -> str:
    """Which corpus category a verdict puts the hit in."""
    if verdict.verdict == HUMAN:
        return "person"
    return {
        APPLE: "apple_privacy",
        SCANNER: "scanner",
        PREFETCH: "scanner",
        PREVIEW: "preview",
        BOT: "crawler",
    }.get(verdict.reason or "", "crawler")


def judge(case: dict[str, Any]) -> Verdict:
    since = timedelta(seconds=float(case["since"]))
    at = T0 + since
    kind = case["kind"]
    history = [
        Prior(
            h["kind"],
            at - timedelta(seconds=float(h["ago"])),
            h["verdict"],
            h.get("position"),
        )
        for h in case.get("history") or []
    ]
    hit = Hit(kind, case.get("method", "GET"), case["ua"], case.get("ip"), since)
    position = int(case.get("position", 0)) if kind == "click" else None
    return classify_in_context(hit, at, position, history, int(case.get("links", 3))).verdict


@dataclass
class Score:
    part: str
    matrix: Counter[tuple[str, str]] = field(default_factory=Counter)  # (label, predicted)
    harmful: list[tuple[dict[str, Any], Verdict]] = field(default_factory=list)

    def total(self, label: str | None = None) -> int:
        return sum(n for (a, _), n in self.matrix.items() if label is None or a == label)

    def right(self, label: str | None = None) -> int:
        """Exactly the right category."""
        return sum(n for (a, p), n in self.matrix.items() if a == p and label in (None, a))

    def right_side(self, label: str | None = None) -> int:
        """Person shown as person, machine as (some) machine: what the rep sees."""
        return sum(
            n
            for (a, p), n in self.matrix.items()
            if (a == "person") == (p == "person") and label in (None, a)
        )

    def accuracy(self, label: str | None = None) -> float:
        return self.right(label) / max(1, self.total(label))

    def side_accuracy(self, label: str | None = None) -> float:
        return self.right_side(label) / max(1, self.total(label))


def score(part: str) -> Score:
    result = Score(part)
    for case in load(part):
        verdict = judge(case)
        predicted = category(verdict)
        result.matrix[(case["label"], predicted)] += 1
        if (case["label"] == "person") != (predicted == "person"):
            result.harmful.append((case, verdict))
    return result


def render(s: Score) -> str:
    width = max(len(c) for c in CATEGORIES) + 2
    lines = [
        f"{s.part}: {s.total()} cases, {s.accuracy():.1%} right category, "
        f"{s.side_accuracy():.1%} right side (person vs machine)"
    ]
    lines.append(
        "label \\ verdict".ljust(width + 4)
        + "".join(c[:12].rjust(14) for c in CATEGORIES)
        + "   right   side"
    )
    for label in CATEGORIES:
        if not s.total(label):
            continue
        row = "".join(str(s.matrix[(label, p)]).rjust(14) for p in CATEGORIES)
        lines.append(
            label.ljust(width + 4)
            + row
            + f"  {s.accuracy(label):6.1%} {s.side_accuracy(label):6.1%}"
        )
    lines.append(f"harmful mistakes: {len(s.harmful)}")
    for case, verdict in s.harmful:
        shown = "machine" if case["label"] == "person" else "person"
        lines.append(
            f"  {case['id']} {case['label']} shown as {shown} ({verdict.reason or 'human'}: "
            f"{verdict.why or '-'}): {case['kind']} {case['since']}s {case['ua'][:90]!r}"
        )
    return "\n".join(lines)


def tracking_matrix(parts: tuple[str, ...] = PARTS, echo: bool = True) -> dict[str, Score]:
    """Score every part of the corpus; print each matrix and its harmful mistakes by name."""
    scores = {part: score(part) for part in parts}
    if echo:
        for s in scores.values():
            print(render(s))
            print()
    return scores


def main() -> None:
    tracking_matrix()


if __name__ == "__main__":
    main()
