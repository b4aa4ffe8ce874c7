"""Writes the inbound verdict corpus (tests/data/verdicts/inbound/) from the formats below.

Each message is written here in the shape a public sample shows for its client or mail server
(the headers it sets, where it puts the quoted history, how it words a failure), with our own
people, addresses and words: no fetched file is copied. `source` names the public sample whose
shape it follows. Labels come from what the message is by construction (the status a server
reports, the person's intent as written), never from what the classifier answers.

The split is decided by name before any rule was tuned: a file whose name's SHA-256 starts
with 0-4 (of 0-f) is held out, the rest is the tuning part.

    .venv/bin/python bench/verdicts_inbound_build.py
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "verdicts" / "inbound"
OUR_ID = "<seed.0001@mail.example.test>"
ZOE = "zoe@prospect.example"
RITA = "rita@example.com"
FOOTER_TEXT = "Rita Rep\nAcme Sales\n\n--\nNot interested? Unsubscribe: http://track.example.test/u/AAAAAAAAAAAAAAAAAAAAAA"
ORIGINAL = (
    "Hi Zoe,\n\nYou said you need faster onboarding at Initech. Worth a short call?\n\n"
    + FOOTER_TEXT
)

SISIMAI = "sisimai/set-of-emails maildir/bsd/"
TALON = "mailgun/talon tests/fixtures/"
ERP = "zapier/email-reply-parser test/emails/"
MPR = "alfonsrv/mail-parser-reply test/emails/"

CASES: list[dict[str, Any]] = []


def split_of(name: str) -> str:
    return "held_out" if hashlib.sha256(name.encode()).hexdigest()[0] in "01234" else "tuning"


def add(name: str, label: str, source: str, raw: str, why: str = "") -> None:
    case = {"file": f"{name}.eml", "expected": label, "source": source, "raw": raw}
    if why:
        case["why"] = why
    CASES.append(case)


def quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.splitlines())


def head(
    *,
    sender: str = f"Zoe Walker <{ZOE}>",
    subject: str = "Re: Hello",
    mid: str,
    extra: str = "",
    ctype: str = 'text/plain; charset="UTF-8"',
    date: str = "Mon, 05 Jan 2026 10:12:00 +0100",
    reply: bool = True,
) -> str:
    lines = [
        f"Return-Path: <{ZOE}>",
        f"From: {sender}",
        f"To: Rita Rep <{RITA}>",
        f"Subject: {subject}",
        f"Date: {date}",
        f"Message-ID: <{mid}>",
    ]
    if reply:
        lines += [f"In-Reply-To: {OUR_ID}", f"References: {OUR_ID}"]
    lines += ["MIME-Version: 1.0", f"Content-Type: {ctype}"]
    if extra:
        lines.append(extra.strip("\n"))
    return "\n".join(lines) + "\n"


# Reply clients: (name, source, function(text) -> raw)


def gmail(text: str, n: str, subject: str = "Re: Hello") -> str:
    html = "<br>".join(text.splitlines())
    return (
        head(
            mid=f"CAJ{n}=gm@mail.gmail.com",
            subject=subject,
            ctype='multipart/alternative; boundary="000000000000b1"',
        )
        + f"""
--000000000000b1
Content-Type: text/plain; charset="UTF-8"

{text}

On Mon, Jan 5, 2026 at 9:00 AM Rita Rep <{RITA}> wrote:

{quote(ORIGINAL)}

--000000000000b1
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">{html}</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Jan 5, 2026 at 9:00 AM Rita Rep &lt;{RITA}&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">Hi Zoe,<br>Worth a short call?<br>Not interested? <a href="http://track.example.test/u/A">Unsubscribe</a>.</blockquote></div>

--000000000000b1--
"""
    )


def outlook(text: str, n: str, subject: str = "RE: Hello", sig: str = "") -> str:
    body = text + (("\n\n" + sig) if sig else "")
    return (
        head(
            mid=f"AM0PR{n}.eurprd.prod.outlook.com",
            subject=subject,
            extra="Thread-Topic: Hello\nThread-Index: AQHZ"
            + n
            + "\nContent-Language: en-US\nX-MS-Has-Attach: \nX-MS-Exchange-Organization-SCL: 1",
        )
        + f"""
{body}

________________________________
From: Rita Rep <{RITA}>
Sent: Monday, January 5, 2026 9:00 AM
To: Zoe Walker <{ZOE}>
Subject: Hello

{ORIGINAL}
"""
    )


def apple(text: str, n: str, subject: str = "Re: Hello") -> str:
    return (
        head(
            mid=f"{n}-APPLE@prospect.example",
            subject=subject,
            extra="X-Mailer: iPhone Mail (21C66)\nContent-Transfer-Encoding: 7bit",
        )
        + f"""
{text}

Sent from my iPhone

> On Jan 5, 2026, at 09:00, Rita Rep <{RITA}> wrote:
>
{quote(ORIGINAL)}
"""
    )


def thunderbird(text: str, n: str, subject: str = "Re: Hello") -> str:
    return (
        head(
            mid=f"{n}.tb@prospect.example",
            subject=subject,
            extra="User-Agent: Mozilla Thunderbird\nContent-Language: en-US\nContent-Transfer-Encoding: 8bit",
        )
        + f"""
{text}

On 05/01/2026 09:00, Rita Rep wrote:
{quote(ORIGINAL)}
"""
    )


def owa_html_only(text: str, n: str, subject: str = "RE: Hello") -> str:
    paras = "".join(
        f'<div style="font-family:Aptos,sans-serif">{line or "<br>"}</div>'
        for line in text.splitlines()
    )
    return (
        head(
            mid=f"PH0PR{n}.namprd.prod.outlook.com",
            subject=subject,
            ctype='text/html; charset="utf-8"',
            extra="Content-Transfer-Encoding: 8bit",
        )
        + f"""
<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head>
<body dir="ltr">{paras}
<div id="appendonsend"></div>
<hr style="display:inline-block;width:98%" tabindex="-1">
<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000"><b>From:</b> Rita Rep &lt;{RITA}&gt;<br><b>Sent:</b> Monday, January 5, 2026 9:00 AM<br><b>To:</b> Zoe Walker &lt;{ZOE}&gt;<br><b>Subject:</b> Hello</font>
<div>&nbsp;</div></div>
<div>Hi Zoe,<br>You said you need faster onboarding at Initech. Worth a short call?<br>Rita Rep<br>--<br>Not interested? <a href="http://track.example.test/u/A">Unsubscribe</a>.</div>
</body></html>
"""
    )


def yahoo_html_only(text: str, n: str, subject: str = "Re: Hello") -> str:
    paras = "".join(f"<div>{line or '<br>'}</div>" for line in text.splitlines())
    return (
        head(
            mid=f"{n}.yahoo@mail.yahoo.com",
            sender=f"Zoe Walker <{ZOE}>",
            subject=subject,
            ctype='text/html; charset="UTF-8"',
            extra="X-Mailer: WebService/1.1.21952 YMailNorrin",
        )
        + f"""
<html><head></head><body><div class="ydp1 yahoo-style-wrap" style="font-family:Helvetica Neue, Helvetica, Arial, sans-serif;font-size:13px;">{paras}</div>
<div id="yahoo_quoted_1" class="yahoo_quoted"><div style="font-family:'Helvetica Neue', Helvetica, Arial, sans-serif;font-size:13px;color:#26282a;">
<div>On Monday, January 5, 2026 at 09:00:00 AM GMT+1, Rita Rep &lt;{RITA}&gt; wrote:</div><div><br></div>
<div><div dir="ltr">Hi Zoe,<br>Worth a short call?<br>--<br>Not interested? <a href="http://track.example.test/u/A">Unsubscribe</a>.</div></div></div></div>
</body></html>
"""
    )


def android(text: str, n: str, subject: str = "Re: Hello") -> str:
    return (
        head(mid=f"{n}.android@prospect.example", subject=subject)
        + f"""
{text}

