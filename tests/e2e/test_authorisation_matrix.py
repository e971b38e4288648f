"""Every operation of the OpenAPI document, called by every kind of caller, on their own project
and on another one: each answer as the table below says.

Callers (the table's columns): a project's ``admin``, ``manager``, ``annotator``,
``volunteer`` and ``viewer``; a ``stranger`` (a user who is no member); the project's
``device`` token (an upload station); and ``anonymous`` (no token). Each holds its role in
project "own" only. Two projects hold one of everything (tests/support/two_projects.py).

Each operation is called three ways:

* **own**: every id in the path (and the project in the body, where there is one) is of the
  project the callers are in;
* **other**: every id is of the other project, where none of them is a member;
* **mixed**: the callers' own project in the path, another project's object in it
  (``/v1/projects/OWN/deployments/THEIRS``). Not written in the table: whoever is let through
  on their own project must get 404 here, and whoever is refused there is refused the same
  way here.

An outcome is ``ok`` (any 2xx) or a status code. A status that is not a refusal (409, 422,
503) stands in the table only with a note saying why, in ``NOTES``: it means the caller was let
through and the request then failed for a reason of its own.

An operation of the document that the table lacks fails the test: add a row for it (the failure
says what it answered). Run on the embedded backends and the real ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr

from tests.support.api import ok
from tests.support.camtrapdp import EXAMPLE
from tests.support.model_bundles import renamed
from tests.support.platform import RunningPlatform, SettingsFactory
from tests.support.training_runs import job_request
from tests.support.two_projects import (
    CALLERS,
    TAXA_CSV,
    Fresh,
    ProjectObjects,
    World,
    alert_rule,
    build_world,
    distinct_jpeg,
)
from wildlens.common.bundles import MANIFEST_FILE, MODEL_FILE
from wildlens.common.settings import Settings

METHODS = ("get", "post", "put", "patch", "delete")
SERVICE_SECRET = "the-services-own-secret"
PROJECT_PATH = "/v1/projects/{project_id}"

# The answers of a project operation called on another project's objects: members of other
# projects and strangers cannot tell it from a project that does not exist; a device token
# only ever posts media; nobody without a token gets anywhere.
HIDDEN = "404 404 404 404 404 404 403 401"

P = PROJECT_PATH
# Served where objects are stored in a local folder; with S3 the signed URLs are S3's own.
LOCAL_STORE_ONLY = {("GET", "/v1/objects/{key}"), ("PUT", "/v1/objects/{key}")}

# (METHOD, path) -> (own project, other project); None where the operation names nothing of a
# project's. Columns: admin, manager, annotator, volunteer, viewer, stranger, device, anonymous.
# fmt: off
MATRIX: dict[tuple[str, str], tuple[str, str | None]] = {
    #     adm man ann vol vwr str dev anon
    # The platform's health, for probes and Prometheus.
    ("GET", "/healthz"):
        ("ok  ok  ok  ok  ok  ok  ok  ok", None),
    ("GET", "/metrics"):
        ("ok  ok  ok  ok  ok  ok  ok  ok", None),
    ("GET", "/readyz"):
        ("ok  ok  ok  ok  ok  ok  ok  ok", None),
    # The revocation list is for the services (ingest replicas) alone.
    ("GET", "/v1/auth/revocations"):
        ("403 403 403 403 403 403 403 401", None),
    # The credential is in the body (the service secret, an identity provider's token; wrong
    # ones here), whatever token comes with it.
    ("POST", "/v1/auth/service-token"):
        ("401 401 401 401 401 401 401 401", None),
    ("POST", "/v1/auth/token"):
        ("401 401 401 401 401 401 401 401", None),
    # Datasets for training are their project's managers', as training jobs are.
    ("POST", "/v1/datasets"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", "/v1/datasets/{dataset_id}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", "/v1/datasets/{dataset_id}/coco"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", "/v1/datasets/{dataset_id}/manifest"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    # Volunteers classify what managers put before them.
    ("GET", "/v1/citsci/subject-sets"):
        ("ok  ok  ok  ok  403 404 403 401", HIDDEN),
    ("POST", "/v1/citsci/subject-sets"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("POST", "/v1/citsci/subject-sets/{subject_set_id}/zooniverse/send"):
        ("409 409 403 403 403 404 403 401", HIDDEN),
    ("POST", "/v1/citsci/subject-sets/{subject_set_id}/zooniverse/pull"):
        ("409 409 403 403 403 404 403 401", HIDDEN),
    ("POST", "/v1/citsci/subject-sets/{subject_set_id}/subjects"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", "/v1/citsci/subjects/next"):
        ("ok  ok  ok  ok  403 404 403 401", HIDDEN),
    ("POST", "/v1/citsci/subjects/{subject_id}/classifications"):
        ("ok  ok  ok  ok  403 404 403 401", HIDDEN),
    ("GET", "/v1/citsci/volunteers/me/stats"):
        ("ok  ok  ok  ok  403 404 403 401", HIDDEN),
    ("GET", "/v1/citsci/projects/{project_id}/progress"):
        ("ok  ok  ok  ok  403 404 403 401", HIDDEN),
    # Managers choose what goes to volunteers.
    ("GET", "/v1/citsci/projects/{project_id}/selection-policy"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("PUT", "/v1/citsci/projects/{project_id}/selection-policy"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("POST", "/v1/citsci/subject-sets/{subject_set_id}/select"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    # Anyone signed in joins a project open to volunteers; "own" is closed, so its members
    # who are volunteers or more are let through unchanged, a viewer hears it is closed, and
    # a stranger cannot tell it from no project.
    ("POST", "/v1/citsci/projects/{project_id}/join"):
        ("ok  ok  ok  ok  403 404 403 401", HIDDEN),
    ("POST", f"{P}/join"):
        ("ok  ok  ok  ok  403 404 403 401", HIDDEN),
    # What volunteers said, subject by subject and against experts, is for the project's
    # annotators; each volunteer's figures are its managers' (volunteers see their own).
    ("GET", "/v1/citsci/projects/{project_id}/reports/subjects"):
        ("ok  ok  ok  403 403 404 403 401", HIDDEN),
    ("GET", "/v1/citsci/projects/{project_id}/reports/experts"):
        ("ok  ok  ok  403 403 404 403 401", HIDDEN),
    ("GET", "/v1/citsci/projects/{project_id}/reports/volunteers"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    # Uploading is for annotators and up, and for the project's gateways.
    ("POST", "/v1/media"):
        ("ok  ok  ok  403 403 404 ok  401", HIDDEN),
    ("GET", "/v1/media/{media_id}"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("GET", "/v1/media/{media_id}/file"):
        ("307 307 307 307 307 404 403 401", HIDDEN),
    ("GET", "/v1/models"):
        ("ok  ok  ok  ok  ok  ok  403 401", None),
    # A project's own models: its members see them, its managers register and promote them.
    ("POST", "/v1/models"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", "/v1/models/{model_id}"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("POST", "/v1/models/{model_id}/promote"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("POST", "/v1/models/{model_id}/rollback"):
        ("409 409 403 403 403 404 403 401", HIDDEN),
    # A model's evaluation: whoever sees the model (here the project's trained candidate).
    ("GET", "/v1/models/{model_id}/evaluation"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("GET", "/v1/models/{model_id}/evaluation/{plot}.png"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    # Uploading a model (of any size) is registering one: the same people, the same refusals.
    ("POST", "/v1/models/uploads"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", "/v1/models/uploads/{model_upload_id}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("POST", "/v1/models/uploads/{model_upload_id}/complete"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    # Training on a project's labels is for its managers.
    ("GET", "/v1/training-jobs"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("POST", "/v1/training-jobs"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", "/v1/training-jobs/{job_id}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("POST", "/v1/training-jobs/{job_id}/cancel"):
        ("409 409 403 403 403 404 403 401", HIDDEN),
    # Signed URLs: the signature is the credential, whoever holds it.
    ("GET", "/v1/objects/{key}"):
        ("ok  ok  ok  ok  ok  ok  ok  ok", "ok  ok  ok  ok  ok  ok  ok  ok"),
    ("PUT", "/v1/objects/{key}"):
        ("ok  ok  ok  ok  ok  ok  ok  ok", "ok  ok  ok  ok  ok  ok  ok  ok"),
    # The detector on a medium the caller may read.
    ("POST", "/v1/predict"):
        ("503 503 503 503 503 404 403 401", HIDDEN),
    ("POST", "/v1/predict/backfills"):
        ("409 409 403 403 403 404 403 401", HIDDEN),
    # Any user lists the projects they are in, and starts new ones.
    ("GET", "/v1/projects"):
        ("ok  ok  ok  ok  ok  ok  403 401", None),
    ("POST", "/v1/projects"):
        ("ok  ok  ok  ok  ok  ok  403 401", None),
    # A project's own things: viewers read, annotators label, managers set up and manage;
    # alerts, members, device tokens and the audit log are the managers'.
    ("GET", P):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("PATCH", P):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/alerts"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/alerts"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/alerts/{{rule_id}}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("PATCH", f"{P}/alerts/{{rule_id}}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("DELETE", f"{P}/alerts/{{rule_id}}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/alerts/{{rule_id}}/deliveries"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/audit"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/deployments"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("POST", f"{P}/deployments"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/deployments/{{deployment_id}}"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("PATCH", f"{P}/deployments/{{deployment_id}}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("DELETE", f"{P}/deployments/{{deployment_id}}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/device-tokens"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("DELETE", f"{P}/device-tokens/{{token_id}}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/devices"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("POST", f"{P}/devices"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/devices/{{device_id}}"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("POST", f"{P}/devices/{{device_id}}/token"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/events"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("GET", f"{P}/events/{{event_id}}"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("POST", f"{P}/events/{{event_id}}/correct"):
        ("ok  ok  ok  403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/events/{{event_id}}/discard"):
        ("ok  ok  ok  403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/events/{{event_id}}/dubious"):
        ("ok  ok  ok  403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/events/{{event_id}}/validate"):
        ("ok  ok  ok  403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/exports"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("GET", f"{P}/exports/{{export_id}}"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    # Import jobs are their project's managers' and admins', as imports are.
    ("GET", f"{P}/import-jobs"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/import-jobs"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/import-jobs/{{import_job_id}}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/import-jobs/{{import_job_id}}/start"):
        ("409 409 403 403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/imports/camtrap-dp"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/imports/coco"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/imports/kso"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/imports/megadetector"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/label-maps/{{model_name}}"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("PUT", f"{P}/label-maps/{{model_name}}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/locations"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("POST", f"{P}/locations"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/media"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("DELETE", f"{P}/media/{{media_id}}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/media/{{media_id}}/observations"):
        ("ok  ok  ok  403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/members"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/members/{{subject}}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("PUT", f"{P}/members/{{subject}}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("DELETE", f"{P}/members/{{subject}}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/observations"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("GET", f"{P}/observations/{{observation_id}}"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("POST", f"{P}/observations/{{observation_id}}/correct"):
        ("ok  ok  ok  403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/observations/{{observation_id}}/discard"):
        ("ok  ok  ok  403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/observations/{{observation_id}}/dubious"):
        ("ok  ok  ok  403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/observations/{{observation_id}}/history"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("POST", f"{P}/observations/{{observation_id}}/revert"):
        ("ok  ok  ok  403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/observations/{{observation_id}}/validate"):
        ("ok  ok  ok  403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/privacy"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("PATCH", f"{P}/privacy"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/review"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    # What selection for volunteers weighs, people included: managers'.
    ("GET", f"{P}/review/candidates"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/samples"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("GET", f"{P}/samples/{{sample_id}}"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("PUT", f"{P}/samples/{{sample_id}}/depth-bins"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    # Sorting a whole filtered selection is an annotator's, as sorting one observation is.
    ("POST", f"{P}/selection/dubious"):
        ("ok  ok  ok  403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/selection/reclassify"):
        ("ok  ok  ok  403 403 404 403 401", HIDDEN),
    ("POST", f"{P}/selection/validate"):
        ("ok  ok  ok  403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/statistics/{{name}}"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("GET", f"{P}/taxa"):
        ("ok  ok  ok  ok  ok  404 403 401", HIDDEN),
    ("PUT", f"{P}/taxa"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("GET", f"{P}/taxa/unresolved"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    ("PUT", f"{P}/taxa/unresolved/{{name}}"):
        ("ok  ok  403 403 403 404 403 401", HIDDEN),
    # The taxon tree is the platform's: every user reads it, platform admins import it.
    ("GET", "/v1/taxa"):
        ("ok  ok  ok  ok  ok  ok  403 401", None),
    ("POST", "/v1/taxa/import"):
        ("403 403 403 403 403 403 403 401", None),
    ("GET", "/v1/taxa/{taxon_id}"):
        ("ok  ok  ok  ok  ok  ok  403 401", None),
    # An upload session is its opener's (here the project's annotator opened it) and the
    # project's managers'; to anyone else it does not exist.
    ("POST", "/v1/uploads"):
        ("ok  ok  ok  403 403 404 ok  401", HIDDEN),
    ("GET", "/v1/uploads/{upload_id}"):
        ("ok  ok  ok  404 404 404 404 401", "404 404 404 404 404 404 404 401"),
    ("POST", "/v1/uploads/{upload_id}/complete"):
        ("ok  ok  ok  404 404 404 404 401", "404 404 404 404 404 404 404 401"),
    ("POST", "/v1/uploads/{upload_id}/files"):
        ("ok  ok  ok  404 404 404 404 401", "404 404 404 404 404 404 404 401"),
    ("POST", "/v1/uploads/{upload_id}/urls"):
        ("ok  ok  ok  404 404 404 404 401", "404 404 404 404 404 404 404 401"),
}
# fmt: on

# Why an outcome in MATRIX is neither ok nor a refusal.
NOTES: dict[tuple[str, str], str] = {
    ("POST", "/v1/citsci/subject-sets/{subject_set_id}/zooniverse/send"): "409: no Zooniverse "
    "account is configured in this test; managers got past the check of their role.",
    ("POST", "/v1/citsci/subject-sets/{subject_set_id}/zooniverse/pull"): "409: no Zooniverse "
    "account is configured in this test; managers got past the check of their role.",
    ("GET", "/v1/media/{media_id}/file"): "307: the file is a redirect to a short-lived URL of "
    "the copy the caller may have",
    # The detector on a medium the caller may read.
    ("POST", "/v1/predict"): "503: no detector is configured in this test; the caller got past "
    "the checks of who may read the medium",
    ("POST", "/v1/predict/backfills"): "409: no detector serves the project in this test; "
    "the caller got past the manager check",
    ("POST", f"{P}/import-jobs/{{import_job_id}}/start"): "409: the job's file was never "
    "uploaded; the caller got past the manager check",
    ("POST", "/v1/models/{model_id}/rollback"): "409: nothing served the project before its "
    "model; the caller got past the manager check",
    ("POST", "/v1/training-jobs/{job_id}/cancel"): "409: the job has succeeded already; the "
    "caller got past the manager check",
}


@pytest.fixture
def settings(settings_for: SettingsFactory) -> Settings:
    """The platform as deployed, with a service secret: asking for a service token with a
    wrong one is refused like a wrong password, whoever asks."""
    base = settings_for()
    auth = base.auth.model_copy(update={"service_secret": SecretStr(SERVICE_SECRET)})
    return base.model_copy(update={"auth": auth})


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        return self.method.upper(), self.path

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{([^}]+)\}", self.path)


def operations(document: dict[str, Any]) -> list[Operation]:
    return [
        Operation(method, path, item[method])
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    ]


def expected(line: str) -> dict[str, str]:
    outcomes = line.split()
    assert len(outcomes) == len(CALLERS), f"{line!r}: one outcome per caller: {CALLERS}"
    return dict(zip(CALLERS, outcomes, strict=True))


def outcome(status: int) -> str:
    return "ok" if 200 <= status < 300 else str(status)


def as_line(outcomes: dict[str, str]) -> str:
    return " ".join(f"{outcomes[c]:<3}" for c in CALLERS).strip()


def mixed(own: dict[str, str]) -> dict[str, str]:
    """What callers get for another project's object under their own project's path."""
    refusals = {"401", "403", "404"}
    return {c: o if o in refusals else "404" for c, o in own.items()}


# Request bodies, built for the scope's project (and its objects). An operation whose document
# takes a body and that has none here fails the test.
Body = Callable[[World, ProjectObjects], dict[str, Any]]


def _manifest_entry() -> dict[str, Any]:
    data = distinct_jpeg()
    return {"name": "more.jpg", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


_serials = itertools.count(1)


def _json(value: Any) -> dict[str, Any]:
    return {"json": value}


def _files(*files: tuple[str, str, str], **form: str) -> dict[str, Any]:
    """A multipart body: ``files`` as (field, file name, text), and form fields."""
    return {
        "files": [(field, (name, text.encode(), "text/plain")) for field, name, text in files],
        "data": form,
    }


def _model(world: World, project: ProjectObjects) -> dict[str, Any]:
    assert world.bundle is not None
    with tempfile.TemporaryDirectory() as folder:
        bundle = renamed(world.bundle, Path(folder), version=f"2.{next(_serials)}")
        return {
            "files": {
                "model": (MODEL_FILE, (bundle / MODEL_FILE).read_bytes(), "application/onnx"),
                "manifest": (
                    MANIFEST_FILE,
                    (bundle / MANIFEST_FILE).read_bytes(),
                    "application/json",
                ),
            },
            "data": {"project_id": project.project_id},
        }


def _deployment(project: ProjectObjects) -> dict[str, Any]:
    # A month of its own each time: deployments of one camera may not overlap.
    n = next(_serials)
    return _json(
        {
            "location_id": project.location_id,
            "device_id": project.device_id,
            "start": f"{2030 + n // 12}-{n % 12 + 1:02d}-01T00:00:00+01:00",
            "end": f"{2030 + n // 12}-{n % 12 + 1:02d}-20T00:00:00+01:00",
        }
    )


OBSERVATION = f"{P}/observations/{{observation_id}}"
EVENT = f"{P}/events/{{event_id}}"
LABEL = {"observation_type": "animal"}
COCO = '{"info": {}, "images": [], "annotations": [], "categories": []}'
MEGADETECTOR = '{"info": {"format_version": "1.3"}, "detection_categories": {}, "images": []}'
KSO_SITES = "site_id,siteName,decimalLatitude,decimalLongitude\n1,KVF_2,58.8779,11.0964\n"
KSO_MOVIES = "movie_id,filename,created_on,fps,duration,site_id\n"
KSO_SPECIES = "species_id,commonName,scientificName,taxonRank\n"
BODIES: dict[tuple[str, str], Body] = {
    ("PATCH", P): lambda w, p: _json({"description": "Herons of the pond"}),
    ("PATCH", f"{P}/alerts/{{rule_id}}"): lambda w, p: _json({"name": "Grey herons"}),
    ("PATCH", f"{P}/deployments/{{deployment_id}}"): lambda w, p: _json({"utc_offset": "+01:00"}),
    ("PATCH", f"{P}/privacy"): lambda w, p: _json({"hide_people": False}),
    # The credential is in the body (the service secret, an identity provider's token; wrong
    # ones here), whatever token comes with it.
    ("POST", "/v1/auth/service-token"): lambda w, p: _json(
        {"service": "ingest", "secret": "not-the-service-secret"}
    ),
    ("POST", "/v1/auth/token"): lambda w, p: _json({"subject_token": "not-a-token"}),
    ("POST", "/v1/citsci/subject-sets"): lambda w, p: _json(
        {"name": "Herons", "project_id": p.project_id}
    ),
    ("POST", "/v1/citsci/subject-sets/{subject_set_id}/zooniverse/send"): lambda w, p: _json(
        {"media_ids": [p.media_id]}
    ),
    ("POST", "/v1/citsci/subject-sets/{subject_set_id}/zooniverse/pull"): lambda w, p: _json(
        {"generate": False}
    ),
    # The subject the set holds already: let through, it is left as it is.
    ("POST", "/v1/citsci/subject-sets/{subject_set_id}/subjects"): lambda w, p: _json(
        {"subjects": [{"media_ids": [p.media_id]}]}
    ),
    # Each caller classifies the subject once.
    ("POST", "/v1/citsci/subjects/{subject_id}/classifications"): lambda w, p: _json(
        {"nothing_here": True}
    ),
    ("PUT", "/v1/citsci/projects/{project_id}/selection-policy"): lambda w, p: _json({}),
    # What would be chosen, sending nothing (the set goes to Zooniverse).
    ("POST", "/v1/citsci/subject-sets/{subject_set_id}/select"): lambda w, p: _json(
        {"dry_run": True, "limit": 1}
    ),
    # Uploading is for annotators and up, and for the project's gateways.
    ("POST", "/v1/datasets"): lambda w, p: _json({"project_id": p.project_id}),
    ("POST", "/v1/media"): lambda w, p: {
        "files": {"file": ("x.jpg", distinct_jpeg(), "image/jpeg")},
        "data": {"project_id": p.project_id},
    },
    # The detector on a medium the caller may read.
    ("POST", "/v1/predict"): lambda w, p: {
        "files": {"media_id": (None, p.media_id)},
    },
    ("POST", "/v1/predict/backfills"): lambda w, p: _json({"project_id": p.project_id}),
    ("POST", "/v1/projects"): lambda w, p: _json({"name": "Another"}),
    ("POST", f"{P}/alerts"): lambda w, p: _json(alert_rule()),
    ("POST", f"{P}/deployments"): lambda w, p: _deployment(p),
    ("POST", f"{P}/devices"): lambda w, p: _json({"serial": f"SERIAL-{next(_serials)}"}),
    ("POST", f"{P}/devices/{{device_id}}/token"): lambda w, p: _json({"ttl_days": 1}),
    ("POST", f"{EVENT}/correct"): lambda w, p: _json({"count": 2}),
    ("POST", f"{P}/exports"): lambda w, p: _json({"format": "csv"}),
    ("POST", f"{P}/import-jobs"): lambda w, p: _json(
        {"format": "coco", "files": [{"name": "coco.json", "size": 100}]}
    ),
    ("POST", f"{P}/imports/camtrap-dp"): lambda w, p: {"files": camtrapdp_example()},
    ("POST", f"{P}/imports/coco"): lambda w, p: _files(("file", "coco.json", COCO)),
    ("POST", f"{P}/imports/kso"): lambda w, p: _files(
        ("files", "sites.csv", KSO_SITES),
        ("files", "movies.csv", KSO_MOVIES),
        ("files", "species.csv", KSO_SPECIES),
    ),
    ("POST", f"{P}/imports/megadetector"): lambda w, p: _files(("file", "md.json", MEGADETECTOR)),
    ("POST", f"{P}/locations"): lambda w, p: _json(
        {"name": "Reed bed", "latitude": 50.7, "longitude": 4.0}
    ),
    ("POST", f"{P}/media/{{media_id}}/observations"): lambda w, p: _json(
        {**LABEL, "taxon_id": w.taxon_id}
    ),
    ("POST", f"{OBSERVATION}/correct"): lambda w, p: _json({"count": 3}),
    # A new version of the project's detector each time.
    ("POST", "/v1/models"): lambda w, p: _model(w, p),
    ("POST", "/v1/models/{model_id}/rollback"): lambda w, p: _json({"scope": "project"}),
    ("POST", "/v1/training-jobs"): lambda w, p: _json(job_request(p.project_id)),
    ("POST", "/v1/models/uploads"): lambda w, p: _json(
        {
            "name": "uploaded-detector",
            "version": f"3.{next(_serials)}",
            "project_id": p.project_id,
            "files": [
                {"name": MODEL_FILE, "size": 1000},
                {"name": MANIFEST_FILE, "size": 1000},
            ],
        }
    ),
    ("POST", f"{OBSERVATION}/revert"): lambda w, p: _json({"version": 1}),
    ("POST", "/v1/taxa/import"): lambda w, p: _files(("file", "taxa.csv", TAXA_CSV)),
    # An upload session is its opener's (here the project's annotator opened it) and the
    # project's managers'; to anyone else it does not exist.
    ("POST", "/v1/uploads"): lambda w, p: _json({"project_id": p.project_id, "files": []}),
    ("POST", "/v1/uploads/{upload_id}/files"): lambda w, p: _json({"files": [_manifest_entry()]}),
    ("PUT", "/v1/objects/{key}"): lambda w, p: {"content": distinct_jpeg()},
    ("PUT", f"{P}/samples/{{sample_id}}/depth-bins"): lambda w, p: _json(
        {"bins": [{"depth_min": 0, "depth_max": 10, "images": 100}]}
    ),
    # Selections that hold nothing: let through, they change nothing.
    **{
        ("POST", f"{P}/selection/{action}"): lambda w, p: {"params": {"feature": "none>1"}}
        for action in ("dubious", "validate")
    },
    ("POST", f"{P}/selection/reclassify"): lambda w, p: {
        "params": {"feature": "none>1"},
        "json": {"taxon_id": w.taxon_id},
    },
    ("PUT", f"{P}/label-maps/{{model_name}}"): lambda w, p: _json(
        {"entries": [{"label": "heron", "taxon_id": w.taxon_id}]}
    ),
    ("PUT", f"{P}/members/{{subject}}"): lambda w, p: _json({"role": "viewer"}),
    ("PUT", f"{P}/taxa"): lambda w, p: _json({"taxon_ids": [w.taxon_id]}),
    ("PUT", f"{P}/taxa/unresolved/{{name}}"): lambda w, p: _json({"taxon_id": w.taxon_id}),
}

# Operations that use up the object they act on get a new one for every call on the callers'
# own project: (METHOD, path) -> (path parameter, how to make one).
Maker = Callable[[Fresh, ProjectObjects], Awaitable[str]]
FRESH: dict[tuple[str, str], tuple[str, Maker]] = {
    ("DELETE", f"{P}/alerts/{{rule_id}}"): ("rule_id", Fresh.rule_id),
    ("DELETE", f"{P}/deployments/{{deployment_id}}"): ("deployment_id", Fresh.deployment),
    ("DELETE", f"{P}/device-tokens/{{token_id}}"): ("token_id", Fresh.token_id),
    ("DELETE", f"{P}/media/{{media_id}}"): ("media_id", Fresh.media_id),
    ("DELETE", f"{P}/members/{{subject}}"): ("subject", Fresh.member),
    **{
        ("POST", f"{OBSERVATION}/{action}"): ("observation_id", Fresh.observation_id)
        for action in ("validate", "dubious", "discard", "correct")
    },
    ("POST", f"{OBSERVATION}/revert"): ("observation_id", Fresh.corrected_observation_id),
    **{
        ("POST", f"{EVENT}/{action}"): ("event_id", Fresh.event_id)
        for action in ("validate", "dubious", "discard", "correct")
    },
}


def _path_values(
    world: World, op: Operation, scope: str, project: ProjectObjects
) -> dict[str, str]:
    values = {**project.path_values(), "taxon_id": world.taxon_id}
    if op.path.endswith("/subjects"):
        # Subjects are made in the built-in set; the Zooniverse one sends them there.
        values["subject_set_id"] = project.builtin_subject_set_id
    if op.path.endswith("/statistics/{name}"):
        values["name"] = "counts"
    elif op.path.endswith("/unresolved/{name}"):
        values["name"] = "Ardea sp."
    if "/evaluation" in op.path:
        # The project's trained candidate: the models users bring have no evaluation.
        values["model_id"] = project.trained_model_id
        values["plot"] = "confusion_matrix"
    if scope == "mixed":
        values["project_id"] = world.own.project_id
    return values


def _url(world: World, op: Operation, scope: str, project: ProjectObjects) -> str:
    if op.path == "/v1/objects/{key}":
        # The signed URL is the credential: the platform handed it out for this object.
        signed = project.object_get_url if op.method == "get" else project.object_put_url
        parts = urlsplit(signed)
        return f"{parts.path}?{parts.query}"
    values = _path_values(world, op, scope, project)
    missing = [p for p in op.path_params if p not in values]
    assert not missing, f"{op.key}: no value for path parameters {missing}; add them here"
    url = re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], op.path)
    required = [
        p["name"]
        for p in op.spec.get("parameters", [])
        if p.get("in") == "query" and p.get("required")
    ]
    query = {name: values[name] for name in required}
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def _scopes(op: Operation) -> list[str]:
    """own, other where the operation names a project's things, mixed where its path names a
    project and one of its objects."""
    row = MATRIX.get(op.key)
    scopes = ["own"]
    if row is None or row[1] is not None:
        scopes.append("other")
    # Objects of a project, by id. (A member's subject names a person, whom any project may
    # add: it is not one project's object.)
    ids = [p for p in op.path_params if p.endswith("_id") and p not in {"project_id", "taxon_id"}]
    if op.path.startswith(PROJECT_PATH + "/") and ids:
        scopes.append("mixed")
    return scopes


async def _call(
    world: World, fresh: Fresh, op: Operation, scope: str, caller: str
) -> httpx.Response:
    project = world.own if scope == "own" else world.other
    if scope == "own" and op.key in FRESH:
        name, make = FRESH[op.key]
        project = ProjectObjects(**{**vars(project), _field(name): await make(fresh, project)})
    url = _url(world, op, scope, project)
    body = BODIES[op.key](world, project) if op.key in BODIES else {}
    return await world.client.request(op.method.upper(), url, headers=world.headers(caller), **body)


def camtrapdp_example() -> list[tuple[str, tuple[str, bytes, str]]]:
    """The Camtrap DP example package (descriptor and tables, no media files)."""
    return [
        ("files", (path.name, path.read_bytes(), "application/octet-stream"))
        for path in sorted(EXAMPLE.iterdir())
        if path.is_file()
    ]


def _field(param: str) -> str:
    return {"subject": "member", "model_name": "label_map"}.get(param, param)


async def test_every_operation_answers_every_caller_as_the_table_says(
    wl: RunningPlatform, admin: str, tiny_detector: Path
) -> None:
    world = await build_world(wl, admin, tiny_detector)
    fresh = Fresh(wl, admin, world.taxon_id)
    document = await ok(await wl.client.get("/openapi.json"), 200)
    ops = operations(document)
    keys = {op.key for op in ops}
    stale = (set(MATRIX) | set(BODIES) | set(FRESH) | set(NOTES)) - keys - LOCAL_STORE_ONLY
    assert not stale, f"rows for operations the document no longer has: {sorted(stale)}"
    without_body = [op.key for op in ops if "requestBody" in op.spec and op.key not in BODIES]
    assert not without_body, f"add a request body to BODIES for {without_body}"

    problems: list[str] = []
    for op in ops:
        answered: dict[str, dict[str, str]] = {}
        for scope in _scopes(op):
            calls = [_call(world, fresh, op, scope, caller) for caller in CALLERS]
            if op.method == "get" or scope != "own":
                # Reads, and calls on objects the callers may not touch, change nothing:
                # made at once, they take a fraction of the time.
                responses = await asyncio.gather(*calls)
            else:
                responses = [await call for call in calls]
            answered[scope] = {}
            for caller, response in zip(CALLERS, responses, strict=True):
                answered[scope][caller] = outcome(response.status_code)
                assert response.status_code < 500 or response.status_code == 503, (
                    f"{op.key} {scope} as {caller}: {response.status_code} {response.text[:300]}"
                )
        row = MATRIX.get(op.key)
        if row is None:
            problems.append(
                f"{op.key} is not in MATRIX: add it (it answered own: "
                f"{as_line(answered['own'])!r}, other: "
                f"{as_line(answered['other']) if 'other' in answered else None!r})"
            )
            continue
        want = {"own": expected(row[0])}
        if row[1] is not None:
            want["other"] = expected(row[1])
        if "mixed" in answered:
            want["mixed"] = mixed(want["own"])
        for scope, outcomes in want.items():
            if answered[scope] != outcomes:
                problems.append(
                    f"{op.key} {scope}:\n    expected {as_line(outcomes)}\n"
                    f"    answered {as_line(answered[scope])}"
                )
        unusual = {
            o
            for line in want.values()
            for o in line.values()
            if o not in {"ok", "401", "403", "404"}
        }
        if unusual and op.key not in NOTES:
            problems.append(f"{op.key}: outcomes {unusual} need a note in NOTES saying why")
    assert not problems, "\n".join(problems)
