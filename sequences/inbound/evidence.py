"""Evidence in one parsed email: machine signs of an auto-reply, a person's words asking to stop. Pure.

Each finding is an `Evidence` with a strength and a detail naming what was seen (a header and
its value, a subject, a sentence of the reply), so a verdict can say why. Nothing here decides:
`verdicts` weighs the findings.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

from mailparser_reply import EmailReplyParser

from .classify import Parsed, header, names_a_date

log = logging.getLogger(__name__)

STRONG = "strong"
WEAK = "weak"


@dataclass(frozen=True)
class Evidence:
    """One sign: what it points to, how strongly, and the thing seen (shown to the rep)."""

    kind: str  # auto_reply | unsubscribe | engagement
    strength: str  # strong | weak
    detail: str


# The new words of a reply, for reading intent

# mail-parser-reply's languages: quoted headers ("Am ... schrieb"), signatures and disclaimers
# in each. Portuguese is not among them; quotequail (in classify) already cut its quotes.
_REPLY_LANGUAGES = ["en", "de", "es", "fr", "it", "nl"]


def intent_text(parsed: Parsed) -> str:
    """The sender's own new sentences: quoted history, signature and disclaimer removed.

    `parsed.new_text` has the quotes cut (quotequail, HTML converted first); mail-parser-reply
    then drops the signature block and legal disclaimers, where footers that mention
    "unsubscribe" live.
    """
    text = parsed.new_text
    if not text.strip():
        return ""
    try:
        found = EmailReplyParser(languages=list(_REPLY_LANGUAGES)).read(text)
        body = found.replies[0].body if found.replies else text
    except Exception:  # heuristic library on hostile text: keep the quote-stripped words
        log.warning("signature stripping failed; keeping the new text", exc_info=True)
        body = text
    lines = [ln for ln in body.splitlines() if not _FOOTER_LINE.search(ln)]
    return "\n".join(lines).strip()


# Footers and disclaimers that survive: link texts and instructions, never requests.
_FOOTER_LINE = re.compile(
    r"(https?://|www\.|\bclick here\b|\bto unsubscribe\b|\bif you (no longer|do not|don't) wish\b|"
    r"\bmanage (your )?(preferences|subscription)\b|\bunsubscribe (here|link|below)\b|"
    r"\b(this|the) (e-?mail|message) (and any|is) (attachments? )?(is )?confidential|"
    r"\bintended (only )?for the (named )?(addressee|recipient)|"
    r"not interested\?\s*unsubscribe|^\W*unsubscribe\W*:|"
    r"\bpara (darse|dejar de recibir)|\bsi (no )?desea\b|\bum sich abzumelden\b|"
    r"\bpour vous désabonner\b|\bpara (se )?descadastrar\b|\bpara cancelar\b)",
    re.I,
)


def _fold(text: str) -> str:
    """Lower case, accents kept (they matter in Spanish), typographic quotes made plain."""
    text = unicodedata.normalize("NFC", text).lower()
    return text.replace("\u2019", "'").replace("\u00a0", " ")


_SENTENCE = re.compile(r"(?<=[.!?¡¿])\s+|\n+")
_GREETING = re.compile(
    r"^\W*(hi|hello|hey|dear|hola|buenos días|buenas|estimad[oa]s?|hallo|guten tag|"
    r"sehr geehrte[rs]?|liebe[rs]?|bonjour|salut|madame|monsieur|olá|ola|oi|bom dia|prezad[oa]s?|"
    r"thanks?|thank you|thx|cheers|regards|best|br|gracias|saludos|danke|grüße|gruß|mfg|merci|"
    r"cordialement|obrigad[oa]|atenciosamente|abraços?|sent from my \w+)\b[^.!?]{0,40}[.!?,]?\W*$",
    re.I,
)

# Requests to stop, per language: imperative or first person, about being mailed.
_REQUESTS = {
    "en": (
        r"\bunsubscribe( me)?\b|\bremove (me|my (e-?mail|address|details|contact))\b|"
        r"\btake me off\b|\bopt( me)? ?out\b|\bstop (e-?mailing|emailing|sending|contacting|"
        r"writing( to)?|messaging|spamming)( me)?\b|\bdo not (e-?mail|contact|write to|message) me\b|"
        r"\bdon'?t (e-?mail|contact|write to|message) me\b|\bno (more|further) (e-?mails|messages|mails)\b|"
        r"\b(delete|erase) my (e-?mail|address|data|details)\b|\blose my (e-?mail|address)\b|"
        r"\bi (do not|don't) want (to (receive|get) )?(any )?(more |further )?(e-?mails|messages)\b|"
        r"\bcease (all )?(contact|communication)\b|\bplease stop\b|^stop\W*$|^remove\W*$"
    ),
    "es": (
        r"\bdar(me|nos)? de baja\b|\bdame de baja\b|\bd[eé]n(me)? de baja\b|\bden de baja\b|"
        r"^\W*(de )?baja\W*$|\bno me (env[ií]e[ns]?|manden?|escrib(a|an|as)|contacte[ns]?) más\b|"
        r"\bno quiero recibir\b|\b(elim[ií]n|qu[ií]t|borr|sac)(a|e|en)me de\b|"
        r"\bdej(e|en|a) de (enviarme|escribirme|contactarme|mandarme)\b|"
        r"\bcancelar (la |mi )?suscripci[oó]n\b|\bdesuscrib(ir|a|an)(me)?\b|\bdesuscribirme\b"
    ),
    "de": (
        r"\babmelden\b|\bmelden sie mich ab\b|\bbitte (entfernen|austragen|löschen|abbestellen)\b|"
        r"\b(entfernen|streichen|löschen|nehmen) sie mich\b|\btragen sie mich (bitte )?aus\b|"
        r"\bkeine (weiteren )?(e-?mails|mails|nachrichten|werbung) mehr\b|\babbestellen\b|"
        r"\b(bitte )?(kontaktieren|schreiben|anschreiben) sie mich (bitte )?nicht mehr\b|"
        r"\bnicht mehr (kontaktieren|anschreiben|anmailen)\b|\baus (ihrem|dem) verteiler\b"
    ),
    "fr": (
        r"\bd[ée]sabonn|\bd[ée]sinscri|\b(retirez|supprimez|enlevez|rayez)[- ]moi\b|"
        r"\bne me (contactez|[ée]crivez|envoyez) plus\b|\bne plus me (contacter|[ée]crire|envoyer|solliciter)\b|\barr[êe]tez de m'(écrire|ecrire|envoyer|contacter)\b|"
        r"\bje ne (souhaite|veux) plus (recevoir|être contacté)|\bmerci de me (retirer|supprimer|désinscrire)\b|"
        r"\bplus de (mails|e-mails|courriels)\b"
    ),
    "pt": (
        r"\bdescadastr(ar|e|em|ar-me|e-me)\b|\bcancelar (a |minha )?(inscrição|assinatura)\b|"
        r"\b(remov|tir|exclu)(a|am|e|em|ir)[- ]me\b|\bme (remov|tir|exclu)(a|am|e|em|er|ir)\b|"
        r"\bnão (quero|desejo) (mais )?receber\b|\bpar(e|em) de me (enviar|mandar|escrever|contatar)\b|"
        r"\bnão me (envie|enviem|mande|mandem|contate|contatem) mais\b|\bsair da lista\b"
    ),
}
_REQUEST = re.compile("|".join(f"(?:{p})" for p in _REQUESTS.values()), re.I | re.M)

# A request that is not one: negated, conditional, reported, or a question about something else.
_NOT_A_REQUEST = re.compile(
    r"\b(don'?t|do not|never|didn'?t|did not|no (quiero|necesito)|nicht|ne pas|não)\b.{0,20}"
    r"\b(unsubscrib|remove|take me off|baja|abmelden|désabonn|descadastr)|"
    r"\b(already|ya (me )?di|bereits|déjà|já)\b.{0,30}\b(unsubscrib|baja|abgemeldet|désabonn|descadastr)|"
    r"\b(how (do|can) (i|we)|where (do|can) i|cómo|wie kann|comment|como)\b.{0,40}(unsubscrib|baja|abmelden|désabonn|descadastr)|"
    r"\b(my|our|the|a|his|her|their) (team|colleague|client|customer|user|list|newsletter|"
    r"subscribers?|contacts?)\b.{0,30}\b(unsubscrib|remov)",
    re.I,
)

# A request on a condition ("if this is not relevant, remove me"): the rep decides.
_HEDGED = re.compile(
    r"\b(if|unless|si|wenn|falls|se|maybe|perhaps|quizás|vielleicht|peut-être|talvez)\b.{0,60}"
    r"\b(unsubscrib|remove|take me off|baja|abmelden|entfernen|désabonn|désinscri|retirez|descadastr|remova|opt ?out)",
    re.I,
)

# Short answers that may mean "leave me alone", or only "not now": the rep decides.
_AMBIGUOUS = re.compile(
    r"^\W*(no,? thanks?( you)?|no thank you|not interested|no interest|no|nope|not for us|"
    r"wrong (person|contact|address)|no gracias|no me interesa|no estoy interesad[oa]|"
    r"kein interesse|nein danke|pas intéressée?|non merci|ça ne m'intéresse pas|"
    r"não tenho interesse|não,? obrigad[oa]|sem interesse)\W*$",
    re.I,
)

# Requests written in a subject line ("Re:" prefixes removed first).
_SUBJECT_PREFIX = re.compile(r"^\s*((re|aw|antw|wg|fw|fwd|tr|rv|res|enc)\s*:\s*)+", re.I)

# A short message is the request; a long one with a request is a reply that also asks.
SHORT_WORDS = 14


# "Remove me from the invite", "take me off the thread": a request about something else.
_REMOVAL = (
    "remove",
    "take me off",
    "remov",
    "qu",
    "retirez",
    "elim",
    "borr",
    "sac",
    "tir",
    "exclu",
)
_LIST_WORDS = re.compile(
    r"\b(list|lists|mailing|mailings|e-?mails?|database|sequence|campaign|distribution|newsletter|"
    r"lista|listas|correos|base|liste|listes|envois|verteiler|mails|contacts?)\b",
    re.I,
)


def _is_request(sentence: str) -> bool:
    """A request to stop mail: matched, not negated or conditional, and about our mail."""
    if _NOT_A_REQUEST.search(sentence):
        return False
    for match in _REQUEST.finditer(sentence):
        said = match.group(0).lower()
        tail = sentence[match.end() : match.end() + 40]
        if said.startswith(_REMOVAL):
            after = re.match(r"\s+(?:from|off|of|de|da|do|aus)\b(.*)", tail)
            target = after.group(1) if after else (tail if said.endswith("off") else "")
            if target.strip(" .!,;") and not _LIST_WORDS.search(target):
                continue  # removed from an invite, a thread, a call: not from our mail
        return True
    return False


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def unsubscribe_evidence(parsed: Parsed) -> list[Evidence]:
    """A person's request to stop mail, strong when the message is the request, else weak."""
    text = _fold(intent_text(parsed))
    subject = _fold(_SUBJECT_PREFIX.sub("", parsed.subject)).strip()
    found: list[Evidence] = []
    sentences = _sentences(text)
    requests = [s for s in sentences if _is_request(s)]
    refused = [s for s in sentences if _REQUEST.search(s) and _NOT_A_REQUEST.search(s)]
    rest = [s for s in sentences if s not in requests and s not in refused]
    # Greetings and sign-offs say nothing either way.
    sentences = [s for s in sentences if s in requests or s in refused or not _GREETING.match(s)]
    rest = [s for s in rest if not _GREETING.match(s)]
    # Words beyond the request itself, in its own sentence too ("remove me, but write to Max").
    other_words = sum(_words(s) for s in rest) + sum(
        max(0, _words(s) - _words(" ".join(m.group(0) for m in _REQUEST.finditer(s))) - 3)
        for s in requests
    )
    hedged = [s for s in requests if _HEDGED.search(s)]
    if requests:
        said = requests[0][:80]
        if hedged:
            found.append(
                Evidence("unsubscribe", WEAK, f'asks to stop on a condition: "{hedged[0][:80]}"')
            )
        elif other_words <= SHORT_WORDS:
            found.append(Evidence("unsubscribe", STRONG, f'asks to stop: "{said}"'))
        else:
            found.append(
                Evidence(
                    "unsubscribe",
                    WEAK,
                    f'asks to stop ("{said}") in a reply that says more ({other_words} words)',
                )
            )
    subject_asks = bool(_REQUEST.search(subject)) and not _NOT_A_REQUEST.search(subject)
    if subject_asks and not requests:
        if _words(text) <= SHORT_WORDS:
            found.append(Evidence("unsubscribe", STRONG, f'subject asks to stop: "{subject[:80]}"'))
        else:
            found.append(
                Evidence(
                    "unsubscribe",
                    WEAK,
                    f'subject asks to stop ("{subject[:80]}"), the body says more',
                )
            )
    if not found and len(sentences) <= 2 and sentences and _AMBIGUOUS.match(" ".join(sentences)):
        found.append(Evidence("unsubscribe", WEAK, f'short refusal: "{" ".join(sentences)[:60]}"'))
    return found