Sent from my Galaxy

-------- Original message --------
From: Rita Rep <{RITA}>
Date: 1/5/26 9:00 AM (GMT+01:00)
To: {ZOE}
Subject: Hello

{ORIGINAL}
"""
    )


def bare_phone(text: str, n: str, subject: str = "Re: Hello") -> str:
    return (
        head(mid=f"{n}.phone@prospect.example", subject=subject)
        + f"\n{text}\n\nSent from my iPhone\n"
    )


def localized(text: str, n: str, attribution: str, subject: str) -> str:
    return (
        head(
            mid=f"{n}.loc@prospect.example",
            subject=subject,
            extra="Content-Transfer-Encoding: 8bit",
        )
        + f"\n{text}\n\n{attribution}\n{quote(ORIGINAL)}\n"
    )


ATTRIBUTION = {
    "de": ("Am Mo., 5. Jan. 2026 um 09:00 Uhr schrieb Rita Rep <rita@example.com>:", "AW: Hello"),
    "fr": ("Le lun. 5 janv. 2026 à 09:00, Rita Rep <rita@example.com> a écrit :", "RE: Hello"),
    "es": ("El lun, 5 ene 2026 a las 9:00, Rita Rep (<rita@example.com>) escribió:", "RE: Hello"),
    "pt": (
        "Em seg., 5 de jan. de 2026 às 09:00, Rita Rep <rita@example.com> escreveu:",
        "RES: Hello",
    ),
}

CLIENTS = {
    "gmail": (gmail, TALON + "standard_replies/gmail.eml"),
    "outlook": (outlook, TALON + "standard_replies/outlook.eml"),
    "apple": (apple, TALON + "standard_replies/apple_mail.eml"),
    "thunderbird": (thunderbird, TALON + "standard_replies/thunderbird.eml"),
    "owa_html": (owa_html_only, TALON + "html_replies/ms_outlook_2010.html"),
    "yahoo_html": (yahoo_html_only, TALON + "standard_replies/yahoo.eml"),
    "android": (android, ERP + "email_multi_word_sent_from_my_mobile_device.txt"),
    "phone": (bare_phone, ERP + "email_iPhone.txt"),
}
ROTATION = list(CLIENTS)

DISCLAIMER = (
    "Zoe Walker | VP Operations | Initech GmbH\n+49 30 1234567\n\n"
    "CONFIDENTIALITY NOTICE: This email and any attachments are confidential and intended only "
    "for the named recipient. If you have received it in error, please notify the sender and "
    "delete it. To unsubscribe from Initech marketing emails, visit initech.example/preferences."
)
SIGNATURE_UNSUB = (
    "Best regards,\nZoe Walker\nInitech | Operations\n"
    "Our newsletter: initech.example/news (unsubscribe any time)"
)

# People answering: (key, text). Some mention being away in the past, or unsubscribing in a
# way that is no request (a footer, a question about something else, a refusal).
REPLIES = [
    ("tuesday", "Tuesday works for me. Can you send an invite for 10am?"),
    ("pricing", "Thanks Rita, can you send pricing for 50 seats?"),
    ("ooo_past", "Sorry, I was out of the office last week. Yes, let's talk - how about Thursday?"),
    (
        "ooo_past2",
        "Apologies for the slow answer, I was on vacation until yesterday. Happy to have a call next week.",
    ),
    ("ooo_future", "I'm out of the office next week, but yes, let's talk. Friday 3pm?"),
    (
        "leave_back",
        "Just back from parental leave and catching up. This is relevant, call me on Monday.",
    ),
    (
        "colleague",
        "I'm not the right person, but my colleague Max (max@prospect.example) owns onboarding. I've copied him.",
    ),
    ("later", "Not right now, we are mid-migration. Check back in March?"),
    ("question", "How does this compare with what we have today? Do you integrate with SAP?"),
    ("demo", "Sure, a demo would be useful. Who else should join from our side?"),
    (
        "unsub_question",
        "Before we talk: how do I unsubscribe my team from your product newsletter? They get it twice.",
    ),
    (
        "not_remove",
        "Please don't remove me from the list, I just could not answer earlier. Let's talk in February.",
    ),
    (
        "already",
        "I think I already clicked unsubscribe on your newsletter by mistake, but this is different: I want the call.",
    ),
    ("budget", "We have budget for Q2. Send me a proposal and I'll bring it to the team."),
    ("short_yes", "Yes please."),
    ("short_ok", "Sounds good!"),
    ("forwarded", "Forwarding to procurement, they will be in touch about a quote."),
    (
        "holiday_story",
        "Back from holiday - the auto-reply you got was mine. Interested, let's book 30 minutes.",
    ),
    ("stop_by", "We could stop by your booth at the fair. Are you there on the 12th?"),
    ("remove_word", "Can we remove the onboarding module from the quote and see the price again?"),
]
REPLIES_DE = [
    ("mittwoch", "Mittwoch passt mir gut. Schicken Sie mir bitte eine Einladung?"),
    (
        "urlaub_vorbei",
        "Ich war letzte Woche im Urlaub, daher die späte Antwort. Gerne sprechen wir nächste Woche.",
    ),
    ("angebot", "Danke, bitte senden Sie mir ein Angebot für 20 Lizenzen."),
]
REPLIES_FR = [
    ("jeudi", "Merci, appelez-moi jeudi après-midi si possible."),
    ("conges", "J'étais en congés la semaine dernière. Oui, parlons-en lundi ?"),
]
REPLIES_ES = [
    ("martes", "Gracias Rita, el martes me viene bien. ¿Me envías una invitación?"),
    (
        "vacaciones",
        "Estuve de vacaciones hasta ayer, perdón por la demora. Sí, hablemos esta semana.",
    ),
]
REPLIES_PT = [
    ("quinta", "Obrigada, podemos falar na quinta-feira às 10h?"),
    ("ferias", "Estava de férias na semana passada. Sim, vamos conversar, pode ser segunda?"),
]

# Clear requests to stop, written by a person (strong).
UNSUBSCRIBES = [
    ("stop", "STOP", "phone"),
    ("stop_lower", "stop", "phone"),
    ("unsubscribe", "Unsubscribe", "phone"),
    ("unsubscribe_me", "Please unsubscribe me.", "gmail"),
    ("remove_me", "Please remove me from your mailing list.", "outlook"),
    ("take_off", "Take me off your list, thanks.", "apple"),
    ("stop_emailing", "Stop emailing me.", "thunderbird"),
    ("not_interested_remove", "Not interested. Remove me from your list.", "gmail"),
    ("do_not_contact", "Do not contact me again.", "owa_html"),
    ("no_more", "No more emails please.", "yahoo_html"),
    ("opt_out", "Opt me out please", "android"),
    ("html_remove", "Please remove my email address from your database.", "owa_html"),
]
UNSUBSCRIBES_LOCAL = [
    ("es_darme_de_baja", "Por favor, darme de baja de esta lista.", "es"),
    ("es_baja", "Baja", "es"),
    ("es_no_envien", "No me envíen más correos, gracias.", "es"),
    ("es_quitenme", "Quítenme de su lista por favor.", "es"),
    ("de_abmelden", "Bitte abmelden.", "de"),
    ("de_verteiler", "Bitte entfernen Sie mich aus Ihrem Verteiler.", "de"),
    ("de_keine_mails", "Keine E-Mails mehr, danke.", "de"),
    ("fr_desinscrire", "Merci de me désinscrire.", "fr"),
    ("fr_retirez", "Retirez-moi de votre liste s'il vous plaît.", "fr"),
    ("fr_ne_plus", "Ne me contactez plus.", "fr"),
    ("pt_descadastre", "Por favor, me descadastre.", "pt"),
    ("pt_nao_quero", "Não quero mais receber esses e-mails.", "pt"),
    ("pt_remova", "Remova-me da sua lista, obrigado.", "pt"),
]
# Weak or mixed: a reply that also asks, or an ambiguous one-liner. The rep confirms.
WEAK = [
    (
        "mixed_colleague",
        "We went with another vendor this year. Please remove me from your list, but my colleague Max in finance may still want to hear about the reporting module - feel free to write to him.",
        "gmail",
    ),
    (
        "mixed_later",
        "Thanks for the follow-ups. We are not buying this year and I'm moving to a new role in March, so take me off your list; I'll ping you from my new company if it fits there.",
        "outlook",
    ),
    ("not_interested", "Not interested.", "phone"),
    ("no_thanks", "No thanks", "phone"),
    ("wrong_person", "Wrong person.", "apple"),
    (
        "if_remove",
        "If this isn't relevant to operations, feel free to remove me from the list.",
        "thunderbird",
    ),
    (
        "html_mixed",
        "Appreciate the persistence! We renewed our current contract for two years, so please stop emailing me about this. If something changes I'll reach out, and I'd like the case study you mentioned.",
        "owa_html",
    ),
]
WEAK_LOCAL = [
    ("es_no_me_interesa", "No me interesa.", "es"),
    ("de_kein_interesse", "Kein Interesse.", "de"),
    ("fr_pas_interesse", "Pas intéressé.", "fr"),
    ("pt_sem_interesse", "Não tenho interesse.", "pt"),
    (
        "de_mixed",
        "Vielen Dank für die Nachricht. Wir haben gerade einen Anbieter ausgewählt und sind für zwei Jahre gebunden. Bitte entfernen Sie mich aus Ihrem Verteiler, aber senden Sie die Fallstudie gern an unseren Einkauf.",
        "de",
    ),
]


def build_replies() -> None:
    for i, (key, text) in enumerate(REPLIES):
        for j in range(2):
            client = ROTATION[(i * 3 + j * 5) % len(ROTATION)]
            make, source = CLIENTS[client]
            add(f"reply_{key}_{client}", "reply", source, make(text, f"R{i}{j}"))
    for i, (key, text) in enumerate(REPLIES[:6]):
        add(
            f"reply_{key}_disclaimer",
            "reply",
            TALON + "signature/emails/P/johndoeexamplecom_body",
            outlook(text, f"D{i}", sig=DISCLAIMER),
        )
        add(
            f"reply_{key}_newsletter_sig",
            "reply",
            MPR + "correct_sig.txt",
            thunderbird(text + "\n\n" + SIGNATURE_UNSUB, f"S{i}"),
        )
    for lang, texts in (
        ("de", REPLIES_DE),
        ("fr", REPLIES_FR),
        ("es", REPLIES_ES),
        ("pt", REPLIES_PT),
    ):
        attribution, subject = ATTRIBUTION[lang]
        for i, (key, text) in enumerate(texts):
            add(
                f"reply_{lang}_{key}",
                "reply",
                MPR
                + f"email_{'nl' if lang == 'pt' else lang}_1_1.txt (attribution line in {lang})",
                localized(text, f"{lang}{i}", attribution, subject),
            )


def build_unsubscribes() -> None:
    for i, (key, text, client) in enumerate(UNSUBSCRIBES):
        make, source = CLIENTS[client]
        add(f"unsub_{key}_{client}", "unsubscribe", source, make(text, f"U{i}"))
    for i, (key, text, lang) in enumerate(UNSUBSCRIBES_LOCAL):
        attribution, subject = ATTRIBUTION[lang]
        add(
            f"unsub_{key}",
            "unsubscribe",
            MPR + f"attribution line in {lang}",
            localized(text, f"u{lang}{i}", attribution, subject),
        )
    # The request in the subject, the body empty (a phone's "reply with subject").
    add(
        "unsub_subject_only",
        "unsubscribe",
        ERP + "email_1_1.txt (empty body)",
        head(mid="subj.1@prospect.example", subject="Unsubscribe") + "\n\n",
    )
    add(
        "unsub_subject_remove",
        "unsubscribe",
        ERP + "email_1_1.txt (empty body)",
        head(mid="subj.2@prospect.example", subject="Remove me") + "\n\nSent from my iPhone\n",
    )
    for i, (key, text, client) in enumerate(WEAK):
        make, source = CLIENTS[client]
        add(f"weak_{key}_{client}", "unsubscribe-needs-confirmation", source, make(text, f"W{i}"))
    for i, (key, text, lang) in enumerate(WEAK_LOCAL):
        attribution, subject = ATTRIBUTION[lang]
        add(
            f"weak_{key}",
            "unsubscribe-needs-confirmation",
            MPR + f"attribution line in {lang}",
            localized(text, f"w{lang}{i}", attribution, subject),
        )


# Automatic replies


def auto(
    name: str,
    source: str,
    *,
    subject: str,
    body: str,
    extra: str = "",
    sender: str = f"Zoe Walker <{ZOE}>",
    ctype: str = 'text/plain; charset="utf-8"',
    reply: bool = True,
    null: bool = False,
    label: str = "auto_reply",
    why: str = "",
) -> None:
    raw = head(
        mid=f"{name}@prospect.example",
        subject=subject,
        extra=extra,
        sender=sender,
        ctype=ctype,
        reply=reply,
    )
    if null:
        raw = raw.replace(f"Return-Path: <{ZOE}>", "Return-Path: <>")
    add(name, label, source, raw + "\n" + body + "\n", why)


EXCHANGE_OOF = "Auto-Submitted: auto-generated\nX-Auto-Response-Suppress: All\nX-MS-Exchange-Inbox-Rules-Loop: zoe@prospect.example\nThread-Topic: Hello"


def build_auto_replies() -> None:
    ex = SISIMAI + "rfc3834-01.eml (Exchange OOF headers)"
    auto(
        "ooo_exchange_en",
        ex,
        subject="Automatic reply: Hello",
        extra=EXCHANGE_OOF,
        body="Thank you for your message. I am out of the office until 12 January with no access to email. For urgent matters please contact max@prospect.example.",
    )
    auto(
        "ooo_exchange_de",
        ex,
        subject="Automatische Antwort: Hello",
        extra=EXCHANGE_OOF,
        body="Vielen Dank für Ihre Nachricht. Ich bin bis einschließlich 16.01.2026 nicht im Büro. In dringenden Fällen wenden Sie sich bitte an max@prospect.example.",
    )
    auto(
        "ooo_exchange_fr",
        ex,
        subject="Réponse automatique : Hello",
        extra=EXCHANGE_OOF,
        body="Bonjour, je suis absente jusqu'au 14 janvier. En cas d'urgence, contactez max@prospect.example.",
    )
    auto(
        "ooo_exchange_es",
        ex,
        subject="Respuesta automática: Hello",
        extra=EXCHANGE_OOF,
        body="Gracias por su mensaje. Estoy fuera de la oficina hasta el 15 de enero con acceso limitado al correo.",
    )
    auto(
        "ooo_exchange_pt",
        ex,
        subject="Resposta automática: Hello",
        extra=EXCHANGE_OOF,
        body="Obrigado pela mensagem. Estou de férias até o dia 19 de janeiro. Em caso de urgência, fale com max@prospect.example.",
    )
    auto(
        "ooo_exchange_html",
        ex,
        subject="Automatic reply: Hello",
        extra=EXCHANGE_OOF,
        ctype='text/html; charset="utf-8"',
        body="<html><body><p>Hello,</p><p>I'm currently on annual leave and will be back on Monday 19 January.</p><p>Kind regards,<br>Zoe</p></body></html>",
    )
    auto(
        "ooo_o365_away",
        ex,
        subject="Automatic reply: Hello",
        extra=EXCHANGE_OOF,
        body="I'm away from the office, back on the 20th. I will respond when I return.",
    )
    gm = SISIMAI + "rfc3834-01.eml (Gmail vacation responder: Auto-Submitted, own subject)"
    auto(
        "vacation_gmail_subject_own",
        gm,
        subject="Away until Jan 12",
        extra="Auto-Submitted: auto-replied",
        body="I'm travelling with limited access to email until January 12. I will reply when I'm back.",
    )
    auto(
        "vacation_gmail_re_subject",
        gm,
        subject="Re: Hello",
        extra="Auto-Submitted: auto-replied",
        body="Hi! I'm on holiday until the 9th and reading email rarely. Talk soon.",
    )
    auto(
        "vacation_gmail_reply_text",
        gm,
        subject="Re: Hello",
        extra="Auto-Submitted: auto-replied\nPrecedence: bulk",
        body="Thanks for your email, I'll get back to you as soon as I can.",
    )
    auto(
        "vacation_unix",
        SISIMAI + "rfc3834 (vacation(1): Precedence: junk)",
        subject="away from my mail",
        extra="Precedence: junk",
        body='I will not be reading my mail for a while. Your mail regarding "Hello" will be read when I return.',
    )
    auto(
        "zimbra_vacation",
        SISIMAI + "rfc3834 (Zimbra)",
        subject="Out of Office Re: Hello",
        extra="Auto-Submitted: auto-replied (zimbra; vacation)\nX-Mailer: Zimbra 9.0.0",
        body="I am on leave until 2026-01-14.",
    )
    auto(
        "notes_out_of_office",
        SISIMAI + "lhost-notes (Lotus Notes)",
        subject="Zoe Walker is out of the office.",
        extra="X-Mailer: Lotus Domino Release 9.0.1",
        body="I will be out of the office starting 05/01/2026 and will not return until 12/01/2026.\n\nI will respond to your message when I return.",
    )
    auto(
        "yahoo_autoreply_header",
        SISIMAI + "lhost-yahoo (X-Autoreply)",
        subject="Re: Hello",
        extra="X-Autoreply: yes",
        body="Thank you for your email. I am currently away.",
    )
    auto(
        "autorespond_helpdesk",
        SISIMAI + "rfc3834 (ticket system)",
        subject="[Ticket #48213] Re: Hello",
        extra="X-Autorespond: Re: Hello\nPrecedence: bulk\nAuto-Submitted: auto-replied",
        sender="Initech Support <support@prospect.example>",
        body="We have received your request. A member of our team will respond within 2 business days. Your ticket number is 48213.",
    )
    auto(
        "autoresponder_precedence_auto_reply",
        SISIMAI + "rfc3834",
        subject="Re: Hello",
        extra="Precedence: auto_reply",
        body="This mailbox is not monitored. Please write to info@prospect.example.",
    )
    auto(
        "left_company_auto",
        SISIMAI + "rfc3834 (left the company)",
        subject="Automatic reply: Hello",
        extra=EXCHANGE_OOF,
        body="Zoe Walker is no longer with Initech. Please direct your inquiries to sales@prospect.example. This mailbox is not monitored. Please remove this address from your lists.",
    )
    auto(
        "auto_subject_tag",
        SISIMAI + "rfc3834",
        subject="AUTO: Zoe Walker is out of the office (returning 12/01/2026)",
        body='I am out of the office until 12/01/2026.\n\nNote: This is an automated response to your message "Hello".',
    )
    auto(
        "ooo_subject_out_of_office",
        SISIMAI + "rfc3834",
        subject="Out of Office: Hello",
        body="I am out of the office until Monday with limited access to email.",
    )
    auto(
        "abwesenheitsnotiz",
        SISIMAI + "rfc3834 (German subject)",
        subject="Abwesenheitsnotiz: Hello",
        body="Ich bin ab dem 19.01. wieder im Büro. Ihre E-Mail wird nicht weitergeleitet.",
    )
    auto(
        "body_only_en",
        SISIMAI + "rfc3834-01.eml (body only, headers stripped by a relay)",
        subject="Re: Hello",
        body="I am currently out of the office until January 12th with limited access to email. For urgent matters, please contact max@prospect.example.\n\nBest,\nZoe",
    )
    auto(
        "body_only_de",
        SISIMAI + "rfc3834 (body only)",
        subject="AW: Hello",
        body="Ich bin bis zum 12.01. nicht im Büro und habe keinen Zugriff auf E-Mails. In dringenden Fällen wenden Sie sich an max@prospect.example.",
    )
    auto(
        "body_only_fr",
        SISIMAI + "rfc3834 (body only)",
        subject="RE: Hello",
        body="Je suis actuellement absente du bureau jusqu'au 12 janvier. En cas d'urgence, merci de contacter max@prospect.example.",
    )
    auto(
        "body_only_es",
        SISIMAI + "rfc3834 (body only)",
        subject="RE: Hello",
        body="Estoy de vacaciones hasta el 12 de enero. En caso de urgencia, escriba a max@prospect.example.",
    )
    auto(
        "body_only_pt",
        SISIMAI + "rfc3834 (body only)",
        subject="RES: Hello",
        body="Estou fora do escritório até o dia 12 de janeiro. Em caso de urgência, fale com max@prospect.example.",
    )
    auto(
        "challenge_response",
        SISIMAI + "rfc3834 (challenge-response)",
        subject="Please verify your email",
        sender="Zoe Walker (via SpamArrest) <zoe@prospect.example>",
        body="I'm protected by SpamArrest. To get your message delivered, please verify that you are a human by clicking the link below.\nhttp://verify.example/abc",
        label="machine_notice",
        why="relabelled machine_notice (issue 17): a challenge-response filter holds the mail"
        " until the sender verifies; a notice, not an auto-reply",
    )
    auto(
        "noreply_null_sender",
        SISIMAI + "rfc3834",
        subject="Re: Hello",
        null=True,
        extra="Auto-Submitted: auto-generated",
        sender="Initech <no-reply@prospect.example>",
        body="This address does not accept replies. Thank you.",
    )
    auto(
        "x_autogenerated",
        SISIMAI + "rfc3834",
        subject="Re: Hello",
        extra="X-Autogenerated: Reply",
        body="I'm away until the 15th.",
    )
    auto(
        "ooo_html_gmail_vacation",
        gm,
        subject="Out of office",
        extra="Auto-Submitted: auto-replied",
        ctype='text/html; charset="UTF-8"',
        body='<div dir="ltr">Hi, I\'m out until January 12th. For anything urgent, email max@prospect.example.</div>',
    )
    auto(
        "ooo_no_reply_headers",
        SISIMAI + "rfc3834 (no In-Reply-To)",
        subject="Automatic reply: Hello",
        reply=False,
        extra="Auto-Submitted: auto-replied",
        body="I am out of the office until 12 January.",
    )


# Bounces

MAILER = "Mail Delivery System <MAILER-DAEMON@mx.prospect.example>"


def bounce_head(
    name: str,
    subject: str,
    *,
    sender: str = MAILER,
    ctype: str = "text/plain; charset=us-ascii",
    extra: str = "Auto-Submitted: auto-replied",
) -> str:
    lines = [
        "Return-Path: <>",
        f"From: {sender}",
        f"To: {RITA}",
        f"Subject: {subject}",
        "Date: Mon, 05 Jan 2026 09:01:12 +0000",
        f"Message-ID: <{name}.bounce@mx.prospect.example>",
        "MIME-Version: 1.0",
        f"Content-Type: {ctype}",
    ]
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


RETURNED = f"""Return-Path: <{RITA}>
From: Rita Rep <{RITA}>
To: {ZOE}
Subject: Hello
Message-ID: {OUR_ID}
Date: Mon, 05 Jan 2026 09:00:00 +0000

