"""Templates have bounded cost, and attribute access the sandbox refuses is refused when saved:
at save (API and editor), in the preview, and at send, each error naming the step and part."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sequences import runtime
from sequences.models import Enrollment, Sequence, Step
from sequences.rendering import RenderError, render, validate
from sequences.template_limits import MAX_OUTPUT_CHARS, MAX_TEMPLATE_CHARS

from .conftest import Cast, Sink
from .sending_helpers import drain, email, enroll_ids, make_prospect, make_sequence
from .webkit import Team, login, seed_team, token

DOUBLING = '{% set x = "ab" %}' + "{% set x = x ~ x %}" * 30 + "{{ x | length }}"

COSTLY = {
    "string repetition": '{{ "a" * 20000000 }}',
    "list repetition": "{{ ([1] * 100000000) | length }}",
    "doubling with ~": DOUBLING,
    "doubling with +": '{% set x = "ab" %}' + "{% set x = x + x %}" * 30 + "{{ x }}",
    "center filter": '{{ "x" | center(1000000000) }}',
    "indent filter": '{{ ("a\\n" * 50000) | indent("x" * 50000) }}',
    "replace filter": '{{ ("x" * 99999) | replace("x", "yyyyyyyyyyyyyyy") }}',
    "join filter": '{{ (["x" * 50000] * 1000) | join(",") }}',
    "str method": '{{ "x".ljust(999999999) }}',
    "percent format": '{{ "%999999999s" % "x" }}',
    "str.format": '{{ "{:>999999999}".format("x") }}',
    "format filter": '{{ "%0999999d" | format(1) }}',
    "power": "{{ 7 ** 99999999 }}",
    "nested loops": '{% for a in "x" * 9999 %}{% for b in "x" * 9999 %}{% endfor %}{% endfor %}',
    "output size": '{% for a in "x" * 5000 %}{{ "y" * 500 }}{% endfor %}',
    "recursive macro": "{% macro f() %}{{ f() }}{{ f() }}{% endmacro %}{{ f() }}",
}

CONTEXT = {"first_name": "Ann", "fields": {"plan": "pro"}, "sender": {}, "unsubscribe_url": "u"}


@pytest.mark.parametrize("name", list(COSTLY))
def test_a_costly_template_is_refused_by_the_sandbox_and_at_save(name: str) -> None:
    source = COSTLY[name]
    with pytest.raises(RenderError, match=r"^body_html: too costly"):
        render(source, CONTEXT, html=True, part="body_html")
    problems = validate("body_html", source)
    assert [p.message.split(":")[0] for p in problems] == ["too costly"], name


def test_ordinary_templates_render_as_before() -> None:
    source = (
        "Hi {{ first_name | default('there') }}{{ ', ' ~ fields.plan | upper }}\n"
        "{% for k, v in fields | dictsort %}{{ loop.index }}. {{ k }}={{ v }}{% endfor %}\n"
        "{% macro sig(n) %}-- {{ n | title }}{% endmacro %}{{ sig('sam') }}\n"
        "{{ '<b>' ~ first_name }} {{ ['a', 'b'] | join(', ') }} {{ '%05d' | format(42) }}"
        " {{ '{:>6}'.format('x') }} {{ 2 ** 10 }} {{ '-' * 3 }}"
    )
    assert render(source, CONTEXT, html=True) == (
        "Hi Ann, PRO\n1. plan=pro\n-- Sam\n&lt;b&gt;Ann a, b 00042      x 1024 ---"
    )
    assert render("{{ '<b>' ~ first_name }}", CONTEXT, html=False) == "<b>Ann"
    assert validate("body_html", source) == []


def test_output_just_under_the_cap_is_fine() -> None:
    size = MAX_OUTPUT_CHARS - 10
    assert len(render(f'{{{{ "a" * {size} }}}}', CONTEXT, html=False)) == size


UNSAFE = [
    "{{ fields.__class__ }}",
    "{{ fields.__class__.__mro__ }}",
    "{{ sender.get.__globals__ }}",
    "{{ fields._secret }}",
    "{{ fields['__class__'] }}",
    "{{ fields | attr('__init__') }}",
    "{{ fields.update(plan='free') }}",
    "{{ first_name.mro }}",
]


def sequence_body(body_html: str, **step: Any) -> dict[str, Any]:
    return {
        "name": "Limits",
        "steps": [
            {"type": "call", "title": "Call first"},
            {"type": "email", "subject": "Hi", "body_html": body_html, **step},
        ],
    }


def test_unsafe_attribute_access_is_refused_at_save_naming_step_and_line(
    client: Any, cast: Cast
) -> None:
    for expression in UNSAFE:  # one test: the app is built once
        source = f"<p>Hi</p>\n<p>{{{{ first_name }}}}</p>\n<p>{expression}</p>"
        response = client.post("/api/v1/sequences", json=sequence_body(source), headers=cast.auth())
        assert response.status_code == 422, (expression, response.json)
        error = response.json["error"]
        assert error["field"] == "steps[1].body_html", expression
        assert "is not allowed in a template (line 3)" in error["message"], error
        assert error["details"][0]["line"] == 3
    variant = sequence_body("<p>ok</p>", options={"variants": [{"subject": "{{ x.__class__ }}"}]})
    response = client.post("/api/v1/sequences", json=variant, headers=cast.auth())
    assert response.status_code == 422
    assert response.json["error"]["field"] == "steps[1].options.variants[0].subject"
    assert client.get("/api/v1/sequences", headers=cast.auth()).json["items"] == []


def test_a_costly_or_oversized_template_is_refused_at_save_naming_the_step(
    client: Any, cast: Cast
) -> None:
    costly = client.post(
        "/api/v1/sequences", json=sequence_body('{{ "a" * 20000000 }}'), headers=cast.auth()
    )
    assert costly.status_code == 422
    assert costly.json["error"]["field"] == "steps[1].body_html"
    assert "too costly" in costly.json["error"]["message"]
    huge = client.post(
        "/api/v1/sequences",
        json=sequence_body("<p>" + "a" * MAX_TEMPLATE_CHARS + "</p>"),
        headers=cast.auth(),
    )
    assert huge.status_code == 422 and huge.json["error"]["field"] == "steps[1].body_html"
    assert f"at most {MAX_TEMPLATE_CHARS:,}" in huge.json["error"]["message"]
    notes = sequence_body("<p>ok</p>")
    notes["steps"][0]["notes"] = "n" * (MAX_TEMPLATE_CHARS + 1)
    response = client.post("/api/v1/sequences", json=notes, headers=cast.auth())
    assert response.status_code == 422 and response.json["error"]["field"] == "steps[0].notes"


def test_the_editor_preview_of_a_costly_template_is_a_short_error(
    client: Any, session: Session
) -> None:
    team: Team = seed_team(session)
    login(client, team.rep_email)
    response = client.post(
        "/sequences/preview",
        data={"subject": "Hi", "body_html": '{{ "a" * 20000000 }}'},
        headers={"X-CSRF-Token": token(client)},
    )
    assert response.status_code == 200
    assert "too costly" in response.text and len(response.data) < 20_000
    unsafe = client.post(
        "/sequences/preview",
        data={"subject": "{{ first_name.__class__ }}", "body_html": "x"},
        headers={"X-CSRF-Token": token(client)},
    )
    assert "not allowed in a template" in unsafe.text


def test_a_costly_template_stored_before_the_limits_fails_its_send_naming_the_step(
    rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    sequence_id = make_sequence(rt, [email(body_html="<p>fine</p>")])
    with rt.sessions.begin() as s:  # as if saved by an older version, without the check
        s.execute(update(Step).where(Step.sequence_id == sequence_id).values(body_html=DOUBLING))
    [enrollment_id] = enroll_ids(rt, [make_prospect(rt, "cost@acme.example")], sequence_id)
    [outcome] = drain(rt)
    assert outcome.startswith("failed: template_error")
    with rt.sessions() as s:
        enrollment = s.get(Enrollment, enrollment_id)
        assert enrollment is not None and enrollment.status == "failed"
        assert (enrollment.reason or "").startswith(
            "Step 1 was not sent: its template has an error; open step 1 in the editor"
        )
        assert s.scalar(select(Sequence.id)) == sequence_id
    assert smtp_sink.messages() == []
