"""The tracking corpus (public user agents, timings, addresses) scored per category, both parts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.verdicts_tracking import CATEGORIES, PARTS, category, judge, load, tracking_matrix

ROOT = Path(__file__).resolve().parent.parent

# What the verdicts must keep: the share of each category shown on the right side (a person as
# a person, a machine as a machine), and of the whole part in exactly the right category.
SIDE_FLOOR = {
    "tuning": 0.98,
    "held_out": 0.95,
    "fresh": 0.95,
    "fresh2": 0.97,  # since its labels were read again: person 98.0% (the NT 5.2 Chromes)
    "fresh3": 0.98,  # since ua-parser-js's mail list: person 100%, crawler 99.0%
    "fresh4": 0.98,
    "fresh5": 0.99,  # tuned since: 100% each (blind it was person 97.5%, crawler 99.4%)
    "fresh6": 0.99,  # tuned since: person 100%, crawler 99.5% (blind person 89.5%)
    "fresh7": 0.99,  # blind: person 100%, crawler 100%
    "fresh8": 0.97,  # since its fix: crawler 97.1% (blind person 100%, 75; crawler 94.1%)
}
CATEGORY_FLOOR = {
    "tuning": 0.95,
    "held_out": 0.90,
    "fresh": 0.93,
    "fresh2": 0.98,  # 99.1% since its labels were read again (98.1% before)
    "fresh3": 0.98,  # 98.6% since ua-parser-js's mail list (96.8% before)
    "fresh4": 0.98,
    "fresh5": 0.97,  # tuned since: 329 of 339, 97.1% (blind it was 322, 95.0%)
    "fresh6": 0.96,  # tuned since: 252 of 261, 96.6% (blind 248, 95.0%)
    "fresh7": 0.99,  # blind: 204 of 205, 99.5% (205 since its fix)
    "fresh8": 0.93,  # blind: 102 of 109, 93.6%
}
# The fresh part's crawlers still shown as people after its mistakes were fixed by family
# rules (11 at its first measurement, 2 after the fix, 1 since crawler-user-agents' list).
FRESH_MACHINES_SHOWN_AS_PEOPLE = 1
# fresh2 after its mistakes were read and fixed by family rules (6 people and 3 machines at
# its first measurement; docs/tracking.md). Three labels were read again since (uap-core's own
# family names Dynatrace's synthetic monitor, Google's inspection crawler and the Teams client,
# which the builder's version filter had called people): left on the wrong side, for the reason
# the docs give, are two current Chromes on Windows NT 5.2.
FRESH2_PEOPLE_SHOWN_AS_MACHINES = 2
FRESH2_MACHINES_SHOWN_AS_PEOPLE = 0
# fresh3 after its mistakes were read and fixed by family rules (27 people and 9 machines at
# its first, blind measurement; docs/tracking.md), and since ua-parser-js's mail-client list was
# bundled (Alpine, Gnus, Horde IMP, Nine, RainLoop, Trojita, Turnpike, Zimbra, Eudora on Windows
# XP are people now): left are three machines with a browser's agent.
FRESH3_PEOPLE_SHOWN_AS_MACHINES = 0
FRESH3_MACHINES_SHOWN_AS_PEOPLE = 3
# fresh4 after its mistakes were read and fixed by family rules (10 people and 5 machines at its
# first, blind measurement; docs/tracking.md): no person is left on the machine side; left are a
# feed reader and a snapshot tool that are only a name inside a Mac's embedded WebKit, the shape
# Sparrow's and KMail's agents have too.
FRESH4_PEOPLE_SHOWN_AS_MACHINES = 0
FRESH4_MACHINES_SHOWN_AS_PEOPLE = 2
# fresh5 after its mistakes were read and fixed by family rules (4 people and 1 machine at its
# first, blind measurement; docs/tracking.md): nothing is left on the wrong side.
FRESH5_PEOPLE_SHOWN_AS_MACHINES = 0
FRESH5_MACHINES_SHOWN_AS_PEOPLE = 0
# fresh6 after its blind measurement was read (4 people shown as machines, 1 machine as a person;
# docs/tracking.md): the two Electron code editors are people by the Electron-app rule, the two
# services isbot calls misidentified browsers (GTmetrix, TSM-turingos) were relabelled crawlers;
# left is TagInspector's current-Chrome agent, which no list names.
FRESH6_PEOPLE_SHOWN_AS_MACHINES = 0
FRESH6_MACHINES_SHOWN_AS_PEOPLE = 1
# fresh7's first measurement (docs/tracking.md), blind: nothing on the wrong side; its one
# category mistake (a bare agent naming an HTTP library) was fixed since by a family rule.
FRESH7_PEOPLE_SHOWN_AS_MACHINES = 0
FRESH7_MACHINES_SHOWN_AS_PEOPLE = 0
# fresh8's first measurement (docs/tracking.md), blind: no person (none of its 75 mail clients and
# image proxies) shown as a machine; 2 machines shown as people (Bromium's vSentry and profiller,
# an embedded WebKit with a bare name and Safari's token). Since its fix (a WebKit version that
# never shipped is a contradiction) Bromium's is a machine; left is profiller, QtWebKit's default
# agent, which KMail 2's shares.
FRESH8_PEOPLE_SHOWN_AS_MACHINES = 0
FRESH8_MACHINES_SHOWN_AS_PEOPLE = 1
LABELS = {
    "fresh": {"person", "crawler"},
    "fresh2": {"person", "preview", "crawler"},
    "fresh3": {"person", "preview", "crawler"},
    "fresh4": {"person", "preview", "crawler"},
    "fresh5": {"person", "preview", "crawler"},
    "fresh6": {"person", "preview", "crawler"},
    "fresh7": {"person", "crawler"},
    "fresh8": {"person", "crawler"},
}


def test_corpus_is_big_split_and_sourced() -> None:
    cases = {part: load(part) for part in PARTS}
    assert sum(len(c) for c in cases.values()) >= 300
    # fresh8 was read file by file (its source is too big to fetch here): smaller, on purpose.
    assert all(len(c) >= (100 if part == "fresh8" else 150) for part, c in cases.items())
    for part in PARTS:
        labels = {c["label"] for c in cases[part]}
        assert labels == LABELS.get(part, set(CATEGORIES))
        assert all(c["source"] and c["ua"] is not None for c in cases[part])
    ids = [c["id"] for part in PARTS for c in cases[part]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("part", PARTS)
def test_every_category_is_on_the_right_side_of_person_or_machine(part: str) -> None:
    score = tracking_matrix((part,), echo=False)[part]
    for label in {c["label"] for c in load(part)}:
        assert score.side_accuracy(label) >= SIDE_FLOOR[part], (label, score.harmful)
    assert score.accuracy() >= CATEGORY_FLOOR[part]


@pytest.mark.parametrize("part", ("tuning", "held_out"))
def test_no_harmful_mistake_in_either_part(part: str) -> None:
    # A known mail client shown as a machine, or a scanner, preview, crawler or Apple's proxy
    # shown as a person: each is named, so a rule change that brings one back fails here.
    score = tracking_matrix((part,), echo=False)[part]
    assert [case["id"] for case, _ in score.harmful] == []


def test_the_fresh_part_shows_no_person_as_a_machine_and_no_more_machines_as_people() -> None:
    score = tracking_matrix(("fresh",), echo=False)["fresh"]
    people_lost = [case["id"] for case, _ in score.harmful if case["label"] == "person"]
    assert people_lost == []
    assert len(score.harmful) <= FRESH_MACHINES_SHOWN_AS_PEOPLE


def test_fresh2_shows_no_more_people_as_machines_or_machines_as_people_than_after_its_fix() -> None:
    score = tracking_matrix(("fresh2",), echo=False)["fresh2"]
    people_lost = [case["id"] for case, _ in score.harmful if case["label"] == "person"]
    machines_shown = [case["id"] for case, _ in score.harmful if case["label"] != "person"]
    assert len(people_lost) <= FRESH2_PEOPLE_SHOWN_AS_MACHINES, people_lost
    assert len(machines_shown) <= FRESH2_MACHINES_SHOWN_AS_PEOPLE, machines_shown


def test_fresh3_shows_no_more_people_as_machines_or_machines_as_people_than_it_first_did() -> None:
    score = tracking_matrix(("fresh3",), echo=False)["fresh3"]
    people_lost = [case["id"] for case, _ in score.harmful if case["label"] == "person"]
    machines_shown = [case["id"] for case, _ in score.harmful if case["label"] != "person"]
    assert len(people_lost) <= FRESH3_PEOPLE_SHOWN_AS_MACHINES, people_lost
    assert len(machines_shown) <= FRESH3_MACHINES_SHOWN_AS_PEOPLE, machines_shown


def test_fresh4_shows_no_person_as_a_machine_and_no_more_machines_as_people_than_after_its_fix() -> (
    None
):
    score = tracking_matrix(("fresh4",), echo=False)["fresh4"]
    people_lost = [case["id"] for case, _ in score.harmful if case["label"] == "person"]
    machines_shown = [case["id"] for case, _ in score.harmful if case["label"] != "person"]
    assert len(people_lost) <= FRESH4_PEOPLE_SHOWN_AS_MACHINES, people_lost
    assert len(machines_shown) <= FRESH4_MACHINES_SHOWN_AS_PEOPLE, machines_shown


def test_fresh5_shows_no_person_as_a_machine_and_no_machine_as_a_person_after_its_fix() -> None:
    score = tracking_matrix(("fresh5",), echo=False)["fresh5"]
    people_lost = [case["id"] for case, _ in score.harmful if case["label"] == "person"]
    machines_shown = [case["id"] for case, _ in score.harmful if case["label"] != "person"]
    assert len(people_lost) <= FRESH5_PEOPLE_SHOWN_AS_MACHINES, people_lost
    assert len(machines_shown) <= FRESH5_MACHINES_SHOWN_AS_PEOPLE, machines_shown


def test_fresh6_shows_no_person_as_a_machine_and_no_more_machines_as_people_after_its_fix() -> None:
    score = tracking_matrix(("fresh6",), echo=False)["fresh6"]
    people_lost = [case["id"] for case, _ in score.harmful if case["label"] == "person"]
    machines_shown = [case["id"] for case, _ in score.harmful if case["label"] != "person"]
    assert len(people_lost) <= FRESH6_PEOPLE_SHOWN_AS_MACHINES, people_lost
    assert len(machines_shown) <= FRESH6_MACHINES_SHOWN_AS_PEOPLE, machines_shown


def test_fresh8_shows_no_mail_client_or_proxy_as_a_machine_and_no_more_machines_as_people() -> None:
    score = tracking_matrix(("fresh8",), echo=False)["fresh8"]
    people_lost = [case["id"] for case, _ in score.harmful if case["label"] == "person"]
    machines_shown = [case["id"] for case, _ in score.harmful if case["label"] != "person"]
    assert len(people_lost) <= FRESH8_PEOPLE_SHOWN_AS_MACHINES, people_lost
    assert len(machines_shown) <= FRESH8_MACHINES_SHOWN_AS_PEOPLE, machines_shown


def test_fresh8_was_built_from_a_source_no_earlier_part_or_rule_used() -> None:
    # Blind only if nothing it holds was read before: its agents and its repository are new, and
    # no rule list was taken from it; it is centred on mail clients and webmail image proxies.
    before = {c["ua"] for part in PARTS if part != "fresh8" for c in load(part)}
    fresh8 = load("fresh8")
    assert len(fresh8) >= 100
    assert sum(c["label"] == "person" for c in fresh8) >= 70
    assert sum("(pim: " in c["source"] or "(email-client: " in c["source"] for c in fresh8) >= 45
    assert sum("image proxy" in c["source"] for c in fresh8) >= 3
    assert sum(c["label"] != "person" for c in fresh8) >= 30
    assert not {c["ua"] for c in fresh8} & before
    assert all(
        c["source"].startswith("github.com/mimmi20/browser-detector tests/data/") for c in fresh8
    )
    names = re.compile(r"mimmi20|browser-detector", re.IGNORECASE)
    assert not any(names.search(c["source"]) for p in PARTS if p != "fresh8" for c in load(p))
    rules = (ROOT / "sequences" / "data").glob("*.*")
    assert not any(names.search(f.read_text(encoding="utf-8")) for f in rules if f.is_file())


def test_fresh7_shows_no_person_as_a_machine_and_no_machine_as_a_person() -> None:
    score = tracking_matrix(("fresh7",), echo=False)["fresh7"]
    people_lost = [case["id"] for case, _ in score.harmful if case["label"] == "person"]
    machines_shown = [case["id"] for case, _ in score.harmful if case["label"] != "person"]
    assert len(people_lost) <= FRESH7_PEOPLE_SHOWN_AS_MACHINES, people_lost
    assert len(machines_shown) <= FRESH7_MACHINES_SHOWN_AS_PEOPLE, machines_shown


def test_fresh7_was_built_from_sources_no_earlier_part_or_rule_used() -> None:
    # Blind only if nothing it holds was read before: its agents and its four repositories are
    # new, and no rule list was taken from them.
    before = {c["ua"] for part in PARTS if part != "fresh7" for c in load(part)}
    fresh7 = load("fresh7")
    assert len(fresh7) >= 200
    assert sum(c["label"] == "person" for c in fresh7) >= 120
    assert sum(c["label"] != "person" for c in fresh7) >= 75
    assert not {c["ua"] for c in fresh7} & before
    sources = (
        "github.com/microlinkhq/top-user-agents ",
        "github.com/serbanghita/Mobile-Detect ",
        "github.com/woothee/woothee ",
        "github.com/lancedikson/bowser ",
    )
    assert all(c["source"].startswith(sources) for c in fresh7)
    names = re.compile(r"top-user-agents|microlink|Mobile-?Detect|woothee|bowser", re.IGNORECASE)
    assert not any(names.search(c["source"]) for p in PARTS if p != "fresh7" for c in load(p))
    rules = (ROOT / "sequences" / "data").glob("*.*")
    assert not any(names.search(f.read_text(encoding="utf-8")) for f in rules if f.is_file())


def test_fresh6_was_built_from_sources_no_earlier_part_or_rule_used() -> None:
    # Blind only if nothing it holds was read before: its agents and its two repositories are
    # new, and no rule list was taken from them.
    before = {c["ua"] for part in PARTS if part != "fresh6" for c in load(part)}
    fresh6 = load("fresh6")
    assert len(fresh6) >= 250
    assert sum(c["label"] == "person" for c in fresh6) >= 35
    mail = re.compile(
        r"\(app:email,|isbot fixtures/browsers\.yml @\w+ \((?:Microsoft )?(?:Outlook|Postbox|Thunderbird)"
    )
    assert sum(bool(mail.search(c["source"])) for c in fresh6) >= 10
    assert not {c["ua"] for c in fresh6} & before
    sources = ("github.com/WhichBrowser/Parser ", "github.com/omrilotan/isbot fixtures/")
    assert all(c["source"].startswith(sources) for c in fresh6)
    assert not any("fixtures/downloaded" in c["source"] for c in fresh6)  # other lists' copies
    names = re.compile(r"whichbrowser|omrilotan|\bisbot\b", re.IGNORECASE)
    assert not any(names.search(c["source"]) for p in PARTS if p != "fresh6" for c in load(p))
    rules = (ROOT / "sequences" / "data").glob("*.*")
    assert not any(names.search(f.read_text(encoding="utf-8")) for f in rules if f.is_file())


def test_fresh5_was_built_from_a_source_no_earlier_part_or_rule_used() -> None:
    # Blind only if nothing it holds was read before: its agents and its repository are new,
    # and no rule list was taken from it.
    before = {c["ua"] for part in PARTS if part != "fresh5" for c in load(part)}
    fresh5 = load("fresh5")
    assert len(fresh5) >= 300
    assert sum(c["label"] == "person" for c in fresh5) >= 120
    assert sum("(Email Client," in c["source"] for c in fresh5) >= 40
    assert not {c["ua"] for c in fresh5} & before
    assert all(c["source"].startswith("github.com/nielsbasjes/yauaa ") for c in fresh5)
    assert not any("yauaa" in c["source"] for p in PARTS if p != "fresh5" for c in load(p))
    rules = (ROOT / "sequences" / "data").glob("*.y*ml")
    assert not any("yauaa" in f.read_text(encoding="utf-8").lower() for f in rules)


def test_fresh4_was_built_from_a_source_no_earlier_part_or_rule_used() -> None:
    # Blind only if nothing it holds was read before: its agents and its repository are new,
    # and no rule list was taken from it.
    before = {c["ua"] for part in PARTS if part != "fresh4" for c in load(part)}
    fresh4 = load("fresh4")
    assert len(fresh4) >= 300
    assert sum(c["label"] == "person" for c in fresh4) >= 120
    assert sum("(Email Client:" in c["source"] for c in fresh4) >= 40
    assert not {c["ua"] for c in fresh4} & before
    assert all(c["source"].startswith("github.com/browscap/browscap ") for c in fresh4)
    assert not any("browscap" in c["source"] for p in PARTS if p != "fresh4" for c in load(p))
    rules = (ROOT / "sequences" / "data").glob("*.y*ml")
    assert not any("browscap" in f.read_text(encoding="utf-8").lower() for f in rules)


def test_fresh3_was_built_from_a_source_no_earlier_part_used() -> None:
    # A held-out part measures blind only if nothing it holds was read before: its agents and
    # its source repository are new.
    before = {c["ua"] for part in PARTS if part not in ("fresh3", "fresh4") for c in load(part)}
    fresh3 = load("fresh3")
    assert not {c["ua"] for c in fresh3} & before
    assert all(c["source"].startswith("github.com/faisalman/ua-parser-js ") for c in fresh3)
    assert not any("ua-parser-js" in c["source"] for p in PARTS if p != "fresh3" for c in load(p))


# What issue 17 names, each as the corpus holds it: (what, label, a test on the case).
NAMED = [
    ("Outlook for iOS", "person", lambda c: "Outlook-iOS/" in c["ua"]),
    ("Outlook for iOS's in-app WebKit", "person", lambda c: "Outlook-iOS-Android/" in c["ua"]),
    (
        "Outlook for Mac",
        "person",
        lambda c: re.search(r"MacOutlook/|^Outlook/.*CFNetwork", c["ua"]),
    ),
    ("Airmail", "person", lambda c: c["ua"].startswith("Airmail ")),
    (
        "Apple's bare WebKit seconds after delivery",
        "apple_privacy",
        lambda c: (
            c["ua"].startswith("Mozilla/5.0 (") and c["since"] < 60 and "Safari" not in c["ua"]
        ),
    ),
    (
        "Trident on Mac OS X",
        "scanner",
        lambda c: re.search(r"Trident/.*Mac OS X|Mac.*Trident/", c["ua"]),
    ),
    (
        "ancient MSIE",
        "scanner",
        lambda c: re.search(r"MSIE [1-8]\.", c["ua"]) and c["kind"] == "click",
    ),
    ("Viber's preview", "preview", lambda c: "Viber" in c["ua"]),
    (
        "two links within a second",
        "scanner",
        lambda c: any(h.get("ago", 9) < 1 for h in c.get("history") or []),
    ),
    (
        "a click after a machine open",
        "person",
        lambda c: any(h["verdict"] == "machine" for h in c.get("history") or []),
    ),
]


@pytest.mark.parametrize(("what", "label", "matches"), NAMED, ids=[n[0] for n in NAMED])
def test_every_case_the_issue_names_is_in_the_corpus_and_on_the_right_side(
    what: str, label: str, matches: object
) -> None:
    cases = [
        c
        for part in PARTS
        for c in load(part)
        if c["label"] == label and matches(c)  # type: ignore[operator]
    ]
    assert cases, f"no {what} case in the corpus"
    # The side a rep sees: a person as a person, a machine as some machine.
    shown = {c["id"]: category(judge(c)) for c in cases}
    wrong = {i: seen for i, seen in shown.items() if (seen == "person") != (label == "person")}
    assert wrong == {}, what


def test_fresh2s_labels_read_again_carry_their_reason_and_are_only_those_its_builder_names() -> (
    None
):
    from bench.tracking_fresh2_build import RELABELLED

    relabelled = [c for c in load("fresh2") if "relabelled" in c["source"]]
    assert {c["ua"] for c in relabelled} == set(RELABELLED)
    for case in relabelled:
        label, why = RELABELLED[case["ua"]]
        assert case["label"] == label and why in case["source"] and "uap-core's family" in why