Hi Zoe,
You said you need faster onboarding at Initech. Worth a short call?
"""


def exim(
    name: str, label: str, line: str, *, permanent_sentence: bool = True, rcpt: str = ZOE
) -> None:
    intro = "A message that you sent could not be delivered to one or more of its\nrecipients."
    if permanent_sentence:
        intro += " This is a permanent error. The following address(es) failed:"
    else:
        intro += " The following address(es) failed:"
    raw = (
        bounce_head(
            name,
            "Mail delivery failed: returning message to sender",
            extra="Auto-Submitted: auto-replied\nX-Failed-Recipients: " + rcpt,
        )
        + f"""
This message was created automatically by mail delivery software.

{intro}

  {rcpt}
    {line}

------ This is a copy of the message, including all the headers. ------

{RETURNED}"""
    )
    add(name, label, SISIMAI + "lhost-exim-01.eml", raw)


def dsn(
    name: str,
    label: str,
    status: str,
    diagnostic: str,
    *,
    action: str = "failed",
    human: str,
    subject: str = "Undelivered Mail Returned to Sender",
    source: str = "lhost-postfix-01.eml",
    sender: str = MAILER,
) -> None:
    raw = (
        bounce_head(
            name,
            subject,
            sender=sender,
            ctype='multipart/report; report-type=delivery-status; boundary="B1.1736067672/mx.prospect.example"',
        )
        + f"""