# A mail client's one-click unsubscribe: generated (so it carries Auto-Submitted) but sent on the
# person's explicit request. Apple Mail marks it X-Apple-Unsubscribe; any client's is a generated
# mail whose subject is the request and whose body says little more.
_CLIENT_UNSUBSCRIBE_HEADERS = ("X-Apple-Unsubscribe",)


def client_unsubscribe_evidence(parsed: Parsed) -> list[Evidence]:
    """The person's mail client asking to unsubscribe for them (a header, or a generated mail
    whose subject asks to stop with a short body): strong, it is the person's own click."""
    for name in _CLIENT_UNSUBSCRIBE_HEADERS:
        value = header(parsed.msg, name)
        if value and value.lower() not in ("no", "false", "0"):
            return [
                Evidence(
                    "unsubscribe",
                    STRONG,
                    f"header {name}: {value[:20]} (a mail client's unsubscribe)",
                )
            ]
    auto_submitted = header(parsed.msg, "Auto-Submitted").lower()
    if not auto_submitted or auto_submitted.startswith("no"):
        return []
    if _AUTO_SUBJECT.search(parsed.subject):
        return []  # "Automatic reply: ...": a responder answering, whatever the subject says
    subject = _fold(_SUBJECT_PREFIX.sub("", parsed.subject)).strip()
    if not _REQUEST.search(subject) or _NOT_A_REQUEST.search(subject):
        return []
    if _words(parsed.new_text or parsed.body) > 2 * SHORT_WORDS:
        return []
    return [
        Evidence(
            "unsubscribe",
            STRONG,
            f'a mail client\'s unsubscribe (Auto-Submitted: {auto_submitted[:20]}, subject "{subject[:40]}")',
        )
    ]


