"""Build the fourth fresh tracking part (tests/data/tracking/fresh4.yaml) from a source nothing read.

fresh3's mistakes were read to fix the rules (device-detector's mail/PIM and library lists,
Debian's mail readers, products calling themselves Mail/Email/Webmail, shells, runtimes and
media stacks as programs), so fresh3 no longer measures blind. This part is built after those
fixes from browscap/browscap's test fixtures (`tests/issues/*.php`), a repository no earlier
build or rule opened, minus every agent already in another part; it is committed before
anything runs on it, measured once, and never tuned on. Run once by hand with that
repository's git directory:

    python bench/tracking_fresh4_build.py --browscap PATH

Labels come from the `Browser_Type` browscap's own fixture gives each agent, a rule written
before any verdict was seen; this script never calls the classifier:

- `Email Client`: a mail client, a person opening;
- `Browser`, when bench/tracking_corpus_build.py's `modern_browser` (the filter every part used)
  says it is a current one: a person opening or clicking later, drawn at random;
- `Bot/Crawler`, `Bot`, `Feed Reader`, `Multimedia Player`, `Offline Browser`, `Tool`: machines,
  drawn at random; a preview when the agent names a messenger or network (the first build's
  pattern), otherwise a crawler. As in fresh2 and fresh3, machine entries naming a mail client,
  a provider's image proxy or Office are left out (their type says what software it is, not
  whose open it is);
- `Application`, `unknown` and fixtures without a type: left out (browscap files apps that
  people use and programs alike there).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tracking_corpus_build import LaterPart, Repo, modern_browser  # noqa: E402
from bench.tracking_fresh2_build import MAIL_OR_OFFICE, PREVIEW  # noqa: E402

PARTS_BEFORE = ("tuning", "held_out", "fresh", "fresh2", "fresh3")
MACHINE_TYPES = (
    "Bot/Crawler",
    "Bot",
    "Feed Reader",
    "Multimedia Player",
    "Offline Browser",
    "Tool",
)
BROWSERS_DRAWN = 130
MACHINES_DRAWN = 200

_STRING = r"'((?:[^'\\]|\\.)*)'"
# One fixture of a browscap issue file: `'ua' => '...'` and, after it, its `properties`.
_FIXTURE = re.compile(r"'ua'\s*=>\s*" + _STRING + r"(.*?)(?='ua'\s*=>|\Z)", re.S)
_TYPE = re.compile(r"'Browser_Type'\s*=>\s*" + _STRING)
_NAME = re.compile(r"'Browser'\s*=>\s*" + _STRING)


def _unquote(text: str) -> str:
    return re.sub(r"\\([\\'])", r"\1", text)


def fixtures(text: str) -> list[tuple[str, str | None, str | None]]:
    """(agent, Browser_Type, Browser) of every fixture in one issue file."""
    found = []
    for m in _FIXTURE.finditer(text):
        kind, name = _TYPE.search(m.group(2)), _NAME.search(m.group(2))
        found.append(
            (
                _unquote(m.group(1)),
                _unquote(kind.group(1)) if kind else None,
                _unquote(name.group(1)) if name else None,
            )
        )
    return found


def build(repo: Repo, part: LaterPart) -> None:
    rng, known = part.rng, part.known
    files = sorted(repo.git("ls-tree", "-r", "--name-only", "HEAD", "tests/issues").split())
    mail: list[tuple[str, str, str]] = []
    browsers: list[tuple[str, str, str]] = []
    machines: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for file in files:
        if not file.endswith(".php"):
            continue
        for ua, kind, name in fixtures(repo.show(file)):
            ua = ua.strip()
            if not ua or ua in known or ua in seen:
                continue
            seen.add(ua)
            source = f"{repo.source(file)} ({kind}: {name})"
            if kind == "Email Client":
                mail.append((ua, source, "open"))
            elif kind == "Browser" and modern_browser(ua):
                browsers.append((ua, source, ""))
            elif kind in MACHINE_TYPES and not MAIL_OR_OFFICE.search(ua):
                machines.append((ua, source, ""))
    rng.shuffle(browsers)
    rng.shuffle(machines)

    def add(label: str, ua: str, source: str, kind: str) -> None:
        part.add(label, ua, source, kind or rng.choice(["open", "click"]))

    for ua, source, kind in mail:
        add("person", ua, source, kind)
    for ua, source, kind in browsers[:BROWSERS_DRAWN]:
        add("person", ua, source, kind)
    for ua, source, kind in machines[:MACHINES_DRAWN]:
        add("preview" if PREVIEW.search(ua) else "crawler", ua, source, kind)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--browscap", required=True, help="its git directory")
    args = parser.parse_args()
    part = LaterPart(PARTS_BEFORE, random.Random(2026_12_07_4))
    build(Repo(args.browscap, "browscap/browscap"), part)
    part.finish("fresh4", "i")


if __name__ == "__main__":
    main()
