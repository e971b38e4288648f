"""The privacy sweep: what a caller without ``precise_locations`` can get never says where a
sensitive species really is; on the embedded and the real backends.

The project: a grey heron (its family, Ardeidae, is sensitive) seen at a pond; photos whose
EXIF GPS and XMP carry the pond's exact position; a QuickTime video with the fix in its
container. A viewer then calls every GET operation of the live OpenAPI document (each path
parameter filled with every object of that kind made here, so a new route is walked the day
it exists, and a new kind of parameter fails the test until the sweep is given values for it),
follows every download URL it is handed and every redirect, exports the project in every
format the document offers, and tries to read the manager's exports. Everything it gets is
searched: numbers under coordinate names in JSON, CSV, tab-separated and XML (EML's bounding
box included) must be the grid cell's centre, the exact position must appear nowhere in any
text, no image may carry a position in EXIF or XMP, and no bytes may be an original's.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import re
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import httpx
import pytest
from PIL import Image
from pydantic import SecretStr

from tests.e2e.test_taxa import import_tree
from tests.support.api import Site, bearer, ok, put_signed
from tests.support.ecotaxa import EcoRow, bundle_zip, write_bundle
from tests.support.factories import Uploads
from tests.support.located_images import located_image, location_metadata
from tests.support.panoptes_standin import PanoptesStandIn, panoptes_standin
from tests.support.platform import (
    RunningPlatform,
    SettingsFactory,
    download,
    eventually,
    get_media,
    user_token,
    with_group,
)
from tests.support.results import analysis, animal
from tests.support.videos import video_bytes
from wildlens.citsci.settings import CitsciSettings, ZooniverseSettings
from wildlens.common.settings import Settings
from wildlens.common.storage import display_key, thumbnail_key
from wildlens.ingest.settings import IngestSettings

NEST = (50.699, 4.013)  # where create_site puts its location
PRECISION = 0.1
CELL = (50.65, 4.05)  # the centre of the nest's 0.1° cell
# The nest's position as any text may write it: decimal, ISO 6709 (QuickTime), XMP's
# degrees and decimal minutes.
EXACT_TEXT = re.compile(r"(?<![\d.])(?:50\.699|4\.013)|50,41\.9")
# Signed downloads are reached through the URLs handed out, never walked as routes.
WALKED_ELSEWHERE = ("/v1/objects/",)
VIEWER = "viewer-1"


@pytest.fixture
def zooniverse() -> Iterator[PanoptesStandIn]:
    with panoptes_standin() as standin:
        yield standin


@pytest.fixture
def settings(settings_for: SettingsFactory, zooniverse: PanoptesStandIn) -> Settings:
    """One frame per video second, no clips: the video gives one frame. The Zooniverse
    account is a stand-in that keeps whatever it is sent."""
    account = ZooniverseSettings(
        endpoint=zooniverse.url, client_id="sweep", client_secret=SecretStr("sweep-secret")
    )
    return with_group(
        settings_for(citsci=CitsciSettings(zooniverse=account)),
        IngestSettings,
        video_frame_interval_s=1,
        video_clip_seconds=0,
    )


def _coordinate_name(name: str) -> bool:
    """Whether a JSON key, CSV column or XML element names a coordinate."""
    flat = re.sub(r"[^a-z]", "", name.lower())
    return (
        "latitude" in flat
        or "longitude" in flat
        or "boundingcoordinate" in flat
        or flat in {"lat", "lon", "lng", "coordinates"}
        # EcoTaxa's columns: object_lat, sample_lon.
        or name.lower().endswith(("_lat", "_lon"))
        or flat.startswith("gps")
    )


class Sweep:
    """Everything the viewer got, searched; with counts of what was searched."""

    def __init__(self, wl: RunningPlatform, originals: Iterable[str]) -> None:
        self.wl = wl
        self.originals = set(originals)
        self.counts: Counter[str] = Counter()
        # Coordinates of the nest's region found, by where they were found.
        self.coordinates: Counter[str] = Counter()
        # Images searched, by where they came from.
        self.images: Counter[str] = Counter()
        self.fetched: set[str] = set()
        storage = wl.settings.storage_url or ""
        self.storage_host = storage.split("/")[2] if storage.startswith("s3://") else None

    # -- what any text may not say -------------------------------------------------------

    def coordinate(self, value: Any, source: str) -> None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return
        for exact, centre in zip(NEST, CELL, strict=True):
            if abs(number - exact) < 0.5:
                assert number == pytest.approx(centre, abs=1e-9), (source, number)
                self.coordinates[source] += 1

    def search_text(self, text: str, source: str) -> None:
        found = EXACT_TEXT.search(text)
        assert found is None, (source, text[max(0, found.start() - 80) : found.end() + 80])

    # -- structured text -----------------------------------------------------------------

    def search_json(self, node: Any, source: str, key: str = "") -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                self.search_json(value, source, name)
        elif isinstance(node, list):
            # A GeoJSON ring is a list of lists under "coordinates": the key carries down.
            for value in node:
                self.search_json(value, source, key)
        elif isinstance(node, bool):
            return
        elif isinstance(node, int | float):
            assert all(abs(node - exact) > 1e-7 for exact in NEST), (source, key, node)
            if _coordinate_name(key):
                self.coordinate(node, source)
        elif isinstance(node, str):
            if _coordinate_name(key):
                self.coordinate(node, source)

    def search_table(self, text: str, source: str) -> None:
        first = text.split("\n", 1)[0]
        rows = csv.reader(io.StringIO(text), delimiter="\t" if "\t" in first else ",")
        header = next(rows, [])
        columns = [i for i, name in enumerate(header) if _coordinate_name(name)]
        for row in rows:
            for i in columns:
                if i < len(row) and row[i]:
                    self.coordinate(row[i], source)

    def search_xml(self, text: str, source: str) -> None:
        for element in ElementTree.fromstring(text).iter():
            if _coordinate_name(str(element.tag).rsplit("}", 1)[-1]) and element.text:
                self.coordinate(element.text.strip(), source)

    # -- bytes ---------------------------------------------------------------------------

    def download_url(self, text: str) -> bool:
        if not text.startswith(("http://", "https://")):
            return False
        parts = urlsplit(text)
        ours = text.startswith(self.wl.settings.public_url + WALKED_ELSEWHERE[0])
        return ours or (self.storage_host is not None and parts.netloc == self.storage_host)

    def data(self, name: str, data: bytes, source: str) -> None:
        """Search one file or response body, whatever it is."""
        self.counts["files"] += 1
        assert hashlib.sha256(data).hexdigest() not in self.originals, (source, name)
        assert data[4:8] != b"ftyp", f"{source}: a video reached the viewer ({name})"
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for member in archive.namelist():
                    self.data(member, archive.read(member), source)
            return
        if data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n" or data[8:12] == b"WEBP":
            with Image.open(io.BytesIO(data)) as image:
                image.load()
            assert location_metadata(data) == [], (source, name)
            self.counts["images"] += 1
            self.images[source] += 1
            return
        text = data.decode("utf-8", errors="replace")
        self.search_text(text, source)
        stripped = text.lstrip()
        if stripped.startswith(("{", "[")):
            self.search_json(json.loads(text), source)
        elif stripped.startswith("<"):
            self.search_xml(text, source)
        elif name.endswith((".csv", ".txt", ".tsv")) or "csv" in source:
            self.search_table(text, source)

    async def fetch(self, url: str, source: str) -> None:
        """Download a URL the viewer was handed, once per object, and search it."""
        key = urlsplit(url).path
        if key in self.fetched:
            return
        self.fetched.add(key)
        self.counts["urls"] += 1
        response = await download(self.wl, url)
        assert response.status_code == 200, (source, response.text)
        self.data(key, response.content, source)

    async def response(self, response: httpx.Response, source: str) -> None:
        """Search an API response, and what its URLs and redirect lead to."""
        self.counts["responses"] += 1
        if response.status_code in (301, 302, 303, 307, 308):
            await self.fetch(response.headers["location"], source + " (redirect)")
            return
        content_type = response.headers.get("content-type", "")
        self.data(source, response.content, source + (" csv" if "csv" in content_type else ""))
        if content_type.startswith("application/json"):
            for url in _strings(response.json()):
                if self.download_url(url):
                    await self.fetch(url, source + " (url)")


def _strings(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _choices(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """The values an enum (or an optional enum) allows; empty for anything else."""
    schema = _resolve(document, schema)
    for option in schema.get("anyOf", [schema]):
        option = _resolve(document, option)
        if "enum" in option:
            return [str(v) for v in option["enum"]]
    return []


async def _upload(
    wl: RunningPlatform, admin: str, upload: Uploads, data: bytes, name: str, minute: int
) -> dict[str, Any]:
    body = await upload(
        data=data,
        filename=name,
        fields={
            "captured_at": f"2021-04-01T21:{minute:02d}:00+01:00",
            "latitude": str(NEST[0]),
            "longitude": str(NEST[1]),
        },
    )
    # One at a time, as a camera sends them: the catalogue records each before the next.
    await eventually(partial(get_media, wl.client, admin, body["media_id"]))
    return body


async def _export(wl: RunningPlatform, token: str, pid: str, fmt: str) -> str:
    job = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/exports", json={"format": fmt}, headers=bearer(token)
        ),
        202,
    )
    return str(job["id"])


async def _finished(wl: RunningPlatform, admin: str, pid: str, export_id: str) -> bool:
    body = await ok(
        await wl.client.get(f"/v1/projects/{pid}/exports/{export_id}", headers=bearer(admin)),
        200,
    )
    assert body["status"] != "failed", body["error"]
    return bool(body["status"] == "done")


async def _ids(wl: RunningPlatform, admin: str, path: str) -> list[str]:
    page = await ok(await wl.client.get(f"{path}?limit=100", headers=bearer(admin)), 200)
    return [str(item["id"]) for item in page["items"]]


async def _import_heron_object(
    wl: RunningPlatform, admin: str, pid: str, folder: Path
) -> dict[str, Any]:
    """A validated grey heron's vignette at the nest, imported as an EcoTaxa bundle; the
    object's medium."""
    place = {"lat": str(NEST[0]), "lon": str(NEST[1])}
    row = EcoRow("heron-object", "disc", 20)
    row.cells |= {f"object_{k}": v for k, v in place.items()}
    row.cells |= {f"sample_{k}": v for k, v in place.items()}
    row.cells |= {
        "object_annotation_category": "Ardea cinerea",
        "object_annotation_status": "validated",
        "object_annotation_person_name": "Warden",
    }
    archive = bundle_zip(write_bundle(folder / "bundle", [row]))
    jobs = f"/v1/projects/{pid}/import-jobs"
    body = {"format": "ecotaxa", "files": [{"name": "bundle.zip", "size": len(archive)}]}
    job = await ok(await wl.client.post(jobs, json=body, headers=bearer(admin)), 201)
    await put_signed(wl.client, wl.settings.public_url, job["files"][0]["upload_url"], archive)
    await ok(await wl.client.post(f"{jobs}/{job['id']}/start", headers=bearer(admin)), 202)

    async def imported() -> dict[str, Any] | None:
        state = await ok(await wl.client.get(f"{jobs}/{job['id']}", headers=bearer(admin)), 200)
        assert state["status"] != "failed", (state["error"], state["problems"])
        return state if state["status"] == "succeeded" else None

    await eventually(imported, timeout=60)
    page = await ok(
        await wl.client.get(f"/v1/projects/{pid}/media?limit=100", headers=bearer(admin)), 200
    )
    (medium,) = [m for m in page["items"] if m["filename"] == "heron-object.png"]
    detail = await get_media(wl.client, admin, medium["id"])
    assert detail is not None
    return detail


