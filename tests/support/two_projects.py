"""Two projects with one of everything, and a token for every kind of caller, for tests that
try every operation as everyone against their own project and against the other one.

Everything is made over the API, as the platform's users would make it. ``Fresh`` makes more
of a kind on demand, for operations that use up what they act on (a deletion, a discard).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from tests.support.api import bearer, ok, post_media
from tests.support.ecotaxa import EcoRow, bundle_zip, write_bundle
from tests.support.model_bundles import open_upload, post_bundle, put_signed, renamed
from tests.support.platform import RunningPlatform, eventually, user_token
from tests.support.training_runs import ExportsABundle, ended_job, install_run, job_request
from wildlens.common.settings import Settings

__all__ = [
    "CALLERS",
    "TAXA_CSV",
    "Fresh",
    "ProjectObjects",
    "World",
    "alert_rule",
    "build_world",
    "distinct_jpeg",
]

# Who calls: the five project roles, a user who is no member, a gateway of the project, and
# nobody at all.
CALLERS = (
    "admin",
    "manager",
    "annotator",
    "volunteer",
    "viewer",
    "stranger",
    "device",
    "anonymous",
)
PROJECT_ROLES = CALLERS[:5]

TAXA_CSV = (
    "taxonID,parentNameUsageID,scientificName,taxonRank,vernacularName\n"
    "1,,Animalia,kingdom,Animals\n"
    "2,1,Ardea cinerea,species,Grey heron\n"
)
# Inside every deployment made here (which run from 2021-03-27 on, camera clock at +01:00).
CAPTURED = "2021-04-01T{hour:02d}:{minute:02d}:00+01:00"
_images = itertools.count(1)


def distinct_jpeg() -> bytes:
    """A small JPEG whose bytes no other call of this process returns."""
    n = next(_images)
    image = Image.new("RGB", (48, 32), (n % 251, (n // 251) % 251, 90))
    image.putpixel((n % 48, 0), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


@dataclass
class ProjectObjects:
    """One project and one object of each kind in it, by id."""

    project_id: str
    location_id: str
    device_id: str
    deployment_id: str
    device_token: str
    token_id: str
    media_id: str
    event_id: str
    observation_id: str
    export_id: str
    # An import job awaiting its file (never sent).
    import_job_id: str
    rule_id: str
    upload_id: str
    member: str
    label_map: str
    # A detector of the project's own in the model registry, and one on its way in (its
    # files PUT, not completed yet).
    model_id: str
    model_upload_id: str
    # A training dataset built from the project's boxed observation.
    dataset_id: str
    # A training job that ended (succeeded), and the candidate it registered with its
    # evaluation report.
    training_job_id: str
    trained_model_id: str
    # A subject set classified on Zooniverse.
    subject_set_id: str
    # A subject set of the built-in volunteers, and its subject showing the project's medium.
    builtin_subject_set_id: str
    subject_id: str
    # A sample of single objects (one EcoTaxa object in it).
    sample_id: str
    # A signed URL the platform handed out for one of the project's objects (a thumbnail or
    # an original), and one to PUT a file of the project's upload session.
    object_get_url: str
    object_put_url: str

    def path_values(self) -> dict[str, str]:
        return {
            "project_id": self.project_id,
            "location_id": self.location_id,
            "device_id": self.device_id,
            "deployment_id": self.deployment_id,
            "token_id": self.token_id,
            "media_id": self.media_id,
            "event_id": self.event_id,
            "observation_id": self.observation_id,
            "export_id": self.export_id,
            "import_job_id": self.import_job_id,
            "rule_id": self.rule_id,
            "upload_id": self.upload_id,
            "subject": self.member,
            "model_name": self.label_map,
            "model_id": self.model_id,
            "model_upload_id": self.model_upload_id,
            "dataset_id": self.dataset_id,
            "job_id": self.training_job_id,
            "subject_set_id": self.subject_set_id,
            "subject_id": self.subject_id,
            "sample_id": self.sample_id,
        }


@dataclass
class World:
    """Project ``own`` (where the callers hold their roles) and ``other`` (where none of them
    is a member), the taxa both use, and a token per caller."""

    settings: Settings
    client: httpx.AsyncClient
    admin: str
    own: ProjectObjects
    other: ProjectObjects
    taxon_id: str
    tokens: dict[str, str | None] = field(default_factory=dict)
    # The detector bundle the projects' models were made from.
    bundle: Path | None = None

    def headers(self, caller: str) -> dict[str, str]:
        token = self.tokens[caller]
        return bearer(token) if token else {}


class Fresh:
    """More objects of a kind in a project, made by the platform admin, one per call."""

    def __init__(self, wl: RunningPlatform, admin: str, taxon_id: str) -> None:
        self.client, self.admin, self.taxon_id = wl.client, admin, taxon_id
        self._n = itertools.count(1)

    async def _post(self, url: str, json: Any = None, status: int = 201) -> Any:
        return await ok(await self.client.post(url, json=json, headers=bearer(self.admin)), status)

    async def device(self, project: ProjectObjects) -> str:
        serial = f"CAM-{next(self._n)}-{project.project_id[:8]}"
        created = await self._post(f"/v1/projects/{project.project_id}/devices", {"serial": serial})
        return str(created["id"])

    async def deployment(self, project: ProjectObjects) -> str:
        device = await self.device(project)
        created = await self._post(
            f"/v1/projects/{project.project_id}/deployments",
            {
                "location_id": project.location_id,
                "device_id": device,
                "start": "2022-01-01T00:00:00+01:00",
                "end": "2022-02-01T00:00:00+01:00",
                "utc_offset": "+01:00",
            },
        )
        return str(created["id"])

    async def token_id(self, project: ProjectObjects) -> str:
        issued = await self._post(
            f"/v1/projects/{project.project_id}/devices/{project.device_id}/token"
        )
        return str(issued["token_id"])

    async def rule_id(self, project: ProjectObjects) -> str:
        created = await self._post(f"/v1/projects/{project.project_id}/alerts", alert_rule())
        return str(created["id"])

    async def member(self, project: ProjectObjects) -> str:
        subject = f"member-{next(self._n)}-of-{project.project_id[:8]}"
        response = await self.client.put(
            f"/v1/projects/{project.project_id}/members/{subject}",
            json={"role": "viewer"},
            headers=bearer(self.admin),
        )
        await ok(response, 201)
        return subject

    async def media_id(self, project: ProjectObjects) -> str:
        return await recorded_medium(
            self.client, self.admin, project.device_token, hour=11, minute=next(self._n) % 60
        )

    async def observation_id(self, project: ProjectObjects) -> str:
        created = await self._post(
            f"/v1/projects/{project.project_id}/media/{project.media_id}/observations",
            {"observation_type": "animal", "taxon_id": self.taxon_id},
        )
        return str(created["id"])

    async def corrected_observation_id(self, project: ProjectObjects) -> str:
        """An observation with a second version, which a revert can go back from."""
        observation = await self.observation_id(project)
        await self._post(
            f"/v1/projects/{project.project_id}/observations/{observation}/correct",
            {"count": 2},
            status=200,
        )
        return observation

    async def event_id(self, project: ProjectObjects) -> str:
        """An event of its own: a medium an hour away from every other, with a label."""
        n = next(self._n)
        # Minutes apart from every other medium: more than an event's gap.
        hour, minute = 12 + 2 * n // 60 % 12, 2 * n % 60
        media_id = await recorded_medium(
            self.client, self.admin, project.device_token, hour=hour, minute=minute
        )
        await self._post(
            f"/v1/projects/{project.project_id}/media/{media_id}/observations",
            {"observation_type": "animal", "taxon_id": self.taxon_id},
        )
        return await event_of(self.client, self.admin, project.project_id, hour, minute)


def alert_rule() -> dict[str, Any]:
    # Disabled: nothing is ever sent to the (unreachable) receiver.
    return {
        "name": "Herons",
        "observation_type": "animal",
        "webhook_url": "https://receiver.example/hook",
        "enabled": False,
    }


async def recorded_medium(
    client: httpx.AsyncClient, admin: str, device_token: str, *, hour: int = 10, minute: int = 0
) -> str:
    """A new image posted by the gateway, once the catalogue has recorded it."""
    accepted = await ok(
        await post_media(
            client,
            device_token,
            data=distinct_jpeg(),
            fields={"captured_at": CAPTURED.format(hour=hour, minute=minute)},
        ),
        202,
    )
    media_id = str(accepted["media_id"])

    async def recorded() -> bool:
        response = await client.get(f"/v1/media/{media_id}", headers=bearer(admin))
        return response.status_code == 200

    await eventually(recorded)
    return media_id


async def event_of(
    client: httpx.AsyncClient, admin: str, project_id: str, hour: int, minute: int
) -> str:
    """The event of the medium captured at ``hour``:``minute`` (``CAPTURED``)."""
    moment = datetime.fromisoformat(CAPTURED.format(hour=hour, minute=minute))
    page = await ok(
        await client.get(
            f"/v1/projects/{project_id}/events",
            params={
                "captured_from": moment.isoformat(),
                "captured_to": (moment + timedelta(seconds=1)).isoformat(),
            },
            headers=bearer(admin),
        ),
        200,
    )
    (event,) = page["items"]
    return str(event["id"])


async def _project(
    client: httpx.AsyncClient,
    admin: str,
    name: str,
    taxon_id: str,
    people: Callable[[str], dict[str, str]],
    bundle: Path,
    public_url: str,
) -> ProjectObjects:
    """A project with one of everything; ``people`` gives the tokens of its members by role,
    once the project's id is known."""
    h = bearer(admin)

    async def post(url: str, json: Any = None, status: int = 201) -> Any:
        return await ok(await client.post(url, json=json, headers=h), status)

    pid = str((await post("/v1/projects", {"name": name}))["id"])
    base = f"/v1/projects/{pid}"
    location = await post(
        f"{base}/locations", {"name": f"{name} pond", "latitude": 50.7, "longitude": 4.0}
    )
    device = await post(f"{base}/devices", {"serial": f"{name}-CAM"})
    deployment = await post(
        f"{base}/deployments",
        {
            "location_id": location["id"],
            "device_id": device["id"],
            "start": "2021-03-27T00:00:00+01:00",
            "end": "2021-05-01T00:00:00+01:00",
            "utc_offset": "+01:00",
        },
    )
    issued = await post(f"{base}/devices/{device['id']}/token")
    members = people(pid)
    media_id = await recorded_medium(client, admin, issued["token"])
    observation = await post(
        f"{base}/media/{media_id}/observations",
        {"observation_type": "animal", "taxon_id": taxon_id},
    )
    # A person's boxed label, from which the project's dataset is built.
    await post(
        f"{base}/media/{media_id}/observations",
        {"observation_type": "animal", "taxon_id": taxon_id, "bbox": [0.1, 0.1, 0.5, 0.5]},
    )
    dataset = await post("/v1/datasets", {"project_id": pid})
    subject_set = await post(
        "/v1/citsci/subject-sets",
        {
            "project_id": pid,
            "name": "Herons on Zooniverse",
            "destination": "zooniverse",
            "zooniverse_project_id": "4242",
            "zooniverse_workflow_id": "777",
        },
    )
    builtin_set = await post("/v1/citsci/subject-sets", {"project_id": pid, "name": "Herons here"})
    subjects = await post(
        f"/v1/citsci/subject-sets/{builtin_set['id']}/subjects",
        {"subjects": [{"media_ids": [media_id]}]},
    )
    # The export of the least privileged reader: what it holds, every role may see.
    export = await ok(
        await client.post(
            f"{base}/exports", json={"format": "csv"}, headers=bearer(members["viewer"])
        ),
        202,
    )
    import_job = await post(
        f"{base}/import-jobs",
        {"format": "coco", "files": [{"name": "coco.json", "size": 100}]},
    )
    rule = await post(f"{base}/alerts", alert_rule())
    # Named after the project: the same name in both would be one member of each.
    member = f"member-of-{name.lower()}"
    await ok(await client.put(f"{base}/members/{member}", json={"role": "viewer"}, headers=h), 201)
    label_map = "heron-classifier"
    await ok(
        await client.put(
            f"{base}/label-maps/{label_map}",
            json={"entries": [{"label": "heron", "taxon_id": taxon_id}]},
            headers=h,
        ),
        200,
    )
    data = distinct_jpeg()
    # An SD card being uploaded by one of the project's annotators: the session is theirs.
    upload = await ok(
        await client.post(
            "/v1/uploads",
            json={
                "project_id": pid,
                "files": [
                    {"name": "a.jpg", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                ],
            },
            headers=bearer(members["annotator"]),
        ),
        201,
    )
    listed = await ok(await client.get(f"{base}/media?limit=1", headers=h), 200)
    with tempfile.TemporaryDirectory() as folder:
        own_model = renamed(bundle, Path(folder), version="1.0", name=f"detector-{name.lower()}")
        model = await ok(await post_bundle(client, admin, own_model, pid), 201)
        uploaded = renamed(bundle, Path(folder) / "up", version="1.0", name=f"up-{name.lower()}")
        files = {p.name: p.read_bytes() for p in uploaded.iterdir()}
        manifest = json.loads(files["wildlens-model.json"])
        sizes = (len(files["model.onnx"]), len(files["wildlens-model.json"]))
        model_upload = await ok(await open_upload(client, admin, manifest, sizes, pid), 201)
        for file in model_upload["files"]:
            await put_signed(client, public_url, file["upload_url"], files[file["name"]])
    sample_id = await ecotaxa_sample(client, admin, pid, public_url)
    job = await ok(await client.post("/v1/training-jobs", json=job_request(pid), headers=h), 202)
    trained = await ended_job(client, admin, str(job["id"]))
    assert trained["status"] == "succeeded", trained
    return ProjectObjects(
        project_id=pid,
        location_id=str(location["id"]),
        device_id=str(device["id"]),
        deployment_id=str(deployment["id"]),
        device_token=str(issued["token"]),
        token_id=str(issued["token_id"]),
        media_id=media_id,
        event_id=await event_of(client, admin, pid, 10, 0),
        observation_id=str(observation["id"]),
        export_id=str(export["id"]),
        import_job_id=str(import_job["id"]),
        rule_id=str(rule["id"]),
        upload_id=str(upload["id"]),
        member=member,
        label_map=label_map,
        model_id=str(model["id"]),
        model_upload_id=str(model_upload["id"]),
        dataset_id=str(dataset["id"]),
        training_job_id=str(job["id"]),
        trained_model_id=str(trained["model_id"]),
        subject_set_id=str(subject_set["id"]),
        builtin_subject_set_id=str(builtin_set["id"]),
        subject_id=str(subjects["created"][0]["id"]),
        sample_id=sample_id,
        object_get_url=str(listed["items"][0]["url"]),
        object_put_url=str(upload["files"][0]["upload_url"]),
    )


async def ecotaxa_sample(client: httpx.AsyncClient, admin: str, pid: str, public_url: str) -> str:
    """A sample imported from an EcoTaxa bundle of one object (detritus: no taxon needed)."""
    with tempfile.TemporaryDirectory() as folder:
        files = write_bundle(Path(folder), [EcoRow("obj-1", "square", 12, sample="s1")])
    archive = bundle_zip(files)
    h = bearer(admin)
    base = f"/v1/projects/{pid}/import-jobs"
    body = {"format": "ecotaxa", "files": [{"name": "bundle.zip", "size": len(archive)}]}
    job = await ok(await client.post(base, json=body, headers=h), 201)
    await put_signed(client, public_url, job["files"][0]["upload_url"], archive)
    await ok(await client.post(f"{base}/{job['id']}/start", headers=h), 202)

    async def done() -> dict[str, Any] | None:
        found = await ok(await client.get(f"{base}/{job['id']}", headers=h), 200)
        return found if found["status"] in ("succeeded", "failed") else None

    finished = await eventually(done, timeout=120)
    assert finished["status"] == "succeeded", finished
    samples = await ok(await client.get(f"/v1/projects/{pid}/samples", headers=h), 200)
    return str(samples["items"][0]["id"])


async def build_world(wl: RunningPlatform, admin: str, bundle: Path) -> World:
    """Both projects, the taxa, and a token for each caller; the callers hold their roles in
    project ``own`` only (``stranger`` holds none anywhere), as tokens minted for them.
    ``bundle``: a detector bundle, registered as each project's own model."""
    client, settings = wl.client, wl.settings
    await ok(
        await client.post(
            "/v1/taxa/import",
            files={"file": ("taxa.csv", TAXA_CSV.encode(), "text/csv")},
            headers=bearer(admin),
        ),
        200,
    )
    found = await ok(await client.get("/v1/taxa?q=Ardea", headers=bearer(admin)), 200)
    taxon_id = str(found["items"][0]["id"])

    def people(prefix: str) -> Callable[[str], dict[str, str]]:
        def tokens(pid: str) -> dict[str, str]:
            return {
                role: user_token(settings, f"{prefix}{role}", {pid: role}) for role in PROJECT_ROLES
            }

        return tokens

    own_people: dict[str, str] = {}

    def own_tokens(pid: str) -> dict[str, str]:
        own_people.update(people("own-")(pid))
        return own_people

    url = settings.public_url
    # Each project's training job registers a candidate, evaluated.
    install_run(wl, ExportsABundle(bundle))
    own = await _project(client, admin, "Own", taxon_id, own_tokens, bundle, url)
    other = await _project(client, admin, "Other", taxon_id, people("other-"), bundle, url)
    tokens: dict[str, str | None] = {
        **own_people,
        "stranger": user_token(settings, "stranger", {}),
        "device": own.device_token,
        "anonymous": None,
    }
    return World(settings, client, admin, own, other, taxon_id, tokens, bundle)
