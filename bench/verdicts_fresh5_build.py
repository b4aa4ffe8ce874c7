"""Build the fifth fresh inbound part (tests/data/verdicts/inbound_fresh5/): blind, from sources nothing read.

The fourth fresh part was tuned on after its one blind run (issue 17), so this part measures the
rules blind again. Its five repositories are ones no earlier part used (those used sisimai,
mikel/mail, talon, zapier/email-reply-parser, mail-parser-reply, flufl.bounce, flanker,
PHP-Bounce-Handler, Mail-DeliveryStatus-BounceParser, MimeKit, php-mime-mail-parser,
django-mailbox, mitio/bounce_email, jhillyerd/enmime, nodemailer/mailparser,
SpamScope/mail-parser, postalserver/postal, redmine/redmine and willdurand/EmailReplyParser):

- apache/spamassassin `t.rules/BOUNCE_MESSAGE/` (Apache-2.0): bounces users sent to SpamAssassin's
  bug tracker as samples for its bounce rules (qmail, Postfix, Exchange, Exim delay warnings,
  an iMail/SMTP32 full mailbox, Sendmail); `t/data/nice/` (Apache-2.0): people's messages
  (Nathaniel Borenstein's 1991 MIME samples, a Polish Outlook Express mail, Chinese and Japanese
  list replies); `t.rules/*/fp*` (Apache-2.0): real mail users sent as false positives of its
  rules (Outlook Express and Outlook replies in English and German, an Exchange out-of-office in
  GB2312 base64);
- bestpractical/rt `t/data/emails/` (GPL-2.0): people's mail sent to RT queues (Exchange's
  Internet Mail Service HTML only and multipart, Eudora, Mulberry, KMail, Gnus, Apple Mail;
  German, Norwegian, Russian) and a Sendmail bounce;
- djcb/mu `testdata/` (GPL-3.0): people's list posts (Gnus, slrn, Thunderbird, Apple Mail, KMail)
  kept with their real bodies (the source replaced the senders with anon@example.com);
- notmuch/notmuch `test/corpora/default/` and `lkml/` (GPL-3.0): people's posts and replies to
  the notmuch and kernel lists (Mutt, Gnus, Claws, Thunderbird, Notmuch, Lotus Notes, MH-E,
  Alpine, Wanderlust; French);
- RotherOSS/otobo `scripts/test/sample/` (GPL-3.0): mail sent to the helpdesk (Outlook, mutt-ng,
  GroupWise, Apple Mail; German, Dutch) and a Postfix bounce.

Run once by hand with the git directories of the five repositories (the `fetch` tool's mirrors):

    python bench/verdicts_fresh5_build.py --spamassassin P --rt P --mu P --notmuch P --otobo P

Each message is copied byte for byte. Labels were written by reading each message as a careful
rep would, before the classifier read any of them (this script does not import it):

- bounces: the report's own RFC 3464 `Status:` decides (5.x.x `bounce_hard`, 4.x.x
  `bounce_soft`), as in the earlier parts; with none, the reading written beside each file: an
  SMTP 5xx reply or a wording that says the address or domain is dead is hard; a full mailbox
  with no 5.x.x, a delay warning or a 4xx is soft (RFC 3463 X.2.2, X.4.x);
- machine mail that is neither a bounce nor a complaint (out-of-office replies): `auto_reply`;
- people's messages (a person writing from their own address with a mail client): `reply`.

Left out, by rule: bounce reports about a mail loop (qmail's #5.4.6 "message is looping") or
qmail's vpopmail "user does not exist, but will deliver to" (neither says the address is dead or
alive), a second copy of one report (`fp_bug5912_att4322`), challenge-response and Sieve reject
mails, read receipts, list notices, newsletters, calendar and bug-tracker notifications,
antivirus and RBL notices (another verdict's part or no verdict), the libraries' synthetic
two-line test mails (SpamAssassin's whitelist cases, mu's "Bob"/"Socrates" mails, RT's
lorem-ipsum, OTOBO's "Skywalker" test 1 mails), a second copy of one reply (SpamAssassin's
`fp-bug5919-1`; notmuch's `cur/51:2,`, a byte copy of `bar/18:2,`, found after the blind
run), patches mailed to a list, spam, and messages with no From.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.verdicts_build_common import bounce_label, dsn_status, git_show, run_builder

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "verdicts" / "inbound_fresh5"

# key: (github owner/name, commit, file prefix)
SOURCES = {
    "spamassassin": ("apache/spamassassin", "f7fe7b82a2db63ee1406d74d88ce564b69881954", "sa"),
    "rt": ("bestpractical/rt", "72106ba9935f3a2bab3d55572066cbfbbdc7f9ab", "rt"),
    "mu": ("djcb/mu", "1a99e705a3cc6303b84b47e30cd312d64d8639f6", "mu"),
    "notmuch": ("notmuch/notmuch", "fdc9c75388b1ed12662e1cdb73b48b6d809ef5d8", "nm"),
    "otobo": ("RotherOSS/otobo", "9f0e4d921d0b6458275e68e50ebb882ac48a9261", "otobo"),
}

HARD, SOFT, AUTO, REPLY = "bounce_hard", "bounce_soft", "auto_reply", "reply"
B = "t.rules/BOUNCE_MESSAGE/"
MU = "testdata/testdir/"
NM = "test/corpora/default/"
LK = "test/corpora/lkml/cur/"
FMO = "t.rules/FORGED_MUA_OUTLOOK/"
OT = "scripts/test/sample/"

# (source, path, label, why): read by hand. For a bounce the report's own Status field, when it
# has one, overrides the label (and the builder says so); the why is then that status.
LABELS: list[tuple[str, str, str, str]] = [
    # spamassassin: bounces
    ("spamassassin", B + "1", SOFT, 'SMTP32 "User mailbox exceeds allowed size" (full, X.2.2)'),
    ("spamassassin", B + "2", HARD, 'qmail: "This address no longer accepts mail."'),
    ("spamassassin", B + "3", HARD, 'qmail: "couldn\'t find any host named" (#5.1.2)'),
    (
        "spamassassin",
        B + "7",
        HARD,
        "qmail quoting 550 5.1.1 User unknown in virtual mailbox table",
    ),
    ("spamassassin", B + "14", HARD, "Exchange DSN: Status 5.1.1"),
    ("spamassassin", B + "bug-5942-1", SOFT, "Exim: delayed 24 hours, 452 4.2.2 Over quota"),
    ("spamassassin", B + "bug-5942-2", SOFT, 'Exim: delayed 48 hours, "mailbox is full"'),
    ("spamassassin", B + "bug5884_att4343_2", HARD, "Exchange DSN: Status 5.2.2"),
    (
        "spamassassin",
        B + "bug5884_att4343_centroshop",
        HARD,
        "Postfix: 550 Recipient address rejected: User unknown in local recipient table",
    ),
    ("spamassassin", B + "bug5884_att4343_tbwamerlin", HARD, "Exchange DSN: Status 5.1.1"),
    ("spamassassin", B + "fp_bug5912_att4321", HARD, "Postfix quoting 553 5.3.0 Addressee unknown"),
    # spamassassin: people
    ("spamassassin", "t/data/nice/004", REPLY, "a person's Polish Outlook Express mail"),
    ("spamassassin", "t/data/nice/cjk/gb2312.2", REPLY, "a person's Chinese RE: on a list"),
    ("spamassassin", "t/data/nice/cjk/iso-2022-jp.2", REPLY, "a person's Japanese Re: (Mew)"),
    ("spamassassin", "t/data/nice/mime1", REPLY, "Nathaniel Borenstein's Re: (MIME sample)"),
    ("spamassassin", "t/data/nice/mime2", REPLY, "Nathaniel Borenstein's Re: multipart mail"),
    ("spamassassin", "t/data/nice/mime3", REPLY, "a person's MIME sample message"),
    ("spamassassin", "t/data/nice/mime4", REPLY, "Stephen Uhler's note with a digitized image"),
    ("spamassassin", "t/data/nice/mime6", REPLY, "a person's note with an image"),
    ("spamassassin", "t/data/nice/mime7", REPLY, "a person's note with audio in q-p"),
    ("spamassassin", "t/data/nice/mime8", REPLY, "Mark Crispin's note forwarding MIME samples"),
    ("spamassassin", "t/data/nice/mime9", REPLY, "a person's AOL Fwd: of a forwarded mail"),
    # spamassassin: real mail its users sent as false positives of rules (ham)
    (
        "spamassassin",
        FMO + "fp-5496-1",
        REPLY,
        "a person's Outlook Express Re: (Kerberos question)",
    ),
    ("spamassassin", FMO + "fp-5496-2", REPLY, "a person's long Outlook Express Re: (review)"),
    (
        "spamassassin",
        FMO + "fp-5496-3",
        REPLY,
        "a person's Outlook Express Re: to a support ticket",
    ),
    ("spamassassin", FMO + "fp-5946-1", REPLY, "a person's Outlook Express Re:"),
    ("spamassassin", FMO + "fp14", REPLY, 'a person\'s Outlook "Hi there!  Thanks" RE:'),
    (
        "spamassassin",
        FMO + "fp15",
        REPLY,
        "a person's German Outlook Express Re: (Urspruengliche Nachricht)",
    ),
    ("spamassassin", FMO + "fp7", REPLY, "a person's Outlook Express post to a list"),
    ("spamassassin", "t.rules/HELO_DYNAMIC_HCC/fp-bug5747-1", REPLY, "a person's short question"),
    (
        "spamassassin",
        "t.rules/MIME_BASE64_TEXT/fp-bug-5909",
        AUTO,
        'Exchange "Out of Office AutoReply:" subject, "I am out of office till May 23" (base64 GB2312)',
    ),
    # rt: people and a bounce
    ("rt", "t/data/emails/multipart-report", HARD, "Sendmail DSN: Status 5.1.1 User unknown"),
    (
        "rt",
        "t/data/emails/multipart-alternative-with-umlaut",
        REPLY,
        "a person's German RE: (Exchange Internet Mail Service, multipart)",
    ),
    (
        "rt",
        "t/data/emails/text-html-with-umlaut",
        REPLY,
        "a person's German mail, HTML only (Exchange Internet Mail Service)",
    ),
    ("rt", "t/data/emails/new-ticket-from-iso-8859-1", REPLY, "a person's Norwegian Re: (Eudora)"),
    ("rt", "t/data/emails/russian-subject-no-content-type", REPLY, "a person's Russian mail"),
    ("rt", "t/data/emails/nested-rfc-822", REPLY, "a person forwarding his Gnus Re: (Swedish)"),
    ("rt", "t/data/emails/crashes-file-based-parser", REPLY, "a person's KMail Fwd: of a ticket"),
    ("rt", "t/data/emails/email-file-attachment.eml", REPLY, "a person's Apple Mail message"),
    ("rt", "t/data/emails/8859-15-message-series/msg1", REPLY, "a person's Mulberry test mail"),
    ("rt", "t/data/emails/8859-15-message-series/dir", REPLY, "a person's Mulberry Re: on a list"),
    ("rt", "t/data/emails/notes-uuencoded", REPLY, "a person's mail with uuencoded notes"),
    # otobo: mail sent to a helpdesk
    ("otobo", OT + "PostMaster/PostMaster-Test10.box", HARD, "Postfix DSN: Status 5.0.0, 550"),
    ("otobo", OT + "PostMaster/PostMaster-Test6.box", REPLY, "a person's German Outlook mail"),
    ("otobo", OT + "PostMaster/PostMaster-Test5.box", REPLY, "a person's German mutt-ng mail"),
    (
        "otobo",
        OT + "PostMaster/PostMaster-Test9.box",
        REPLY,
        "a person's GroupWise mail with a PDF order",
    ),
    ("otobo", OT + "PostMaster/PostMaster-Test16.box", REPLY, "a person's Apple Mail message"),
    ("otobo", OT + "PostMaster/PostMaster-Test20.box", REPLY, "a person's Outlook FW:"),
    (
        "otobo",
        OT + "EmailParser/NestedMessage-Test1.box",
        REPLY,
        "a person's Outlook mail about a bug",
    ),
    (
        "otobo",
        OT + "EmailParser/Win7SnippingTool.box",
        REPLY,
        "a person's German Snipping Tool mail",
    ),
    (
        "otobo",
        OT + "EmailParser/MultipartMixedHTMLPlain.eml",
        REPLY,
        "a person's Fwd:, HTML first (Dutch)",
    ),
    # mu: people's list posts
    ("mu", MU + "cur/1220863042.12663_1.mindcrime!2,S", REPLY, "a person's question to gcc-help"),
    ("mu", MU + "cur/1220863060.12663_3.mindcrime!2,S", REPLY, "a person's Re: on sqlite-dev"),
    ("mu", MU + "cur/1220863087.12663_15.mindcrime!2,PS", REPLY, "a person's Gnus Re:"),
    ("mu", MU + "cur/1220863087.12663_19.mindcrime!2,S", REPLY, "a person's slrn Re:"),
    ("mu", MU + "cur/1220863087.12663_5.mindcrime!2,S", REPLY, "a person's Apple Mail post"),
    ("mu", MU + "cur/1220863087.12663_7.mindcrime!2,RS", REPLY, "a person's Thunderbird Re:"),
    ("mu", MU + "new/1220863087.12663_21.mindcrime", REPLY, "a person's KMail Re:"),
    ("mu", MU + "new/1220863087.12663_23.mindcrime", REPLY, "a person's Re: on help-gnu-emacs"),
    ("mu", MU + "new/1220863087.12663_25.mindcrime", REPLY, "a person's Gnus (Windows) Re:"),
    ("mu", MU + "new/1220863087.12663_9.mindcrime", REPLY, "a person's Re: on sqlite-dev"),
    ("mu", MU + "cur/1252168370_3.14675.cthulhu!2,S", REPLY, "a person's Thunderbird Re:"),
    ("mu", "testdata/testdir2/bar/cur/181736.eml", REPLY, "a person's Usenet-style Re:"),
    # notmuch: people's posts and replies
    ("notmuch", NM + "foo/new/03:2,", REPLY, "a person's Mutt question"),
    ("notmuch", NM + "new/04:2,", REPLY, "a person's Gnus Re:"),
    ("notmuch", NM + "bar/baz/05:2,", REPLY, "a person's post (FreeBSD support)"),
    ("notmuch", NM + "foo/06:2,", REPLY, "a person's short reply"),
    ("notmuch", NM + "foo/cur/08:2,", REPLY, "a person's Mutt Re:"),
    ("notmuch", NM + "foo/new/09:2,", REPLY, "a person's reply on Maildir storage"),
    ("notmuch", NM + "foo/baz/12:2,", REPLY, "a person's reply on Maildir storage"),
    ("notmuch", NM + "foo/baz/new/15:2,", REPLY, 'a person\'s "What a great idea!"'),
    ("notmuch", NM + "foo/baz/new/16:2,", REPLY, "a person's follow-up"),
    ("notmuch", NM + "bar/17:2,", REPLY, "a person introducing himself"),
    ("notmuch", NM + "bar/18:2,", REPLY, "a person's one-line question"),
    ("notmuch", NM + "bar/cur/20:2,", REPLY, "a person's Claws Mail introduction"),
    ("notmuch", NM + "bar/new/22:2,", REPLY, "a person's Mutt Re:"),
    ("notmuch", NM + "bar/baz/23:2,", REPLY, "a person's Mutt question"),
    ("notmuch", NM + "bar/baz/24:2,", REPLY, "a person's Mutt Re: with quoted text"),
    ("notmuch", NM + "bar/baz/new/27:2,", REPLY, "a person new to the list"),
    ("notmuch", NM + "bar/baz/new/28:2,", REPLY, "a person introducing himself"),
    ("notmuch", NM + "cur/29:2,", REPLY, "a person's reply on archiving"),
    ("notmuch", NM + "cur/31:2,", REPLY, "a person's Mac OS X question"),
    ("notmuch", NM + "cur/33:2,", REPLY, "a person's Yahoo mail question"),
    ("notmuch", NM + "cur/34:2,", REPLY, "a person's reply"),
    ("notmuch", NM + "cur/35:2,", REPLY, "a person's reply"),
    ("notmuch", NM + "cur/36:2,", REPLY, "a person's reply"),
    ("notmuch", NM + "cur/37:2,", REPLY, "a person's request for pull"),
    ("notmuch", NM + "cur/41:2,", REPLY, "a person's reply on Maildir storage"),
    ("notmuch", NM + "cur/43:2,", REPLY, "a person's reply on archiving"),
    ("notmuch", NM + "cur/45:2,", REPLY, 'a person\'s reply "What a great idea!"'),
    ("notmuch", NM + "cur/46:2,", REPLY, "a person's welcome reply"),
    ("notmuch", NM + "cur/47:2,", REPLY, "a person's long welcome reply"),
    ("notmuch", NM + "cur/52:2,", REPLY, "a person's Thunderbird Re: (French name)"),
    ("notmuch", NM + "cur/53:2,", REPLY, "a person's French test mail (Notmuch)"),
    # notmuch: people's replies on the kernel list (the lkml corpus)
    ("notmuch", LK + "1382298770.003171:2,", REPLY, "a person's Lotus Notes Re: (HTML quoting)"),
    ("notmuch", LK + "1382298775.002830:2,", REPLY, "a person's MH-E Re:"),
    ("notmuch", LK + "1382298775.004374:2,", REPLY, "a person's Outlook-style RE:"),
    ("notmuch", LK + "1382298793.003501:2,", REPLY, "a person's Alpine Re:"),
    ("notmuch", LK + "1382298795.001362:2,", REPLY, "a person's Wanderlust Re:"),
    ("notmuch", LK + "1382298770.001887:2,", REPLY, "a person's Claws Mail Re:"),
    ("notmuch", LK + "1382298793.003231:2,", REPLY, "a person's Mutt Re:"),
]


def _entry(prefix: str, path: str, label: str, why: str, source: str, raw: bytes) -> dict[str, Any]:
    stem = path.rsplit("/", 1)[-1]
    for ext in (".eml", ".txt"):
        stem = stem.removesuffix(ext)
    parent = path.rsplit("/", 2)[-2]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{parent}_{stem}").strip("_")
    return {
        "file": f"{prefix}_{stem}.eml",
        "expected": label,
        "source": source,
        "why": why,
        "_raw": raw,
    }


def build(dirs: dict[str, Path]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for key, path, label, why in LABELS:
        repo, commit, prefix = SOURCES[key]
        raw = git_show(dirs[key], commit, path)
        assert len(raw) < 300_000, path
        if label in (HARD, SOFT):
            status = dsn_status(raw)
            if status:
                by_status = bounce_label(status, False)
                if by_status != label:
                    print(f"{prefix} {path}: read {label}, its Status {status} says {by_status}")
                label, why = by_status, f"the report's Status: {status} ({why})"
        source = f"{repo} {path} @{commit[:10]}"
        entries.append(_entry(prefix, path, label, why, source, raw))
    names = [e["file"] for e in entries]
    assert len(names) == len(set(names)), "two files would share a name"
    assert len({e["_raw"] for e in entries}) == len(entries), "one message is there twice"
    return entries


HEADER = """\
# Fifth fresh part of real inbound mail: copied byte for byte (see README.md), labelled by
# reading each message (bench/verdicts_fresh5_build.py) BEFORE the classifier ever ran on it,
# measured once, blind (docs/inbound.md).
# expected: reply | unsubscribe | unsubscribe-needs-confirmation | auto_reply | bounce_hard | bounce_soft
"""


def main(argv: list[str]) -> None:
    run_builder(argv, SOURCES, OUT, HEADER, build)


if __name__ == "__main__":
    main(sys.argv[1:])
