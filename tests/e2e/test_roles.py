"""Role checks generated from the OpenAPI document: every operation under a project answers a
caller without a token 401, an outsider 404 and a device token 403, whatever it sends, before
anything else is looked at.

The document is read from the running app, so endpoints added later are checked without
anyone listing them here. An operation that legitimately behaves otherwise goes in
``EXCEPTIONS`` with the reason.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.api import Site, bearer, ok
from tests.support.factories import Tokens
from tests.support.platform import RunningPlatform

PROJECT_PATH = "/v1/projects/{project_id}"
METHODS = ("get", "post", "put", "patch", "delete")

# (method, path template) -> why it differs from the rule. None so far: add an entry only with
# a reason a reviewer would accept.
EXCEPTIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    spec: dict[str, Any]

    def url(self, project_id: str) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            return project_id if name == "project_id" else _path_value(self.spec, name)

        return re.sub(r"\{([^}]+)\}", fill, self.path)


def _path_value(spec: dict[str, Any], name: str) -> str:
    """A plausible value for a path parameter: an id that exists nowhere, or a word."""
    for param in spec.get("parameters", []):
        if param.get("in") == "path" and param.get("name") == name:
            schema = param.get("schema", {})
            if schema.get("format") == "uuid" or name.endswith("_id"):
                return str(uuid.uuid4())
            if schema.get("type") == "integer":
                return "1"
    return "someone"


def project_operations(document: dict[str, Any]) -> list[Operation]:
    found = []
    for path, item in document["paths"].items():
        if path != PROJECT_PATH and not path.startswith(PROJECT_PATH + "/"):
            continue
        for method in METHODS:
            if method in item:
                spec = item[method]
                found.append(Operation(method, path, spec.get("operationId", ""), spec))
    return found


async def _call(
    client: httpx.AsyncClient, op: Operation, project_id: str, token: str | None
) -> httpx.Response:
    headers = bearer(token) if token else {}
    content = op.spec.get("requestBody", {}).get("content", {})
    kwargs: dict[str, Any] = {}
    if "application/json" in content:
        kwargs["json"] = {}
    elif "multipart/form-data" in content:
        kwargs["files"] = {"file": ("x.jpg", b"\xff\xd8\xff", "image/jpeg")}
    return await client.request(op.method.upper(), op.url(project_id), headers=headers, **kwargs)


def _expect(response: httpx.Response, status: int, op: Operation, who: str) -> dict[str, Any]:
    assert response.status_code == status, (
        f"{op.method.upper()} {op.path} ({op.operation_id}) as {who}: "
        f"{response.status_code} {response.text[:300]}"
    )
    body: dict[str, Any] = response.json()
    assert set(body) >= {"error", "detail"}, body
    return body


async def test_every_project_endpoint_checks_the_caller_first(
    wl: RunningPlatform, site: Site, token_for: Tokens
) -> None:
    pid = site.project_id
    outsider = token_for("outsider")
    theirs = await ok(
        await wl.client.post("/v1/projects", json={"name": "theirs"}, headers=bearer(outsider)),
        201,
    )
    # A token naming a role in another project only, as a stale or forged grant would.
    other_projects_admin = token_for("other-admin", {theirs["id"]: "admin"})
    nowhere = str(uuid.uuid4())

    document = await ok(await wl.client.get("/openapi.json"), 200)
    operations = project_operations(document)
    ids = {op.operation_id for op in operations}
    # The walk is not vacuous: the catalogue's own project endpoints are in it.
    assert {
        "get_project",
        "create_location",
        "put_project_member",
        "delete_project_member",
        "list_project_members",
    } <= ids, sorted(ids)
    stale = set(EXCEPTIONS) - {(op.method, op.path) for op in operations}
    assert not stale, f"exceptions for operations that no longer exist: {stale}"

    checked = 0
    for op in operations:
        if (op.method, op.path) in EXCEPTIONS:
            continue
        _expect(await _call(wl.client, op, pid, None), 401, op, "no token")
        seen = _expect(await _call(wl.client, op, pid, outsider), 404, op, "outsider")
        unseen = _expect(await _call(wl.client, op, nowhere, outsider), 404, op, "outsider")
        # An outsider cannot tell a project that exists from one that does not.
        assert seen["error"] == unseen["error"]
        assert seen["detail"].replace(pid, "X") == unseen["detail"].replace(nowhere, "X")
        _expect(await _call(wl.client, op, pid, other_projects_admin), 404, op, "other admin")
        _expect(await _call(wl.client, op, pid, site.device_token), 403, op, "device")
        checked += 1
    assert checked == len(operations) - len(EXCEPTIONS)
