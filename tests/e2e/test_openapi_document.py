"""The OpenAPI document external apps and generated clients depend on, held to a committed copy.

What a client sees is compared in substance: paths, methods, operation ids, descriptions,
parameters, status codes, and request and response schemas with every reference resolved.
What a client cannot see is left out: the names of the schema components (a class may be
renamed or shared between views) and the titles derived from them. A change to the document
that is meant fails this test until the copy is written again on purpose:

    WILDLENS_WRITE_OPENAPI=1 .venv/bin/pytest tests/e2e/test_openapi_document.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from wildlens.common.http import create_app
from wildlens.common.service import discover_services
from wildlens.common.settings import Settings

COPY = Path(__file__).resolve().parents[1] / "data" / "openapi" / "wildlens.json"
METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}


class Resolver:
    """Schemas with every ``$ref`` replaced by what it names, titles dropped."""

    def __init__(self, components: dict[str, Any]) -> None:
        self.components = components

    def resolve(self, node: Any, seen: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [self.resolve(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name in seen:
                # A schema that contains itself (a tree): say how far up, not its name.
                return {"recursive": len(seen) - seen.index(name)}
            return self.resolve(self.components[name], (*seen, name))
        resolved = {
            key: self.resolve(value, seen)
            for key, value in node.items()
            if key != "title" or not isinstance(value, str)
        }
        if isinstance(resolved.get("required"), list):
            # Which fields are required is the substance; their order follows class layout.
            resolved["required"] = sorted(resolved["required"])
        return resolved


def normalised(document: dict[str, Any]) -> dict[str, Any]:
    resolver = Resolver(document.get("components", {}).get("schemas", {}))
    paths: dict[str, Any] = {}
    for path, item in sorted(document["paths"].items()):
        for method, operation in sorted(item.items()):
            if method not in METHODS:
                continue
            body = operation.get("requestBody")
            paths[f"{method.upper()} {path}"] = {
                "operation_id": operation.get("operationId"),
                "tags": operation.get("tags", []),
                "summary": operation.get("summary"),
                "description": operation.get("description"),
                "parameters": sorted(
                    (resolver.resolve(p) for p in operation.get("parameters", [])),
                    key=lambda p: (p["in"], p["name"]),
                ),
                "request_body": resolver.resolve(body) if body else None,
                "responses": {
                    status: resolver.resolve(response)
                    for status, response in sorted(operation.get("responses", {}).items())
                },
            }
    return {"info": {"title": document["info"]["title"]}, "paths": paths}


def test_the_openapi_document_is_unchanged_in_substance(tmp_path: Path) -> None:
    app = create_app(Settings(mode="embedded", data_dir=tmp_path), discover_services())
    current = normalised(app.openapi())
    if os.environ.get("WILDLENS_WRITE_OPENAPI") == "1":
        COPY.parent.mkdir(parents=True, exist_ok=True)
        COPY.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    committed = json.loads(COPY.read_text())
    changed = sorted(
        key
        for key in current["paths"].keys() | committed["paths"].keys()
        if current["paths"].get(key) != committed["paths"].get(key)
    )
    assert not changed, (
        "the OpenAPI document differs from tests/data/openapi/wildlens.json in these "
        f"operations: {changed}; if that is meant, write the copy again (see this module)"
    )
    assert current == committed