# Automatic replies

_AUTO_SUBJECT = re.compile(
    r"^\s*(auto:|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|automated response|"
    r"out of (the )?office|ooo\b|away from (the )?office|on vacation|vacation reply|"
    r"abwesenheitsnotiz|abwesend|abwesenheit|automatische antwort|automatische rückantwort|"
    r"nicht im büro|außer haus|"
    r"réponse automatique|reponse automatique|absence du bureau|absent\b|"
    r"respuesta automática|respuesta automatica|fuera de la oficina|ausente|"
    r"resposta automática|resposta automatica|fora do escritório|"
    r"risposta automatica|fuori sede|automatisch antwoord|afwezig|autosvar|automatisk svar|"
    # Exchange's "Automatic reply:" / "Out of Office AutoReply:" in the other languages it
    # ships (Baltic, Slavic, Finno-Ugric, Nordic, Romanian, Turkish, Greek), with and
    # without their diacritics, as old clients and gateways strip them.
    r"automātiskā atbilde|automatiska atbilde|ārpus biroja|arpus biroja|automatinis atsakymas|"
    r"automaatvastus|odpowiedź automatyczna|odpowiedz automatyczna|autoodpowiedź|"
    r"automatická odpověď|automaticka odpoved|automatická odpoveď|automatikus válasz|"
    r"automatikus valasz|automaattinen vastaus|automatiskt svar|răspuns automat|raspuns automat|"
    r"automatski odgovor|samodejni odgovor|otomatik yan\u0131t|otomatik yanit|otomatik cevap|"
    r"автоматический ответ|автоматична відповідь|автоматичен отговор|αυτόματη απάντηση)"
    r"|\bis out of (the )?office\b|\bout of office\b.{0,10}$|\(auto(matic)?[- ]?reply\)",
    re.I,
)
# A first-person absence now or ahead ("I am away until"), not a story ("I was away").
_ABSENT_NOW = re.compile(
    r"\b(i am|i'm|i will be|i'll be|i shall be) (currently |now )?(out of (the )?office|away|"
    r"on (annual |parental |maternity |sick )?leave|on vacation|on holiday|travell?ing|"
    r"out of the country|not in the office|absent|off)\b|"
    r"\bthis is an automat(ic|ed) (reply|response|message)\b|"
    r"\bich bin (derzeit |zurzeit |momentan |bis )?.{0,40}(nicht im büro|abwesend|im urlaub|außer haus)|"
    r"\bich bin ab dem .{0,30} wieder (im büro|erreichbar)|"
    r"\bje suis (actuellement )?(absente?|en congés?|en vacances|hors du bureau|en déplacement)|"
    r"\bje serai (absente?|de retour)|"
    r"\bestoy (actualmente )?(fuera de la oficina|de vacaciones|ausente|fuera)|"
    r"\bestaré (fuera|ausente|de vacaciones)|\bestare fuera|"
    r"\bestou (atualmente )?(fora do escritório|de férias|ausente)|\bestarei (fora|ausente|de férias)",
    re.I,
)
_AUTO_MARKS = re.compile(
    r"\b(limited|no|intermittent) access to (my )?e-?mail|\bupon my return\b|\bwhen i return\b|"
    r"\b(i will|i'll) (respond|reply|get back to you|answer)\b.{0,40}\b(return|back)|"
    r"\bback (in the office )?on\b|\breturn(ing)? (to the office )?on\b|\buntil\b|"
    r"\bfor (urgent|immediate) (matters|issues|requests|inquiries|assistance)|\bif (this is|it is) urgent\b|"
    r"\bin (dringenden|eiligen) fällen\b|\bbis (einschließlich |zum )?\d|\bab dem \d|\bwieder (im büro|erreichbar|da)\b|"
    r"\ben cas d'urgence\b|\bjusqu'au\b|\bde retour le\b|"
    r"\ben caso de urgencia\b|\bsin acceso\b|\bsem acesso\b|\bsans accès\b|\bohne (e-?mail-?)?zugriff\b|\bkeinen zugriff\b|\bhasta el\b|\bvolveré\b|\bregresaré\b|"
    r"\bem caso de urgência\b|\baté (o dia )?\d|\bretorno (no dia|em)\b|"
    r"\bautomatic(ally)?\b|\bautomatisch\b|\bautomatique\b|\bautomática\b",
    re.I,
)
_CHALLENGE = re.compile(
    r"(verify (that )?you are (a )?human|please (confirm|verify) your (e-?mail|message)|"
    r"is protected by .{0,30}(spam|challenge)|sender verification|"
    r"your message (is being|has been) held|to get your message delivered,? please|"
    r"(has been|was) waitlisted|this account is protected by|"
    r"\b(add(ed)?|adding) (yourself|your (e-?mail )?address) to (my|the recipient's|their) "
    r"[^.\n]{0,30}(guest|allowed|approved|safe) ?(senders? )?list|"
    r"\byour address added to (my|the recipient's) [^.\n]{0,20}list|"
    r"\b(you're|you are)\s+listed\s+on\s+my\s[^.]{0,20}guest\s+list)",
    re.I,
)
# Vendors' own signs of a generated reply (besides RFC 3834): Exchange, Gmail, Zimbra, Notes.
_VENDOR_HEADERS = (
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoresponder",
    "X-Autogenerated",
    "X-Autoresponse",
    "X-AutoReply-From",
    "X-Mail-Autoreply",
    "X-Vacation",
    "X-FC-MachineGenerated",
    "X-Ms-Exchange-Generated-Message-Source",
)
_NO_REPLY_SENDER = re.compile(
    r"^(noreply|no-reply|do-not-reply|donotreply|autoreply|auto-reply)@", re.I
)


