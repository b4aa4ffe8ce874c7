"""/api/v1/documents: upload the files steps share (link them as <a href="document:<id>">)."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import select

from sequences.errors import ValidationError
from sequences.models import Document, User
from sequences.workspace import create_document, document_json, get_document

from ..db import db, rt
from ..inputs import accepts
from . import access
from .pagination import paginate

MAX_NAME = 255  # as the document says; a longer file name (not given as `name`) is shortened
bp = access.guard(Blueprint("api_documents", __name__, url_prefix="/api/v1"))


def _user() -> User:
    user: User = g.user
    return user


@bp.post("/documents")
@accepts("multipart")
def documents_create() -> tuple[Response, int]:
    """multipart/form-data with a `file` part (and an optional `name`)."""
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError("send the file as multipart/form-data, part `file`", "file")
    given = request.form.get("name", "")
    if len(given) > MAX_NAME:
        raise ValidationError(f"name: at most {MAX_NAME} characters", "name")
    name = given or upload.filename or ""
    document = create_document(
        db(),
        _user().team_id,
        name,
        upload.read(),
        rt().clock.now(),
        content_type=upload.mimetype,
    )
    db().commit()
    return jsonify(document_json(document)), 201


@bp.get("/documents")
def documents_list() -> Response:
    query = select(Document).where(Document.team_id == _user().team_id)
    return jsonify(paginate(db(), query, Document.id, document_json, newest_first=True))


@bp.get("/documents/<int:document_id>")
def documents_get(document_id: int) -> Response:
    return jsonify(document_json(get_document(db(), _user().team_id, document_id)))
