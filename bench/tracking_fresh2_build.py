"""Build the second fresh tracking part (tests/data/tracking/fresh2.yaml) from sources nothing read.

The first fresh part's mistakes were read to fix the rules (feed readers, Apple apps that are no
mail client, "Mozilla/5.0 <name>", desktop browsers years behind), so it no longer measures
blind. This part is built after those fixes, from files the earlier builds never opened or from
the entries they left, minus every agent already in another part; it is measured once, never
tuned on. Run once by hand with the git directories of the three repositories:

    python bench/tracking_fresh2_build.py --uap-core PATH --crawler-detect PATH \\
        --crawler-user-agents PATH

Labels come from each source's own words, as in bench/tracking_corpus_build.py, never from what
the classifier answers (this script does not import it):

- uap-core `tests/test_ua.yaml`: a family that is a mail client or a provider's image proxy is a
  person opening; a current browser (the first build took 90 of them, at random) a person later;
- uap-core `test_resources/pgts_browser_list.yaml`: families Apple Mail and Lotus Notes, people;
- uap-core `tests/test_device.yaml`: device family "Spider", a crawler (a preview when it names a
  messenger or network, by the first build's preview pattern);
- uap-core `test_resources/podcasting_user_agent_strings.yaml`: podcast clients polling feeds, a
  crawler (as feed readers were in the first fresh part);
- Crawler-Detect `crawlers.txt` and crawler-user-agents' instances the first build left: crawlers
  (previews when they name a messenger), without the mail and Office names the first build set
  apart (Outlook, Airmail, Word...), whose side their source does not settle.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tracking_corpus_build import (  # noqa: E402
    LaterPart,
    Repo,
    modern_browser,
)

PARTS_BEFORE = ("tuning", "held_out", "fresh")
# uap-core families that are a person's mail client, or a provider fetching when it is opened.
MAIL_FAMILIES = {
    "Thunderbird",
    "Postbox",
    "YahooMobileMail",
    "kmail2",
    "Outlook",
    "Airmail",
    "Windows Live Mail",
    "MacOutlook",
    "Outlook-iOS-Android",
    "Outlook-iOS",
    "GmailImageProxy",
    "Apple Mail",
    "Lotus Notes",
}
# The first build's patterns (bench/tracking_corpus_build.py): a messenger's or network's
# preview, and the mail and Office names a crawler list counts as bots.
PREVIEW = re.compile(
    r"WhatsApp|Viber|Telegram|Skype|Teams/|Slack|Discord|facebookexternalhit|Facebot|Twitterbot|LinkedInBot|Pinterest|redditbot|Link Preview|vkShare|Iframely|Embedly",
    re.I,
)
MAIL_OR_OFFICE = re.compile(
    r"Outlook|Airmail|Thunderbird/\d|ms-office|GoogleImageProxy|YahooMailProxy|Excel|Word|PowerPoint",
    re.I,
)


# Relabelled after the blind measurement (docs/tracking.md, "What was fixed after fresh2, later"):
# the version filter called these "a current browser", but uap-core's own family for each
# names a machine or a messenger, so the label came from the filter, not from the source.
RELABELLED = {
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/144.0.7559.133 Safari/537.36 RuxitSynthetic/1.0 v148429737999 t4519022964667904509 "
    "ath959a1831 altpub cvcv=2": (
        "crawler",
        "uap-core's family Ruxit Synthetic: Dynatrace's synthetic monitor, a robot loading pages",
    ),
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/124.0.6367.201 Mobile Safari/537.36 (compatible; Google-InspectionTool/1.0;)": (
        "crawler",
        "uap-core's family Google-InspectionTool: the crawler of Google's Search Console tests",
    ),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/147.0.0.0 Safari/537.36 Edg/147.0.0.0 Teams/26106.2110.4675.2592 (50)": (
        "preview",
        "uap-core's family Microsoft Teams: a messenger, which every build labels a preview by "
        "the first build's pattern; this branch had skipped that check",
    ),
}


def build(uap: Repo, cd: Repo, cua: Repo, part: LaterPart) -> None:
    rng, add, known = part.rng, part.add, part.known

    ua_file = "tests/test_ua.yaml"
    ua_cases = yaml.safe_load(uap.show(ua_file))["test_cases"]
    for c in ua_cases:
        if c["family"] in MAIL_FAMILIES:
            add(
                "person",
                c["user_agent_string"],
                f"{uap.source(ua_file)} (family {c['family']})",
                "open",
            )
    pgts_file = "test_resources/pgts_browser_list.yaml"
    for c in yaml.safe_load(uap.show(pgts_file))["test_cases"]:
        if c["family"] in MAIL_FAMILIES:
            add(
                "person",
                c["user_agent_string"],
                f"{uap.source(pgts_file)} (family {c['family']})",
                "open",
            )
    browsers = [c["user_agent_string"] for c in ua_cases if modern_browser(c["user_agent_string"])]
    rng.shuffle(browsers)
    for ua in browsers:
        label, source = "person", f"{uap.source(ua_file)} (a current browser)"
        if ua in RELABELLED:
            label, why = RELABELLED[ua]
            source = f"{source}; relabelled {label} after the blind measurement: {why}"
        add(label, ua, source, rng.choice(["click", "open"]))

    device_file = "tests/test_device.yaml"
    spiders = [
        c["user_agent_string"]
        for c in yaml.safe_load(uap.show(device_file))["test_cases"]
        if c["family"] == "Spider"
    ]
    for ua in spiders:
        label = "preview" if PREVIEW.search(ua) else "crawler"
        if label == "crawler" and MAIL_OR_OFFICE.search(ua):
            continue
        add(
            label,
            ua,
            f"{uap.source(device_file)} (device family Spider)",
            rng.choice(["open", "click"]),
        )
    podcast_file = "test_resources/podcasting_user_agent_strings.yaml"
    podcasts = yaml.safe_load(uap.show(podcast_file))["test_cases"]
    rng.shuffle(podcasts)
    for c in podcasts[:25]:
        add(
            "crawler",
            c["user_agent_string"],
            f"{uap.source(podcast_file)} (podcast client: {c['family']})",
            "open",
        )

    cd_file = "tests/data/user_agent/crawlers.txt"
    lines = [line for line in cd.show(cd_file).splitlines() if line.strip() and line not in known]
    lines = [line for line in lines if not MAIL_OR_OFFICE.search(line)]
    rng.shuffle(lines)
    for ua in lines[:60]:
        add(
            "preview" if PREVIEW.search(ua) else "crawler",
            ua,
            cd.source(cd_file),
            rng.choice(["open", "click"]),
        )
    cua_file = "crawler-user-agents.json"
    instances = [
        (i, entry["pattern"])
        for entry in json.loads(cua.show(cua_file))
        for i in entry.get("instances", [])
        if i not in known and not MAIL_OR_OFFICE.search(i)
    ]
    rng.shuffle(instances)
    for ua, pattern in instances[:60]:
        add(
            "preview" if PREVIEW.search(ua) else "crawler",
            ua,
            f"{cua.source(cua_file)} (instance of pattern {pattern!r})",
            rng.choice(["open", "click"]),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uap-core", required=True, help="its git directory")
    parser.add_argument("--crawler-detect", required=True, help="its git directory")
    parser.add_argument("--crawler-user-agents", required=True, help="its git directory")
    args = parser.parse_args()
    part = LaterPart(PARTS_BEFORE, random.Random(1718))
    build(
        Repo(args.uap_core, "ua-parser/uap-core"),
        Repo(args.crawler_detect, "JayBizzle/Crawler-Detect"),
        Repo(args.crawler_user_agents, "monperrus/crawler-user-agents"),
        part,
    )
    part.finish("fresh2", "g")


if __name__ == "__main__":
    main()
