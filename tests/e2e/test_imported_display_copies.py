"""Files that came inside a Camtrap DP import are shown like uploads: callers without
``precise_locations`` get GPS-free display copies (a 409 with ``Retry-After`` until they are
made), in media lists, by the file route and in their exports; the permission's holders get
the originals; and ingest holds the imported originals, so its sweep of unreferenced
originals leaves them. On both backends."""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.test_camtrapdp import _export, _import, _new_project
from tests.support.api import bearer, ok
from tests.support.camtrapdp import EXAMPLE, zip_folder
from tests.support.located_images import location_metadata
from tests.support.platform import RunningPlatform, download, eventually, user_token
from wildlens.common.auth import TokenIssuer, load_keyring
from wildlens.common.db import utcnow
from wildlens.common.settings import Settings
from wildlens.common.storage import display_key, thumbnail_key
from wildlens.ingest.sweep import SweepResult, sweep_orphans

pytestmark = pytest.mark.services("catalogue", "ingest")

# Where the heron deployment (62c200a9) stands, as the package's deployments.csv says.
HERON_PLACE = (51.496, 4.774)
GPS_IFD = 0x8825


def _with_gps(path: Path, latitude: float, longitude: float) -> None:
    """Write a GPS position into the camera's EXIF of the JPEG at ``path``, as a trap with a
    GPS receiver does."""

    def dms(value: float) -> tuple[float, float, float]:
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        return (float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 2))

    with Image.open(path) as image:
        exif = image.getexif()
        exif[GPS_IFD] = {1: "N", 2: dms(latitude), 3: "E", 4: dms(longitude)}
        image.load()
        image.save(path, format="JPEG", exif=exif, quality=95)


def _package(tmp_path: Path) -> tuple[bytes, dict[str, bytes]]:
    """The official example with its ten heron JPEGs carrying their place; the package, and
    the JPEGs' bytes by SHA-256."""
    folder = tmp_path / "package"
    shutil.copytree(EXAMPLE, folder)
    originals: dict[str, bytes] = {}
    for jpeg in sorted((folder / "media").iterdir()):
        _with_gps(jpeg, *HERON_PLACE)
        data = jpeg.read_bytes()
        assert location_metadata(data) == ["exif-gps"]
        originals[hashlib.sha256(data).hexdigest()] = data
    assert len(originals) == 10
    return zip_folder(folder), originals


def _tokens(settings: Settings, pid: str) -> tuple[str, str]:
    """A viewer without ``precise_locations``, and a manager with it."""
    issuer = TokenIssuer(load_keyring(settings), settings.auth.issuer)
    viewer = user_token(settings, "viewer-1", {pid: "viewer"})
    manager = issuer.user_token(
        "manager-1", {pid: "manager"}, permissions={pid: ["precise_locations"]}
    )
    return viewer, manager


async def _held(wl: RunningPlatform, token: str, pid: str) -> list[dict[str, Any]]:
    """The project's media whose file the platform holds, as ``token``'s holder lists them."""
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        query = f"/v1/projects/{pid}/media?limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = await ok(await wl.client.get(query, headers=bearer(token)), 200)
        items += [i for i in page["items"] if i["url_withheld"] != "not_held"]
        cursor = page["next_cursor"] or ""
        if not cursor:
            return items


async def _bytes(wl: RunningPlatform, url: str) -> bytes:
    response = await download(wl, url)
    assert response.status_code == 200, response.text
    return response.content


def _clean(data: bytes) -> bool:
    """No place in the bytes, and no EXIF at all, as Pillow reads them."""
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
    return location_metadata(data) == [] and not exif.get_ifd(GPS_IFD) and len(exif) == 0


@dataclass(frozen=True)
class _Imported:
    """A new project the package was imported into, once ingest made the copies."""

    package: bytes
    originals: dict[str, bytes]
    pid: str
    viewer: str
    manager: str
    summary: dict[str, Any]


async def _imported(
    tmp_path: Path, wl: RunningPlatform, settings: Settings, admin: str
) -> _Imported:
    package, originals = _package(tmp_path)
    pid = await _new_project(wl, admin)
    viewer, manager = _tokens(settings, pid)
    summary = await ok(await _import(wl, admin, pid, package), 200)
    for sha in originals:
        await eventually(partial(wl.platform.store.exists, thumbnail_key(sha)))
    return _Imported(package, originals, pid, viewer, manager, summary)


async def _sweep_a_month_later(wl: RunningPlatform) -> SweepResult:
    """Ingest's sweep of files nothing holds, as it runs a month from now."""
    later = utcnow() + timedelta(days=30)
    database = wl.platform.contexts["ingest"].database
    return await sweep_orphans(database, wl.platform.store, grace=timedelta(hours=1), now=later)


