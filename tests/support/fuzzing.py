"""Fuzzing the whole platform from its own OpenAPI document, the way an outside prober would.

Schemathesis turns each operation of the document into a Hypothesis strategy of requests, valid
ones and deliberately invalid ones. Each request is sent to the running embedded platform over
its ASGI app (in the event loop the platform runs in) and its answer is held to three checks:
no 5xx, the body matches the schema documented for its status, and the status is documented.

Random ids only ever reach "not found", so a :class:`Pool` of real ones (a project with a site,
a medium with an observation and its event, an alert rule, an upload session, signed object
URLs, ...) is seeded first, and most requests have their ids drawn from it; what the fuzzer
creates joins the pool, so that later operations act on it (stateful, without OpenAPI links).
Operations that delete run last, so that they do not empty the pool for the others.

Used by ``tests/e2e/test_fuzzing.py`` (bounded, in CI) and ``bench/fuzz.py`` (longer).
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api import bearer, create_site, ok, post_media

__all__ = ["CHECKS", "FuzzReport", "Pool", "fuzz", "seed_pool"]

T = TypeVar("T")

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]

# What a created object's id is called in the paths and query strings that name it.
_CREATES = {
    "POST /v1/projects": "project_id",
    "POST /v1/projects/{project_id}/locations": "location_id",
    "POST /v1/projects/{project_id}/devices": "device_id",
    "POST /v1/projects/{project_id}/deployments": "deployment_id",
    "POST /v1/projects/{project_id}/alerts": "rule_id",
    "POST /v1/projects/{project_id}/exports": "export_id",
    "POST /v1/projects/{project_id}/import-jobs": "import_job_id",
    "POST /v1/projects/{project_id}/media/{media_id}/observations": "observation_id",
    "POST /v1/uploads": "upload_id",
}
# Parameters that are ids of one kind whatever they are called.
_SAME = {"taxon_id": "taxon_id", "location_id": "location_id", "deployment_id": "deployment_id"}


@dataclass
class Pool:
    """Real values for path and query parameters, by parameter name."""

    values: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # ``key``, ``expires`` and ``signature`` of signed object routes, which go together.
    signed_gets: list[dict[str, str]] = field(default_factory=list)
    signed_puts: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, value: Any) -> None:
        with self.lock:
            if value is not None and str(value) not in self.values[name]:
                self.values[name].append(str(value))

    def pick(self, name: str, index: int) -> str | None:
        with self.lock:
            found = self.values.get(_SAME.get(name, name)) or []
            return found[index % len(found)] if found else None


def _signed(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return {
        "key": parts.path.removeprefix("/v1/objects/"),
        "expires": query.get("expires", ""),
        "signature": query.get("signature", ""),
    }


async def seed_pool(client: httpx.AsyncClient, admin: str, image: Path) -> Pool:
    """A project with everything the API names by id, created over the API as a user would."""
    pool = Pool()
    h = bearer(admin)
    site = await create_site(client, admin, name="Fuzzed herons")
    pid = site.project_id
    for name, value in [
        ("project_id", pid),
        ("location_id", site.location_id),
        ("device_id", site.device_id),
        ("deployment_id", site.deployment_id),
    ]:
        pool.add(name, value)
    taxa = await ok(
        await client.post(
            "/v1/taxa/import",
            files={"file": ("taxa.csv", _TAXA.encode(), "text/csv")},
            headers=h,
        ),
        200,
    )
    assert taxa
    listed = await ok(await client.get("/v1/taxa?limit=10", headers=h), 200)
    for taxon in listed["items"]:
        pool.add("taxon_id", taxon["id"])
        pool.add("name", taxon["scientific_name"])
    await ok(
        await client.put(
            f"/v1/projects/{pid}/label-maps/tiny-classifier",
            json={"entries": [{"label": "heron", "taxon_id": listed["items"][0]["id"]}]},
            headers=h,
        ),
        200,
    )
    pool.add("model_name", "tiny-classifier")
    tokens = await ok(await client.get(f"/v1/projects/{pid}/device-tokens", headers=h), 200)
    for token in tokens["items"]:
        pool.add("token_id", token["token_id"])
    posted = await ok(await post_media(client, site.device_token, image), 202)
    media_id = posted["media_id"]
    pool.add("media_id", media_id)
    medium = await _eventually(lambda: _recorded(client, admin, media_id))
    pool.add("event_id", medium.get("event_id"))
    if medium.get("url"):
        pool.signed_gets.append(_signed(medium["url"]))
    labelled = await ok(
        await client.post(
            f"/v1/projects/{pid}/media/{media_id}/observations",
            json={"observation_type": "animal", "scientific_name": "Ardea cinerea"},
            headers=h,
        ),
        201,
    )
    pool.add("observation_id", labelled["id"])
    await ok(
        await client.put(
            f"/v1/projects/{pid}/members/ecologist", json={"role": "annotator"}, headers=h
        ),
        201,
    )
    pool.add("subject", "ecologist")
    rule = await ok(
        await client.post(
            f"/v1/projects/{pid}/alerts",
            json={
                "name": "herons",
                "observation_type": "animal",
                "min_confidence": 0.5,
                # Never sent: the fuzzed platform's delivery worker is stopped.
                "webhook_url": "http://127.0.0.1:9/hook",
            },
            headers=h,
        ),
        201,
    )
    pool.add("rule_id", rule["id"])
    export = await ok(
        await client.post(f"/v1/projects/{pid}/exports", json={"format": "csv"}, headers=h), 202
    )
    pool.add("export_id", export["id"])
    import_job = await ok(
        await client.post(
            f"/v1/projects/{pid}/import-jobs",
            json={"format": "coco", "files": [{"name": "coco.json", "size": 100}]},
            headers=h,
        ),
        201,
    )
    pool.add("import_job_id", import_job["id"])
    pool.signed_puts.append(_signed(import_job["files"][0]["upload_url"]))
    data = image.read_bytes()
    import hashlib

    upload = await ok(
        await client.post(
            "/v1/uploads",
            json={
                "project_id": pid,
                "deployment_id": site.deployment_id,
                "files": [
                    {"name": "DCIM/0001.JPG", "sha256": "0" * 64, "size": 1000},
                    {
                        "name": "DCIM/0002.JPG",
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "size": len(data),
                    },
                ],
            },
            headers=h,
        ),
        201,
    )
    pool.add("upload_id", upload["id"])
    for item in upload.get("files", []):
        if item.get("upload_url"):
            pool.signed_puts.append(_signed(item["upload_url"]))
    sets = await client.post(
        "/v1/citsci/subject-sets", json={"name": "Herons", "project_id": pid}, headers=h
    )
    assert sets.status_code in (200, 201), sets.text
    return pool


_TAXA = (
    "taxonID,parentNameUsageID,scientificName,taxonRank,vernacularName\n"
    "1,,Animalia,kingdom,animals\n"
    "2,1,Aves,class,birds\n"
    "3,2,Ardeidae,family,herons\n"
    "4,3,Ardea cinerea,species,grey heron\n"
)


async def _recorded(client: httpx.AsyncClient, admin: str, media_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/media/{media_id}", headers=bearer(admin))
    return dict(response.json()) if response.status_code == 200 else {}


async def _eventually(probe: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found or time.monotonic() > deadline:
            assert found, "the seeded medium was never recorded"
            return found
        await asyncio.sleep(0.05)


@dataclass
class FuzzReport:
    """What one run sent and what it found."""

    requests: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    # Operation → the distinct failures seen there (the first request that showed each).
    failures: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))

    def merge(self, other: FuzzReport) -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        self.statuses.update(other.statuses)
        for operation, found in other.failures.items():
            for kind, example in found.items():
                self.failures[operation].setdefault(kind, example)

    def summary(self) -> str:
        lines = [
            f"{self.requests} requests in {self.seconds:.1f} s; statuses "
            + ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        ]
        for operation, found in sorted(self.failures.items()):
            for kind, example in found.items():
                lines.append(f"- {operation}: {kind}\n{example}")
        return "\n".join(lines)


def _order(label: str) -> tuple[int, str]:
    # Deletions last, so that the pool's objects exist for everything else.
    return (1 if label.startswith("DELETE") else 0, label)


def _prepared(case: Any, token: str | None) -> requests.PreparedRequest:
    """The request exactly as schemathesis would send it (its own serialisers)."""
    kwargs = case.as_transport_kwargs(base_url="http://wildlens.test")
    headers = dict(kwargs.pop("headers", None) or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    kwargs.pop("allow_redirects", None)
    kwargs.pop("timeout", None)
    kwargs.pop("verify", None)
    return requests.Request(headers=headers, **kwargs).prepare()


def _headers(prepared: requests.PreparedRequest) -> dict[str, str]:
    return {
        name: value.decode("latin-1") if isinstance(value, bytes) else value
        for name, value in prepared.headers.items()
    }


def _content(prepared: requests.PreparedRequest) -> bytes | None:
    body = prepared.body
    if isinstance(body, str):
        return body.encode()
    return body if isinstance(body, bytes) else None


def _with_pool(case: Any, pool: Pool, choice: int) -> None:
    """Replace ids with real ones from the pool (most cases; the rest keep what was drawn)."""
    if choice % 4 == 0:
        return
    label = case.operation.label
    if label.endswith("/v1/objects/{key}"):
        signed = pool.signed_puts if label.startswith("PUT") else pool.signed_gets
        if signed:
            real = signed[choice % len(signed)]
            case.path_parameters = {**(case.path_parameters or {}), "key": real["key"]}
            case.query = {**(case.query or {}), **{k: real[k] for k in ("expires", "signature")}}
        return
    for name in list(case.path_parameters or {}):
        value = pool.pick(name, choice)
        if value is not None:
            case.path_parameters[name] = value
    if isinstance(case.query, dict):
        for name in list(case.query):
            value = pool.pick(name, choice)
            if value is not None and not isinstance(case.query[name], list):
                case.query[name] = value
    if isinstance(case.body, dict) and "project_id" in case.body:
        project = pool.pick("project_id", choice)
        if project is not None:
            case.body["project_id"] = project


def _learn(case: Any, response: httpx.Response, pool: Pool) -> None:
    name = _CREATES.get(case.operation.label)
    if name is None or not response.is_success:
        return
    try:
        body = response.json()
    except ValueError:
        return
    if isinstance(body, dict):
        pool.add(name, body.get("id"))


def _failure_kind(exc: BaseException) -> str:
    found = getattr(exc, "exceptions", None)
    if found:
        return "; ".join(sorted({type(e).__name__ + ": " + str(e).split("\n")[0] for e in found}))
    return type(exc).__name__ + ": " + str(exc).split("\n")[0]


def fuzz(
    schema: Any,
    client: httpx.AsyncClient,
    loop: asyncio.AbstractEventLoop,
    pool: Pool,
    *,
    token: str | None,
    max_examples: int,
    random_seed: int,
    timeout_s: float = 60.0,
    progress: Callable[[str], None] | None = None,
) -> FuzzReport:
    """Fuzz every operation of ``schema`` as the holder of ``token`` (None: no token).

    Runs in a worker thread; each request runs in ``loop``, the platform's own. Returns what
    was sent and every distinct failure, per operation; never raises for a failure found.
    ``progress`` hears a line after each operation.
    """
    report = FuzzReport()
    started = time.perf_counter()
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()), key=lambda op: _order(op.label)
    )
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @seed(random_seed)
            @settings(
                max_examples=max_examples,
                deadline=None,
                database=None,
                derandomize=False,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
                report_multiple_bugs=False,
            )
            @given(case=operation.as_strategy(generation_mode=mode), choice=st.integers(0, 63))
            def one(case: Any, choice: int) -> None:
                _with_pool(case, pool, choice)
                prepared = _prepared(case, token)
                request = client.request(
                    prepared.method or "GET",
                    prepared.url or "/",
                    headers=_headers(prepared),
                    content=_content(prepared),
                )
                try:
                    response = asyncio.run_coroutine_threadsafe(request, loop).result(timeout_s)
                except Exception as exc:
                    report.failures[case.operation.label].setdefault(
                        f"the request failed: {type(exc).__name__}", f"{prepared.url}: {exc!r}"
                    )
                    return
                report.requests += 1
                report.statuses[response.status_code] += 1
                _learn(case, response, pool)
                try:
                    case.validate_response(response, checks=CHECKS, headers=dict(prepared.headers))
                except BaseException as exc:
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    body = response.text[:500]
                    report.failures[case.operation.label].setdefault(
                        _failure_kind(exc),
                        f"  {prepared.method} {prepared.url}\n  sent: {_body(prepared)}\n"
                        f"  answer {response.status_code}: {body}",
                    )

            try:
                one()
            except Unsatisfiable:
                # Nothing about the operation can be invalid (no parameters, no body).
                continue
        if progress is not None:
            found = len(report.failures.get(operation.label, {}))
            progress(f"{operation.label}: {report.requests} requests so far, {found} failures")
    report.seconds = time.perf_counter() - started
    return report


def _body(prepared: requests.PreparedRequest) -> str:
    body = prepared.body
    if body is None:
        return "(no body)"
    if isinstance(body, str):
        body = body.encode()
    text = body[:300] if isinstance(body, bytes) else io.BytesIO().getvalue()
    return repr(text)


def openapi_schema(app: Any) -> Any:
    """The platform's document as schemathesis reads it (from the app, not over the network)."""
    return schemathesis.openapi.from_dict(app.openapi())
