"""The "Needs attention" list in real headless Chromium, as a rep works through it: a step that
failed after a data change (retry before the fix, then after it; skip), and a step held by a
paused mailbox (resume). After each click the test reads what the rep reads on the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from sequences import runtime
from sequences.models import Prospect
from sequences.workspace.accounts import create_user, default_team

from ..conftest import Sink
from ..sending_helpers import (
    drain,
    email,
    enroll_ids,
    enrollment,
    make_mailbox,
    make_prospect,
    make_sequence,
)
from ..webkit import CHEAP_HASH
from .conftest import screenshot
from .test_workspace import sign_in

pytestmark = pytest.mark.browser

RAW = ("dict object", "UndefinedError", "jinja", "Traceback", "sqlalchemy", "smtplib")


def _rep(rt: runtime.Runtime) -> int:
    with rt.sessions.begin() as s:
        rep = create_user(s, "rita@example.com", name="Rita Rep", team=default_team(s))
        rep.password_hash = CHEAP_HASH
        s.flush()
        return rep.id


def _three_problems(rt: runtime.Runtime, rep_id: int) -> dict[str, int]:
    """Zoë and Ian lost the field their step uses after they were enrolled; Yan's step waits on
    Rita's mailbox, paused for its bounce rate. Returns each one's enrollment id."""
    needy = make_sequence(
        rt, [email(body_html="<p>You need {{ fields.need }}</p>")], name="Speed pitch"
    )
    zoe = make_prospect(
        rt, "zoe@acme.example", first_name="Zoë", owner_id=rep_id, fields={"need": "speed"}
    )
    ian = make_prospect(
        rt, "ian@acme.example", first_name="Ian", owner_id=rep_id, fields={"need": "scale"}
    )
    zoe_enrollment, ian_enrollment = enroll_ids(rt, [zoe, ian], needy)
    with rt.sessions.begin() as s:  # the data changes after enrollment (a CSV re-import)
        s.execute(update(Prospect).where(Prospect.id.in_([zoe, ian])).values(fields={}))
    mailbox = make_mailbox(
        rt, owner_id=rep_id, paused=True, paused_reason="bounce rate 9.0% over the last 40 sends"
    )
    held = make_sequence(rt, [email()], name="Welcome", mailbox_id=mailbox)
    yan = make_prospect(rt, "yan@acme.example", first_name="Yan", owner_id=rep_id)
    [yan_enrollment] = enroll_ids(rt, [yan], held)
    outcomes = sorted(drain(rt))
    assert [o.split(":")[0].split(" ")[0] for o in outcomes] == ["failed", "failed", "rolled"]
    return {"Zoë": zoe_enrollment, "Ian": ian_enrollment, "Yan": yan_enrollment, "zoe": zoe}


def _item(page: Any, name: str) -> Any:
    return page.locator("#attention li", has_text=name)


def _flash(page: Any) -> str:
    return " ".join(page.locator(".flash").all_inner_texts())


def test_a_rep_retries_skips_and_resumes_from_the_needs_attention_list(
    page_factory: Any, rt: runtime.Runtime, smtp_sink: Sink, tmp_path: Path
) -> None:
    rep_id = _rep(rt)
    ids = _three_problems(rt, rep_id)
    page = page_factory()
    sign_in(page, "rita@example.com")

    # What Rita sees on her dashboard: three people, each in words, with the fix and buttons.
    section = page.locator("#attention")
    assert section.locator("h2").inner_text() == "Needs attention"
    assert section.locator("li").count() == 3
    zoe = _item(page, "Zoë").inner_text()
    assert "Speed pitch: Step 1 was not sent: Zoë has no `need` any more." in zoe
    assert "add `need` to the prospect, or give it a default in step 1, then retry" in zoe
    yan = _item(page, "Yan").inner_text()
    assert "Welcome: Step 1 is waiting: its mailbox is paused." in yan
    assert "clean the bounced addresses and resume the mailbox" in yan
    assert not any(raw in section.inner_text() for raw in RAW)
    assert _item(page, "Zoë").locator("button").all_inner_texts() == ["Retry", "Skip the step"]
    assert _item(page, "Yan").locator("button").all_inner_texts() == [
        "Resume the mailbox",
        "Skip the step",
    ]
    screenshot(page, "needs-attention", tmp_path)

    # Retry before the field is back: told what is still missing, Zoë stays on the list.
    _item(page, "Zoë").locator("button", has_text="Retry").click()
    page.wait_for_url("**/")
    assert _flash(page).startswith(
        "step 1 still cannot be sent: the prospect has no `need`; "
        "add the field `need` to the prospect (a CSV column `need`)"
    )
    assert _item(page, "Zoë").count() == 1 and section.locator("li").count() == 3
    assert enrollment(rt, ids["Zoë"]).status == "failed"

    # The field is back (the next import has it); now the retry takes.
    with rt.sessions.begin() as s:
        s.execute(update(Prospect).where(Prospect.id == ids["zoe"]).values(fields={"need": "x"}))
    _item(page, "Zoë").locator("button", has_text="Retry").click()
    page.wait_for_url("**/")
    assert _flash(page) == "The step will be sent again."
    assert _item(page, "Zoë").count() == 0 and section.locator("li").count() == 2
    assert enrollment(rt, ids["Zoë"]).status == "active"

    # Ian's step is not worth sending any more: skipped, he leaves the list.
    _item(page, "Ian").locator("button", has_text="Skip the step").click()
    page.wait_for_url("**/")
    assert _flash(page) == "Step skipped."
    assert _item(page, "Ian").count() == 0 and section.locator("li").count() == 1

    # Rita cleaned her list; she resumes her mailbox and the list is gone.
    _item(page, "Yan").locator("button", has_text="Resume the mailbox").click()
    page.wait_for_url("**/")
    assert _flash(page) == "The mailbox sends again; the waiting steps go out."
    assert page.locator("#attention").count() == 0

    # What the clicks did: Zoë's retried step and Yan's held step go out; Ian's skipped one not.
    assert sorted(drain(rt)) == ["sent", "sent"]
    assert sorted(m.envelope_to[0] for m in smtp_sink.messages()) == [
        "yan@acme.example",
        "zoe@acme.example",
    ]