This is a MIME-encapsulated message.

--B1.1736067672/mx.prospect.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

{human}

--B1.1736067672/mx.prospect.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.prospect.example
Arrival-Date: Mon, 05 Jan 2026 09:00:01 +0000

Final-Recipient: rfc822; {ZOE}
Original-Recipient: rfc822;{ZOE}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--B1.1736067672/mx.prospect.example
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

{RETURNED.split(chr(10) + chr(10))[0]}

--B1.1736067672/mx.prospect.example--
"""
    )
    add(name, label, SISIMAI + source, raw)


POSTFIX_HUMAN = """This is the mail system at host mx.prospect.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

<zoe@prospect.example>: {what}"""
POSTFIX_DELAY = """This is the mail system at host mx.prospect.example.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for 4.0 hours.
It will be retried until it is 5.0 days old.

<zoe@prospect.example>: {what}"""


def plain_bounce(
    name: str,
    label: str,
    subject: str,
    body: str,
    source: str,
    *,
    sender: str = MAILER,
    extra: str = "Auto-Submitted: auto-replied",
) -> None:
    add(
        name,
        label,
        SISIMAI + source,
        bounce_head(name, subject, sender=sender, extra=extra) + "\n" + body + "\n\n" + RETURNED,
    )


def ndr(name: str, label: str, subject: str, text: str, code: str, source: str) -> None:
    raw = (
        bounce_head(
            name,
            subject,
            sender="Microsoft Outlook <postmaster@prospect.onmicrosoft.com>",
            ctype='multipart/report; report-type=delivery-status; boundary="ndr-b1"',
            extra="Auto-Submitted: auto-replied\nContent-Language: en-US\nX-MS-Exchange-Message-Is-Ndr:",
        )
        + f"""
