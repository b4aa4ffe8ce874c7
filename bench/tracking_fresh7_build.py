"""Build the seventh fresh tracking part (tests/data/tracking/fresh7.yaml) from sources nothing read.

fresh6's mistakes were read to fix the rules (Electron apps before the second crawler list, two
labels of isbot's "Glitches" group read again), so fresh6 no longer measures blind. This part
is built after that fix from four repositories no earlier build or rule opened, minus every
agent already in another part; it is committed before anything runs on it, measured once, and
never tuned on:

- microlinkhq/top-user-agents (MIT): `src/desktop.json` and `src/mobile.json`, the most used
  browser agents of real traffic, rewritten weekly; every commit that touched them is read,
  oldest first, and an agent's source is the first commit that lists it;
- serbanghita/Mobile-Detect (MIT): `tests/providers/vendors/*.php`, each agent with the
  `isMobile` / `isTablet` the library must answer;
- woothee/woothee (Apache-2.0): `testsets/*.yaml`, each agent with the `category` woothee must
  answer;
- lancedikson/bowser (MIT): `test/acceptance/useragentstrings.yml`, each agent with the
  `platform.type` bowser must answer.

Run once by hand with the four repositories' git directories:

    python bench/tracking_fresh7_build.py --top-user-agents PATH --mobile-detect PATH \\
        --woothee PATH --bowser PATH

Labels come from what each source says of each agent, by this mapping, written before any
verdict was seen; this script never calls the classifier. The first source (in the order
above) that holds an agent decides it.

- top-user-agents, either file: a person's browser, opening or clicking later, when
  bench/tracking_corpus_build.py's `modern_browser` (the filter every part used: a current
  Chrome, Edge, Firefox or Safari with no app token) says it is current and it names no
  messenger; 110 drawn at random. The list is of real traffic, which scripts imitate, so the
  filter is what makes the label a person's;
- Mobile-Detect, `isMobile` true (a phone or a tablet): a person's browser, opening or clicking
  later, by the same filter, all of them; its desktop and unknown agents are left out;
- woothee, `category` crawler (its crawler, crawler_google and crawler_nonmajor sets) or misc
  (HTTP libraries, feed readers, Google Desktop): a machine, a preview when the agent names a
  messenger or network (the first build's pattern), otherwise a crawler, all of them; its pc,
  smartphone, mobilephone and appliance agents are from before 2022 and fail the filter, so they
  are left out;
- bowser, `platform.type` bot: a machine, as woothee's; its browsers are from before 2021 and
  fail the filter.

As in fresh2 to fresh6, machine entries naming a mail client, a provider's image proxy or Office
are left out: their type says what software it is, not whose open it is. None of these sources
holds a current mail client or a webmail image proxy, so this part's people are browsers.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tracking_corpus_build import LaterPart, Repo, modern_browser  # noqa: E402
from bench.tracking_fresh2_build import MAIL_OR_OFFICE, PREVIEW  # noqa: E402

PARTS_BEFORE = ("tuning", "held_out", "fresh", "fresh2", "fresh3", "fresh4", "fresh5", "fresh6")
TOP_FILES = ("src/desktop.json", "src/mobile.json")
TOP_DRAWN = 110
WOOTHEE_MACHINES = {"crawler", "misc"}
# One Mobile-Detect case a line: 'agent' => ['isMobile' => true, 'isTablet' => false, ...],
MOBILE_DETECT_CASE = re.compile(r"^\s*'((?:[^'\\]|\\.)*)'\s*=>\s*\[(.*)\],?\s*$")
IS_MOBILE = re.compile(r"'isMobile'\s*=>\s*true")

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def top_user_agents(repo: Repo) -> list[tuple[str, str]]:
    """(agent, source) of every agent either file ever listed, by the first commit listing it."""
    commits = repo.git("log", "--reverse", "--format=%H", "HEAD", "--", *TOP_FILES).split()
    found: dict[str, str] = {}
    for commit in commits:
        for file in TOP_FILES:
            try:
                agents = json.loads(repo.git("show", f"{commit}:{file}"))
            except Exception:  # the file is absent at that commit, or not yet a JSON list
                continue
            for ua in agents if isinstance(agents, list) else []:
                if isinstance(ua, str) and ua.strip() not in found:
                    found[ua.strip()] = f"github.com/{repo.name} {file} @{commit[:10]}"
    return list(found.items())


def mobile_detect_cases(text: str) -> list[tuple[str, bool]]:
    """(agent, isMobile) of one Mobile-Detect vendor provider file."""
    found = []
    for line in text.splitlines():
        m = MOBILE_DETECT_CASE.match(line)
        if m:
            ua = m.group(1).replace("\\'", "'").replace("\\\\", "\\")
            found.append((ua, bool(IS_MOBILE.search(m.group(2)))))
    return found


def woothee_cases(text: str) -> list[tuple[str, str, str]]:
    """(agent, category, name) of one woothee test set."""
    return [
        (str(e["target"]), str(e.get("category", "")), str(e.get("name", "")))
        for e in yaml.load(text, Loader=Loader) or []
        if isinstance(e, dict) and isinstance(e.get("target"), str)
    ]


def bowser_cases(text: str) -> list[tuple[str, str, str]]:
    """(agent, platform type, group) of bowser's acceptance list."""
    found = []
    for group, cases in (yaml.load(text, Loader=Loader) or {}).items():
        for case in cases or []:
            if not isinstance(case, dict) or not isinstance(case.get("ua"), str):
                continue
            platform: dict[str, Any] = (case.get("spec") or {}).get("platform") or {}
            found.append((case["ua"], str(platform.get("type", "")), str(group)))
    return found


