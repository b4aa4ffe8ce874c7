"""Build the third fresh inbound part (tests/data/verdicts/inbound_fresh3/): blind, from sources nothing read.

The second fresh part was tuned on after its one blind run (issue 17), so this part measures the
rules blind again. Its five repositories are ones no earlier part used (those used sisimai,
mikel/mail, talon, zapier/email-reply-parser, mail-parser-reply, flufl.bounce and flanker):

- cfortune/PHP-Bounce-Handler `eml/` (BSD): real bounces (Exim, qmail, Postfix, Hotmail, Exchange,
  Sun ONE, Yahoo via Exim) and feedback-loop reports (ARF from AOL, Yahoo, Comcast; Hotmail JMRP);
- rjbs/Mail-DeliveryStatus-BounceParser `t/corpus/` (Perl's terms): bounces from sendmail, Postfix,
  qmail, Domino, Exchange, Novell, Exim, Gmail, AOL, Yahoo; vacation replies and challenge-response
  mails it must not call bounces;
- jstedfast/MimeKit `UnitTests/TestData/messages/` (MIT): DSNs, a read receipt, people's messages;
- php-mime-mail-parser/php-mime-mail-parser `tests/mails/` (MIT) and coddingtonbear/django-mailbox
  `django_mailbox/tests/messages/` (MIT): people's messages (French, German, Japanese, Russian,
  Polish, Hungarian, Portuguese; a list post; forwards).

Run once by hand with the git directories of the five repositories (the `fetch` tool's mirrors):

    python bench/verdicts_fresh3_build.py --phpbh P --bounceparser P --mimekit P --mmp P --djmb P

Each message is copied byte for byte. Labels were written by reading each message as a careful
rep would, before the classifier read any of them (this script does not import it):

- bounces: the report's own RFC 3464 `Status:` decides (5.x.x `bounce_hard`, 4.x.x
  `bounce_soft`), as in the earlier parts; with none, the reading written beside each file: an
  SMTP 5xx reply or a wording that says the address is dead is hard; a full mailbox or quota
  with no 5.x.x, a delay warning, a retry timeout or a 4xx is soft (RFC 3463 X.2.2, X.4.x).
- complaints (ARF `Feedback-Type: abuse` or `opt-out`, Hotmail's junk-mail reports):
  `unsubscribe`, as the earlier parts label them;
- machine mail that is neither a bounce nor a complaint (vacation replies, "thank you for your
  e-mail" responders, challenge-response, a read receipt): `auto_reply`;
- people's messages (a person writing from their own address with a mail client): `reply`.

Left out, by rule: copies (of the 30 Exim reports quoting Hotmail's identical "550 mailbox
unavailable", one is kept; the same for each repeated report shape), files that are not an
email (`unsubscribe.txt` is a log), messages with no From (MimeKit's `delivery-status2.txt`,
php-mime-mail-parser's `issue212`), files over 300 kB, spam and newsletters, reports about the
message rather than the address (too large, content or policy filters: a judgement), the
library's own synthetic test messages (`mimekit@example.com`, `name@company.com`), and the RFC
8098 example read receipt (fresh2's flanker file is the same example).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.verdicts_build_common import bounce_label, dsn_status, git_show, run_builder

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "verdicts" / "inbound_fresh3"

# key: (github owner/name, commit, folder, file prefix)
SOURCES = {
    "phpbh": (
        "cfortune/PHP-Bounce-Handler",
        "956e65b0d502b1904546c3c46480409ded41d755",
        "eml/",
        "phpbh",
    ),
    "bounceparser": (
        "rjbs/Mail-DeliveryStatus-BounceParser",
        "3133a16326c596e0e9fc97469930aee535962bcf",
        "t/corpus/",
        "bp",
    ),
    "mimekit": (
        "jstedfast/MimeKit",
        "cf6d38dd0a1a26b5145c10b35e971efc133e1fb3",
        "UnitTests/TestData/messages/",
        "mimekit",
    ),
    "mmp": (
        "php-mime-mail-parser/php-mime-mail-parser",
        "059dcc38fbfb559b0644e9c26c65a759b21801bc",
        "tests/mails/",
        "mmp",
    ),
    "djmb": (
        "coddingtonbear/django-mailbox",
        "4c7135469e32757605f26af8515eda455b89f703",
        "django_mailbox/tests/messages/",
        "djmb",
    ),
}

HARD, SOFT = "bounce_hard", "bounce_soft"

# (source, file, label, why): read by hand. For a bounce the report's own Status field, when it
# has one, overrides the label (and the builder says so); the why is then that status.
LABELS: list[tuple[str, str, str, str]] = [
    # PHP-Bounce-Handler: bounces
    ("phpbh", "1.eml", HARD, 'qmail: "Sorry, no mailbox here by that name. (#5.1.1)"'),
    ("phpbh", "4.eml", HARD, 'qmail: "Esta casilla ha expirado por falta de uso" (expired)'),
    ("phpbh", "10.eml", HARD, "Hotmail DSN"),
    (
        "phpbh",
        "11.eml",
        HARD,
        'Exim quoting Hotmail "550 Requested action not taken: mailbox unavailable"',
    ),
    ("phpbh", "12.eml", HARD, "Sun ONE DSN, 522 5.2.0 over quota"),
    ("phpbh", "13.eml", HARD, 'Exim: "Unrouteable address"'),
    ("phpbh", "14.eml", HARD, 'Exim quoting "550 5.1.1 No such address"'),
    ("phpbh", "26.eml", SOFT, 'qmail: "Mailbox quota usage exceeded", no code: a full mailbox'),
    ("phpbh", "27.eml", SOFT, 'Exim: "retry timeout exceeded" (the host kept failing)'),
    ("phpbh", "28.eml", SOFT, 'Exim: "mailbox is full: retry timeout exceeded", no code'),
    ("phpbh", "29.eml", SOFT, 'Exim: "message delayed 72 hours", 451: a warning, still trying'),
    ("phpbh", "30.eml", SOFT, 'qmail: "Mailbox quota usage exceeded" (another server), no code'),
    (
        "phpbh",
        "34.eml",
        HARD,
        'Exim quoting Yahoo 554 "This account has been disabled or discontinued"',
    ),
    ("phpbh", "36.eml", HARD, "Exchange DSN"),
    ("phpbh", "40.eml", HARD, 'Exim quoting sendmail "550 5.1.1 ... User unknown"'),
    ("phpbh", "44.eml", HARD, 'Exim quoting "550 Destinatario desconocido o mailbox lleno": 5xx'),
    ("phpbh", "45.eml", HARD, "Postfix DSN (UOL), 550 User unknown"),
    ("phpbh", "46.eml", SOFT, 'Exim: "message delayed 48 hours": a warning, still trying'),
    ("phpbh", "5.1.1.eml", HARD, "DSN, 550 User unknown"),
    (
        "phpbh",
        "51.eml",
        HARD,
        "Hotmail DSN, 552 5.2.2: the server calls the full mailbox permanent",
    ),
    ("phpbh", "52.eml", HARD, 'Exim quoting Postfix "550 User unknown in virtual alias table"'),
    ("phpbh", "6.eml", HARD, 'Exim quoting "554 Usuário Inválido ou Inexistente (#5.2.1)"'),
    ("phpbh", "62.eml", HARD, "Courier maildrop over quota, but the DSN says 5.7.0"),
    ("phpbh", "exchange1.eml", HARD, "Exchange DSN"),
    ("phpbh", "testfile.eml", HARD, "Postfix DSN quoting mail.ru 550 (blocked)"),
    # PHP-Bounce-Handler: feedback loops
    ("phpbh", "arf1.txt", "unsubscribe", "ARF, Feedback-Type: abuse"),
    ("phpbh", "arf2.txt", "unsubscribe", "ARF, Feedback-Type: opt-out"),
    ("phpbh", "arf3.txt", "unsubscribe", "ARF, Feedback-Type: abuse"),
    ("phpbh", "arf4.txt", "unsubscribe", "Yahoo ARF, Feedback-Type: abuse"),
    ("phpbh", "arf5.txt", "unsubscribe", "AOL ARF, Feedback-Type: abuse"),
    ("phpbh", "fbl-aol.txt", "unsubscribe", "AOL ARF, Feedback-Type: abuse"),
    ("phpbh", "fbl-comcast.txt", "unsubscribe", "Comcast ARF, Feedback-Type: abuse"),
    (
        "phpbh",
        "fbl-hotmail.txt",
        "unsubscribe",
        "Hotmail junk-mail report (X-HmXmrOriginalRecipient)",
    ),
    ("phpbh", "fbl-yahoo.txt", "unsubscribe", "Yahoo ARF, Feedback-Type: abuse"),
    ("phpbh", "hotmailbounce.txt", "unsubscribe", "Hotmail junk-mail report (staff@hotmail.com)"),
    # BounceParser: bounces
    ("bounceparser", "aol.unknown.msg", HARD, "AOL via sendmail, User unknown"),
    ("bounceparser", "qmail.unknown.msg", HARD, 'qmail: "no mailbox here by that name. (#5.1.1)"'),
    ("bounceparser", "domino.unknown.msg", HARD, 'Domino: "not listed in Domino Directory"'),
    (
        "bounceparser",
        "exchange.unknown.msg",
        HARD,
        'Exchange: "The recipient name is not recognized"',
    ),
    ("bounceparser", "gmail-via-sendmail.unknown.msg", HARD, 'Gmail "550 5.7.1 No such user"'),
    ("bounceparser", "yahoo-via-sendmail.unknown.msg", HARD, "Yahoo 554 account disabled"),
    ("bounceparser", "user-unknown-disabled.msg", HARD, "Gmail 550 5.2.1 account disabled"),
    ("bounceparser", "user-unknown-polish.msg", HARD, "501 5.1.3, Polish: bad recipient"),
    ("bounceparser", "me-user-unknown.msg", HARD, "550 5.1.6 recipient no longer on server"),
    ("bounceparser", "no-such-domain.msg", HARD, '"550 No such domain at this location"'),
    (
        "bounceparser",
        "non-autoreply.msg",
        HARD,
        'Exim quoting "550 Recipient Rejected: No account by that name"',
    ),
    ("bounceparser", "novell-with-rhs.msg", HARD, 'Novell: "undeliverable ... (user not found)"'),
    ("bounceparser", "warning-5.msg", HARD, '"That\'s not a valid user here."'),
    (
        "bounceparser",
        "warning-7.msg",
        HARD,
        'sendmail "552 5.2.2 Over quota" under "permanent fatal errors"',
    ),
    ("bounceparser", "long-smtp.msg", SOFT, "DSN 4.4.7 delivery time expired"),
    (
        "bounceparser",
        "warning-8.msg",
        SOFT,
        'BorderWare "Delayed Mail (still being retried)", a warning',
    ),
    ("bounceparser", "quota-2.msg", SOFT, 'Postfix quoting "452 Mailbox size limit exceeded": 4xx'),
    (
        "bounceparser",
        "quota.msg",
        SOFT,
        '"User mailbox exceeds allowed size", no code: a full mailbox',
    ),
    (
        "bounceparser",
        "misidentified-recipient.msg",
        SOFT,
        'Exim: "all hosts have been failing for a long time"',
    ),
    # BounceParser: machine mail that is not a bounce
    ("bounceparser", "aol-vacation.msg", "auto_reply", 'vacation: "I am away until 05/07/2010"'),
    (
        "bounceparser",
        "autoreply.msg",
        "auto_reply",
        '"Thank you for you e-mail. I will endeavour to reply"',
    ),
    ("bounceparser", "polish-autoreply.msg", "auto_reply", 'Polish "[Automatyczna odpowiedź]"'),
    ("bounceparser", "warning-6.msg", "auto_reply", 'Notes "AUTO: ... is out of the office"'),
    (
        "bounceparser",
        "bluebottle.msg",
        "machine_notice",
        "challenge-response: click to be allowed; relabelled machine_notice (issue 17)",
    ),
    (
        "bounceparser",
        "boxbe-cr.msg",
        "machine_notice",
        "challenge-response: Boxbe waitlist; relabelled machine_notice (issue 17)",
    ),
    (
        "bounceparser",
        "boxbe-cr2.msg",
        "machine_notice",
        "challenge-response: Boxbe guest list; relabelled machine_notice (issue 17)",
    ),
    # MimeKit
    ("mimekit", "bounce.txt", HARD, "Postfix DSN"),
    ("mimekit", "delivery-status.txt", HARD, "sprynet DSN with Precedence: junk"),
    (
        "mimekit",
        "disposition-notification.anonymized.eml",
        "machine_notice",
        "a read receipt (MDN); relabelled machine_notice (issue 17)",
    ),
    ("mimekit", "epilogue.txt", "reply", "a person's Re: with a quote"),
    ("mimekit", "japanese.txt", "reply", "a person's message in Japanese"),
    # php-mime-mail-parser
    ("mmp", "failure.eml", HARD, "Exchange DSN in Japanese"),
    ("mmp", "issue84", "reply", "a person's post to a list (Gmail, Re:)"),
    ("mmp", "issue158d", "reply", "a person's Fwd: with a note"),
    ("mmp", "m0013", "reply", "a person's French reply in an Outlook thread"),
    ("mmp", "m0014", "reply", "a person's German text (Netscape 4.7)"),
    ("mmp", "m0019", "reply", "a person's Re: (Windows Live Mail, Swedish)"),
    ("mmp", "m0024", "reply", "a person's French message"),
    # django-mailbox
    ("djmb", "generic_message.eml", "reply", 'a person\'s "Hello there."'),
    ("djmb", "message_with_long_text_lines.eml", "reply", "a person's story (Flat tire)"),
    ("djmb", "message_with_single_byte_encoding.eml", "reply", "a person's Russian line (cp1251)"),
    (
        "djmb",
        "message_with_utf8_attachment.eml",
        "reply",
        "an office's Polish answer with a letter",
    ),
    ("djmb", "bad_character_attachment.eml", "reply", "a person's test message (Hungarian name)"),
    (
        "djmb",
        "message_with_utf8_char.eml",
        "reply",
        "a person's RE: Fwd: (Yahoo), Precedence: bulk",
    ),
    (
        "djmb",
        "message_with_image_jpg_mimetype.eml",
        "reply",
        "a person's Re: Fwd:, Precedence: bulk",
    ),
    ("djmb", "multipart_text.eml", "reply", "a person's plain and HTML message"),
    ("djmb", "message_with_long_content.eml", "reply", "a person's Fwd: with text"),
    ("djmb", "email_issue_82.eml", "reply", "a person's message with a Portuguese disclaimer"),
]


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
        stem = name.rsplit(".", 1)[0] if name.endswith((".eml", ".txt", ".msg")) else name
        entries.append(
            {
                "file": f"{prefix}_{stem}.eml",
                "expected": label,
                "source": f"{repo} {folder}{name} @{commit[:10]}",
                "why": why,
                "_raw": raw,
            }
        )
    return entries


HEADER = """\
# Third fresh part of real inbound mail: copied byte for byte (see README.md), labelled by reading
# each message (bench/verdicts_fresh3_build.py) BEFORE the classifier ever ran on it, measured
# once, blind (docs/inbound.md).
# expected: reply | unsubscribe | unsubscribe-needs-confirmation | auto_reply | machine_notice |
# bounce_hard | bounce_soft
"""


def main(argv: list[str]) -> None:
    run_builder(argv, SOURCES, OUT, HEADER, build)


if __name__ == "__main__":
    main(sys.argv[1:])
