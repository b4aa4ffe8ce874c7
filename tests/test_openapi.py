"""The OpenAPI document matches the code: every /api/v1 route is documented, and nothing else."""

from __future__ import annotations

import re
from typing import Any

from openapi_spec_validator import validate

from tracker.api.openapi import METHODS, build

PREFIX = "/api/v1"
# <int:prospect_id>, <any(pause, resume, unenroll):action>, <name> -> {name}
_ARG = re.compile(r"<(?:[^<>]*:)?(\w+)>")


def routes(app: Any) -> set[tuple[str, str]]:
    """(method, OpenAPI path) for every rule the app serves under /api/v1."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = _ARG.sub(r"{\1}", rule.rule[len(PREFIX) :])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((method.lower(), path))
    return found


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in doc["paths"].items()
        for method in METHODS
        if method in item
    }


def test_every_api_route_is_in_the_document_and_nothing_else(app: Any) -> None:
    doc = build()
    served, written = routes(app), documented(doc)
    assert served - written == set(), "routes the OpenAPI document lacks (tracker/spec/*.yaml)"
    assert written - served == set(), "documented routes the app does not serve"


def test_the_document_is_valid_openapi_3(app: Any) -> None:
    doc = build()
    validate(doc)
    ids = [
        op["operationId"]
        for item in doc["paths"].values()
        for m, op in item.items()
        if m in METHODS
    ]
    assert len(ids) == len(set(ids)), "operationIds are unique"


def test_every_operation_documents_its_path_parameters_and_errors(app: Any) -> None:
    doc = build()
    for path, item in doc["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            params = [*item.get("parameters", []), *operation.get("parameters", [])]
            declared = set()
            for param in params:
                if "$ref" in param:
                    param = doc["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
                if param["in"] == "path":
                    declared.add(param["name"])
            assert declared == names, (method, path)
            assert operation.get("summary"), (method, path)
            codes = set(operation["responses"])
            assert {"404", "422"} <= codes, (method, path)
            if path != "/openapi.json":
                assert "401" in codes, (method, path)


def test_document_is_served_without_a_key(client: Any) -> None:
    response = client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200 and response.is_json
    assert response.json["openapi"].startswith("3.")
    assert response.json["servers"] == [{"url": PREFIX}]
    assert "/webhooks" in response.json["paths"]
