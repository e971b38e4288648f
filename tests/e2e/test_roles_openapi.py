"""Every role against every project endpoint, generated from the OpenAPI document.

Each operation under ``/v1/projects/{project_id}`` is called, with a request body built from
its schema, by the project's roles from the lowest up until one is let through, and by an
admin. The roles an operation refuses (403) must be as documented: a viewer never writes,
deletions need a manager, an admin is never refused, and where an operation's description
names who may call it ("(annotators)", "(managers)"), the first role let through is that one.
Reads are open to viewers unless the description says otherwise. Endpoints added later are
checked without anyone listing them. (``tests/e2e/test_roles.py`` checks callers outside the
project: no token, outsiders, device tokens.)
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.e2e.test_roles import Operation, project_operations
from tests.support.api import Site, bearer, ok
from tests.support.platform import RunningPlatform, user_token
from wildlens.common.auth import ROLES
from wildlens.common.settings import Settings
from wildlens.common.text import FREE_TEXT_PATTERN, NAME_PATTERN

ORDER = sorted(ROLES, key=ROLES.__getitem__)
WRITES = {"post", "put", "patch", "delete"}
# Words a description uses to say who may call the operation, in its last parenthesis.
DECLARED = {"viewers": "viewer", "volunteers": "volunteer", "annotators": "annotator"} | {
    "managers": "manager",
    "admins": "admin",
}
# Values for string patterns in the document; a new pattern fails the test until one is added.
PATTERN_EXAMPLES = {
    r"^[+-](0\d|1[0-4]):[0-5]\d$": "+01:00",
    r"^[0-9a-fA-F]{64}$": "a" * 64,
    r"^[\x21-\x7e]+$": "example",
    r"^[a-z][a-z0-9-]{0,39}$": "example",
    r"^(|[-a-zA-Z0-9._]+|https?://[!-~]+)$": "CC-BY-4.0",
}
# Names and free text (no control characters): any letters of the right length will do.
TEXT_PATTERNS = {NAME_PATTERN, FREE_TEXT_PATTERN}
# (method, path) -> the lowest role it lets through, where the general rules do not hold,
# with the reason.
EXCEPTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("post", "/v1/projects/{project_id}/exports"): (
        "viewer",
        "an export is a read: what the caller may see (coordinates generalised as for them), "
        "written to a file for them",
    ),
    ("get", "/v1/projects/{project_id}/device-tokens"): (
        "manager",
        "gateway credentials are the managers' who issue them",
    ),
    ("get", "/v1/projects/{project_id}/alerts/{rule_id}"): (
        "manager",
        "a rule names its webhook receiver; rules are the managers' who create them",
    ),
    ("get", "/v1/projects/{project_id}/alerts/{rule_id}/deliveries"): (
        "manager",
        "deliveries show the receiver's answers; rules are the managers' who create them",
    ),
}


class Example:
    """A request body that the document's schema accepts, built from that schema."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.schemas = document.get("components", {}).get("schemas", {})
        self.moments = 0

    def value(self, schema: dict[str, Any], name: str = "") -> Any:
        if "$ref" in schema:
            return self.value(self.schemas[schema["$ref"].rsplit("/", 1)[-1]], name)
        for combined in ("allOf", "anyOf", "oneOf"):
            if combined in schema:
                options = [s for s in schema[combined] if s.get("type") != "null"]
                return self.value(options[0] if options else {"type": "null"}, name)
        if schema.get("type") == "array":
            # As few items as allowed: granting, listing or naming nothing is always valid.
            return [self.value(schema.get("items", {}), name)] * schema.get("minItems", 0)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        if "examples" in schema:
            return schema["examples"][0]
        if "default" in schema and schema["default"] is not None:
            return schema["default"]
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            # Every field, the optional ones too: a change needs something to change.
            return {key: self.value(sub, key) for key, sub in schema.get("properties", {}).items()}
        if kind == "integer":
            return max(schema.get("minimum", 1), 1)
        if kind == "number":
            return schema.get("minimum", 0.5)
        if kind == "boolean":
            return True
        if kind == "string":
            return self.string(schema, name)
        return None

    def string(self, schema: dict[str, Any], name: str) -> str:
        fmt = schema.get("format")
        if fmt == "uuid" or name.endswith("_id"):
            return str(uuid.uuid4())
        if fmt == "date-time":
            # Each later than the one before, so that an end follows its start.
            self.moments += 1
            return (datetime(2024, 5, 1, 12, tzinfo=UTC) + timedelta(days=self.moments)).isoformat()
        if fmt == "time":
            return "12:00:00"
        if fmt == "date":
            return "2024-05-01"
        if fmt in {"uri", "url"}:
            return "https://receiver.example/hook"
        if "pattern" in schema and schema["pattern"] not in TEXT_PATTERNS:
            assert schema["pattern"] in PATTERN_EXAMPLES, f"no example for {schema['pattern']}"
            return PATTERN_EXAMPLES[schema["pattern"]]
        return "x" * max(int(schema.get("minLength", 1)), 1)

    def url(self, op: Operation, project_id: str) -> str:
        params = {p["name"]: p for p in op.spec.get("parameters", []) if p.get("in") == "path"}

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "project_id":
                return project_id
            schema = params.get(name, {}).get("schema", {})
            if name.endswith("_id") or schema.get("format") == "uuid":
                return str(uuid.uuid4())
            return str(self.value(schema, name)) if "enum" in schema else "someone"

        return re.sub(r"\{([^}]+)\}", fill, op.path)

    def request(self, op: Operation) -> dict[str, Any]:
        content = op.spec.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            return {"json": self.value(content["application/json"]["schema"])}
        if "multipart/form-data" in content:
            schema = self.value_schema(content["multipart/form-data"]["schema"])
            files: list[tuple[str, tuple[str, bytes, str]]] = []
            data: dict[str, str] = {}
            for key, sub in schema.get("properties", {}).items():
                if "contentMediaType" in sub or sub.get("type") == "array":
                    files.append((key, ("x.bin", b"\x00", "application/octet-stream")))
                elif key in schema.get("required", []):
                    data[key] = str(self.value(sub, key))
            return {"files": files, "data": data}
        return {}

    def value_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in schema:
            return self.value_schema(self.schemas[schema["$ref"].rsplit("/", 1)[-1]])
        return schema