--ndr-b1
Content-Type: text/plain; charset="utf-8"

{text}

Diagnostic information for administrators:

Generating server: AM0PR01MB1234.eurprd01.prod.exchangelabs.com

{ZOE}
Remote Server returned '{code}'

Original message headers:

{RETURNED.split(chr(10) + chr(10))[0]}

--ndr-b1
Content-Type: message/delivery-status

Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.com
Received-From-MTA: dns;mail.example.com
Arrival-Date: Mon, 5 Jan 2026 09:00:02 +0000

Final-Recipient: rfc822;{ZOE}
Action: {"failed" if label == "bounce_hard" else "delayed"}
Status: {code.split()[1]}
Diagnostic-Code: smtp;{code}

--ndr-b1--
"""
    )
    add(name, label, SISIMAI + source, raw)


def build_bounces() -> None:
    exim(
        "exim_550_user_unknown",
        "bounce_hard",
        "SMTP error from remote mail server after RCPT TO:<zoe@prospect.example>:\n    host mx1.prospect.example [192.0.2.10]: 550 5.1.1 <zoe@prospect.example>: Recipient address rejected: User unknown",
    )
    exim(
        "exim_550_no_status",
        "bounce_hard",
        "SMTP error from remote mail server after RCPT TO:<zoe@prospect.example>:\n    host mx1.prospect.example [192.0.2.10]: 550 No such user here",
    )
    exim(
        "exim_550_gmail_nonexistent",
        "bounce_hard",
        "SMTP error from remote mail server after RCPT TO:<zoe@prospect.example>:\n    host aspmx.l.google.com [192.0.2.27]: 550-5.1.1 The email account that you tried to reach does\n    not exist. Please try double-checking the recipient's email address for typos",
    )
    exim("exim_local_unknown", "bounce_hard", "Unrouteable address", permanent_sentence=False)
    exim(
        "exim_no_permanent_sentence_550",
        "bounce_hard",
        "SMTP error from remote mail server after RCPT TO:<zoe@prospect.example>:\n    host mx.prospect.example [192.0.2.11]: 550 mailbox unavailable",
        permanent_sentence=False,
    )
    exim(
        "exim_552_quota",
        "bounce_hard",
        "SMTP error from remote mail server after RCPT TO:<zoe@prospect.example>:\n    host mx.prospect.example [192.0.2.11]: 552 5.2.2 Mailbox full, quota exceeded",
    )
    exim("exim_retry_timeout", "bounce_soft", "retry timeout exceeded", permanent_sentence=False)
    plain_bounce(
        "exim_warning_delayed",
        "bounce_soft",
        "Warning: message 1vXyZ-0004aB-Cd delayed 24 hours",
        """This message was created automatically by mail delivery software.
A message that you sent has not yet been delivered to one or more of its
recipients after more than 24 hours on the queue on mx.prospect.example.

The message identifier is:     1vXyZ-0004aB-Cd
The subject of the message is: Hello

The address to which the message has not yet been delivered is:

  zoe@prospect.example
    host mx1.prospect.example [192.0.2.10]
    Connection timed out

