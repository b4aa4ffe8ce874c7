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
import zoneinfo
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


# What tracker/inputs.py refuses in any text (tab, LF and CR are text), as JSON Schema patterns
# so that clients and generated tests read the rule from the document, not from prose only.
# A string marked `x-line: true` is one line (no CR or LF either); one with `minLength` needs a
# character that is not a space (the code trims).
_CONTROL = "\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F"
_LINE_CONTROL = "\\u0000-\\u0008\\u000A-\\u001F\\u007F-\\u009F"
TEXT_PATTERN = f"^[^{_CONTROL}]*$"


def text_pattern(*, line: bool, nonblank: bool) -> str:
    bad = _LINE_CONTROL if line else _CONTROL
    return f"^[^{bad}]*[^{bad}\\s][^{bad}]*$" if nonblank else f"^[^{bad}]*$"


def _timezones() -> list[str]:
    """The IANA zones this install knows (the enum of components.schemas.Timezone)."""
    return sorted(zoneinfo.available_timezones())


def _add_text_rule(doc: dict[str, Any]) -> None:
    """Give every free text string a request can carry (no enum, format or pattern of its own)
    its pattern: parameters and bodies, and the components they refer to. Headers are left as
    they are: the code reads Idempotency-Key as given."""
    components = doc.get("components", {})
    stack: list[Any] = [
        p for p in components.get("parameters", {}).values() if p.get("in") != "header"
    ]
    for item in doc["paths"].values():
        params = [*item.get("parameters", [])]
        for method in METHODS:
            operation = item.get(method) or {}
            params.extend(operation.get("parameters", []))
            stack.append(operation.get("requestBody"))
        stack.extend(p for p in params if p.get("in") != "header")
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref not in seen:
                seen.add(ref)
                section, name = ref.split("/")[-2:]
                target = components.get(section, {}).get(name)
                if not (section == "parameters" and (target or {}).get("in") == "header"):
                    stack.append(target)
            if node.get("type") == "string" and not {"enum", "format", "pattern"} & node.keys():
                node["pattern"] = text_pattern(
                    line=bool(node.get("x-line")), nonblank=node.get("minLength", 0) > 0
                )
            stack.extend(node.values())


def build() -> dict[str, Any]:
    """The whole document: base.yaml first, then every other fragment in name order."""
    doc: dict[str, Any] = yaml.safe_load((SPEC_DIR / "base.yaml").read_text())
    doc.setdefault("paths", {})
    for path in sorted(SPEC_DIR.glob("*.yaml")):
        if path.name != "base.yaml":
            _merge(doc, yaml.safe_load(path.read_text()) or {}, path.name)
    _add_common_responses(doc)
    doc["components"]["schemas"]["Timezone"]["enum"] = _timezones()
    _add_text_rule(doc)
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