async def test_imported_files_reach_viewers_as_display_copies(
    tmp_path: Path, wl: RunningPlatform, settings: Settings, admin: str
) -> None:
    # Ingest hears of the imported files and makes their display copies.
    imported = await _imported(tmp_path, wl, settings, admin)
    originals, pid = imported.originals, imported.pid
    viewer, manager, store = imported.viewer, imported.manager, wl.platform.store
    assert imported.summary["media_files_stored"] == 10

    async def all_shown() -> list[dict[str, Any]] | None:
        held = await _held(wl, viewer, pid)
        return held if [i["url_file"] for i in held] == ["display"] * 10 else None

    shown = await eventually(all_shown)
    handed = [await _bytes(wl, item["url"]) for item in shown]
    for data in handed:
        assert _clean(data)
        assert hashlib.sha256(data).hexdigest() not in originals
    assert {hashlib.sha256(d).hexdigest() for d in handed} == {
        hashlib.sha256(await store.get_bytes(display_key(sha))).hexdigest() for sha in originals
    }
    # The file route hands the viewer the same copy; the manager with the permission gets
    # the original, its place included.
    first = shown[0]["id"]
    response = await wl.client.get(f"/v1/media/{first}/file", headers=bearer(viewer))
    assert response.status_code == 307, response.text
    assert _clean(await _bytes(wl, response.headers["location"]))
    exact = await _held(wl, manager, pid)
    assert [i["url_file"] for i in exact] == ["original"] * 10
    for item in exact:
        assert await _bytes(wl, item["url"]) in originals.values()

    # The viewer's Camtrap DP export packs the display copies, never an original.
    with zipfile.ZipFile(io.BytesIO(await _export(wl, viewer, pid))) as archive:
        packed = [archive.read(n) for n in archive.namelist() if n.startswith("media/")]
    assert len(packed) == 10
    for data in packed:
        assert _clean(data)
        assert hashlib.sha256(data).hexdigest() not in originals

    # Ingest holds the imported originals: its sweep, however late, leaves them and their
    # display copies.
    swept = await _sweep_a_month_later(wl)
    assert swept.originals == 0
    for sha in originals:
        assert await store.exists(f"media/{sha[:2]}/{sha}.jpg")
        assert await store.exists(display_key(sha))


async def test_until_the_copy_exists_viewers_are_asked_to_come_back(
    tmp_path: Path, wl: RunningPlatform, settings: Settings, admin: str
) -> None:
    imported = await _imported(tmp_path, wl, settings, admin)
    package, originals, pid = imported.package, imported.originals, imported.pid
    viewer, manager, store = imported.viewer, imported.manager, wl.platform.store
    # Copies gone (as before ingest made them, or for an import made before ingest was told
    # of imported files): a 409 with Retry-After, never the original in their place.
    for sha in originals:
        await store.delete(thumbnail_key(sha))
        await store.delete(display_key(sha))
    held = await _held(wl, viewer, pid)
    assert [(i["url"], i["url_withheld"]) for i in held] == [(None, "display_copy_pending")] * 10
    response = await wl.client.get(f"/v1/media/{held[0]['id']}/file", headers=bearer(viewer))
    assert response.status_code == 409, response.text
    assert int(response.headers["retry-after"]) > 0
    response = await wl.client.get(f"/v1/media/{held[0]['id']}/file", headers=bearer(manager))
    assert response.status_code == 307, response.text
    assert await _bytes(wl, response.headers["location"]) in originals.values()

    # Importing the package again asks for whatever copies are missing.
    again = await ok(await _import(wl, admin, pid, package), 200)
    assert again["created"] == {}

    async def all_shown() -> bool:
        return [i["url_file"] for i in await _held(wl, viewer, pid)] == ["display"] * 10

    assert await eventually(all_shown)

    # A package that brings other bytes for a medium: those are what the medium holds now,
    # and the sweep takes the earlier ones, which nothing holds any more.
    folder = tmp_path / "changed"
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        archive.extractall(folder)
    jpeg = sorted((folder / "media").iterdir())[0]
    before = hashlib.sha256(jpeg.read_bytes()).hexdigest()
    _with_gps(jpeg, HERON_PLACE[0] + 0.001, HERON_PLACE[1])
    after = hashlib.sha256(jpeg.read_bytes()).hexdigest()
    await ok(await _import(wl, admin, pid, zip_folder(folder)), 200)
    await eventually(partial(store.exists, thumbnail_key(after)))
    swept = await _sweep_a_month_later(wl)
    assert swept.originals == 1
    assert not await store.exists(f"media/{before[:2]}/{before}.jpg")
    for sha in {after} | set(originals) - {before}:
        assert await store.exists(f"media/{sha[:2]}/{sha}.jpg")


async def test_a_deleted_imported_medium_takes_its_files_with_it(
    tmp_path: Path, wl: RunningPlatform, settings: Settings, admin: str
) -> None:
    imported = await _imported(tmp_path, wl, settings, admin)
    originals, pid = imported.originals, imported.pid
    manager, store = imported.manager, wl.platform.store
    exact = await _held(wl, manager, pid)
    gone = exact[0]
    sha = hashlib.sha256(await _bytes(wl, gone["url"])).hexdigest()
    await ok(
        await wl.client.delete(f"/v1/projects/{pid}/media/{gone['id']}", headers=bearer(admin)),
        200,
    )

    async def removed() -> bool:
        keys = (f"media/{sha[:2]}/{sha}.jpg", display_key(sha), thumbnail_key(sha))
        return not any([await store.exists(k) for k in keys])

    assert await eventually(removed)
    # The other nine stay, held, whatever the sweep finds later.
    await _sweep_a_month_later(wl)
    for other in set(originals) - {sha}:
        assert await store.exists(f"media/{other[:2]}/{other}.jpg")
        assert await store.exists(display_key(other))