# A mailing-list server's own notices ("you are not a member", command results, moderation):
# list headers, and a sender that is the list software or its role address. A person's post
# through a list has the headers too but their own address, so it stays a reply.
_LIST_SERVER_HEADERS = (
    "X-MLServer",
    "X-ML-Server",
    "X-Mailman-Version",
    "X-Listserver",
    "X-ML-Info",
)
_LIST_HEADERS = ("List-Id", "List-Subscribe", "List-Unsubscribe", "List-Help", "Mailing-List")
_LIST_ROLE_SENDER = re.compile(
    r"^([^@]*[-_.](admin|owner|request|bounces?|ctl|help)|owner-[^@]+|mailman|majordomo|listserv|"
    r"listproc|sympa|ezmlm|lyris|fml)@",
    re.I,
)


def list_server_evidence(parsed: Parsed) -> list[Evidence]:
    """A notice from a mailing-list server itself, never a person's words."""
    msg = parsed.msg
    software = next((n for n in _LIST_SERVER_HEADERS if header(msg, n)), None)
    listed = software or next((n for n in _LIST_HEADERS if header(msg, n)), None)
    if not listed or not _LIST_ROLE_SENDER.match(parsed.from_email or ""):
        return []
    what = f"header {software}: {header(msg, software)[:40]}" if software else f"header {listed}"
    return [
        Evidence(
            "auto_reply",
            STRONG,
            f"mailing-list server notice ({what}, from {parsed.from_email})",
        )
    ]


