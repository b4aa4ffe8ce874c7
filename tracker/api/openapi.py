"""The OpenAPI 3 document of /api/v1, merged from one YAML fragment per blueprint (tracker/spec/).

Each fragment holds the `paths` its blueprint serves and the `components` they use. The
responses every operation can give (401 without a key, 404 for an unknown id, 422 naming the
field; for operations that take a body 400 for malformed JSON, 413 for a body too large, 415
for a wrong Content-Type: tracker/inputs.py) are added here so fragments only write what is
particular.
tests/test_openapi.py checks that the document and app.url_map list the same routes.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify

SPEC_DIR = Path(__file__).resolve().parent / "spec"
METHODS = ("get", "put", "post", "patch", "delete")

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

_lock = threading.Lock()
_cached: dict[str, Any] | None = None


def _merge(into: dict[str, Any], fragment: dict[str, Any], name: str) -> None:
    for path, item in (fragment.get("paths") or {}).items():
        if path in into["paths"]:
            raise ValueError(f"{name}: path {path} is already documented by another fragment")
        into["paths"][path] = item
    for section, entries in (fragment.get("components") or {}).items():
        target = into.setdefault("components", {}).setdefault(section, {})
        for key, value in entries.items():
            if key in target:
                raise ValueError(f"{name}: components.{section}.{key} is defined twice")
            target[key] = value


def _add_common_responses(doc: dict[str, Any]) -> None:
    for item in doc["paths"].values():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            common = {"404": "NotFound", "422": "Invalid"}
            if operation.get("security", doc.get("security")):
                common["401"] = "Unauthorized"
                common["429"] = "TooManyBadKeys"
            if "requestBody" in operation or method in ("post", "put", "patch", "delete"):
                common.update({"400": "BadRequest", "413": "TooLarge", "415": "WrongType"})
            for code, name in common.items():
                responses.setdefault(code, {"$ref": f"#/components/responses/{name}"})


def build() -> dict[str, Any]:
    """The whole document: base.yaml first, then every other fragment in name order."""
    doc: dict[str, Any] = yaml.safe_load((SPEC_DIR / "base.yaml").read_text())
    doc.setdefault("paths", {})
    for path in sorted(SPEC_DIR.glob("*.yaml")):
        if path.name != "base.yaml":
            _merge(doc, yaml.safe_load(path.read_text()) or {}, path.name)
    _add_common_responses(doc)
    return doc


def document() -> dict[str, Any]:
    """The document, built once per process (a copy: callers may change theirs)."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = build()
        return copy.deepcopy(_cached)


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """Served without an API key: the document describes the API, it grants nothing."""
    response = jsonify(document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
