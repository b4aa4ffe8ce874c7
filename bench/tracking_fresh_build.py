"""Build the fresh tracking part (tests/data/tracking/fresh.yaml): agents the rules have never met.

The held-out part's mistakes were read to fix the rules (issue 17), so it no longer measures
rules that were never shown their test. This part is built after those fixes from fixtures the
first build did not read, and any agent already in tuning.yaml or held_out.yaml is left out;
it is measured, never tuned on. Run once by hand with a git directory of matomo-org/device-detector:

    python bench/tracking_fresh_build.py --device-detector PATH

Labels come from the fixture's own category, as in bench/tracking_corpus_build.py: a browser
fixture of a current browser is a person clicking later, a client of type pim is a person's
mail client opening, a bot fixture is a crawler (a preview when its category is "Social Media
Agent"), a feed reader fixture is a crawler (a program polling, not a person).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tracking_corpus_build import (  # noqa: E402
    LaterPart,
    Repo,
    modern_browser,
    yaml_agents,
)

# Fixture files the first build never read (see its `build`).
BROWSER_FILES = (
    "Tests/fixtures/smartphone-41.yml",
    "Tests/fixtures/smartphone-42.yml",
    "Tests/fixtures/tablet-4.yml",
    "Tests/fixtures/tablet-5.yml",
    "Tests/fixtures/desktop-1.yml",
)
PIM_FILES = ("Tests/fixtures/podcasting.yml",)  # the only unread fixture with pim clients


def build(dd: Repo, part: LaterPart) -> None:
    rng, add, known = part.rng, part.add, part.known
    browsers = [
        (e["user_agent"], f)
        for f in BROWSER_FILES
        for e in yaml_agents(dd.show(f))
        if (e.get("client") or {}).get("type") == "browser" and modern_browser(e["user_agent"])
    ]
    rng.shuffle(browsers)
    for ua, f in browsers[:90]:
        add("person", ua, f"{dd.source(f)} (a current browser)", rng.choice(["click", "open"]))
    for f in PIM_FILES:
        for e in yaml_agents(dd.show(f)):
            if (e.get("client") or {}).get("type") == "pim":
                name = e["client"].get("name")
                add("person", e["user_agent"], f"{dd.source(f)} (client type pim: {name})", "open")
    bots_file = "Tests/fixtures/bots.yml"
    bots = [e for e in yaml_agents(dd.show(bots_file)) if e["user_agent"] not in known]
    rng.shuffle(bots)
    for e in bots[:80]:
        bot = e.get("bot") or {}
        label = "preview" if bot.get("category") == "Social Media Agent" else "crawler"
        add(
            label,
            e["user_agent"],
            f"{dd.source(bots_file)} (bot: {bot.get('name')}, {bot.get('category')})",
            rng.choice(["open", "click"]),
        )
    feeds_file = "Tests/fixtures/feed_reader.yml"
    feeds = yaml_agents(dd.show(feeds_file))
    rng.shuffle(feeds)
    for e in feeds[:25]:
        name = (e.get("client") or {}).get("name")
        add("crawler", e["user_agent"], f"{dd.source(feeds_file)} (feed reader: {name})", "open")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device-detector", required=True, help="its git directory")
    args = parser.parse_args()
    part = LaterPart(("tuning", "held_out"), random.Random(1717))
    build(Repo(args.device_detector, "matomo-org/device-detector"), part)
    cases = part.write("fresh", "f")
    print(f"fresh: {len(cases)} cases")


if __name__ == "__main__":
    main()
