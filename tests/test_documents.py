"""Shared documents: uploaded once, linked from a step, served by /d/<token>, each view recorded."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy.orm import Session

from sequences.clock import FrozenClock
from sequences.models import Team
from sequences.runtime import Runtime
from sequences.workspace.activity import summarize
from sequences.workspace.documents import create_document

from .conftest import Cast
from .tracking_support import BROWSER, events, send_message

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def upload(client: Any, cast: Cast, name: str, data: bytes, mimetype: str) -> Any:
    return client.post(
        "/api/v1/documents",
        data={"file": (io.BytesIO(data), name, mimetype)},
        headers=cast.auth(),
        content_type="multipart/form-data",
    )


def test_document_link_serves_the_file_and_records_a_view_with_its_name(
    client: Any, cast: Cast, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    made = upload(client, cast, "Price list 2026.pdf", PDF, "application/pdf")
    assert made.status_code == 201, made.json
    assert made.json["href"] == f"document:{made.json['id']}" and made.json["size"] == len(PDF)
    sent = send_message(
        rt, body=f'<p>Here is <a href="{made.json["href"]}">our price list</a>.</p>'
    )
    [path] = sent.documents
    assert "document:" not in sent.html and path in sent.text  # the text part links it too
    clock.advance(hours=1)

    response = client.get(path, headers={"User-Agent": BROWSER})
    assert response.status_code == 200 and response.data == PDF
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        "inline; filename*=UTF-8''Price%20list%202026.pdf"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    [view] = events(session, sent.message_id, "document_viewed")
    assert view.data["name"] == "Price list 2026.pdf" and view.verdict == "human"
    summary = summarize(events(session, sent.message_id))
    assert summary["documents_viewed"] == 1 and summary["opens"] == 1  # inferred from the view


def test_html_document_is_downloaded_never_rendered_on_our_domain(
    client: Any, cast: Cast, rt: Runtime, clock: FrozenClock
) -> None:
    made = upload(client, cast, "page.html", b"<script>alert(1)</script>", "text/html").json
    sent = send_message(rt, body=f'<a href="document:{made["id"]}">x</a>')
    clock.advance(hours=1)
    response = client.get(sent.documents[0], headers={"User-Agent": BROWSER})
    assert response.status_code == 200
    assert response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Security-Policy"] == "sandbox"


def test_document_of_another_team_or_a_bad_token_is_not_served(
    client: Any, cast: Cast, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    other = Team(name="Other")
    session.add(other)
    session.flush()
    foreign = create_document(session, other.id, "secret.pdf", PDF, clock.now())
    session.commit()
    sent = send_message(rt, body=f'<a href="document:{foreign.id}">x</a>')
    assert client.get(sent.documents[0]).status_code == 404
    assert client.get(sent.documents[0][:-3] + "AAA").status_code == 404
    assert client.get("/d/nonsense").status_code == 404
    assert events(session, sent.message_id, "document_viewed") == []


def test_upload_without_a_file_or_empty_is_a_422_naming_the_field(client: Any, cast: Cast) -> None:
    response = client.post("/api/v1/documents", data={}, headers=cast.auth())
    assert response.status_code == 422 and response.json["error"]["field"] == "file"
    response = upload(client, cast, "empty.pdf", b"", "application/pdf")
    assert response.status_code == 422 and response.json["error"]["field"] == "file"


def test_documents_are_listed_for_the_team(client: Any, cast: Cast) -> None:
    upload(client, cast, "a.pdf", PDF, "application/pdf")
    upload(client, cast, "../../etc/b.txt", b"hello", "text/plain")
    names = [d["name"] for d in client.get("/api/v1/documents", headers=cast.auth()).json["items"]]
    assert names[1] == "a.pdf" and names[0].endswith("etc_b.txt") and "/" not in names[0]