No action is required on your part. Delivery attempts will continue for
some time, and this warning may be repeated at intervals if the message
remains undelivered. Eventually the mail delivery software will give up,
and when that happens, the message will be returned to you.""",
        "lhost-exim-0x.eml (delay warning)",
    )
    dsn(
        "postfix_user_unknown",
        "bounce_hard",
        "5.1.1",
        "550 5.1.1 <zoe@prospect.example>: Recipient address rejected: User unknown in virtual mailbox table",
        human=POSTFIX_HUMAN.format(
            what="host mx1.prospect.example[192.0.2.10] said: 550 5.1.1\n    <zoe@prospect.example>: Recipient address rejected: User unknown (in reply to RCPT TO command)"
        ),
    )
    dsn(
        "postfix_mailbox_disabled",
        "bounce_hard",
        "5.2.1",
        "550 5.2.1 The email account that you tried to reach is disabled",
        human=POSTFIX_HUMAN.format(
            what="host aspmx.l.google.com said: 550 5.2.1 The email\n    account that you tried to reach is disabled. (in reply to RCPT TO command)"
        ),
        source="lhost-postfix-14.eml",
    )
    dsn(
        "postfix_host_not_found",
        "bounce_hard",
        "5.4.4",
        "Host or domain name not found. Name service error",
        human=POSTFIX_HUMAN.format(
            what="Host or domain name not found. Name service error for\n    name=prospect.example type=AAAA: Host not found"
        ),
        source="lhost-postfix-2x.eml",
    )
    dsn(
        "postfix_delayed",
        "bounce_soft",
        "4.4.1",
        "connect to mx1.prospect.example[192.0.2.10]:25: Connection timed out",
        action="delayed",
        subject="Delayed Mail (still being retried)",
        human=POSTFIX_DELAY.format(
            what="connect to mx1.prospect.example[192.0.2.10]:25:\n    Connection timed out"
        ),
        source="lhost-postfix-0x.eml (delayed)",
    )
    dsn(
        "postfix_greylisted",
        "bounce_soft",
        "4.7.1",
        "450 4.7.1 <zoe@prospect.example>: Recipient address rejected: Greylisted, try again later",
        action="delayed",
        subject="Delayed Mail (still being retried)",
        human=POSTFIX_DELAY.format(what="host mx1.prospect.example said: 450 4.7.1 Greylisted"),
        source="lhost-postfix-0x.eml (greylisting)",
    )
    dsn(
        "postfix_over_quota_4",
        "bounce_soft",
        "4.2.2",
        "452 4.2.2 The email account that you tried to reach is over quota",
        action="delayed",
        subject="Delayed Mail (still being retried)",
        human=POSTFIX_DELAY.format(
            what="host aspmx.l.google.com said: 452-4.2.2 The recipient's\n    inbox is out of storage space."
        ),
        source="lhost-postfix-0x.eml (mailbox full)",
    )
    dsn(
        "sendmail_user_unknown",
        "bounce_hard",
        "5.1.1",
        "550 5.1.1 <zoe@prospect.example>... User unknown",
        subject="Returned mail: see transcript for details",
        source="lhost-sendmail-01.eml",
        sender="Mail Delivery Subsystem <MAILER-DAEMON@mx.prospect.example>",
        human="""The original message was received at Mon, 5 Jan 2026 09:00:01 GMT
from mail.example.com [192.0.2.1]

   ----- The following addresses had permanent fatal errors -----
<zoe@prospect.example>
    (reason: 550 5.1.1 <zoe@prospect.example>... User unknown)

   ----- Transcript of session follows -----
... while talking to mx1.prospect.example.:
>>> RCPT To:<zoe@prospect.example>
<<< 550 5.1.1 <zoe@prospect.example>... User unknown""",
    )
    dsn(
        "sendmail_warning_4h",
        "bounce_soft",
        "4.4.7",
        "Deferred: Connection timed out with mx1.prospect.example.",
        action="delayed",
        subject="Warning: could not send message for past 4 hours",
        source="lhost-sendmail-0x.eml (warning)",
        sender="Mail Delivery Subsystem <MAILER-DAEMON@mx.prospect.example>",
        human="""    **********************************************
    **      THIS IS A WARNING MESSAGE ONLY      **
    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **
    **********************************************

The original message was received at Mon, 5 Jan 2026 09:00:01 GMT

   ----- Transcript of session follows -----
<zoe@prospect.example>... Deferred: Connection timed out with mx1.prospect.example.
Warning: message still undelivered after 4 hours
Will keep trying until message is 5 days old""",
    )
    dsn(
        "amazonses_suppressed",
        "bounce_hard",
        "5.1.1",
        "smtp; 550 5.1.1 user unknown",
        subject="Delivery Status Notification (Failure)",
        source="lhost-amazonses-01.eml",
        sender="MAILER-DAEMON@amazonses.com",
        human="An error occurred while trying to deliver the mail to the following recipients:\nzoe@prospect.example",
    )
    dsn(
        "opensmtpd_error",
        "bounce_hard",
        "5.0.0",
        "550 Invalid recipient",
        subject="Delivery status notification: error",
        source="lhost-opensmtpd-01.eml",
        human="""Hi!

This is the MAILER-DAEMON, please DO NOT REPLY to this email.

An error has occurred while attempting to deliver a message for
the following list of recipients:

zoe@prospect.example: 550 Invalid recipient""",
    )
    dsn(
        "zoho_mailbox_full_5",
        "bounce_hard",
        "5.2.2",
        "552 5.2.2 Mailbox quota exceeded",
        subject="Undelivered Mail Returned to Sender",
        source="lhost-zoho-01.eml",
        human="This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its recipients.\n\nzoe@prospect.example, ERROR CODE :552 - Mailbox quota exceeded",
    )
    plain_bounce(
        "qmail_unknown_user",
        "bounce_hard",
        "failure notice",
        """Hi. This is the qmail-send program at mx.prospect.example.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<zoe@prospect.example>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.""",
        "lhost-qmail-01.eml",
        sender="MAILER-DAEMON@mx.prospect.example",
        extra="",
    )
    plain_bounce(
        "qmail_remote_550",
        "bounce_hard",
        "failure notice",
        """Hi. This is the qmail-send program at mx.prospect.example.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<zoe@prospect.example>:
192.0.2.32 does not like recipient.
Remote host said: 550 Unknown user zoe@prospect.example
Giving up on 192.0.2.32.

--- Below this line is a copy of the message.""",
        "lhost-qmail-0x.eml",
        sender="MAILER-DAEMON@mx.prospect.example",
        extra="",
    )
    plain_bounce(
        "qmail_deferral",
        "bounce_soft",
        "failure notice",
        """Hi. This is the qmail-send program at mx.prospect.example.
I tried to deliver a message to the following address, but it was deferred.
This is not a permanent error; I'll keep trying. I'll send another warning later.

