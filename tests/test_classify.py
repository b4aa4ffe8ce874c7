"""The verdict rules on real user agents of mail clients, proxies and scanners."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sequences.tracking.verdicts import (
    RULES_FILE,
    Hit,
    Prior,
    classify,
    classify_in_context,
    parse_rules,
)

LATER = timedelta(hours=2)

# Agents as seen in the wild (from tracking logs and vendors' documentation).
APPLE_MAIL_MPP = "Mozilla/5.0"
APPLE_MAIL_MACOS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
)
APPLE_MAIL_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
OUTLOOK_DESKTOP = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)"
OUTLOOK_WEB = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
)
YAHOO = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0"
BARRACUDA = "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))"
MIMECAST = "Mozilla/5.0 (compatible; Mimecast URL Protect)"
PROOFPOINT = "Mozilla/5.0 (compatible; Proofpoint URL Defense)"
SAFE_LINKS_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/117.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGPREVIEW = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) BingPreview/1.0b"


def verdict(
    ua: str,
    kind: str = "open",
    ip: str | None = "198.51.100.20",
    since: timedelta | None = LATER,
    method: str = "GET",
    hidden: bool = False,
) -> tuple[str, str | None]:
    v = classify(Hit(kind, method, ua, ip, since, hidden_link=hidden))
    return v.verdict, v.reason


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (APPLE_MAIL_MPP, ("machine", "apple_privacy_proxy")),
        (APPLE_MAIL_MACOS, ("human", None)),
        (APPLE_MAIL_IOS, ("human", None)),
        (GMAIL, ("human", "google_image_proxy")),
        (OUTLOOK_DESKTOP, ("human", None)),
        (OUTLOOK_WEB, ("human", None)),
        (YAHOO, ("human", "yahoo_mail_proxy")),
        (THUNDERBIRD, ("human", None)),
        (BARRACUDA, ("machine", "security_scanner")),
        (MIMECAST, ("machine", "security_scanner")),
        (PROOFPOINT, ("machine", "security_scanner")),
        (GOOGLEBOT, ("machine", "bot")),
        (BINGPREVIEW, ("machine", "bot")),
        ("python-requests/2.31.0", ("machine", "bot")),
        ("curl/8.4.0", ("machine", "bot")),
        ("", ("machine", "bot")),
    ],
)
def test_open_verdict_for_real_agents(ua: str, expected: tuple[str, str | None]) -> None:
    assert verdict(ua) == expected


def test_apple_address_range_with_a_bare_agent_is_the_privacy_proxy() -> None:
    assert verdict(SAFE_LINKS_UA, ip="17.58.63.10") == ("machine", "apple_privacy_proxy")


def test_apple_proxy_rule_is_for_opens_only() -> None:
    # A click is a person acting, even from an Apple address (iCloud Private Relay users).
    assert verdict(APPLE_MAIL_IOS, kind="click", ip="17.58.63.10") == ("human", None)


def test_safe_links_with_a_browser_agent_is_caught_by_its_address() -> None:
    assert verdict(SAFE_LINKS_UA, kind="click", ip="40.107.22.9") == ("machine", "security_scanner")
    assert verdict(SAFE_LINKS_UA, kind="click", ip="2a01:111:f400:7e1b::1") == (
        "machine",
        "security_scanner",
    )


@pytest.mark.parametrize("ip", ["205.139.110.30", "148.163.140.1", "64.235.150.2"])
def test_mimecast_proofpoint_barracuda_ranges(ip: str) -> None:
    assert verdict(OUTLOOK_WEB, kind="click", ip=ip) == ("machine", "security_scanner")


def test_any_hit_seconds_after_delivery_is_a_prefetch() -> None:
    assert verdict(OUTLOOK_WEB, since=timedelta(seconds=3)) == ("machine", "prefetch")
    assert verdict(GMAIL, since=timedelta(seconds=1)) == ("machine", "prefetch")
    assert verdict(OUTLOOK_WEB, kind="click", since=timedelta(seconds=4)) == ("machine", "prefetch")
    assert verdict(OUTLOOK_WEB, since=timedelta(seconds=6)) == ("human", None)


def test_head_and_hidden_link_are_prefetches() -> None:
    assert verdict(OUTLOOK_WEB, method="HEAD") == ("machine", "prefetch")
    assert verdict(OUTLOOK_WEB, kind="click", hidden=True) == ("machine", "prefetch")


def test_bad_address_is_ignored_not_fatal() -> None:
    assert verdict(OUTLOOK_WEB, ip="not-an-ip") == ("human", None)
    assert verdict(OUTLOOK_WEB, ip=None) == ("human", None)


T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def click(seconds: float, position: int, verdict: str = "human", hidden: bool = False) -> Prior:
    return Prior("click", T0 + timedelta(seconds=seconds), verdict, position, hidden=hidden)


def in_context(history: list[Prior], at: float, position: int, links: int = 3) -> tuple[str, Any]:
    hit = Hit("click", "GET", OUTLOOK_WEB, "198.51.100.20", LATER)
    result = classify_in_context(hit, T0 + timedelta(seconds=at), position, history, links)
    return result.verdict.verdict, result.verdict.reason


def test_burst_over_every_visible_link_is_a_scanner() -> None:
    history = [click(0, 0), click(1, 1)]
    assert in_context(history, 2, 2) == ("machine", "security_scanner")


def test_clicks_on_some_links_or_spread_out_stay_human() -> None:
    assert in_context([click(0, 0)], 2, 1) == ("human", None)  # 2 of 3 links
    assert in_context([click(0, 0), click(30, 1)], 60, 2) == ("human", None)


def test_click_near_a_honeypot_click_is_a_scanner() -> None:
    assert in_context([click(0, 5, "machine", hidden=True)], 1, 0) == (
        "machine",
        "security_scanner",
    )


def test_click_after_machine_open_only_within_the_window() -> None:
    machine_open = Prior("open", T0, "machine", ip="198.51.100.20")
    assert in_context([machine_open], 5, 0) == ("machine", "security_scanner")
    assert in_context([machine_open], 60, 0) == ("human", None)


def test_burst_names_earlier_human_clicks_to_relabel() -> None:
    earlier = click(0, 0)
    earlier.ref = "event-1"
    hit = Hit("click", "GET", OUTLOOK_WEB, None, LATER)
    result = classify_in_context(hit, T0 + timedelta(seconds=1), 1, [earlier], 2)
    assert result.relabel == ("event-1",)


def test_repeat_within_window_is_marked() -> None:
    first = Prior("open", T0, "human")
    hit = Hit("open", "GET", OUTLOOK_WEB, None, LATER)
    assert classify_in_context(hit, T0 + timedelta(seconds=30), None, [first], 0).repeat
    assert not classify_in_context(hit, T0 + timedelta(seconds=61), None, [first], 0).repeat


def test_rules_file_is_the_single_source_and_validates() -> None:
    raw = yaml.safe_load(RULES_FILE.read_text())
    rules = parse_rules(raw)
    assert rules.prefetch == timedelta(seconds=raw["prefetch_seconds"])
    raw["scanner_ranges"]["Broken"] = ["999.1.2.3/8"]
    with pytest.raises(ValueError):
        parse_rules(raw)


def test_changing_the_data_changes_the_verdict() -> None:
    raw = yaml.safe_load(RULES_FILE.read_text())
    raw["scanner_agents"].append({"pattern": "AcmeLinkGuard", "name": "Acme"})
    rules = parse_rules(raw)
    hit = Hit("click", "GET", "Mozilla/5.0 AcmeLinkGuard/2", None, LATER)
    assert classify(hit, rules).reason == "security_scanner"


# Mail clients the crawler list (or an "unknown means machine" rule) would take for machines.
MAIL_CLIENTS = [
    "Outlook-iOS/709.2189947.prod.iphone (3.24.0)",
    APPLE_MAIL_IOS + " Outlook-iOS/709.2226530.prod.iphone (4.2303.0)",
    "Outlook-Android/2.0",
    "MacOutlook/16.46.21021202 (Intelx64 Mac OS X 11.2.2 (Build 20D80))",
    "Microsoft Office/16.0 (Macintosh; Mac OS X 10.15.7; Microsoft Outlook 16.78)",
    "Outlook/16.16.18071205 CFNetwork/902.1 Darwin/17.7.0 (x86_64)",
    "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; WOW64; Trident/7.0; .NET4.0C; "
    "Microsoft Outlook 16.0.6001; ms-office; MSOffice 16)",
    "Airmail 1.4 rv:238 (Macintosh; Mac OS X 10.9.2; hr_HR)",
    "Spark/2.11.21 CFNetwork/1399 Darwin/22.1.0",
    "Mozilla/5.0 (X11; Linux i686; rv:17.0) Gecko/20130330 Thunderbird/17.0.5",
    "Yahoo%20Mail/49268 CFNetwork/1121.2.2 Darwin/19.3.0",
    "eMClient/9.3.6041.0",
]


@pytest.mark.parametrize("ua", MAIL_CLIENTS)
def test_real_mail_clients_are_people_on_opens_and_clicks(ua: str) -> None:
    assert verdict(ua) == ("human", None)
    assert verdict(ua, kind="click") == ("human", None)


@pytest.mark.parametrize(
    ("ua", "name"),
    [
        ("Viber", "Viber"),
        ("Mozilla/5.0 (Linux; Android 12) Viber/18.5.0.0", "Viber"),
        ("WhatsApp/2.22.9.76 i", "WhatsApp"),
        ("TelegramBot (like TwitterBot)", "Telegram"),
        ("Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5", "Skype / Teams"),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Slack"),
        ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "Discord"),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "Facebook"),
    ],
)
def test_messenger_link_previews_are_machines(ua: str, name: str) -> None:
    v = classify(Hit("click", "GET", ua, None, LATER))
    assert (v.verdict, v.reason) == ("machine", "link_preview") and name in v.why


@pytest.mark.parametrize(
    "ua",
    [
        "Mozilla/5.0",  # bare
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",  # a platform and nothing else
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7; Trident/7.0; rv:11.0) like Gecko",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0 Safari/537.36 (Macintosh; Intel Mac OS X 10_15_7)",  # two systems
        "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)",  # ancient MSIE
        "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0 Safari/537.36",
        # a WebKit version that never shipped (the first Safari's was 85), with a current browser
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/2.0 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/84 (KHTML, like Gecko) "
        "Version/17.0 Safari/605.1.15",
    ],
)
def test_bare_contradictory_and_obsolete_agents_are_scanners(ua: str) -> None:
    assert verdict(ua, kind="click") == ("machine", "security_scanner")


def test_a_current_webkit_version_is_no_contradiction() -> None:
    # Only versions below 85 never shipped: 605, 537 and 85 itself are WebKit's own numbers.
    mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    assert verdict(mac + " Version/17.4 Safari/605.1.15", kind="click") == ("human", None)
    win = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    assert verdict(win + " Chrome/131.0.0.0 Safari/537.36", kind="click") == ("human", None)


def test_apple_mail_agent_is_the_proxy_seconds_after_delivery_or_from_the_relay() -> None:
    assert verdict(APPLE_MAIL_IOS, since=timedelta(seconds=20)) == (
        "machine",
        "apple_privacy_proxy",
    )
    assert verdict(APPLE_MAIL_MACOS, ip="172.225.10.5") == ("machine", "apple_privacy_proxy")
    assert verdict(APPLE_MAIL_MACOS, ip="2a02:26f7:b3c0:4000::5") == (
        "machine",
        "apple_privacy_proxy",
    )
    # Hours later from the person's own address: Apple Mail with the protection off.
    assert verdict(APPLE_MAIL_IOS, ip="81.2.69.160") == ("human", None)
    # A person browsing through Private Relay clicks from the same addresses.
    assert verdict(SAFE_LINKS_UA, kind="click", ip="172.225.10.5") == ("human", None)


def test_gateway_ranges_come_from_the_bundled_dated_file() -> None:
    ranges = yaml.safe_load((RULES_FILE.parent / "ranges" / "gateways.yaml").read_text())
    assert {"Microsoft Exchange Online Protection", "Mimecast", "Proofpoint", "Barracuda"} <= set(
        ranges
    )
    assert all(entry["source"] and entry["date"] for entry in ranges.values())
    assert verdict(OUTLOOK_WEB, kind="click", ip="170.10.129.8") == ("machine", "security_scanner")


def test_a_crawler_borrowing_a_mail_clients_name_is_still_a_crawler() -> None:
    ua = "Mozilla/5.0 (Windows; U; Windows NT 5.0; en-US) Gecko/20050716 Thunderbird/1.0.6 - WebCrawler"
    assert verdict(ua) == ("machine", "bot")


def test_two_links_within_a_second_and_an_early_click_are_scanners() -> None:
    assert in_context([click(0, 0)], 0.5, 1, links=5) == ("machine", "security_scanner")
    early = Hit("click", "GET", OUTLOOK_WEB, None, timedelta(seconds=30))
    result = classify_in_context(early, T0, 0, [], 3)
    assert (result.verdict.reason, "before any open" in result.verdict.why) == (
        "security_scanner",
        True,
    )
    opened = [Prior("open", T0 - timedelta(seconds=10), "human")]
    assert classify_in_context(early, T0, 0, opened, 3).verdict.human


@pytest.mark.parametrize(
    "ua",
    [
        # A native mail app names the system it runs on; a script or library does not.
        "Unibox/1.8.2 (Macintosh; Mac OS X 10.15.7)",
        "Newton/11.0.30 (iPhone; iOS 16.4; Scale/3.00)",
        # Debian's rebrand of SeaMonkey's mail suite, on its old Gecko: a mail client, not an obsolete Firefox.
        "Mozilla/5.0 (X11; Linux i686; rv:38.0) Gecko/20100101 Firefox/38.0 Iceape/2.35",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:60.0) Gecko/20100101 Firefox/60.0 SeaMonkey/2.53.1",
    ],
)
def test_mail_apps_naming_their_system_and_mail_suites_are_people(ua: str) -> None:
    assert verdict(ua) == ("human", None)


@pytest.mark.parametrize(
    "ua",
    [
        "Mozilla/5.0 (compatible; ChatGPT-User/1.0; +https://openai.com/bot)",  # an AI assistant
        "Claude-User/1.0",
        "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 SiteDiagnostics/2.1",
        "Mozilla/5.0 (compatible; +http://example.com/our-fetcher.html)",  # the robots' "+URL"
        "ExampleTool/3.2",  # a program that names no system
    ],
)
def test_assistants_monitors_and_self_explaining_robots_are_bots(ua: str) -> None:
    assert verdict(ua, kind="click") == ("machine", "bot")


def test_internet_explorer_is_retired_so_its_click_is_a_scanner_but_outlook_desktop_is_a_person() -> (
    None
):
    ie11 = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"
    assert verdict(ie11, kind="click") == ("machine", "security_scanner")
    assert verdict(MAIL_CLIENTS[6]) == ("human", None)  # Outlook desktop's "MSIE 7.0; Trident/7.0"


@pytest.mark.parametrize(
    ("ua", "why"),
    [
        # Feed and podcast readers, by the family's own words and by device-detector's list.
        ("Reeder/5.0 CFNetwork/1410.0.3 Darwin/22.6.0", "feed reader"),
        ("NetNewsWire (RSS Reader; https://netnewswire.com/)", "feed reader"),
        ("SomeFeedApp/2.0 (iPhone; iOS 17.2; Scale/3.00)", "feed reader"),
        ("Newsify/6.1 (iPad; iOS 16.0)", "feed reader"),
        ("Liferea/1.14.5 (Linux; en_US.UTF-8; https://lzone.de/liferea/)", "feed reader"),
        # An Apple app's own fetch that is neither a known mail client nor named a mail app.
        ("Bookmarks/8.2 CFNetwork/1408.0.4 Darwin/22.5.0", "neither a browser"),
        ("Thumbs/1 CFNetwork/596.5 Darwin/12.5.0 (x86_64)", "neither a browser"),
        # "Mozilla/5.0" and one bare name or host: a program, no browser.
        ("Mozilla/5.0 Probe", "neither a browser"),
        ("Mozilla/5.0 scanner.example.org", "neither a browser"),
    ],
)
def test_feed_readers_plain_agents_and_apps_that_are_not_mail_clients_are_bots(
    ua: str, why: str
) -> None:
    v = classify(Hit("open", "GET", ua, None, LATER))
    assert (v.verdict, v.reason) == ("machine", "bot") and why in v.why


@pytest.mark.parametrize(
    "ua",
    [
        "Yahoo%20Mail/1400 CFNetwork/1408.0.4 Darwin/22.5.0",
        "ProtonMail/4.1.2 CFNetwork/1408.0.4 Darwin/22.5.0",  # names itself a mail app
        "Unibox/1.9.4 CFNetwork/1335.0.3 Darwin/21.6.0",  # a mail client family in `people`
        "Mail/3731.600.7 CFNetwork/1408.0.4 Darwin/22.5.0",  # Apple Mail on macOS
        # Thunderbird reads feeds too, with the agent it reads mail with.
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:128.0) Gecko/20100101 Thunderbird/128.3.0",
    ],
)
def test_mail_apps_with_apples_network_stack_or_built_in_feeds_stay_people(ua: str) -> None:
    assert verdict(ua) == ("human", None)


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        # A desktop Chrome or Firefox five years behind would have updated itself: a disguise.
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/79.0.3945.88 Safari/537.36",
            ("machine", "security_scanner"),
        ),
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:70.0) Gecko/20100101 Firefox/70.0",
            ("machine", "security_scanner"),
        ),
        # What does not update itself stays a person: a phone's Chrome, an Electron mail app,
        # a Chromebook out of support, Firefox 78 (the last for macOS 10.9-10.11).
        (
            "Mozilla/5.0 (Linux; Android 8.1.0; SM-T580) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/79.0.3945.93 Safari/537.36",
            ("human", None),
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "ExampleMail/3.1.0 Chrome/78.0.3904.130 Electron/7.1.9 Safari/537.36",
            ("human", None),
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 13099.110.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/84.0.4147.136 Safari/537.36",
            ("human", None),
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.11; rv:78.0) Gecko/20100101 Firefox/78.0",
            ("human", None),
        ),
    ],
)
def test_a_desktop_browser_years_behind_is_a_disguise_but_what_cannot_update_is_a_person(
    ua: str, expected: tuple[str, str | None]
) -> None:
    assert verdict(ua, kind="click") == expected


@pytest.mark.parametrize(
    "ua",
    [
        # Outlook for iOS/Android's in-app WebKit agent names both platforms in one token.
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Outlook-iOS-Android/1.0 Mobile/15E148",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36 Outlook-Android-iOS/1.0",
    ],
)
def test_outlook_mobiles_joined_platform_token_is_a_person_although_crawler_lists_name_it(
    ua: str,
) -> None:
    assert verdict(ua) == ("human", None)
    assert verdict(ua, kind="click") == ("human", None)


@pytest.mark.parametrize(
    "ua",
    [
        # Players that embed WebKit put their own token after the engine.
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.21 (KHTML, like Gecko) Clementine/1.3.1 "
        "Safari/537.21",
        "VLC/3.0.20 LibVLC/3.0.20",
        "Windows-Media-Player/12.0.19041.1",
        # Radio and player apps by their own words, naming the phone they run on.
        "TuneIn Radio/27.4 (iPhone; iOS 17.2; Scale/3.00)",
        "iHeartRadio 10.31.0 (Android 13; SM-S911B)",
        "Acme Music Player 2.1 (Android 12; Pixel 6)",
        # A player named "...Player", and a music streaming app, inside an embedded WebKit.
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "GOMPlayer/2.3.92 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "TIDAL/2.34.3",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SoundCloud/1.2 Safari/537.36",
    ],
)
def test_media_players_and_radio_apps_are_programs_not_people(ua: str) -> None:
    assert verdict(ua) == ("machine", "bot")


@pytest.mark.parametrize(
    "ua",
    [
        # Tools that send a current browser's whole agent and add their own token: named by
        # monperrus/crawler-user-agents, not by crawlerdetect.
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 CookieHubScan/3.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36; Selenium",
    ],
)
def test_a_current_browser_agent_with_a_listed_crawlers_token_is_a_bot(ua: str) -> None:
    assert verdict(ua, kind="click") == ("machine", "bot")


def test_a_phone_build_number_in_the_crawler_list_does_not_make_its_owners_browser_a_bot() -> None:
    # crawler-user-agents once listed a crawler by its phone's firmware; people on that phone
    # send the same build, so such entries are left out of the bundled list.
    ua = (
        "Mozilla/5.0 (Linux; Android 15; CPH2611 Build/AP3A.240617.008) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36"
    )
    assert verdict(ua, kind="click") == ("human", None)


def test_the_bundled_crawler_list_is_read_with_its_comments_and_rejects_a_bad_line() -> None:
    from sequences.tracking.agents import crawler_list

    found = crawler_list("# a comment\nFooScan/\n\n^BarBot")
    assert found is not None and found.search("Mozilla/5.0 FooScan/1.0")
    assert crawler_list("# only comments\n") is None
    with pytest.raises(re.error):
        crawler_list("ok\n(unclosed")


def test_refreshing_the_crawler_list_keeps_patterns_and_drops_phone_build_numbers(
    tmp_path: Any,
) -> None:
    import json

    from sequences.tracking import address_ranges
    from sequences.tracking.agents import crawler_list, crawler_list_file

    listed = [{"pattern": "FooScan\\/"}, {"pattern": "AP3A\\.240617\\.008"}, {"nope": 1}]
    body = crawler_list_file(json.dumps(listed), "crawler-user-agents.json @abc", "2026-12-07")
    found = crawler_list(body)
    assert found is not None and found.search("x FooScan/2") and not found.search("AP3A.240617.008")
    with pytest.raises(ValueError):
        crawler_list_file("{}", "x", "2026-12-07")
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert address_ranges.main(["crawler-list", str(bad)]) == 1  # nothing written


# Mail and PIM clients of matomo-org/device-detector's bundled list (not in `people`), Debian's
# mail readers, and products that call themselves a mail app: none is in the corpus.
@pytest.mark.parametrize(
    ("ua", "why"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Franz/5.9.2 Chrome/91.0.4472.164 Electron/13.6.3 Safari/537.36",
            "mail client: Franz",
        ),
        ("Live5ch/1.50 (Linux; U; Android 12)", "mail client: Live5ch"),
        ("Mailbird/2.9.47.0/ (Windows NT 10.0)", "mail client"),
        ("NeoMutt/20220429", "mail client: a mail reader Debian ships"),
        (
            "Sylpheed/3.7.0 (GTK+ 2.24.33; x86_64-pc-linux-gnu)",
            "mail client: a mail reader Debian ships",
        ),
        ("KMail2/5.22.3", "mail client: a mail reader Debian ships"),
        ("FairEmail/1.2140", "mail client"),  # ua-parser-js's list names it too
        ("Tuta Mail/250.1", "mail client: names itself a mail app"),
        ("Mailfence Webmail/2.1", "mail client: names itself a mail app"),
        ("Android/14-email", "mail client"),  # ua-parser-js's list names it too
    ],
)
def test_mail_clients_of_the_maintained_lists_and_self_named_mail_apps_are_people(
    ua: str, why: str
) -> None:
    v = classify(Hit("open", "GET", ua, None, LATER))
    assert (v.verdict, v.reason) == ("human", None) and v.why.startswith(why), v


# Mail clients of faisalman/ua-parser-js's bundled `Emails` list that device-detector's does not
# name (other versions than the corpus holds), also on Windows XP, before the obsolete-system rule.
@pytest.mark.parametrize(
    "ua",
    [
        "Alpine/2.26 (LNX 2022-06-02)",
        "Gnus/5.14 (Gnus v5.14) Emacs/29.1 (x86_64-pc-linux-gnu)",
        "Horde::IMP/7.0.0 (FreeBSD)",
        "RainLoop/1.16.0",
        "Zimbra/10.0.5_GA_4574",
        "IncrediMail/6.29 (Windows NT 6.1)",
        "Mozilla/5.0 (Windows; U; Windows NT 5.1; de-DE; rv:1.9.2.28) Gecko/20120306 Eudora/3.0.5",
    ],
)
def test_mail_clients_of_ua_parser_js_list_are_people_even_on_an_old_windows(ua: str) -> None:
    v = classify(Hit("open", "GET", ua, None, LATER))
    assert (v.verdict, v.reason) == ("human", None), v
    assert v.why.startswith("mail client: ") and "ua-parser-js" in v.why, v


def test_a_mail_clients_name_inside_a_longer_word_is_not_that_client() -> None:
    # "nine" and "mutt" of the list, only as a whole name: Canine's agent stays a program's.
    assert verdict("Canine/1.0") == ("machine", "bot")
    assert verdict("Smutty/2.0") == ("machine", "bot")


@pytest.mark.parametrize(
    "ua",
    [
        "EmailCollector/1.0",  # a harvester names mail too
        "MailValidator/2.0 (domain check)",
        "SafeMail/1.2 link scanner",
        "Mozilla/5.0 (compatible; Mail.RU_Bot/2.0; +http://go.mail.ru/help/robots)",
    ],
)
def test_harvesters_validators_and_mail_senders_fetchers_are_not_mail_clients(ua: str) -> None:
    assert verdict(ua) == ("machine", "bot")


def test_a_self_named_mail_app_seconds_after_delivery_is_still_a_prefetch() -> None:
    assert verdict("FairEmail/1.2140", since=timedelta(seconds=2)) == ("machine", "prefetch")


@pytest.mark.parametrize(
    ("ua", "why"),
    [
        ("axios/1.6.2", "program: Axios"),
        ("Deno/1.38.0", "program: Deno"),
        ("undici", "program"),
        (
            "Mozilla/5.0 (Macintosh; Darwin 23.1.0 Darwin Kernel Version 23.1.0; en-US) PowerShell/7.4.0",
            "program: a shell or runtime fetching for a script",
        ),
        (
            "Mozilla/5.0 (Windows; U; en-US) AppleWebKit/531.9 (KHTML, like Gecko) AdobeAIR/2.5",
            "program: a shell or runtime fetching for a script",
        ),
        ("AppleCoreMedia/1.0.0.21C62 (iPhone; U; CPU OS 17_2 like Mac OS X; en_us)", "program"),
        ("AppleTV11,1/11.1", "program: a media framework or TV box fetching streams"),
        ("GStreamer souphttpsrc 1.22.0 libsoup/3.2.2", "program"),
        ("ExoPlayerLib/2.19.1", "program: a media framework or TV box fetching streams"),
        ("Roku/DVP-12.5 (12.5.0.4178)", "program: a media framework or TV box fetching streams"),
    ],
)
def test_http_libraries_shells_runtimes_and_media_stacks_are_programs(ua: str, why: str) -> None:
    # Each names an OS or an engine a native app or a browser would: the family must win.
    for kind in ("open", "click"):
        v = classify(Hit(kind, "GET", ua, None, LATER))
        assert (v.verdict, v.reason) == ("machine", "bot") and v.why.startswith(why), v


def test_the_bundled_device_detector_lists_load_with_their_source_and_refresh_from_a_file() -> None:
    from sequences.tracking.agents import device_detector_file, device_detector_list

    text = "# licence\n- regex: 'Acme ?Mail/(\\d+)'\n  name: 'Acme Mail'\n- regex: '^Zed/'\n  name: Zed\n"
    body = device_detector_file(text, "pim", "a test file", "2026-12-07")
    assert "LGPL-3.0" in body and "a test file, 2026-12-07" in body and "# licence" not in body
    found = device_detector_list(body, "pim")
    assert [p.name for p in found] == ["Acme Mail", "Zed"]
    assert found[0].regex.search("AcmeMail/3") and not found[0].regex.search("XAcmeMail/3")
    assert found[1].regex.search("Zed/1") and not found[1].regex.search("a Zed/1")
    with pytest.raises(ValueError):
        device_detector_list("- regex: '(unclosed'\n  name: Bad\n", "pim")
    with pytest.raises(ValueError):
        device_detector_list("[]", "libraries")
    for kind in ("pim", "libraries"):
        shipped = (RULES_FILE.parent / f"device_detector_{kind}.yml").read_text(encoding="utf-8")
        assert "matomo-org/device-detector" in shipped and "LGPL-3.0" in shipped
        assert len(device_detector_list(shipped, kind)) > 30


def test_refreshing_a_device_detector_list_with_a_bad_file_writes_nothing(tmp_path: Any) -> None:
    from sequences.tracking import address_ranges

    shipped = address_ranges.DEVICE_DETECTOR_FILES["pim"].read_text(encoding="utf-8")
    bad = tmp_path / "pim.yml"
    bad.write_text("- regex: '(unclosed'\n  name: Bad\n")
    assert address_ranges.main(["device-detector", "pim", str(bad)]) == 1
    assert address_ranges.main(["device-detector", "pim", str(tmp_path / "missing.yml")]) == 1
    assert address_ranges.DEVICE_DETECTOR_FILES["pim"].read_text(encoding="utf-8") == shipped


@pytest.mark.parametrize(
    ("ua", "why"),
    [
        # A Thunderbird rebuild keeps Gecko's Firefox token, years old, and adds its own after it.
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:31.0) Gecko/20100101 Firefox/31.0 Nightbird/31.1",
            "mail client: a Thunderbird rebuild",
        ),
        (
            "Mozilla/5.0 (Windows NT 6.1; rv:45.0) Gecko/20100101 Firefox/45.0 PaleMail/45.1.2",
            "mail client: a Thunderbird rebuild",
        ),
        # Zimbra Desktop, a Prism mail client, still runs on Windows XP.
        (
            "Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.9.2.28) Gecko/20120306 Prism "
            "zdesktop/7.1.4",
            "mail client: Zimbra Desktop",
        ),
        # An Android package id ending in "mail" names a mail app.
        ("de.gmx.mobile.android.mail 7.12.1", "mail client: names itself a mail app"),
        ("appclient android 3.2.0 com.example.webmail", "mail client: names itself a mail app"),
    ],
)
def test_thunderbird_rebuilds_zimbra_desktop_and_android_mail_packages_are_people(
    ua: str, why: str
) -> None:
    v = classify(Hit("open", "GET", ua, None, LATER))
    assert (v.verdict, v.reason) == ("human", None) and v.why.startswith(why), v


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        # An old Firefox with a browser's rebuild token is still a Firefox years behind.
        (
            "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:38.0) Gecko/20100101 Firefox/38.0 Waterfox/38.0",
            ("machine", "security_scanner"),
        ),
        # A package id that only starts with "mail", or collects addresses, is no mail app.
        ("fetcher 1.0 mail.example.tools", ("machine", "bot")),
        ("harvest 2.1 com.example.mailcollector", ("machine", "bot")),
    ],
)
def test_a_browser_rebuild_and_other_package_ids_are_not_taken_for_mail_clients(
    ua: str, expected: tuple[str, str]
) -> None:
    assert verdict(ua) == expected


# What follows the platform in a current Chrome's agent.
CURRENT_CHROME = "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


@pytest.mark.parametrize(
    ("ua", "why"),
    [
        # Outlook's MAPI client names the transport, not Outlook; crawlerdetect lists the agent.
        (
            "Microsoft Office/15.0 (Windows NT 6.1; MAPI 15.0.4420; Pro)",
            "mail client: Outlook desktop",
        ),
        (
            "Microsoft Office/16.0 (Windows NT 10.0; MAPI 16.0.17928; Pro)",
            "mail client: Outlook desktop",
        ),
        # A mail app's own token after a current browser's agent, which crawler-user-agents'
        # pattern list names: the app, not a crawler.
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) " + CURRENT_CHROME + " FastmailUA/1.2",
            "mail client: names itself a mail app",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) " + CURRENT_CHROME + " HeyMail/2.4",
            "mail client: names itself a mail app",
        ),
        # Zoho Mail's desktop app, with the old Chromium it ships on Windows and its own agent on a Mac.
        (
            "ZohoTridentWindows/1.0.8.0 Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/66.0.3359.181 Safari/537.36",
            "mail client: Zoho Mail desktop",
        ),
        (
            "ZohoTridentMac/1.4.2;D:MacBookPro18,3;OS:macOS;OSVersion: 13.6.1;T:Dark;L:de",
            "mail client: Zoho Mail desktop",
        ),
    ],
)
def test_outlooks_mapi_client_and_desktop_mail_apps_on_a_browser_engine_are_people(
    ua: str, why: str
) -> None:
    for kind in ("open", "click"):
        v = classify(Hit(kind, "GET", ua, "198.51.100.20", LATER))
        assert (v.verdict, v.reason) == ("human", None) and v.why.startswith(why), v


@pytest.mark.parametrize(
    ("ua", "why"),
    [
        # Word's and Excel's own fetches are no mail client: still the crawler list's.
        (
            "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Word 16.0.4266; Pro)",
            "crawler list: Microsoft Office",
        ),
        (
            "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Excel 16.0.17928; Pro)",
            "crawler list: Microsoft Office",
        ),
        # Without a mail token, the second list still names a current browser agent's crawler;
        # a mail-named robot crawlerdetect lists is still a robot.
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) " + CURRENT_CHROME + " CookieHubScan/3.0",
            "crawler list: CookieHubScan",
        ),
        ("Mozilla/5.0 (compatible; Mail.RU/2.0c)", "crawler list: Mail.RU"),
        ("EmailWolf 1.00", "crawler list: EmailWolf"),
    ],
)
def test_office_apps_and_listed_robots_without_a_mail_apps_token_stay_bots(
    ua: str, why: str
) -> None:
    v = classify(Hit("open", "GET", ua, "198.51.100.20", LATER))
    assert (v.verdict, v.reason, v.why) == ("machine", "bot", why), v


@pytest.mark.parametrize(
    ("ua", "why"),
    [
        # Another app's token before an old desktop Chrome does not spare it, and Internet
        # Explorer's own Trident token is not Zoho Trident's.
        (
            "DeskWrap/2.0.1 Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36",
            "obsolete browser: desktop Chrome 87 or older",
        ),
        (
            "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko",
            "obsolete browser: Internet Explorer",
        ),
        # A colon straight after the platform's name: a hand-made copy of a browser's agent.
        (
            "Mozilla/5.0 (Windows NT 10.0: Win64; x64) " + CURRENT_CHROME,
            "contradictory agent: a malformed platform token",
        ),
        (
            "Mozilla/5.0 (X11: Linux x86_64) " + CURRENT_CHROME,
            "contradictory agent: a malformed platform token",
        ),
        (
            "Mozilla/5.0 (iPhone: CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "contradictory agent: a malformed platform token",
        ),
    ],
)
def test_an_old_chrome_behind_another_apps_token_and_a_malformed_platform_are_scanners(
    ua: str, why: str
) -> None:
    v = classify(Hit("click", "GET", ua, "198.51.100.20", LATER))
    assert (v.verdict, v.reason) == ("machine", "security_scanner") and v.why.startswith(why), v


@pytest.mark.parametrize(
    "ua",
    [
        # Colons where browsers do write them (Gecko's "rv:") are no malformed platform.
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15",
    ],
)
def test_current_browsers_with_gecko_revisions_are_people(ua: str) -> None:
    assert verdict(ua, kind="click") == ("human", None)


ELECTRON_TAIL = "Chrome/128.0.6613.186 Electron/32.2.6 Safari/537.36"


@pytest.mark.parametrize(
    "ua",
    [
        # Electron desktop apps the second crawler list names by a bare token (`Code/1.`): the
        # app's token between the engine and Chrome, Electron's at the end.
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Code/1.96.2 " + ELECTRON_TAIL,
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Code/1.89.1 " + ELECTRON_TAIL,
    ],
)
def test_an_electron_desktop_apps_own_agent_is_a_person_before_the_second_crawler_list(
    ua: str,
) -> None:
    for kind in ("open", "click"):
        v = classify(Hit(kind, "GET", ua, "198.51.100.20", LATER))
        assert (v.verdict, v.reason) == ("human", None), v


@pytest.mark.parametrize(
    ("ua", "why"),
    [
        # The app's token after Safari's, not in Electron's place: a robot appending its name.
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            + ELECTRON_TAIL
            + " Code/1.96.2",
            "crawler list: Code/1.",
        ),
        # A test runner built on Electron is still the program list's.
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Cypress/13.6.0 " + ELECTRON_TAIL,
            "program: Cypress",
        ),
    ],
)
def test_an_electron_shape_out_of_place_or_a_listed_program_stays_a_machine(
    ua: str, why: str
) -> None:
    v = classify(Hit("open", "GET", ua, "198.51.100.20", LATER))
    assert (v.verdict, v.reason, v.why) == ("machine", "bot", why), v


@pytest.mark.parametrize(
    "ua",
    [
        "Mozilla/5.0 (compatible; Acme-Sync/2.4)",
        "Mozilla/4.0 (compatible; Example.org Snapshot Tool 1.2;)",
    ],
)
def test_a_bare_agent_that_names_a_program_is_that_program_not_a_disguise(ua: str) -> None:
    v = classify(Hit("open", "GET", ua, "198.51.100.20", LATER))
    assert (v.verdict, v.reason, v.why) == (
        "machine",
        "bot",
        "program: names itself in a bare agent",
    ), v


@pytest.mark.parametrize(
    "ua",
    [
        # A browser's words in the bare agent: a scanner copying one, still a disguise.
        "Mozilla/5.0 (compatible; Windows NT 10.0; Win64; x64)",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)",
        "Mozilla/5.0 (compatible; U; Linux x86_64)",
    ],
)
def test_a_bare_agent_with_a_browsers_platform_stays_a_scanners_disguise(ua: str) -> None:
    v = classify(Hit("open", "GET", ua, "198.51.100.20", LATER))
    assert (v.verdict, v.reason) == ("machine", "security_scanner"), v


def test_a_bare_agent_naming_a_mail_app_is_still_that_mail_app() -> None:
    v = classify(
        Hit("open", "GET", "Mozilla/5.0 (compatible; OpenMail/3.1)", "198.51.100.20", LATER)
    )
    assert (v.verdict, v.why) == ("human", "mail client: names itself a mail app"), v


def test_the_bundled_ua_parser_js_mail_list_names_its_source_and_licence_and_loads() -> None:
    from sequences.tracking.agents import device_detector_list

    path = Path(__file__).resolve().parent.parent / "sequences" / "data" / "ua_parser_js_email.yml"
    text = path.read_text(encoding="utf-8")
    assert "faisalman/ua-parser-js" in text and "AGPL-3.0-or-later" in text and "@" in text
    assert len(device_detector_list(text, "pim")) == 4