def auto_reply_evidence(parsed: Parsed) -> list[Evidence]:
    """Machine signs of an automatic reply: headers, subjects, a body shaped like one."""
    msg = parsed.msg
    found: list[Evidence] = list_server_evidence(parsed)
    if _CHALLENGE.search(parsed.body[:5000]) or _CHALLENGE.search(parsed.subject):
        found.append(Evidence("auto_reply", STRONG, "challenge-response (sender verification)"))
    auto_submitted = header(msg, "Auto-Submitted").lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        found.append(
            Evidence("auto_reply", STRONG, f"header Auto-Submitted: {auto_submitted[:40]}")
        )
    for name in _VENDOR_HEADERS:
        value = header(msg, name)
        if value and value.lower() not in ("no", "false", "0"):
            found.append(Evidence("auto_reply", STRONG, f"header {name}: {value[:40]}"))
    precedence = header(msg, "Precedence").lower()
    bulk_on_a_reply = False
    if precedence in ("auto_reply", "bulk", "junk"):
        found.append(Evidence("auto_reply", STRONG, f"header Precedence: {precedence}"))
        bulk_on_a_reply = precedence == "bulk" and _answers_a_message(parsed)
    suppress = header(msg, "X-Auto-Response-Suppress")
    if re.search(r"\b(all|oof|autoreply)\b", suppress, re.I):
        # Exchange puts it on its own generated mail; alone it is not proof.
        found.append(
            Evidence("auto_reply", WEAK, f"header X-Auto-Response-Suppress: {suppress[:40]}")
        )
    mailer = header(msg, "X-Mailer")
    if re.search(r"\b(vacation|autorespond|auto-?reply)\b", mailer, re.I):
        found.append(Evidence("auto_reply", STRONG, f"header X-Mailer: {mailer[:40]}"))
    if _AUTO_SUBJECT.search(parsed.subject):
        found.append(Evidence("auto_reply", STRONG, f"subject: {parsed.subject[:60]}"))
    if parsed.envelope_null and _NO_REPLY_SENDER.match(parsed.from_email or ""):
        found.append(Evidence("auto_reply", WEAK, "null sender from a no-reply address"))
    text = parsed.new_text or parsed.body
    absent = _ABSENT_NOW.search(text[:3000])
    if absent and len(text) < 2500:
        # One "until" is what a person writes too ("away until Monday, ping me then"): the
        # shape of a generated reply is an absence with two more of its marks.
        marks = {m.group(0).lower() for m in _AUTO_MARKS.finditer(text[:3000])}
        if names_a_date(text[:3000]):
            marks.add("a return date")
        strength = STRONG if len(marks) >= 2 else WEAK
        found.append(
            Evidence(
                "auto_reply",
                strength,
                f'body shaped like an auto-reply: "{absent.group(0)[:60]}"'
                + (" with a return or referral" if marks else ""),
            )
        )
    if bulk_on_a_reply and len(found) == 1:
        # `Precedence: bulk` is what a list or a mail gateway puts on what it relays; on a
        # person's "Re:" with no other machine sign it says where the reply came through.
        return [
            Evidence(
                "auto_reply",
                WEAK,
                "header Precedence: bulk on a person's reply (a list's or gateway's header)",
            )
        ]
    return found