<zoe@prospect.example>:
Connected to 192.0.2.32 but connection died. (#4.4.2)
I'm not going to try again; this message has been in the queue too long.

--- Below this line is a copy of the message.""",
        "lhost-qmail-0x.eml (deferral)",
        sender="MAILER-DAEMON@mx.prospect.example",
        extra="",
    )
    plain_bounce(
        "gmail_failed_permanently",
        "bounce_hard",
        "Delivery Status Notification (Failure)",
        """Delivery to the following recipient failed permanently:

     zoe@prospect.example

Technical details of permanent failure:
Google tried to deliver your message, but it was rejected by the server for the recipient domain prospect.example by mx1.prospect.example. [192.0.2.10].

The error that the other server returned was:
550 5.1.1 <zoe@prospect.example>... User Unknown

----- Original message -----""",
        "lhost-gmail-01.eml",
        sender="Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        extra="",
    )
    plain_bounce(
        "gmail_address_not_found",
        "bounce_hard",
        "Delivery Status Notification (Failure)",
        """** Address not found **

Your message wasn't delivered to zoe@prospect.example because the address couldn't be found, or is unable to receive mail.

Learn more here: https://support.google.com/mail/?p=NoSuchUser

The response was:

The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces.""",
        "rhost-google-0x.eml (Gmail's newer wording)",
        sender="Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        extra="",
    )
    plain_bounce(
        "gmail_delayed",
        "bounce_soft",
        "Delivery Status Notification (Delay)",
        """** Message not delivered yet **

There was a temporary problem delivering your message to zoe@prospect.example. Gmail will retry for 46 more hours. You'll be notified if the delivery fails permanently.

The response was:

The recipient server did not accept our requests to connect. [prospect.example 192.0.2.10: timed out]""",
        "lhost-gmail-0x.eml (delay)",
        sender="Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        extra="",
    )
    plain_bounce(
        "gmail_inbox_full",
        "bounce_soft",
        "Delivery Status Notification (Delay)",
        """** Message not delivered yet **

Your message to zoe@prospect.example couldn't be delivered yet because the recipient's inbox is full. Gmail will retry for 46 more hours.

The response was:

452 4.2.2 The recipient's inbox is out of storage space. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp""",
        "lhost-gmail-0x.eml (over quota)",
        sender="Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        extra="",
    )
    plain_bounce(
        "yahoo_user_unknown",
        "bounce_hard",
        "Failure Notice",
        """Sorry, we were unable to deliver your message to the following address.

<zoe@prospect.example>:
Remote host said: 550 5.1.1 <zoe@prospect.example>... User Unknown [RCPT_TO]

--- Below this line is a copy of the message.""",
        "lhost-yahoo-01.eml",
        sender="MAILER-DAEMON@yahoo.com",
        extra="",
    )
    plain_bounce(
        "yahoo_no_account",
        "bounce_hard",
        "Failure Notice",
        """Sorry, we were unable to deliver your message to the following address.

<zoe@prospect.example>:
554: delivery error: dd This user doesn't have a yahoo.com account (zoe@prospect.example) [0] - mta1012.mail.ir2.yahoo.com

--- Below this line is a copy of the message.""",
        "lhost-yahoo-0x.eml",
        sender="MAILER-DAEMON@yahoo.com",
        extra="",
    )
    plain_bounce(
        "yahoo_deferred",
        "bounce_soft",
        "Failure Notice",
        """Sorry, we were unable to deliver your message to the following address yet; we will keep trying.

<zoe@prospect.example>:
Remote host said: 451 Message temporarily deferred - [160]

--- Below this line is a copy of the message.""",
        "lhost-yahoo-0x.eml (deferred)",
        sender="MAILER-DAEMON@yahoo.com",
        extra="",
    )
    plain_bounce(
        "domino_not_listed",
        "bounce_hard",
        "DELIVERY FAILURE: User Zoe Walker (zoe@prospect.example) not listed in Domino Directory",
        """Your message

  Subject: Hello

was not delivered to:

  zoe@prospect.example

because:

  User Zoe Walker (zoe@prospect.example) not listed in Domino Directory""",
        "lhost-domino-01.eml",
        sender="Postmaster@prospect.example",
        extra="",
    )
    plain_bounce(
        "courier_unknown",
        "bounce_hard",
        "NOTICE: mail delivery status.",
        """This is a delivery status notification from mx.prospect.example,
running the Courier mail server.

The original message was received on Mon, 05 Jan 2026 09:00:01 +0000
from mail.example.com [192.0.2.1]

---------------------------------------------------------------------------

                           UNDELIVERABLE MAIL

Your message to the following recipients cannot be delivered:

<zoe@prospect.example>:
    mx1.prospect.example [192.0.2.10]:
>>> RCPT TO:<zoe@prospect.example>
<<< 550 <zoe@prospect.example>: Recipient address rejected: User unknown""",
        "lhost-courier-01.eml",
        sender="Courier mail server at mx.prospect.example <@>",
        extra="",
    )
    plain_bounce(
        "gmx_user_unknown",
        "bounce_hard",
        "Mail delivery failed: returning message to sender",
        """This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of
its recipients. This is a permanent error. The following address
failed:

"zoe@prospect.example":
SMTP error from remote server after RCPT command:
host: mx1.prospect.example
5.1.1 <zoe@prospect.example>: Recipient address rejected: User unknown""",
        "lhost-gmx-01.eml",
        sender="mailer-daemon@gmx.net",
        extra="",
    )
    plain_bounce(
        "mailru_no_mailbox",
        "bounce_hard",
        "Mail failure.",
        """This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  zoe@prospect.example
    SMTP error from remote mail server after RCPT TO:<zoe@prospect.example>:
    host mx1.prospect.example [192.0.2.10]: 550 Message was not accepted -- invalid mailbox.  Local mailbox zoe@prospect.example is unavailable: account is disabled""",
        "lhost-mailru-01.eml",
        sender="Mail Delivery System <mailer-daemon@corp.mail.ru>",
        extra="",
    )
    plain_bounce(
        "german_unzustellbar",
        "bounce_hard",
        "Unzustellbar: Hello",
        """Die Übermittlung an folgende Empfänger oder Gruppen ist fehlgeschlagen:

zoe@prospect.example
Die E-Mail-Adresse wurde in der Zieldomäne nicht gefunden. Eventuell ist sie falsch geschrieben oder existiert nicht mehr.

Diagnoseinformationen für Administratoren:

Remoteserver hat '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup' zurückgegeben.""",
        "lhost-exchange2007-0x.eml (German NDR)",
        sender="Microsoft Outlook <postmaster@prospect.onmicrosoft.com>",
        extra="",
    )
    ndr(
        "o365_recipient_not_found",
        "bounce_hard",
        "Undeliverable: Hello",
        """Your message to zoe@prospect.example couldn't be delivered.
zoe wasn't found at prospect.example.

Action Required: Recipient
Unknown To address

How to Fix It
The address may be misspelled or may not exist.""",
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        "lhost-office365-01.eml",
    )
    ndr(
        "exchange2007_recip_not_found",
        "bounce_hard",
        "Undeliverable: Hello",
        """Delivery has failed to these recipients or distribution lists:

Zoe Walker<mailto:zoe@prospect.example>
The recipient's e-mail address was not found in the recipient's e-mail system. Microsoft Exchange will not try to redeliver this message for you.""",
        "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
        "lhost-exchange2007-01.eml",
    )
    ndr(
        "o365_blocked_policy",
        "bounce_hard",
        "Undeliverable: Hello",
        """Your message to zoe@prospect.example couldn't be delivered.
The recipient's organization has a policy that blocks this message.""",
        "550 5.7.1 Delivery not authorized, message refused",
        "lhost-office365-0x.eml (policy)",
    )
    ndr(
        "o365_delayed",
        "bounce_soft",
        "Delivery delayed:Hello",
        """Delivery is delayed to these recipients or groups:

zoe@prospect.example

Subject: Hello

This message hasn't been delivered yet. Delivery will continue to be attempted.

The server will keep trying to deliver this message for the next 1 days, 19 hours and 53 minutes. You'll be notified if the message can't be delivered by that time.""",
        "451 4.4.0 Primary target IP address responded with: 421 4.4.2 Connection dropped due to SocketError",
        "lhost-office365-0x.eml (delayed)",
    )
    ndr(
        "o365_mailbox_full",
        "bounce_hard",
        "Undeliverable: Hello",
        """Your message to zoe@prospect.example couldn't be delivered.
zoe's mailbox is full.

Action Required: Recipient
Mailbox full""",
        "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException",
        "lhost-office365-0x.eml (quota)",
    )


