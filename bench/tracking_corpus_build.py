"""Build the tracking corpus (tests/data/tracking/*.yaml) from public user-agent fixtures.

Run once by hand; the YAML it writes is what the repository keeps (its sources may not be on
the next machine). It needs git checkouts of the source repositories, named by --mirror:

    python bench/tracking_corpus_build.py \\
        --crawler-detect PATH --crawler-user-agents PATH --device-detector PATH --uap-core PATH

Each case names its source (repository, file, commit) and, when the timing or address is what
the case is about, the rule's public source. Labels are what the hit is, decided from the
source's own category (a crawler list's entry is a crawler, a mail-client fixture is a person
reading mail) and the documented behaviour of proxies and gateways, never from what
classify.py answers. Cases are split by a hash of the agent with its digits removed, so the
versions of one product land on the same side: `tuning.yaml` is what rules were adjusted
against, `held_out.yaml` is only ever measured.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "tracking"
sys.path.insert(0, str(ROOT))

from sequences.tracking import address_ranges  # noqa: E402

LATER_SECONDS = [600, 1800, 3600, 7200, 14400, 43200, 86400, 172800]
PERSON_IPS = ["198.51.100.23", "203.0.113.77", "192.0.2.41", "198.51.100.140", None]


class Repo:
    def __init__(self, path: str, name: str) -> None:
        self.path, self.name = path, name
        self.commit = self.git("rev-parse", "HEAD").strip()

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", self.path, *args], check=True, capture_output=True, text=True
        ).stdout

    def show(self, file: str) -> str:
        return self.git("show", f"HEAD:{file}")

    def source(self, file: str) -> str:
        return f"github.com/{self.name} {file} @{self.commit[:10]}"


class LaterPart:
    """A part built after others (fresh, fresh2, ...): each agent once and none that an earlier
    part holds, each case met as a person's later open or click would be (a delay, an address)."""

    def __init__(self, parts_before: Iterable[str], rng: random.Random) -> None:
        self.rng = rng
        self.cases: list[dict[str, Any]] = []
        self.known = {
            c["ua"]
            for part in parts_before
            for c in yaml.safe_load((OUT / f"{part}.yaml").read_text(encoding="utf-8"))
        }

    def add(self, label: str, ua: str, source: str, kind: str) -> None:
        ua = ua.strip()
        if not ua or ua in self.known:
            return
        self.known.add(ua)
        self.cases.append(
            {
                "label": label,
                "kind": kind,
                "ua": ua,
                "since": self.rng.choice(LATER_SECONDS),
                "ip": self.rng.choice(PERSON_IPS),
                "source": source,
            }
        )

    def write(self, name: str, id_prefix: str) -> list[dict[str, Any]]:
        """Number the cases and write tests/data/tracking/NAME.yaml."""
        for i, case in enumerate(self.cases):
            case["id"] = f"{id_prefix}{i:03d}"
        (OUT / f"{name}.yaml").write_text(
            yaml.safe_dump(self.cases, sort_keys=False, allow_unicode=True, width=1000),
            encoding="utf-8",
        )
        return self.cases

    def counts(self) -> dict[str, int]:
        """How many cases of each label, in the order they first appear."""
        found: dict[str, int] = {}
        for case in self.cases:
            found[case["label"]] = found.get(case["label"], 0) + 1
        return found

    def finish(self, name: str, id_prefix: str) -> None:
        """Write the part and print what it holds: the last step of every later builder."""
        self.write(name, id_prefix)
        print(f"{name}: {len(self.cases)} cases, {self.counts()}")


def yaml_agents(text: str) -> list[dict[str, Any]]:
    return [e for e in (yaml.safe_load(text) or []) if isinstance(e, dict) and e.get("user_agent")]


def major(ua: str, token: str) -> int | None:
    m = re.search(rf"\b{token}/(\d+)\.", ua)
    return int(m.group(1)) if m else None


def modern_browser(ua: str) -> bool:
    """Current Chrome, Edge, Firefox or Safari on a desktop or phone, no app token."""
    if not ua.startswith("Mozilla/5.0 (") or re.search(
        r"wv\)|; wv;|FBAN|FBAV|Instagram|Line/|MicroMessenger|bot|crawl", ua, re.I
    ):
        return False
    chrome, firefox = major(ua, "Chrome"), major(ua, "Firefox")
    safari = re.search(r"Version/(\d+)\.[\d.]* (?:Mobile/\w+ )?Safari/", ua)
    if chrome is not None:
        return chrome >= 100
    if firefox is not None:
        return firefox >= 100
    return bool(safari and int(safari.group(1)) >= 14)


