"""Build the fifth fresh tracking part (tests/data/tracking/fresh5.yaml) from a source nothing read.

fresh4's mistakes were read to fix the rules (Thunderbird rebuilds, Zimbra Desktop, Android mail
packages, `…Player/` and music streaming apps), so fresh4 no longer measures blind. This part is
built after those fixes from nielsbasjes/yauaa's test cases (`analyzer/src/main/resources/
UserAgents/*.yaml`, Apache-2.0), a repository no earlier build or rule opened, minus every agent
already in another part; it is committed before anything runs on it, measured once, and never
tuned on. Run once by hand with that repository's git directory:

    python bench/tracking_fresh5_build.py --yauaa PATH

Labels come from the `AgentClass` and `DeviceClass` each yauaa test case expects, by this mapping,
written before any verdict was seen; this script never calls the classifier. Only cases whose
input is the User-Agent alone (`user_agent_string` or `User-Agent`, no client hints) are read; the first file (sorted) that holds an
agent decides it. In order:

- `DeviceClass` Robot, Robot Mobile or Robot Imitator, or `AgentClass` Robot, Robot Mobile,
  Cloud Application or Server: a machine (crawlers, monitors, link previewers, HTTP libraries,
  headless browsers, Google's Docs and Apps Script fetchers); a preview when the agent names a
  messenger or network (the first build's pattern), otherwise a crawler;
- `AgentClass` or `DeviceClass` Hacker (vulnerability scanners, injected code in the agent): a
  machine, a crawler, drawn at random;
- `AgentClass` Email Client: a mail client, a person opening;
- `AgentClass` Browser on a Desktop, Phone, Mobile or Tablet, when bench/tracking_corpus_build.py's
  `modern_browser` (the filter every part used) says it is current: a person opening or clicking
  later, drawn at random;
- everything else (Browser Webview, Mobile App, Desktop App, Special, TV, consoles, eReaders,
  anonymized agents): left out, since yauaa files apps people use and programs alike there.

As in fresh2 to fresh4, machine entries naming a mail client, a provider's image proxy or Office
are left out: their class says what software it is, not whose open it is.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tracking_corpus_build import LaterPart, Repo, modern_browser  # noqa: E402
from bench.tracking_fresh2_build import MAIL_OR_OFFICE, PREVIEW  # noqa: E402

PARTS_BEFORE = ("tuning", "held_out", "fresh", "fresh2", "fresh3", "fresh4")
TESTS = "analyzer/src/main/resources/UserAgents"
ROBOT_DEVICES = {"Robot", "Robot Mobile", "Robot Imitator"}
ROBOT_AGENTS = {"Robot", "Robot Mobile", "Cloud Application", "Server"}
PERSON_DEVICES = {"Desktop", "Phone", "Mobile", "Tablet"}
BROWSERS_DRAWN = 90
ROBOTS_DRAWN = 150
HACKERS_DRAWN = 30

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when built: 125 big files


def test_cases(text: str) -> list[tuple[str, str, str, str]]:
    """(agent, AgentClass, DeviceClass, AgentName) of each test in one yauaa file whose input is
    the User-Agent alone."""
    found = []
    for item in (yaml.load(text, Loader=Loader) or {}).get("config") or []:
        test = item.get("test") if isinstance(item, dict) else None
        if not isinstance(test, dict):
            continue
        given, expected = test.get("input") or {}, test.get("expected") or {}
        if len(given) != 1:  # client hints beside the agent: the agent alone is not the case
            continue
        ua = given.get("user_agent_string", given.get("User-Agent"))
        if not isinstance(ua, str):
            continue
        found.append(
            (
                ua,
                str(expected.get("AgentClass", "")),
                str(expected.get("DeviceClass", "")),
                str(expected.get("AgentName", "")),
            )
        )
    return found


def label_of(ua: str, agent: str, device: str) -> str | None:
    """The mapping of the module's docstring: 'machine', 'hacker', 'mail', 'browser' or None."""
    if device in ROBOT_DEVICES or agent in ROBOT_AGENTS:
        return "machine"
    if "Hacker" in (agent, device):
        return "hacker"
    if agent == "Email Client":
        return "mail"
    if agent == "Browser" and device in PERSON_DEVICES and modern_browser(ua):
        return "browser"
    return None


def build(repo: Repo, part: LaterPart) -> None:
    rng, known = part.rng, part.known
    files = sorted(repo.git("ls-tree", "-r", "--name-only", "HEAD", TESTS).split())
    drawn: dict[str, list[tuple[str, str]]] = {
        "mail": [],
        "browser": [],
        "machine": [],
        "hacker": [],
    }
    seen: set[str] = set()
    for file in files:
        if not file.endswith(".yaml"):
            continue
        for ua, agent, device, name in test_cases(repo.show(file)):
            ua = ua.strip()
            if not ua or "\n" in ua or ua in known or ua in seen:
                continue
            seen.add(ua)
            label = label_of(ua, agent, device)
            if label is None or (label in ("machine", "hacker") and MAIL_OR_OFFICE.search(ua)):
                continue
            drawn[label].append((ua, f"{repo.source(file)} ({agent}, {device}: {name})"))
    for label in ("browser", "machine", "hacker"):
        rng.shuffle(drawn[label])

    def add(label: str, ua: str, source: str, kind: str = "") -> None:
        part.add(label, ua, source, kind or rng.choice(["open", "click"]))

    for ua, source in drawn["mail"]:
        add("person", ua, source, "open")
    for ua, source in drawn["browser"][:BROWSERS_DRAWN]:
        add("person", ua, source)
    for ua, source in drawn["machine"][:ROBOTS_DRAWN]:
        add("preview" if PREVIEW.search(ua) else "crawler", ua, source)
    for ua, source in drawn["hacker"][:HACKERS_DRAWN]:
        add("crawler", ua, source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--yauaa", required=True, help="its git directory")
    args = parser.parse_args()
    part = LaterPart(PARTS_BEFORE, random.Random(2026_12_07_5))
    build(Repo(args.yauaa, "nielsbasjes/yauaa"), part)
    part.finish("fresh5", "j")


if __name__ == "__main__":
    main()
