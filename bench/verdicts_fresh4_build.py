"""Build the fourth fresh inbound part (tests/data/verdicts/inbound_fresh4/): blind, from sources nothing read.

The third fresh part was tuned on after its one blind run (issue 17), so this part measures the
rules blind again. Its seven repositories are ones no earlier part used (those used sisimai,
mikel/mail, talon, zapier/email-reply-parser, mail-parser-reply, flufl.bounce, flanker,
PHP-Bounce-Handler, Mail-DeliveryStatus-BounceParser, MimeKit, php-mime-mail-parser and
django-mailbox):

- mitio/bounce_email `test/` (MIT): real bounces a Latvian sender got (Postfix, qmail, Gmail,
  CommuniGate, Lotus Domino, Exchange 5.5 and 2010, sendmail, MailSite), an Exchange and a Gmail
  out-of-office;
- jhillyerd/enmime `dsn/testdata/` (MIT): delivery reports (RFC 3464's own examples, an Exchange
  NDR); nodemailer/mailparser `test/fixtures/` (MIT): an Amazon SES report; SpamScope/mail-parser
  `tests/mails/` (Apache-2.0): a MailSite full-mailbox report; postalserver/postal `resource/`
  (MIT): a Postfix bounce as Office 365 delivered it;
- redmine/redmine `test/fixtures/mail_handler/` (GPL-2.0): people's messages from Outlook 2010
  (HTML only), Outlook Web Access (HTML only), Outlook Express, Thunderbird, Apple Mail, Gmail,
  Evolution (S/MIME), in Croatian, Korean, Russian, Japanese, German;
- willdurand/EmailReplyParser `tests/Fixtures/` (MIT): people's replies, BODIES ONLY (iPhone,
  BlackBerry, Windows 10 Mail, Outlook, Zimbra; French, Hungarian). These files have no header,
  so each body is wrapped, byte for byte, in headers written here (a prospect answering the
  rep's mail: From, To, Subject "Re: ...", In-Reply-To, a plain-text UTF-8 body); the manifest's
  source says `wrapped`. Only their words are real.

Run once by hand with the git directories of the seven repositories (the `fetch` tool's mirrors):

    python bench/verdicts_fresh4_build.py --bounce_email P --enmime P --mailparser P \
        --spamscope P --postal P --redmine P --erp P

Each other message is copied byte for byte. Labels were written by reading each message as a
careful rep would, before the classifier read any of them (this script does not import it):

- bounces: the report's own RFC 3464 `Status:` decides (5.x.x `bounce_hard`, 4.x.x
  `bounce_soft`), as in the earlier parts; with none, the reading written beside each file: an
  SMTP 5xx reply, a wording that says the address or domain is dead, or Gmail's "failed
  permanently" (it gave up) is hard; a full mailbox with no 5.x.x, a delay warning or a 4xx is
  soft (RFC 3463 X.2.2, X.4.x);
- machine mail that is neither a bounce nor a complaint (out-of-office replies): `auto_reply`;
- people's messages (a person writing from their own address with a mail client): `reply`.

Left out, by rule: copies and repeats of one report shape from one server (bounce_email's
`tt_bounce_02`, `_04`, `_09`, `_16`; enmime's `simple_dsn_with_html`), reports about the message
or the sender rather than the address (apollo.lv's "Messages without To: fields are not accepted
here", Gmail's DNSBL block), read receipts, list notices and challenge-response mails (another
verdict's part), a newsletter (`tt_1234241664`, `no_subject`), messages with no From or from the
tracker's own address, TNEF-only or empty bodies, the library's synthetic two-line test mails,
spam, and willdurand's lorem-ipsum fixtures and the ones whose body holds MIME headers.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.verdicts_build_common import bounce_label, dsn_status, git_show, run_builder

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "verdicts" / "inbound_fresh4"

# key: (github owner/name, commit, folder, file prefix)
SOURCES = {
    "bounce_email": (
        "mitio/bounce_email",
        "ae6618ebf001643dad177c3e2cdc319459f9cfdf",
        "test/",
        "be",
    ),
    "enmime": (
        "jhillyerd/enmime",
        "0d919cc223e9cb6c2d45d6c653e7a64156006351",
        "dsn/testdata/",
        "enmime",
    ),
    "mailparser": (
        "nodemailer/mailparser",
        "bb1881eb35c0d406c68c8613443827ccbad00065",
        "test/fixtures/",
        "nm",
    ),
    "spamscope": (
        "SpamScope/mail-parser",
        "01c177fecddd9db1def23ba509ab31b12ab4fbc5",
        "tests/mails/",
        "ss",
    ),
    "postal": (
        "postalserver/postal",
        "8ef89606bc34146fffba77a604dd824e6b1cdcc2",
        "resource/",
        "postal",
    ),
    "redmine": (
        "redmine/redmine",
        "890812e49cc60e96c7c252b7dedbd881a4edba55",
        "test/fixtures/mail_handler/",
        "rm",
    ),
    "erp": (
        "willdurand/EmailReplyParser",
        "f25f8c6c3cb876112e3857eb3da15e38e44e4725",
        "tests/Fixtures/",
        "erp",
    ),
}

HARD, SOFT, AUTO, REPLY = "bounce_hard", "bounce_soft", "auto_reply", "reply"

# (source, file, label, why): read by hand. For a bounce the report's own Status field, when it
# has one, overrides the label (and the builder says so); the why is then that status.
LABELS: list[tuple[str, str, str, str]] = [
    # bounce_email: bounces
    ("bounce_email", "bounces/malformed_bounce_01.txt", HARD, 'qmail: "no mailbox here" (#5.1.1)'),
    ("bounce_email", "bounces/tt_1234175799.txt", HARD, "Postfix: host or domain not found"),
    ("bounce_email", "bounces/tt_1234177688.txt", HARD, 'Postfix quoting 554 "Nonexistent user"'),
    ("bounce_email", "bounces/tt_1234210655.txt", HARD, "Lotus Domino: user not listed"),
    ("bounce_email", "bounces/tt_1234211357.txt", HARD, "Postfix quoting Gmail 550-5.1.1"),
    ("bounce_email", "bounces/tt_1234211929.txt", HARD, "Postfix: maildir over quota"),
    ("bounce_email", "bounces/tt_1234211931.txt", HARD, "Postfix: mail for the domain loops"),
    ("bounce_email", "bounces/tt_1234211932.txt", HARD, 'Postfix quoting qmail 550 "no mailbox"'),
    ("bounce_email", "bounces/tt_1234241665.txt", HARD, "Postfix quoting 550 User unknown"),
    ("bounce_email", "bounces/tt_1234285532.txt", HARD, "Postfix quoting Yahoo 554 no account"),
    ("bounce_email", "bounces/tt_1234285668.txt", HARD, "Postfix quoting 552 not enough space"),
    ("bounce_email", "bounces/tt_bounce_01.txt", HARD, 'Exim: "unrouteable mail domain"'),
    ("bounce_email", "bounces/tt_bounce_05.txt", HARD, "CommuniGate: 550 unknown user account"),
    ("bounce_email", "bounces/tt_bounce_07.txt", HARD, "CommuniGate: 550 5.1.1 User unknown"),
    (
        "bounce_email",
        "bounces/tt_bounce_08.txt",
        HARD,
        'Gmail: "failed permanently", no host of a typo domain (gmial.com) answers',
    ),
    (
        "bounce_email",
        "bounces/tt_bounce_10.txt",
        SOFT,
        "Postfix: temporary failure (its Status says)",
    ),
    (
        "bounce_email",
        "bounces/tt_bounce_11.txt",
        HARD,
        'Exchange 5.5: "did not reach the following recipient(s)", a final non-delivery',
    ),
    ("bounce_email", "bounces/tt_bounce_12_soft.txt", SOFT, "Gmail: delayed, will retry 2 days"),
    ("bounce_email", "bounces/tt_bounce_13.txt", HARD, "Exchange DSN, failed"),
    (
        "bounce_email",
        "bounces/tt_bounce_14.txt",
        SOFT,
        'qmail: "Not enough storage space in user\'s mailbox", no code: a full mailbox',
    ),
    ("bounce_email", "bounces/tt_bounce_15.txt", HARD, "Lotus Domino: recipient name not unique"),
    ("bounce_email", "bounces/tt_bounce_17.txt", HARD, 'qmail: "no mailbox here" (#5.1.1)'),
    ("bounce_email", "bounces/tt_bounce_18.txt", SOFT, "Gmail: delayed, connection dropped"),
    ("bounce_email", "bounces/tt_bounce_19.txt", SOFT, "Gmail: delayed, will retry 2 days"),
    (
        "bounce_email",
        "bounces/tt_bounce_20.txt",
        HARD,
        'Gmail: "failed permanently" (the host kept dropping the connection)',
    ),
    ("bounce_email", "bounces/tt_bounce_21.txt", HARD, 'Gmail: "failed permanently", no detail'),
    (
        "bounce_email",
        "bounces/tt_bounce_22.txt",
        HARD,
        'Gmail: "failed permanently", 550 Address unknown',
    ),
    ("bounce_email", "bounces/tt_bounce_23.txt", HARD, "sendmail: 550 No such user"),
    ("bounce_email", "bounces/tt_bounce_24.txt", HARD, "Exchange 2010: 550 5.1.1 RecipNotFound"),
    (
        "bounce_email",
        "bounces/tt_bounce_25.txt",
        HARD,
        'qmail quoting Hotmail 550 "mailbox unavailable"',
    ),
    ("bounce_email", "bounces/undeliverable_gmail.txt", HARD, "Gmail: 550 5.1.1 does not exist"),
    (
        "bounce_email",
        "bounces/unknown_code_bounce_01.txt",
        SOFT,
        'a full mailbox, "try to send your message again at a later time", no code',
    ),
    # bounce_email: machine mail that is not a bounce
    (
        "bounce_email",
        "non_bounces/tt_1234210666.txt",
        AUTO,
        'Exchange out-of-office ("automātiska atbilde"): "I am out of office"',
    ),
    (
        "bounce_email",
        "non_bounces/tt_1234211024.txt",
        AUTO,
        'Gmail vacation responder (X-Autoreply: yes): "Esmu atvaļinājumā" (I am on leave)',
    ),
    # enmime
    ("enmime", "delayed_dsn.raw", SOFT, "RFC 3464 example: delayed"),
    ("enmime", "dsn_with_multipart_alternative.raw", HARD, "Exchange NDR RecipientNotFound"),
    ("enmime", "multi_recipient_dsn.raw", HARD, "RFC 3464 example: user unknown (first)"),
    ("enmime", "simple_dsn.raw", SOFT, "RFC 3464 example: cannot send for 5 days, 4.0.0"),
    # nodemailer/mailparser
    (
        "mailparser",
        "delivery-status.eml",
        HARD,
        "Amazon SES: the address is on the suppression list (it bounced before)",
    ),
    # SpamScope/mail-parser
    ("spamscope", "mail_malformed_2", SOFT, "MailSite: user's mailbox quota exceeded"),
    # postal
    ("postal", "postfix-bounce.msg", HARD, "Postfix quoting 550 5.1.1 User unknown (via O365)"),
    # redmine: people's messages
    ("redmine", "apple_mail_with_attachment.eml", REPLY, "a person's Apple Mail HTML message"),
    ("redmine", "body_ks_c_5601-1987.eml", REPLY, "a person's Korean thanks (ks_c_5601-1987)"),
    (
        "redmine",
        "different_contents_in_text_and_html.eml",
        REPLY,
        "a person's Apple Mail message",
    ),
    (
        "redmine",
        "fullname_of_sender_in_parentheses.eml",
        REPLY,
        "a person's line, From with the name in parentheses",
    ),
    ("redmine", "gmail-iso8859-2.eml", REPLY, "a person's Croatian line from Gmail"),
    ("redmine", "gmail_with_attachment_iso-8859-1.eml", REPLY, "a person's Gmail with a file"),
    ("redmine", "invalid_utf8.eml", REPLY, "a person's Russian greeting, broken UTF-8"),
    ("redmine", "issue_update_with_cc.eml", REPLY, "a person's Re: with a Cc"),
    (
        "redmine",
        "issue_update_with_quoted_reply_above.eml",
        REPLY,
        "a person's Outlook Express Re: above the quote",
    ),
    (
        "redmine",
        "japanese_keywords_iso_2022_jp.eml",
        REPLY,
        "a person describing a problem (Outlook Express, Japanese)",
    ),
    ("redmine", "message_reply.eml", REPLY, "a person's Thunderbird reply"),
    ("redmine", "message_reply_by_subject.eml", REPLY, "a person's Thunderbird Re:"),
    ("redmine", "news_reply.eml", REPLY, "a person's Thunderbird message"),
    (
        "redmine",
        "outlook_2010_html_only.eml",
        REPLY,
        "a person's Outlook 2010 HTML message",
    ),
    (
        "redmine",
        "outlook_web_access_2010_html_only.eml",
        REPLY,
        'a person\'s Outlook Web Access HTML-only message ("A mess.")',
    ),
    ("redmine", "quoted_printable_utf8.eml", REPLY, 'a person\'s "Freundliche Grüsse"'),
    ("redmine", "smime_signature.eml", REPLY, "a person's S/MIME-signed Evolution message"),
    ("redmine", "subject_japanese_2.eml", REPLY, "a person's Re: with a Japanese subject"),
    (
        "redmine",
        "thunderbird_with_attachment_iso-8859-1.eml",
        REPLY,
        "a person's Thunderbird message with a file",
    ),
    ("redmine", "ticket_html_only.eml", REPLY, "a person's HTML-only Thunderbird message"),
    ("redmine", "ticket_on_given_project.eml", REPLY, "a person's Outlook Express message"),
    ("redmine", "ticket_reply.eml", REPLY, 'a person\'s "This is reply" (Outlook Express)'),
    (
        "redmine",
        "ticket_reply_with_status.eml",
        REPLY,
        "a person's reply with keyword lines",
    ),
    ("redmine", "ticket_with_attachment.eml", REPLY, "a person's message with an attachment"),
]

# willdurand/EmailReplyParser bodies, wrapped: (file, why, the subject our rep had sent).
WRAPPED: list[tuple[str, str, str]] = [
    ("email_2.txt", "a person's answer below a quote (Evolution attribution)", "Riak buckets"),
    ("email_2_1.txt", "a person's Outlook reply over a forwarded notice", "Google Apps Sync"),
    ("email_3.txt", 'a person\'s "Oh thanks." above a nested quote', "Riak buckets"),
    ("email_4.txt", 'a person\'s "Awesome!" (GitHub-style quote)', "the loader"),
    ("email_5.txt", "a person's bullet lists", "next steps"),
    ("email_6.txt", 'a person\'s phone reply ("Sent from a magnificent torch")', "rendering"),
    ("email_blackberry.txt", 'a person\'s "Sent from my BlackBerry" reply', "quick question"),
    ("email_bullets.txt", "a person's reply with bullets above the quote", "an example"),
    (
        "email_custom_quote_header.txt",
        'a person\'s "Thank you!" above a Hungarian attribution',
        "your products",
    ),
    (
        "email_customer_quote_header_2.txt",
        "a person's thanks above an Outlook header block",
        "your message",
    ),
    (
        "email_customer_quote_header_3.txt",
        "a person's French follow-up (Yahoo quote header in French)",
        "votre question",
    ),
    ("email_iphone.txt", 'a person\'s "Sent from my iPhone" reply', "quick question"),
    ("email_issue_77.txt", "a person's French reply (Zimbra attribution)", "votre message"),
    (
        "email_multi_word_sent_from_my_mobile_device.txt",
        "a person's Verizon BlackBerry reply",
        "quick question",
    ),
    ("email_one_is_not_on.txt", "a person's thanks and a question", "lastLocation"),
    (
        "email_sent_from_my_not_signature.txt",
        'a person\'s "Sent from my desk" line (not a phone signature)',
        "quick question",
    ),
    ("email_thread.txt", "a person's reply above a nested Apple Mail thread", "the video"),
    ("email_unquoted_reply.txt", "a person's reply above an unquoted original", "my quote"),
    ("email_w10_mail.txt", "a person's Windows 10 Mail reply", "[#000] Stuff pls"),
    ("email_zimbra_free_fr.txt", "a person's French Zimbra reply", "votre message"),
]

PEOPLE = [
    ("Dana Whitfield", "dana.whitfield", "northwind-trading.example"),
    ("Marc Lefebvre", "m.lefebvre", "atelier-lumiere.example"),
    ("Priya Raman", "priya", "kestrel-labs.example"),
    ("Tomasz Nowak", "t.nowak", "baltic-freight.example"),
    ("Eszter Győrvári", "eszter", "duna-media.example"),
]


def wrap(body: bytes, index: int, subject: str) -> bytes:
    """A body-only fixture as a prospect's reply: headers written here, the body byte for byte."""
    name, local, domain = PEOPLE[index % len(PEOPLE)]
    day = 3 + index % 20
    head = (
        f"Return-Path: <{local}@{domain}>\n"
        f"From: {name} <{local}@{domain}>\n"
        "To: Rita Moreno <rita@followup-sales.example>\n"
        f"Subject: Re: {subject}\n"
        f"Date: Tue, {day} Mar 2026 10:{index:02d}:00 +0100\n"
        f"Message-ID: <fresh4-{index}@{domain}>\n"
        f"In-Reply-To: <seq-{index}@followup-sales.example>\n"
        f"References: <seq-{index}@followup-sales.example>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: text/plain; charset="utf-8"\n'
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
    )
    return head.encode("utf-8") + body


