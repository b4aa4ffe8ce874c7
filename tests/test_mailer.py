"""The hand-built MIME reads back, through the standard library's parser, as what was put in."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from hypothesis import given, settings
from hypothesis import strategies as st

from sequences.sending.mime import OutgoingEmail, build

# Any printable text without line breaks (a header is one line; build rejects breaks).
one_line = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\r\n"),
    max_size=300,
).map(str.strip)
body = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=3000
)


def _mail(**overrides: object) -> OutgoingEmail:
    fields: dict[str, object] = {
        "from_email": "rita@acme.example",
        "from_name": "Rita",
        "to_email": "jose@example.com",
        "to_name": "José",
        "subject": "Hello",
        "html": "<p>Hi</p>",
        "text": "Hi",
        "message_id": "<abc@mail.example.test>",
        "date": datetime(2026, 11, 22, 9, 30, tzinfo=UTC),
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)  # type: ignore[arg-type]


def _parse(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _lines_fit_smtp(raw: bytes) -> bool:
    return raw.endswith(b"\r\n") and all(len(line) <= 998 for line in raw.split(b"\r\n"))


@settings(max_examples=150, deadline=None)
@given(name=one_line, subject=one_line, text=body, html=body)
def test_any_name_subject_and_body_read_back_unchanged(
    name: str, subject: str, text: str, html: str
) -> None:
    raw = build(_mail(from_name=name, subject=subject, text=text, html=html))
    assert _lines_fit_smtp(raw)
    assert b"\n" not in raw.replace(b"\r\n", b"")  # no bare line feeds
    msg = _parse(raw)
    assert not msg.defects
    assert msg["From"].addresses[0].addr_spec == "rita@acme.example"
    # Runs of spaces may fold to one; nothing else about a name or subject may change. (The
    # standard library's address parser puts a space between adjacent encoded words of a long
    # non-ASCII name, which RFC 2047 says to drop and mail clients do: names are compared without
    # spaces here, and with them in the test below.)
    display = msg["From"].addresses[0].display_name
    assert "".join(display.split()) == "".join(name.split())
    assert " ".join(str(msg["Subject"]).split()) == " ".join(subject.split())
    plain, rich = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and rich is not None
    # The wire's CRLF line ends read back as they were sent; compare the text line by line.
    assert plain.get_content().replace("\r\n", "\n").rstrip("\n") == text.rstrip("\n")
    assert rich.get_content().replace("\r\n", "\n").rstrip("\n") == html.rstrip("\n")


def test_every_header_a_follow_up_needs_is_there_and_parses() -> None:
    raw = build(
        _mail(
            from_name='Zoë "the closer" O\'Neil, Acmé',
            subject="¡Hola José! 🚀 " + "long words " * 20,
            reply_to="replies@acme.example",
            in_reply_to="<first@mail.example.test>",
            references=[f"<{n}-{'x' * 40}@mail.example.test>" for n in range(5)],
            list_unsubscribe_url="https://t.example.test/u/" + "t" * 120,
            list_unsubscribe_mailto="mailto:unsubscribe@mail.example.test?subject=u-" + "t" * 60,
            extra_headers={"X-Followup-Step": "3 · Zoë"},
        )
    )
    assert _lines_fit_smtp(raw)
    msg = _parse(raw)
    assert str(msg["From"]) == '"Zoë \\"the closer\\" O\'Neil, Acmé" <rita@acme.example>'
    assert msg["Subject"] == "¡Hola José! 🚀 " + "long words " * 20
    assert msg["Reply-To"] == "replies@acme.example"
    assert msg["In-Reply-To"] == "<first@mail.example.test>"
    assert msg["References"].split() == [f"<{n}-{'x' * 40}@mail.example.test>" for n in range(5)]
    assert [u.strip(" <>") for u in msg["List-Unsubscribe"].split(",")] == [
        "https://t.example.test/u/" + "t" * 120,
        "mailto:unsubscribe@mail.example.test?subject=u-" + "t" * 60,
    ]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["X-Followup-Step"] == "3 · Zoë"
    assert msg["Message-ID"] == "<abc@mail.example.test>"
    assert msg["Date"].datetime == datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_charset() for p in msg.iter_parts()] == ["utf-8", "utf-8"]


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet="ab.-_+'{}=?^/@ \"()<>[]\u00e9,;:\\", max_size=24)
    | st.from_regex(r"[a-z0-9+._-]{1,12}@[a-z0-9.-]{1,12}", fullmatch=True)
)
def test_mail_and_rcpt_send_what_smtplib_would_for_any_address(address: str) -> None:
    """The transport's shortcut past smtplib's quoteaddr() writes the same command."""
    import smtplib

    from sequences.smtp.transport import _SIMPLE_ADDRESS

    if _SIMPLE_ADDRESS.fullmatch(address):
        assert smtplib.quoteaddr(address) == f"<{address}>"
