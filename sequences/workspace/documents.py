"""Files a rep shares from a step (brochure, price list): stored once, linked as document:<id>.

A step's HTML links a document with <a href="document:42">; compose.py turns that into a tracked
/d/<token> link for each message, and a view records a "document_viewed" event with the name.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..errors import NotFound, ValidationError
from ..models import Document

MAX_BYTES = 20 * 1024 * 1024
_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")
_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


def clean_name(name: str) -> str:
    """A file name safe to show and to put in a Content-Disposition header."""
    cleaned = _NAME.sub("_", name).strip().strip(".")
    if not cleaned:
        raise ValidationError("a document needs a file name", "name")
    return cleaned[:255]


def create_document(
    session: Session,
    team_id: int,
    name: str,
    content: bytes,
    now: datetime,
    content_type: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> Document:
    """Store a file for the team; the content type is guessed from the name when not given."""
    name = clean_name(name)
    if not content:
        raise ValidationError("the file is empty", "file")
    if len(content) > max_bytes:
        raise ValidationError(f"the file is larger than {max_bytes} bytes", "file")
    kind = (content_type or "").split(";")[0].strip().lower()
    if not kind or kind == "application/octet-stream" or not _TYPE.match(kind):
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    document = Document(
        team_id=team_id,
        name=name,
        content_type=kind[:255],
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        created_at=now,
    )
    session.add(document)
    session.flush()
    return document


def get_document(session: Session, team_id: int, document_id: int) -> Document:
    document = session.get(Document, document_id)
    if document is None or document.team_id != team_id:
        raise NotFound("no such document")
    return document


def document_json(document: Document) -> dict[str, Any]:
    return {
        "id": document.id,
        "name": document.name,
        "content_type": document.content_type,
        "size": document.size,
        "sha256": document.sha256,
        "created_at": document.created_at.isoformat(),
        "href": f"document:{document.id}",
    }