def ancient(ua: str) -> bool:
    """Browsers that no person reading business mail runs: IE 10 and older, Windows XP and older."""
    return bool(
        re.search(r"\bMSIE [5-9]\.|\bMSIE 10\.|Windows NT 5\.|Windows 98", ua)
    ) and not re.search(r"Outlook|ms-office|MSOffice|bot|crawl|spider", ua, re.I)


def addresses_in(blocks: list[Any], n: int, rng: random.Random) -> list[str]:
    out = []
    for block in rng.sample(blocks, n):
        size = block.num_addresses
        out.append(str(block.network_address + (rng.randrange(size) if size > 1 else 0)))
    return out


def build(args: argparse.Namespace) -> list[dict[str, Any]]:
    rng = random.Random(17)
    cd = Repo(args.crawler_detect, "JayBizzle/Crawler-Detect")
    cua = Repo(args.crawler_user_agents, "monperrus/crawler-user-agents")
    dd = Repo(args.device_detector, "matomo-org/device-detector")
    uap = Repo(args.uap_core, "ua-parser/uap-core")
    cases: list[dict[str, Any]] = []

    def add(
        label: str, ua: str, source: str, kind: str = "open", since: float | None = None, **kw: Any
    ) -> None:
        case = {
            "label": label,
            "kind": kind,
            "ua": ua,
            "since": since if since is not None else rng.choice(LATER_SECONDS),
        }
        if "ip" not in kw:
            kw["ip"] = rng.choice(PERSON_IPS)
        case.update({k: v for k, v in kw.items() if v is not None or k == "ip"})
        case["source"] = source
        cases.append(case)

    # -- people: mail client fixtures -------------------------------------------------------
    not_mail = re.compile(
        r"Notion|Evernote|Basecamp|Raindrop|Franz|rambox|Monazilla|DAVdroid", re.I
    )
    pim_file = "Tests/Parser/Client/fixtures/pim.yml"
    for e in yaml_agents(dd.show(pim_file)):
        ua = e["user_agent"]
        if not not_mail.search(ua):
            add(
                "person",
                ua,
                f"{dd.source(pim_file)} (client type pim: {e['client']['name']})",
                kind=rng.choice(["open", "open", "click"]),
            )
    cd_file = "tests/data/user_agent/crawlers.txt"
    crawler_lines = [line for line in cd.show(cd_file).splitlines() if line.strip()]
    mail_in_cd = re.compile(
        r"Outlook|Airmail|Thunderbird/\d|ms-office|GoogleImageProxy|YahooMailProxy"
    )
    for ua in crawler_lines:
        if mail_in_cd.search(ua) and not re.search(r"bot|crawl|Excel|Word|PowerPoint", ua, re.I):
            add(
                "person",
                ua,
                f"{cd.source(cd_file)} (a mail client the crawler list counts as a bot)",
                kind="open",
            )
    for f in (
        "Tests/fixtures/desktop.yml",
        "Tests/fixtures/smartphone-39.yml",
        "Tests/fixtures/unknown.yml",
    ):
        for e in yaml_agents(dd.show(f)):
            if (e.get("client") or {}).get("type") == "pim":
                add(
                    "person",
                    e["user_agent"],
                    f"{dd.source(f)} (client type pim: {e['client']['name']})",
                    kind="open",
                )

    # -- people: current browsers clicking (and webmail opening) later ---------------------
    browsers: list[tuple[str, str]] = []
    for f in (
        "Tests/fixtures/desktop.yml",
        "Tests/fixtures/smartphone.yml",
        "Tests/fixtures/smartphone-40.yml",
        "Tests/fixtures/tablet-1.yml",
    ):
        for e in yaml_agents(dd.show(f)):
            if (e.get("client") or {}).get("type") == "browser" and modern_browser(e["user_agent"]):
                browsers.append((e["user_agent"], dd.source(f)))
    uap_file = "tests/test_ua.yaml"
    uap_agents = [c["user_agent_string"] for c in yaml.safe_load(uap.show(uap_file))["test_cases"]]
    browsers += [(ua, uap.source(uap_file)) for ua in uap_agents if modern_browser(ua)]
    rng.shuffle(browsers)
    browsers = list(dict.fromkeys(browsers))
    for ua, src in browsers[:90]:
        add("person", ua, f"{src} (a current browser)", kind=rng.choice(["click", "click", "open"]))

    # -- Apple Mail and its privacy proxy -----------------------------------------------------
    apple_mail = re.compile(
        r"^Mozilla/5\.0 \((?:Macintosh; Intel Mac OS X [\d_]+|iPhone; CPU iPhone OS [\d_]+ like Mac OS X|iPad; CPU OS [\d_]+ like Mac OS X)\) AppleWebKit/[\d.]+ \(KHTML, like Gecko\)(?: Mobile/\w+)?$"
    )
    webkit = sorted(
        {
            (e["user_agent"], dd.source(f))
            for f in (
                "Tests/fixtures/smartphone-1.yml",
                "Tests/fixtures/smartphone-2.yml",
                "Tests/fixtures/tablet-2.yml",
                "Tests/fixtures/desktop.yml",
                "Tests/Parser/Client/fixtures/mobile_app.yml",
            )
            for e in yaml_agents(dd.show(f))
            if apple_mail.match(e["user_agent"])
        }
    )
    webkit += [(ua, uap.source(uap_file)) for ua in uap_agents if apple_mail.match(ua)]
    # Real bare WebKit agents are rare in browser fixtures; Apple Mail's agent is the device's
    # Safari agent without Safari's own tokens, so derive more from real Safari agents.
    safari = re.compile(
        r"^(Mozilla/5\.0 \((?:iPhone; CPU iPhone OS [\d_]+ like Mac OS X|iPad; CPU OS [\d_]+ like Mac OS X|Macintosh; Intel Mac OS X [\d_]+)\) AppleWebKit/[\d.]+ \(KHTML, like Gecko\)) Version/[\d.]+( Mobile/\w+)? Safari/[\d.]+$"
    )
    derived: dict[str, str] = {}
    for f in (
        "Tests/fixtures/smartphone-1.yml",
        "Tests/fixtures/smartphone-2.yml",
        "Tests/fixtures/smartphone-3.yml",
        "Tests/fixtures/tablet-2.yml",
        "Tests/fixtures/tablet-3.yml",
        "Tests/fixtures/desktop.yml",
    ):
        for e in yaml_agents(dd.show(f)):
            m = safari.match(e["user_agent"])
            if m:
                derived.setdefault(
                    m.group(1) + (m.group(2) or ""),
                    f"derived from the Safari agent in {dd.source(f)} (its Version/ and Safari/ tokens removed, as Apple Mail sends it)",
                )
    # And from iOS apps' WebView agents (the same WebKit agent, with the app's tokens after it).
    prefix = r"Mozilla/5\.0 \((?:iPhone; CPU iPhone OS [0-9_]+ like Mac OS X|iPad; CPU OS [0-9_]+ like Mac OS X|Macintosh; Intel Mac OS X [0-9_]+)\) AppleWebKit/[0-9.]+ \(KHTML, like Gecko\)(?: Mobile/[A-Za-z0-9]+)?"
    for f in (
        "Tests/Parser/Client/fixtures/mobile_app.yml",
        "Tests/fixtures/mobile_apps.yml",
        "Tests/Parser/Client/fixtures/browser.yml",
    ):
        for e in yaml_agents(dd.show(f)):
            m = re.match(prefix, e["user_agent"])
            if m:
                derived.setdefault(
                    m.group(0),
                    f"derived from an app's WebView agent in {dd.source(f)} (the app's own tokens removed: the WebKit agent Apple Mail sends)",
                )
    webkit = sorted(set(webkit)) + sorted(derived.items())
    rng.shuffle(webkit)
    relay = address_ranges.apple_relay()
    mpp_doc = "Apple Mail Privacy Protection: Apple's proxies fetch images on delivery through Apple's relays (Apple, 'Mail Privacy Protection'; egress list mask-api.icloud.com)"
    for i, (ua, src) in enumerate(webkit[:60]):
        if i % 3 == 0:
            add(
                "person",
                ua,
                f"{src} (Apple Mail's WebKit agent, a person's open from their own address, hours later)",
                kind="open",
                ip=rng.choice(PERSON_IPS[:4]),
            )
        elif i % 3 == 1:
            add(
                "apple_privacy",
                ua,
                f"{src}; address from Apple's relay list; {mpp_doc}",
                kind="open",
                ip=addresses_in(relay, 1, rng)[0],
            )
        else:
            add(
                "apple_privacy",
                ua,
                f"{src}; fetched seconds after delivery; {mpp_doc}",
                kind="open",
                since=rng.choice([6, 9, 14, 21, 33, 45]),
                ip=rng.choice(PERSON_IPS),
            )
    for since in (3, 8, 40, 300, 5400, 86400):
        add(
            "apple_privacy",
            "Mozilla/5.0",
            f"the bare agent of Apple's proxy ({mpp_doc})",
            kind="open",
            since=since,
            ip=rng.choice([None, "17.58.63.10", *addresses_in(relay, 1, rng)]),
        )

    # -- link previews -------------------------------------------------------------------
    preview = re.compile(
        r"WhatsApp|Viber|Telegram|Skype|Teams/|Slack|Discord|facebookexternalhit|Facebot|Twitterbot|LinkedInBot|Pinterest|redditbot|Link Preview|vkShare|Iframely|Embedly",
        re.I,
    )
    for ua in crawler_lines:
        if preview.search(ua):
            add(
                "preview",
                ua,
                f"{cd.source(cd_file)} (a messenger's or network's link preview)",
                kind="click",
            )
    for f in ("Tests/fixtures/mobile_apps.yml", "Tests/Parser/Client/fixtures/mobile_app.yml"):
        for e in yaml_agents(dd.show(f)):
            if re.search(
                r"^Viber|^WhatsApp|Teams/|discord/|Skype/|^Discord/|Skype for Business|Telegram",
                e["user_agent"],
            ):
                add(
                    "preview",
                    e["user_agent"],
                    f"{dd.source(f)} (a messenger app fetching a pasted link)",
                    kind="click",
                )
    bots_file = "Tests/fixtures/bots.yml"
    dd_bots = yaml_agents(dd.show(bots_file))
    for e in dd_bots:
        if (e.get("bot") or {}).get("category") == "Social Media Agent":
            add(
                "preview",
                e["user_agent"],
                f"{dd.source(bots_file)} (bot category Social Media Agent: {e['bot'].get('name')})",
                kind="click",
            )

    # -- crawlers ------------------------------------------------------------------------
    others = [ua for ua in crawler_lines if not preview.search(ua) and not mail_in_cd.search(ua)]
    for ua in rng.sample(others, 70):
        add("crawler", ua, f"{cd.source(cd_file)}", kind=rng.choice(["open", "click"]))
    cua_file = "crawler-user-agents.json"
    instances = [
        (i, entry["pattern"])
        for entry in json.loads(cua.show(cua_file))
        for i in entry.get("instances", [])
    ]
    instances = [(i, p) for i, p in instances if not preview.search(i) and not mail_in_cd.search(i)]
    for ua, pattern in rng.sample(instances, 70):
        add(
            "crawler",
            ua,
            f"{cua.source(cua_file)} (instance of pattern {pattern!r})",
            kind=rng.choice(["open", "click"]),
        )
    plain = [
        e
        for e in dd_bots
        if (e.get("bot") or {}).get("category") not in ("Social Media Agent",)
        and not preview.search(e["user_agent"])
    ]
    for e in rng.sample(plain, 50):
        add(
            "crawler",
            e["user_agent"],
            f"{dd.source(bots_file)} (bot: {(e.get('bot') or {}).get('name')}, {(e.get('bot') or {}).get('category')})",
            kind=rng.choice(["open", "click"]),
        )

    # -- security scanners ------------------------------------------------------------------
    timing_doc = "gateways follow every link within seconds of delivery (lemlist flags < 5 s; Mautic, HubSpot: timing votes)"
    scan_browsers = browsers[90:]
    for ua, src in scan_browsers[:25]:
        add(
            "scanner",
            ua,
            f"{src}; clicked seconds after delivery, before any open: {timing_doc}",
            kind="click",
            since=rng.choice([1, 2, 4, 7, 12, 18, 26, 41, 55]),
        )
    gateways = address_ranges.gateways()
    gw_src = "address from the vendor's published range (sequences/data/ranges/gateways.yaml)"
    for ua, src in scan_browsers[25:55]:
        vendor = rng.choice(sorted(gateways))
        add(
            "scanner",
            ua,
            f"{src}; {gw_src}: {vendor}",
            kind=rng.choice(["click", "click", "open"]),
            ip=addresses_in(gateways[vendor], 1, rng)[0],
        )
    old = [(ua, uap.source(uap_file)) for ua in uap_agents if ancient(ua)]
    for f in ("Tests/fixtures/desktop.yml", "Tests/fixtures/desktop-1.yml"):
        old += [
            (e["user_agent"], dd.source(f))
            for e in yaml_agents(dd.show(f))
            if ancient(e["user_agent"])
        ]
    old = list(dict.fromkeys(old))
    rng.shuffle(old)
    for ua, src in old[:40]:
        add(
            "scanner",
            ua,
            f"{src} (an obsolete browser: gateways disguise themselves with old agents; issue 17)",
            kind="click",
        )
    for line in crawler_lines:
        if re.search(r"Barracuda|Mimecast|Proofpoint|SafeLinks", line, re.I):
            add(
                "scanner",
                line,
                f"{cd.source(cd_file)} (a mail security gateway naming itself)",
                kind="click",
            )
    # Contradictions: a real Internet Explorer 11 agent's engine on a real Mac/Linux/phone
    # platform, the combination security scanners send (issue 17's "Trident on Mac OS X").
    ie11 = [
        ua for ua in uap_agents if "Trident/7.0" in ua and "rv:11" in ua and "(Windows NT" in ua
    ][:6]  # "(Windows NT" is what the substitution below replaces; "(IE 11.0; Windows NT" is not
    platforms = re.findall(
        r"\((Macintosh; Intel Mac OS X [\d_]+|X11; Linux x86_64|Linux; Android [\d.]+; [^)]+|iPhone; CPU iPhone OS [\d_]+ like Mac OS X)\)",
        " ".join(ua for ua, _ in browsers),
    )
    for ua, platform in zip(ie11, platforms[::7], strict=False):
        fake = re.sub(r"\(Windows NT [^;)]*", f"({platform}", ua, count=1)
        add(
            "scanner",
            fake,
            f"constructed from {uap.source(uap_file)}: its IE 11 agent with a non-Windows platform from the browsers above (a contradiction)",
            kind="click",
        )
    for ua in (
        "Mozilla/5.0",
        "Mozilla/4.0 (compatible)",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        "Mozilla/5.0 (compatible)",
        "Mozilla",
    ):
        add(
            "scanner", ua, "a bare agent, as gateways send (issue 17; ENGINEERING.md)", kind="click"
        )

    # -- context: several links, machine opens, early clicks after a human open -------------
    for ua, src in browsers[:12]:
        add(
            "scanner",
            ua,
            f"{src}; two links clicked 0.4 s apart (no person clicks that fast)",
            kind="click",
            history=[{"kind": "click", "ago": 0.4, "position": 1, "verdict": "human"}],
            position=0,
            links=4,
        )
    for ua, src in browsers[12:20]:
        add(
            "scanner",
            ua,
            f"{src}; clicked 3 s after a machine open of the same message (lemlist: < 9 s)",
            kind="click",
            since=rng.choice([900, 4000]),
            history=[{"kind": "open", "ago": 3, "verdict": "machine"}],
            position=0,
            links=3,
        )
    for ua, src in browsers[20:30]:
        add(
            "person",
            ua,
            f"{src}; a person's click hours after a machine (Apple proxy) open: still the first human engagement",
            kind="click",
            history=[{"kind": "open", "ago": 7000, "verdict": "machine"}],
            position=0,
            links=3,
        )
    for ua, src in browsers[30:38]:
        add(
            "person",
            ua,
            f"{src}; clicked 40 s after delivery, 20 s after the person opened it",
            kind="click",
            since=40,
            history=[{"kind": "open", "ago": 20, "verdict": "human"}],
            position=0,
            links=3,
        )
    for ua, src in browsers[38:44]:
        add(
            "person",
            ua,
            f"{src}; two of three links, 25 s apart",
            kind="click",
            history=[{"kind": "click", "ago": 25, "position": 1, "verdict": "human"}],
            position=0,
            links=3,
        )
    for ua, src in browsers[44:50]:
        add(
            "person",
            ua,
            f"{src}; a click from Apple's relay (Private Relay browsing is a person)",
            kind="click",
            ip=addresses_in(relay, 1, rng)[0],
        )
    return cases


def split(cases: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    tuning, held_out = [], []
    for i, case in enumerate(cases):
        key = re.sub(r"\d+", "#", case["ua"]) + case["label"]
        case["id"] = f"t{i:03d}"
        side = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2
        (held_out if side else tuning).append(case)
    return tuning, held_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("crawler-detect", "crawler-user-agents", "device-detector", "uap-core"):
        parser.add_argument(
            f"--{name}", required=True, help="path of the repository's git directory"
        )
    args = parser.parse_args()
    cases = build(args)
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for case in cases:
        key = (case["ua"], case["kind"], json.dumps(case.get("history")))
        if key not in seen or case.get("since", 0) < 60:
            seen.add(key)
            unique.append(case)
    tuning, held_out = split(unique)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, part in (("tuning", tuning), ("held_out", held_out)):
        (OUT / f"{name}.yaml").write_text(
            yaml.safe_dump(part, sort_keys=False, allow_unicode=True, width=1000), encoding="utf-8"
        )
        print(f"{name}: {len(part)} cases")


if __name__ == "__main__":
    main()