def _answers_a_message(parsed: Parsed) -> bool:
    """Shaped like a person answering: a reply or forward prefix on the subject, or an
    In-Reply-To, and no responder's subject."""
    if _AUTO_SUBJECT.search(parsed.subject):
        return False
    return bool(_SUBJECT_PREFIX.match(parsed.subject) or parsed.in_reply_to)


# Signs that a person answered: a question, a proposal, an agreement. Used to tell a person who
# mentions being away from a body-only auto-reply.
_ENGAGEMENT = re.compile(
    r"\?|\b(yes|sure|sounds good|let'?s|happy to|interested|call me|send me|book|schedule|"
    r"works for me|talk|meet|demo|pricing|quote|sí|claro|hablemos|ja,|gerne|sprechen|"
    r"oui|volontiers|parlons|sim,|claro|vamos)\b",
    re.I,
)


def engagement_evidence(parsed: Parsed) -> list[Evidence]:
    """A person's answer in the new text (a question, a yes, a proposal)."""
    text = intent_text(parsed)
    found = _ENGAGEMENT.search(text[:3000])
    if found and parsed.new_text.strip() != parsed.body.strip():
        return [
            Evidence("engagement", STRONG, f'answers ("{found.group(0)}") above quoted history')
        ]
    if found:
        return [Evidence("engagement", WEAK, f'answers ("{found.group(0)}")')]
    return []