def declared_role(op: Operation) -> str | None:
    """The lowest role the operation's description names in its last parenthesis."""
    text = f"{op.spec.get('summary', '')} {op.spec.get('description', '')}"
    groups = re.findall(r"\(([^()]*)\)", text)
    if not groups:
        return None
    named = [DECLARED[w] for w in re.findall(r"[a-z]+", groups[-1]) if w in DECLARED]
    return min(named, key=ROLES.__getitem__) if named else None


async def test_every_role_meets_every_project_endpoint_as_documented(
    wl: RunningPlatform, settings: Settings, admin: str, site: Site
) -> None:
    pid = site.project_id
    tokens = {role: user_token(settings, f"a-{role}", {pid: role}) for role in ORDER}
    document = await ok(await wl.client.get("/openapi.json"), 200)
    example = Example(document)
    operations = project_operations(document)
    assert {"validate_observation", "delete_project_media", "list_audit_entries"} <= {
        op.operation_id for op in operations
    }
    stale = set(EXCEPTIONS) - {(op.method, op.path) for op in operations}
    assert not stale, f"exceptions for operations that no longer exist: {stale}"

    problems: list[str] = []
    for op in operations:
        statuses: dict[str, int] = {}
        for role in ORDER:
            if any(code != 403 for code in statuses.values()) and role != "admin":
                # Roles are ranks: past the first one let through, the admin at the top
                # is the one left to check.
                continue
            response: httpx.Response = await wl.client.request(
                op.method.upper(),
                example.url(op, pid),
                headers=bearer(tokens[role]),
                **example.request(op),
            )
            statuses[role] = response.status_code
            if response.status_code == 403:
                assert response.json()["error"] == "Forbidden", response.text
            else:
                # Refusing the role is the first thing an operation does: anything else
                # (a missing object, a bad body) is an answer to an allowed caller.
                assert response.status_code < 500, f"{op.operation_id}: {response.text}"
        lowest = next((r for r in ORDER if statuses.get(r, 0) != 403), None)
        where = f"{op.method.upper()} {op.path} ({op.operation_id}): {statuses}"
        if statuses["admin"] == 403 or lowest is None:
            problems.append(f"{where}: an admin is refused")
            continue
        if (op.method, op.path) in EXCEPTIONS:
            expected, _why = EXCEPTIONS[(op.method, op.path)]
            if lowest != expected:
                problems.append(f"{where}: lets {lowest} through first, not {expected}")
            continue
        declared = declared_role(op)
        if declared is not None and lowest != declared:
            problems.append(f"{where}: documented for {declared}s, first allows {lowest}")
        if op.method in WRITES and lowest == "viewer":
            problems.append(f"{where}: a viewer can write")
        if op.method == "delete" and ROLES[lowest] < ROLES["manager"]:
            problems.append(f"{where}: deletes for less than a manager")
        if op.method == "get" and declared is None and lowest != "viewer":
            problems.append(f"{where}: a read refused to viewers without saying so")
    assert not problems, "\n".join(problems)
