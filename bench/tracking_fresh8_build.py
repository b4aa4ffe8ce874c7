"""Build the eighth fresh tracking part (tests/data/tracking/fresh8.yaml) from a source nothing read.

fresh7 has no mail client and no webmail image proxy: its sources hold none that is current. This
part is centred on them. It is built after the fix that followed fresh7 (and the one that
bundled ua-parser-js's mail-client list), from mimmi20/browser-detector's test fixtures (MIT), a
repository no earlier build or rule opened, minus every agent already in another part; it is
committed before anything runs on it, measured once, and never tuned on.

browser-detector files each fixture by device maker, device type, client vendor and client type
(`tests/data/<maker>/<device>/<vendor>/<client type>/NNNNNNN.json`), and each entry names the
client and whether it `isbot`. Its snapshot (about 920 MB) is over what can be fetched here, so
the files were read one at a time and their entries copied, unchanged, into
bench/data/browser_detector_fixtures.yaml (each with its path and commit): the mail-client
directories found (`pim/`, `email-client/`: Apple Mail, Outlook desktop, Mac and iOS, Windows
Live Mail, Thunderbird, SeaMonkey, Samsung Email, Outlook Social Connector), the providers' image
proxies (Yahoo's `service-agent/`, Google's `crawler/`), and some machine directories (`bot/`,
`crawler/`: Google's crawlers and AI fetchers, Exchange ActiveSync, WebDAV, Windows Update,
msnbot-media, Apple PubSub).

    python bench/tracking_fresh8_build.py

Labels come from the fixture's own client type, by this mapping, written before any verdict was
seen; this script never calls the classifier:

- client type `pim` or `email-client` (not a bot): a person's mail client opening the message;
- a mail provider's image proxy (Yahoo's `YahooMail Proxy`, Google's `Gmail Image Proxy`, which
  browser-detector calls a bot: what software it is, not whose open it is): a person opening
  through the proxy, the label every part gave these proxies, since the provider fetches when
  the person opens;
- any other `isbot` entry: a machine, a preview when it names a messenger (the first build's
  pattern), otherwise a crawler, opening or clicking later; as in fresh2 to fresh7, one that
  names a mail client or Office is left out.

Files repeat one client with small changes (fifteen Outlook desktop builds, fifteen Yahoo proxy
agents): at most EACH_DRAWN agents of one file and client are drawn, at random
(MACHINES_DRAWN of a `bot/` file, whose entries are different robots).
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tracking_corpus_build import LaterPart  # noqa: E402
from bench.tracking_fresh2_build import MAIL_OR_OFFICE, PREVIEW  # noqa: E402

PARTS_BEFORE = (
    "tuning", "held_out", "fresh", "fresh2", "fresh3", "fresh4", "fresh5", "fresh6", "fresh7"
)  # fmt: skip
FIXTURES = ROOT / "bench" / "data" / "browser_detector_fixtures.yaml"
REPO = "github.com/mimmi20/browser-detector"
MAIL_TYPES = {"pim", "email-client"}
PROXIES = re.compile(r"^(?:YahooMail Proxy|Gmail Image Proxy)$")
EACH_DRAWN = 8  # per file and client; machine files hold many robots, so they draw more
MACHINES_DRAWN = 15


def main() -> None:
    part = LaterPart(PARTS_BEFORE, random.Random(2026_12_08_8))
    rng = part.rng
    people: list[tuple[str, str]] = []
    machines: list[tuple[str, str]] = []
    for entry in yaml.safe_load(FIXTURES.read_text(encoding="utf-8")):
        client = entry["client"]
        source = (
            f"{REPO} {entry['path']} @{entry['commit'][:10]} ({client['type']}: {client['name']})"
        )
        agents = [ua.strip() for ua in entry["agents"] if ua.strip() not in part.known]
        agents = list(dict.fromkeys(agents))
        rng.shuffle(agents)
        agents = agents[: MACHINES_DRAWN if client["type"] == "bot" else EACH_DRAWN]
        if client["type"] in MAIL_TYPES and not client["isbot"]:
            people += [(ua, source) for ua in agents]
        elif PROXIES.match(client["name"]):
            people += [
                (ua, f"{source}; a provider's image proxy: the person's open") for ua in agents
            ]
        elif client["isbot"]:
            machines += [(ua, source) for ua in agents if not MAIL_OR_OFFICE.search(ua)]
    for ua, source in people:
        part.add("person", ua, source, "open")
    for ua, source in machines:
        label = "preview" if PREVIEW.search(ua) else "crawler"
        part.add(label, ua, source, rng.choice(["open", "click"]))
    part.finish("fresh8", "m")


if __name__ == "__main__":
    main()