# Machine notices: read receipts (RFC 8098 MDNs), a list server's notice, a challenge filter

OUR_HEADERS = f"""From: Rita Rep <{RITA}>
To: Zoe Walker <{ZOE}>
Subject: Hello
Date: Mon, 05 Jan 2026 09:00:00 +0000
Message-ID: {OUR_ID}
MIME-Version: 1.0
Content-Type: text/plain; charset="UTF-8"
"""


def build_machine_notices() -> None:
    add(
        "notice_outlook_read_receipt",
        "machine_notice",
        'RFC 8098 section 9 example; Outlook\'s "Read:" receipt (Reporting-UA, displayed)',
        head(
            mid="AM0PR07MB6100.READ@prospect.example",
            subject="Read: Hello",
            reply=False,
            ctype='multipart/report; report-type=disposition-notification;\n boundary="_rr_"',
            extra="Thread-Topic: Hello\nContent-Language: en-US",
        )
        + f"""
--_rr_
Content-Type: text/plain; charset="us-ascii"

Your message

  To: Zoe Walker
  Subject: Hello
  Sent: Monday, January 5, 2026 9:00:00 AM (UTC+00:00)

was read on Monday, January 5, 2026 10:12:00 AM (UTC+01:00).

--_rr_
Content-Type: message/disposition-notification

Reporting-UA: AM0PR07MB6100.eurprd07.prod.outlook.com; Microsoft Outlook 16.0
Final-Recipient: rfc822;{ZOE}
Original-Message-ID: {OUR_ID}
Disposition: automatic-action/MDN-sent-automatically; displayed

--_rr_--
""",
        "a read receipt: the recipient's client says the message was displayed",
    )
    add(
        "notice_gmail_mdn",
        "machine_notice",
        "RFC 8098 MDN as Google Workspace sends it: a text/rfc822-headers part with the original's headers",
        head(
            mid="CAJmdn01=gm@mail.gmail.com",
            subject="Read: Hello",
            ctype='multipart/report; report-type=disposition-notification;\n boundary="000000000000mdn"',
        )
        + f"""
--000000000000mdn
Content-Type: text/plain; charset="UTF-8"

This is a Return Receipt for the mail that you sent to {ZOE}.

Note: This Return Receipt only acknowledges that the message was displayed on the recipient's
computer. There is no guarantee that the recipient has read or understood the message contents.

--000000000000mdn
Content-Type: message/disposition-notification

Reporting-UA: mail.google.com; Gmail
Original-Recipient: rfc822;{ZOE}
Final-Recipient: rfc822;{ZOE}
Original-Message-ID: {OUR_ID}
Disposition: manual-action/MDN-sent-manually; displayed

--000000000000mdn
Content-Type: text/rfc822-headers

{OUR_HEADERS}
--000000000000mdn--
""",
        "a read receipt with the original's headers (our From, Subject, Message-ID): not a reply",
    )
    add(
        "notice_mailman_moderation",
        "machine_notice",
        "GNU Mailman 2.1 Mailman/Handlers/Hold.py (postheld.txt): a post held for the moderator",
        "\n".join(
            [
                "Return-Path: <sales-bounces@lists.prospect.example>",
                "From: sales-owner@lists.prospect.example",
                f"To: {RITA}",
                "Subject: Your message to Sales awaits moderator approval",
                "Date: Mon, 05 Jan 2026 09:01:00 +0000",
                "Message-ID: <mailman.3.1767603660.1234.sales@lists.prospect.example>",
                "MIME-Version: 1.0",
                'Content-Type: text/plain; charset="us-ascii"',
                "Precedence: bulk",
                "X-BeenThere: sales@lists.prospect.example",
                "X-Mailman-Version: 2.1.39",
                "List-Id: Sales team <sales.lists.prospect.example>",
                "X-List-Administrivia: yes",
                "Errors-To: sales-bounces@lists.prospect.example",
            ]
        )
        + """

Your mail to 'Sales' with the subject

    Hello

Is being held until the list moderator can review it for approval.

The reason it is being held:

    Post by non-member to a members-only list

Either the message will get posted to the list, or you will receive
notification of the moderator's decision.  If you would like to cancel
this posting, please visit the following URL:

    http://lists.prospect.example/mailman/confirm/sales/0a1b2c3d4e5f
""",
        "a mailing-list server's notice (held for moderation): no person wrote it",
    )
    add(
        "notice_boxbe_challenge",
        "machine_notice",
        "rjbs/Mail-DeliveryStatus-BounceParser t/corpus/boxbe-cr.msg (Boxbe waitlist notice)",
        "\n".join(
            [
                "Return-Path: <noreply@boxbe.com>",
                "From: Zoe Walker via Boxbe <noreply@boxbe.com>",
                f"Reply-To: {ZOE}",
                f"To: Rita Rep <{RITA}>",
                "Subject: Re: Hello (Action Required)",
                "Date: Mon, 05 Jan 2026 09:01:30 +0000",
                "Message-ID: <1767603690.4711.JavaMail.prod@app008.boxbe.com>",
                "MIME-Version: 1.0",
                'Content-Type: text/plain; charset="us-ascii"',
            ]
        )
        + """

Hello Rita Rep,

You will not receive any more courtesy notices from our members for two days.
Messages have been sent to Zoe Walker, who has been waitlisted.

Your message about "Hello" was waitlisted.

Please add yourself to my Boxbe Guest List and your messages will be delivered to my Inbox.
Click the link below to request approval:

https://www.boxbe.com/crs?tc=5150_8c2f

Thank you,
Zoe Walker

Powered by Boxbe -- "End Email Overload"
Visit http://www.boxbe.com/how-it-works?tc=5150_8c2f
""",
        "a challenge-response filter (Boxbe) waitlists the mail until the sender asks to be let in",
    )


def main() -> None:
    build_replies()
    build_unsubscribes()
    build_auto_replies()
    build_machine_notices()
    build_bounces()
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.eml"):
        old.unlink()
    names = [c["file"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate file names"
    manifest = []
    for case in CASES:
        (OUT / case["file"]).write_text(case["raw"].lstrip("\n"), encoding="utf-8")
        manifest.append(
            {
                "file": case["file"],
                "expected": case["expected"],
                "source": case["source"],
                "split": split_of(case["file"]),
                **({"why": case["why"]} if "why" in case else {}),
            }
        )
    header = (
        "# Inbound verdict corpus (bench/verdicts_inbound_build.py writes it; bench/verdicts.py scores it).\n"
        "# expected: reply | unsubscribe | unsubscribe-needs-confirmation | auto_reply | machine_notice |\n"
        "# bounce_hard | bounce_soft\n"
        "# source: the public sample whose shape the message follows; split: tuning or held_out,\n"
        "# by the first hex digit of the SHA-256 of the file name (0-4 held out), fixed before tuning.\n"
    )
    (OUT / "manifest.yaml").write_text(
        header + yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)
    )
    counts: dict[str, int] = {}
    for m in manifest:
        key = f"{m['split']}:{m['expected']}"
        counts[key] = counts.get(key, 0) + 1
    print(len(manifest), "messages;", ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