async def test_a_viewer_gets_nothing_more_precise_than_the_grid(
    wl: RunningPlatform,
    settings: Settings,
    admin: str,
    site: Site,
    upload: Uploads,
    zooniverse: PanoptesStandIn,
    tmp_path: Path,
) -> None:
    pid, h, store = site.project_id, bearer(admin), wl.platform.store
    taxa = await import_tree(wl.client, admin)
    await ok(
        await wl.client.patch(
            f"/v1/projects/{pid}/privacy",
            json={"sensitive_taxa": [taxa["Ardeidae"]], "coordinate_precision": PRECISION},
            headers=h,
        ),
        200,
    )
    await ok(
        await wl.client.put(
            f"/v1/projects/{pid}/members/{VIEWER}", json={"role": "viewer"}, headers=h
        ),
        201,
    )
    viewer = user_token(settings, VIEWER, {pid: "viewer"})

    # Three photos at the nest, each with its position in EXIF GPS and XMP, and a video.
    photos = [located_image(*NEST, colour=(40 * n, 120, 60)) for n in range(3)]
    movie = video_bytes("mov", seconds=1, fps=5, metadata={"location": "+50.6990+004.0130/"})
    bodies = [await _upload(wl, admin, upload, p, f"nest-{n}.jpg", n) for n, p in enumerate(photos)]
    video = await _upload(wl, admin, upload, movie, "transect.mov", 10)
    originals = [b["sha256"] for b in (*bodies, video)]
    heron, mallard, _unlabelled = (b["media_id"] for b in bodies)
    # A heron in one (the place is sensitive from now on, for all its media), a mallard in
    # another, the third waits for people.
    ctx = wl.platform.contexts["inference"]
    await ctx.publish([analysis(heron, pid, animal(0.9, "Ardea cinerea"))])
    await ctx.publish([analysis(mallard, pid, animal(0.8, "Anas platyrhynchos"))])

    async def analysed(media_id: str) -> bool:
        media = await get_media(wl.client, admin, media_id)
        return media is not None and media["status"] == "analyzed"

    for media_id in (heron, mallard):
        await eventually(partial(analysed, media_id))

    async def all_media() -> list[str] | None:
        ids = await _ids(wl, admin, f"/v1/projects/{pid}/media")
        return ids if len(ids) == len(bodies) + 2 else None  # and the video's frame

    media_ids = await eventually(all_media)
    (frame_id,) = set(media_ids) - {b["media_id"] for b in (*bodies, video)}
    frame = await get_media(wl.client, admin, frame_id)
    assert frame is not None
    originals.append(frame["sha256"])
    for sha in originals:
        if sha != video["sha256"]:
            await eventually(partial(store.exists, thumbnail_key(sha)))

    # What the manager has, for the sweep to ask for: an alert rule, a label map, an upload
    # session, and every export format made with exact places.
    rule = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/alerts",
            json={
                "name": "egrets",
                "taxon_id": taxa["Ardea alba"],
                "webhook_url": "http://127.0.0.1:9/never",
            },
            headers=h,
        ),
        201,
    )
    await ok(
        await wl.client.put(
            f"/v1/projects/{pid}/label-maps/sweep",
            json={"entries": [{"label": "heron", "taxon_id": taxa["Ardea cinerea"]}]},
            headers=h,
        ),
        200,
    )
    session = await ok(
        await wl.client.post(
            "/v1/uploads",
            json={
                "project_id": pid,
                "files": [{"name": "a.jpg", "sha256": "0" * 64, "size": 10}],
            },
            headers=h,
        ),
        201,
    )
    # An import job the manager opened (its files never sent): the viewer may not read it.
    import_job = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/import-jobs",
            json={"format": "coco", "files": [{"name": "coco.json", "size": 10}]},
            headers=h,
        ),
        201,
    )
    # A heron as a single object, imported from an EcoTaxa bundle with the nest's position:
    # EcoTaxa's own columns carry its place, and its sample's.
    heron_object = await _import_heron_object(wl, admin, pid, tmp_path)
    originals.append(heron_object["sha256"])
    media_ids.append(heron_object["id"])
    await eventually(partial(store.exists, display_key(heron_object["sha256"])))

    document = wl.app.openapi()
    create = document["paths"]["/v1/projects/{project_id}/exports"]["post"]
    body_schema = _resolve(document, create["requestBody"]["content"]["application/json"]["schema"])
    formats = _choices(document, body_schema["properties"]["format"])
    assert {"camtrap-dp", "coco", "dwca", "csv", "megadetector"} <= set(formats)
    managers = {fmt: await _export(wl, admin, pid, fmt) for fmt in formats}
    # The viewer exports too: every format, as the viewer may see the project.
    viewers = {fmt: await _export(wl, viewer, pid, fmt) for fmt in formats}
    for export_id in (*managers.values(), *viewers.values()):
        await eventually(partial(_finished, wl, admin, pid, export_id), timeout=120)

    # The manager's exports hold the exact place (so the search below would find it)...
    precise = await ok(
        await wl.client.get(f"/v1/projects/{pid}/exports/{managers['csv']}", headers=h), 200
    )
    archive = zipfile.ZipFile(io.BytesIO((await download(wl, precise["download_url"])).content))
    assert EXACT_TEXT.search(archive.read("observations.csv").decode())
    # ...and the viewer cannot read them: as if they did not exist.
    for fmt, export_id in managers.items():
        response = await wl.client.get(
            f"/v1/projects/{pid}/exports/{export_id}", headers=bearer(viewer)
        )
        assert response.status_code == 404, (fmt, response.text)

    # A training dataset the manager built from a person's boxed heron: the crops and their
    # places are the managers' (the viewer is refused; a manager without precise_locations
    # gets the cell, tests/e2e/test_datasets.py).
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/media/{heron}/observations",
            json={
                "observation_type": "animal",
                "scientific_name": "Ardea cinerea",
                "bbox": [0.2, 0.2, 0.4, 0.4],
            },
            headers=h,
        ),
        201,
    )
    dataset = await ok(
        await wl.client.post("/v1/datasets", json={"project_id": pid}, headers=h), 201
    )

    sweep = Sweep(wl, originals)
    for fmt, export_id in viewers.items():
        status = await wl.client.get(
            f"/v1/projects/{pid}/exports/{export_id}", headers=bearer(viewer)
        )
        assert status.status_code == 200, status.text
        sweep.counts["responses"] += 1
        await sweep.fetch(status.json()["download_url"], f"export:{fmt}")
    for fmt in ("camtrap-dp", "coco", "dwca", "csv", "ecotaxa"):
        assert sweep.coordinates[f"export:{fmt}"] > 0, f"the {fmt} export had no place found"
    # The viewer's package carries every photo's and the frame's display copy, no video.
    assert sweep.images["export:camtrap-dp"] == len(photos) + 1

    # Every GET operation of the document, with every object made here.
    values: dict[str, list[str]] = {
        "project_id": [pid],
        "media_id": media_ids,
        "deployment_id": [site.deployment_id],
        "device_id": [site.device_id],
        "event_id": await _ids(wl, admin, f"/v1/projects/{pid}/events"),
        "observation_id": await _ids(wl, admin, f"/v1/projects/{pid}/observations"),
        "export_id": [*managers.values(), *viewers.values()],
        "rule_id": [str(rule["id"])],
        "model_name": ["sweep"],
        # Models carry no place; an unknown one still answers, and is looked at.
        "model_id": [str(uuid.UUID(int=1))],
        "subject": [VIEWER, "admin"],
        "taxon_id": [taxa["Ardeidae"], taxa["Ardea cinerea"]],
        "upload_id": [str(session["id"])],
        "import_job_id": [str(import_job["id"])],
        # Model uploads carry no place either; an unknown one is looked at all the same.
        "model_upload_id": [str(uuid.UUID(int=2))],
        "dataset_id": [str(dataset["id"])],
        # Training jobs and evaluations carry no place (a label spec names taxa, a report
        # counts per class); unknown ones are looked at all the same.
        "job_id": [str(uuid.UUID(int=3))],
        "plot": ["confusion_matrix"],
        # The heron object's sample, at the nest.
        "sample_id": await _ids(wl, admin, f"/v1/projects/{pid}/samples"),
    }
    operations = 0
    for path, item in sorted(document["paths"].items()):
        operation = item.get("get")
        if operation is None or path.startswith(WALKED_ELSEWHERE):
            continue
        operations += 1
        parameters = operation.get("parameters", [])
        names = re.findall(r"{(\w+)[^}]*}", path)
        choices = {
            p["name"]: _choices(document, p.get("schema", {}))
            for p in parameters
            if p["in"] in ("path", "query")
        }
        for name in names:
            if name not in values and not choices.get(name):
                pytest.fail(f"GET {path}: the sweep has no values for {{{name}}}; add some")
        query: dict[str, str] = {}
        if "project_id" in choices and "project_id" not in names:
            query["project_id"] = pid
        if "limit" in choices:
            query["limit"] = "100"
        formats_of: list[str | None] = [*choices.get("format", [])] or [None]
        for combination in itertools.product(*(values.get(n) or choices[n] for n in names)):
            url = path
            for name, value in zip(names, combination, strict=True):
                url = re.sub(r"{" + name + r"[^}]*}", value, url)
            for variant in formats_of:
                params = {**query, **({"format": variant} if variant else {})}
                response = await wl.client.get(url, params=params, headers=bearer(viewer))
                assert response.status_code < 500, (url, response.text)
                await sweep.response(response, f"GET {url}")

    # The heron's sample and its statistics per sample carry its place, generalised.
    for walked in ("samples", "statistics/abundance", "statistics/concentration"):
        assert sweep.coordinates[f"GET /v1/projects/{pid}/{walked}"] > 0, walked

    # What volunteers on Zooniverse get, though a manager (who may see exact places) sends
    # every medium (the photos, the frame, the heron's vignette, the video): display copies
    # without a position, metadata without a place, no video.
    subject_set = await ok(
        await wl.client.post(
            "/v1/citsci/subject-sets",
            json={
                "project_id": pid,
                "name": "Nest",
                "destination": "zooniverse",
                "zooniverse_project_id": "1",
                "zooniverse_workflow_id": "2",
            },
            headers=h,
        ),
        201,
    )
    report = await ok(
        await wl.client.post(
            f"/v1/citsci/subject-sets/{subject_set['id']}/zooniverse/send",
            json={"media_ids": media_ids},
            headers=h,
        ),
        200,
    )
    assert report["sent"] == len(photos) + 2
    assert [f["media_id"] for f in report["failed"]] == [video["media_id"]]
    for call in zooniverse.calls:
        if isinstance(call.body, dict):
            sweep.search_json(call.body, f"zooniverse:{call.method} {call.path}")
    for subject_id, (data, _) in zooniverse.uploads.items():
        sweep.data(subject_id, data, "zooniverse:uploads")
    assert sweep.images["zooniverse:uploads"] == len(photos) + 2

    # What the built-in volunteers are served: each photo's and the frame's display copy,
    # without a position, and nothing about where; the video is refused as a subject.
    builtin = await ok(
        await wl.client.post(
            "/v1/citsci/subject-sets", json={"project_id": pid, "name": "Nest here"}, headers=h
        ),
        201,
    )
    shown = [m for m in media_ids if m != video["media_id"]]
    await ok(
        await wl.client.post(
            f"/v1/citsci/subject-sets/{builtin['id']}/subjects",
            json={"subjects": [{"media_ids": [m]} for m in shown]},
            headers=h,
        ),
        201,
    )
    refused = await wl.client.post(
        f"/v1/citsci/subject-sets/{builtin['id']}/subjects",
        json={"subjects": [{"media_ids": [video["media_id"]]}]},
        headers=h,
    )
    assert refused.status_code == 422, refused.text
    volunteer = bearer(user_token(settings, "sweep-volunteer", {pid: "volunteer"}))
    while True:
        response = await wl.client.get(
            "/v1/citsci/subjects/next", params={"project_id": pid}, headers=volunteer
        )
        subject = response.json()["subject"]
        if subject is None:
            break
        await sweep.response(response, "volunteers:next")
        for medium in subject["media"]:
            # Searched here even where another route handed the same copy out before.
            copy = await download(wl, medium["display_url"])
            assert copy.status_code == 200
            sweep.data(medium["media_id"], copy.content, "volunteers:display")
        await ok(
            await wl.client.post(
                f"/v1/citsci/subjects/{subject['id']}/classifications",
                json={"nothing_here": True},
                headers=volunteer,
            ),
            201,
        )
    # The heron a person labelled and the heron's vignette imported as validated are gold
    # standard, served only at the configured rate.
    assert len(shown) - 2 <= sweep.images["volunteers:display"] <= len(shown)

    # What selection for volunteers weighs and chooses names no place either.
    candidates = await wl.client.get(f"/v1/projects/{pid}/review/candidates", headers=h)
    assert candidates.status_code == 200, candidates.text
    await sweep.response(candidates, "selection:candidates")
    chosen = await wl.client.post(
        f"/v1/citsci/subject-sets/{subject_set['id']}/select", json={"dry_run": True}, headers=h
    )
    assert chosen.status_code == 200, chosen.text
    await sweep.response(chosen, "selection:select")

    # The checks had something to check: the viewer saw places, images and the settings.
    assert sweep.coordinates["GET /v1/projects/" + pid + "/locations"] == 2
    assert sweep.counts["images"] >= len(photos) + 1  # each photo's and the frame's copy
    mine = await ok(await wl.client.get(f"/v1/projects/{pid}/privacy", headers=bearer(viewer)), 200)
    assert mine["precise_locations"] is False
    print(
        f"privacy sweep ({settings.mode}): {operations} GET operations, "
        f"{sweep.counts['responses']} responses, {sweep.counts['files']} files and bodies, "
        f"{sweep.counts['images']} images, {sweep.counts['urls']} URLs, "
        f"{sum(sweep.coordinates.values())} coordinates checked; "
        f"{len(formats)} export formats, {len(managers)} manager exports refused"
    )
