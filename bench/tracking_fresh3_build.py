"""Build the third fresh tracking part (tests/data/tracking/fresh3.yaml) from a source nothing read.

fresh2's mistakes were read to fix the rules (Outlook for iOS/Android's joined token, media
players and radio apps, crawler-user-agents' patterns), so fresh2 no longer measures blind. This
part is built after those fixes from faisalman/ua-parser-js's test data, which no earlier build
opened, minus every agent already in another part; it is committed before anything runs on it,
measured once, and never tuned on. Run once by hand with that repository's git directory:

    python bench/tracking_fresh3_build.py --ua-parser-js PATH

Labels come from the file each agent is in (ua-parser-js sorts its extension fixtures by what the
client is), decided before any verdict was seen; this script never calls the classifier:

- `test/data/ua/extension/email.json`: mail clients, a person opening;
- `test/data/ua/browser/browser-all.json`, `test/data/ua/device/*.json`, `test/data/ua/os/*.json`:
  a current browser (bench/tracking_corpus_build.py's `modern_browser`, the filter every part
  used), a person opening or clicking later;
- `extension/crawler.json`, `fetcher.json` (link expanders, AI assistants fetching for a user,
  monitors, feed fetchers), `cli.json`, `library.json` (HTTP tools and libraries) and
  `mediaplayer.json` (players fetching streams and feeds, as the podcast clients of fresh2):
  machines; a preview when the agent names a messenger or network (the first build's pattern),
  otherwise a crawler. As in fresh2, machine entries naming a mail client, a provider's image
  proxy or Office (the first build's MAIL_OR_OFFICE pattern) are left out: their file says what
  software it is, not whose open it is (ua-parser-js files Gmail's image proxy, which fetches
  when a person opens, among fetchers).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tracking_corpus_build import LaterPart, Repo, modern_browser  # noqa: E402
from bench.tracking_fresh2_build import MAIL_OR_OFFICE, PREVIEW  # noqa: E402

PARTS_BEFORE = ("tuning", "held_out", "fresh", "fresh2")
MACHINE_FILES = ("crawler", "fetcher", "cli", "library", "mediaplayer")
BROWSERS_DRAWN = 110  # current browsers of devices and systems, at random, beside browser-all's


def build(repo: Repo, part: LaterPart) -> None:
    rng, add = part.rng, part.add

    def fixtures(file: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = json.loads(repo.show(file))
        return [c for c in found if isinstance(c.get("ua"), str)]

    email = "test/data/ua/extension/email.json"
    for c in fixtures(email):
        add("person", c["ua"], f"{repo.source(email)} (mail client: {c.get('desc')})", "open")

    browsers = "test/data/ua/browser/browser-all.json"
    for c in fixtures(browsers):
        if modern_browser(c["ua"]):
            add(
                "person",
                c["ua"],
                f"{repo.source(browsers)} (a current browser: {c.get('desc')})",
                rng.choice(["open", "click"]),
            )
    drawn: list[tuple[str, str]] = []
    listing = repo.git(
        "ls-tree", "-r", "--name-only", "HEAD", "test/data/ua/device", "test/data/ua/os"
    )
    for file in sorted(listing.split()):
        drawn += [(c["ua"], file) for c in fixtures(file) if modern_browser(c["ua"])]
    rng.shuffle(drawn)
    for ua, file in drawn[:BROWSERS_DRAWN]:
        add("person", ua, f"{repo.source(file)} (a current browser)", rng.choice(["open", "click"]))

    for name in MACHINE_FILES:
        file = f"test/data/ua/extension/{name}.json"
        for c in fixtures(file):
            if MAIL_OR_OFFICE.search(c["ua"]):
                continue
            add(
                "preview" if PREVIEW.search(c["ua"]) else "crawler",
                c["ua"],
                f"{repo.source(file)} ({name}: {c.get('desc')})",
                rng.choice(["open", "click"]),
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ua-parser-js", required=True, help="its git directory")
    args = parser.parse_args()
    part = LaterPart(PARTS_BEFORE, random.Random(2026_12_07))
    build(Repo(args.ua_parser_js, "faisalman/ua-parser-js"), part)
    part.finish("fresh3", "h")


if __name__ == "__main__":
    main()