# What a challenge-response notice asks for: which service holds the mail, and its verify link

_SERVICES = re.compile(
    r"\b(Boxbe|Bluebottle|SpamArrest|Spam Arrest|MailWasher|ChoiceMail|SaneBox|Mailshell|"
    r"SpamCop|Sendio|Zoho|Mailinblack|Mail In Black|Spamfighter|Earthlink)\b",
    re.I,
)
_PROTECTED_BY = re.compile(r"\b(?:protected by|via)\s+([A-Z][\w-]{2,30})")
_URL = re.compile(r"\bhttps?://[^\s<>\"')\]]{3,2000}", re.I)
_VERIFY_URL = re.compile(
    r"verif|confirm|allow|approv|challeng|/crs\b|waitlist|guest|whitelist|captcha|request", re.I
)
_NOT_A_VERIFY_URL = re.compile(
    r"how-it-works|unsubscribe|\.(gif|png|jpe?g)\b|/stfopen|/(about|faq|help|privacy)\b", re.I
)


def challenge_service(parsed: Parsed) -> str:
    """The challenge-response service named in the notice, else the sender's domain."""
    texts = (header(parsed.msg, "From"), parsed.subject, parsed.body[:5000])
    for text in texts:
        found = _SERVICES.search(text)
        if found:
            name = found.group(1)
            return name if name[0].isupper() else name.capitalize()
    for text in texts:
        named = _PROTECTED_BY.search(text)
        if named:
            return named.group(1)
    domain = (parsed.from_email or "").rpartition("@")[2]
    return domain or "the recipient's spam filter"


def challenge_link(parsed: Parsed) -> str | None:
    """The link the notice asks the sender to open (http or https only, never fetched): one
    that reads like a verify or allow link, not the service's home page or an image."""
    candidates = []
    # The converted text keeps a link's words, not its address: read the HTML's hrefs too.
    sources = [parsed.body[:20000]]
    for part in parsed.msg.walk():
        if part.get_content_type() == "text/html":
            try:
                sources.append(str(part.get_content())[:50000])
            except Exception:  # a broken charset or encoding: the text already read is enough
                continue
            break
    for url in _URL.findall("\n".join(sources)):
        url = url.rstrip(".,;:!?")
        path = url.split("://", 1)[1].partition("/")[2].split("?")[0].split("#")[0]
        if not path.strip("/") or _NOT_A_VERIFY_URL.search(url):
            continue
        candidates.append(url)
    return next((u for u in candidates if _VERIFY_URL.search(u)), None) or next(
        iter(candidates), None
    )
