"""No operation takes another project's object by its id, wherever the id is sent.

Every id a request carries in its body or its query (read from the OpenAPI document: every
field that holds a UUID, or a list of them) is sent, one at a time, as an object of another
project, by an admin of the project the request is for, with the rest of the request valid.
Each must be refused with 404 or a 422 naming the field: never stored, never used to filter
(an id another project owns is no filter that matches nothing, it is a mistake to report).
Project ids themselves are the authorisation matrix's (tests/e2e/test_authorisation_matrix.py);
taxa are one tree shared by every project.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.e2e.test_authorisation_matrix import BODIES, Operation, _url, operations
from tests.support.api import ok
from tests.support.platform import RunningPlatform
from tests.support.two_projects import ProjectObjects, World, build_world

# What kind of object each id field names: the other project's one of that kind is sent.
# A new field holding ids fails the test until it is added here.
ID_KINDS: dict[str, str] = {
    "deployment_id": "deployment_id",
    "device_id": "device_id",
    "location_id": "location_id",
    "location_ids": "location_id",
    "also_devices": "device_id",
    "media_id": "media_id",
    "media_ids": "media_id",
    "sample_id": "sample_id",
}
# Ids that are not one project's: the taxon tree is the platform's, and project ids are the
# authorisation matrix's to try.
NOT_PROJECT_OBJECTS = {"taxon_id", "taxon_ids", "sensitive_taxa", "project_id"}


class Schemas:
    def __init__(self, document: dict[str, Any]) -> None:
        self.components = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def holds_ids(self, schema: dict[str, Any]) -> str | None:
        """ "one" or "many" when the schema is a UUID or a list of them."""
        schema = self.resolve(schema)
        for option in schema.get("anyOf", []):
            found = self.holds_ids(option)
            if found:
                return found
        if schema.get("format") == "uuid":
            return "one"
        if schema.get("type") == "array" and self.holds_ids(schema.get("items", {})) == "one":
            return "many"
        return None

    def id_fields(self, op: Operation) -> list[tuple[str, str, str]]:
        """(where, field, one/many) for every id the operation takes outside its path."""
        found = []
        for param in op.spec.get("parameters", []):
            held = self.holds_ids(param.get("schema", {}))
            if param.get("in") == "query" and held:
                found.append(("query", param["name"], held))
        content = op.spec.get("requestBody", {}).get("content", {})
        for media_type in ("application/json", "multipart/form-data"):
            if media_type not in content:
                continue
            schema = self.resolve(content[media_type]["schema"])
            for option in [schema, *schema.get("anyOf", [])]:
                option = self.resolve(option)
                for name, sub in option.get("properties", {}).items():
                    held = self.holds_ids(sub)
                    if held:
                        found.append((media_type, name, held))
        return found


def _request(
    world: World, op: Operation, where: str, field: str, value: str | list[str]
) -> dict[str, Any]:
    """The operation's valid request for the callers' own project, ``field`` replaced."""
    body = BODIES[op.key](world, world.own) if op.key in BODIES else {}
    if where == "query":
        return {**body, "params": {field: value}}
    if where == "application/json":
        return {**body, "json": {**(body.get("json") or {}), field: value}}
    # A form: the field as a part of its own, beside the file.
    data = {k: v for k, v in (body.get("data") or {}).items() if k != field}
    files = body.get("files")
    if isinstance(files, dict):
        files = {k: v for k, v in files.items() if k != field}
    assert isinstance(value, str)
    return {**body, "data": {**data, field: value}, "files": files}


def _refused(response: httpx.Response, where: str, field: str) -> str | None:
    """Why the answer is not a refusal of the foreign id, or None when it is one."""
    if response.status_code == 404:
        return None
    if response.status_code != 422:
        return f"answered {response.status_code}: {response.text[:200]}"
    # The field, or one item of it (["body", "media_ids", 1]).
    named = [name for f in response.json().get("fields") or [] for name in f["location"]]
    if field not in named:
        return f"answered 422 without naming {field}: {response.text[:200]}"
    return None


async def test_no_operation_takes_another_projects_object(
    wl: RunningPlatform, admin: str, tiny_detector: Path
) -> None:
    world = await build_world(wl, admin, tiny_detector)
    document = await ok(await wl.client.get("/openapi.json"), 200)
    schemas = Schemas(document)
    other: ProjectObjects = world.other

    tried: list[str] = []
    problems: list[str] = []
    for op in operations(document):
        for where, field, held in schemas.id_fields(op):
            if field in NOT_PROJECT_OBJECTS:
                continue
            assert field in ID_KINDS, (
                f"{op.key} takes ids in {where} field {field!r}: say in ID_KINDS what they name"
            )
            foreign = getattr(other, ID_KINDS[field])
            value: str | list[str] = [foreign] if held == "many" else foreign
            response = await world.client.request(
                op.method.upper(),
                _url(world, op, "own", world.own),
                # The project's own admin: nothing but the id can be what is refused.
                headers=world.headers("admin"),
                **_request(world, op, where, field, value),
            )
            tried.append(f"{op.key} {field}")
            why = _refused(response, where, field)
            if why is not None:
                problems.append(f"{op.key} with another project's {field} in {where}: {why}")
    # Not vacuous: the ids the probe stored before are among those tried.
    assert {
        "('POST', '/v1/uploads') deployment_id",
        "('POST', '/v1/media') deployment_id",
    } <= set(tried), tried
    assert not problems, "\n".join(problems)
