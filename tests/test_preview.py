"""A step as a prospect reads it: values marked, missing fields filled in and listed with the
fix, template errors in words (sequences/preview.py, no database)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from sequences.preview import preview_step, subject_as_read
from sequences.sending import TrackingUrls

URLS = TrackingUrls("https://t.example.test", ("k" * 32,), "mail.example.test")
SENDER = {"name": "Sam Sender", "first_name": "Sam", "email": "sam@example.com"}


def prospect(**values: Any) -> SimpleNamespace:
    base: dict[str, Any] = dict.fromkeys(
        ("first_name", "last_name", "company", "phone", "timezone")
    )
    base.update(email="ana@acme.example", fields={})
    base.update(values)
    return SimpleNamespace(**base)


def preview(subject: str, body_html: str, who: Any = None, **kw: Any) -> Any:
    return preview_step(
        subject=subject,
        body_html=body_html,
        body_text=kw.pop("body_text", None),
        prospect=who,
        who="Ana" if who is not None else "the sample prospect",
        sender=SENDER,
        urls=URLS,
        token_id="00" * 16,
        **kw,
    )


def test_a_missing_field_renders_as_a_marked_placeholder_and_is_listed_with_the_fix() -> None:
    ana = prospect(first_name="Ana")
    result = preview(
        "What {{ company }} gets",
        "<p>Hi {{ first_name }}, {{ company }} and {{ fields.need }}</p>",
        ana,
        step=2,
    )
    assert result.problem is None
    assert [(m.name, m.parts) for m in result.missing] == [
        ("company", ("subject", "body")),
        ("fields.need", ("body",)),
    ]
    assert "{{ company | default('your team') }}` in step 2's subject and body" in (
        result.missing[0].fix
    )
    assert result.subject_html == 'What <mark class="field missing">[company]</mark> gets'
    assert ">Ana</mark>" in result.body_html and ">[need]</mark>" in result.body_html
    assert "Hi Ana, [company] and [need]" in result.body_text  # plain text: no marks


def test_a_field_with_a_default_is_not_missing_and_a_value_in_a_link_keeps_the_link() -> None:
    result = preview(
        "Hi {{ first_name | default('there') }}",
        "<p><a href=\"{{ fields.url | default('https://example.com/a?b=1&c=2') }}\">go</a>"
        " {{ company | upper }}</p><style>p { color: red }</style>",
        prospect(fields={"url": "https://acme.example/x"}, company="Acme"),
    )
    assert result.missing == []
    assert result.subject_html == "Hi there"
    assert 'href="https://acme.example/x"' in result.body_html  # no mark inside the tag
    assert "ACME" in result.body_html and "<style>p { color: red }</style>" in result.body_html


def test_the_sample_prospect_reads_the_standard_fields_and_lacks_custom_ones() -> None:
    result = preview("For {{ company }}", "<p>{{ fields.need }}</p>")
    assert result.email == "jane@example.com"
    assert result.subject_html == 'For <mark class="field">Example Inc</mark>'
    assert [m.label for m in result.missing] == ["need"]


@pytest.mark.parametrize("body", ["{{ 1 / 0 }}", "{{ first_name.x.y() }}", "{{ 'a' * 100000000 }}"])
def test_a_template_error_is_explained_in_words_with_an_error_id_not_the_exception(
    body: str, caplog: pytest.LogCaptureFixture
) -> None:
    result = preview("Hi", body, prospect(first_name="Ana"), step=3)
    assert result.problem is not None
    assert result.problem.message == "Step 3's body cannot be written: its template has an error"
    text = result.problem.message + result.problem.fix
    for raw in ("division", "attribute", "undefined", "too costly", "Undefined"):
        assert raw not in text
    assert result.problem.error_id in caplog.text


def test_subjects_as_read_on_the_pages() -> None:
    assert subject_as_read("Hi {{ first_name }} & co") == (
        'Hi <mark class="field">Jane</mark> &amp; co'
    )
    ana = prospect(first_name="<b>Ana</b>")
    assert subject_as_read("Hi {{ first_name }}", ana) == (
        'Hi <mark class="field">&lt;b&gt;Ana&lt;/b&gt;</mark>'
    )
    assert "template error" in subject_as_read("Hi {{ 1 / 0 }}")
    assert subject_as_read(None) == ""