def fresh(ua: str, part: LaterPart, seen: set[str]) -> bool:
    """True the first time an agent no other part holds is met; the first source decides it."""
    ua = ua.strip()
    if not ua or "\n" in ua or ua in part.known or ua in seen:
        return False
    seen.add(ua)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--top-user-agents", "--mobile-detect", "--woothee", "--bowser"):
        parser.add_argument(name, required=True, help="its git directory")
    args = parser.parse_args()
    part = LaterPart(PARTS_BEFORE, random.Random(2026_12_08_7))
    rng, seen = part.rng, set()
    people: list[tuple[str, str]] = []
    machines: list[tuple[str, str]] = []

    top = Repo(args.top_user_agents, "microlinkhq/top-user-agents")
    top_people = []
    for ua, source in top_user_agents(top):
        if fresh(ua, part, seen) and modern_browser(ua.strip()) and not PREVIEW.search(ua):
            top_people.append((ua.strip(), f"{source} (a top browser agent of real traffic)"))
    rng.shuffle(top_people)
    people += top_people[:TOP_DRAWN]

    detect = Repo(args.mobile_detect, "serbanghita/Mobile-Detect")
    vendors = "tests/providers/vendors"
    for file in sorted(detect.git("ls-tree", "-r", "--name-only", "HEAD", vendors).split()):
        for ua, mobile in mobile_detect_cases(detect.show(file)):
            seen_first = fresh(ua, part, seen)
            if seen_first and mobile and modern_browser(ua.strip()) and not PREVIEW.search(ua):
                people.append((ua.strip(), f"{detect.source(file)} (isMobile)"))

    woothee = Repo(args.woothee, "woothee/woothee")
    for file in sorted(woothee.git("ls-tree", "-r", "--name-only", "HEAD", "testsets").split()):
        for ua, category, name in woothee_cases(woothee.show(file)):
            seen_first = fresh(ua, part, seen)
            if seen_first and category in WOOTHEE_MACHINES and not MAIL_OR_OFFICE.search(ua):
                machines.append((ua.strip(), f"{woothee.source(file)} ({category}: {name})"))

    bowser = Repo(args.bowser, "lancedikson/bowser")
    file = "test/acceptance/useragentstrings.yml"
    for ua, platform, group in bowser_cases(bowser.show(file)):
        if fresh(ua, part, seen) and platform == "bot" and not MAIL_OR_OFFICE.search(ua):
            machines.append((ua.strip(), f"{bowser.source(file)} (bot: {group})"))

    for ua, source in people:
        part.add("person", ua, source, rng.choice(["open", "click"]))
    for ua, source in machines:
        label = "preview" if PREVIEW.search(ua) else "crawler"
        part.add(label, ua, source, rng.choice(["open", "click"]))
    part.finish("fresh7", "l")


if __name__ == "__main__":
    main()