def _entry(prefix: str, name: str, label: str, why: str, source: str, raw: bytes) -> dict[str, Any]:
    stem = Path(name).name
    for ext in (".eml", ".txt", ".msg", ".raw"):
        stem = stem.removesuffix(ext)
    return {
        "file": f"{prefix}_{stem}.eml",
        "expected": label,
        "source": source,
        "why": why,
        "_raw": raw,
    }


def build(dirs: dict[str, Path]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for key, name, label, why in LABELS:
        repo, commit, folder, prefix = SOURCES[key]
        raw = git_show(dirs[key], commit, folder + name)
        assert len(raw) < 300_000, name
        if label in (HARD, SOFT):
            status = dsn_status(raw)
            if status:
                by_status = bounce_label(status, False)
                if by_status != label:
                    print(f"{prefix} {name}: read {label}, its Status {status} says {by_status}")
                label, why = by_status, f"the report's Status: {status} ({why})"
        source = f"{repo} {folder}{name} @{commit[:10]}"
        entries.append(_entry(prefix, name, label, why, source, raw))
    repo, commit, folder, prefix = SOURCES["erp"]
    for index, (name, why, subject) in enumerate(WRAPPED):
        body = git_show(dirs["erp"], commit, folder + name)
        source = f"{repo} {folder}{name} @{commit[:10]} wrapped (body only; headers ours)"
        entries.append(_entry(prefix, name, REPLY, why, source, wrap(body, index, subject)))
    return entries


HEADER = """\
# Fourth fresh part of real inbound mail: copied byte for byte (see README.md; the `erp_` bodies
# are wrapped in headers written here), labelled by reading each message
# (bench/verdicts_fresh4_build.py) BEFORE the classifier ever ran on it, measured once, blind
# (docs/inbound.md).
# expected: reply | unsubscribe | unsubscribe-needs-confirmation | auto_reply | bounce_hard | bounce_soft
"""


def main(argv: list[str]) -> None:
    run_builder(argv, SOURCES, OUT, HEADER, build)


if __name__ == "__main__":
    main(sys.argv[1:])
