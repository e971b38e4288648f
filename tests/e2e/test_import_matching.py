"""A package published after its photos were uploaded: the same photo stays one medium and the
same deployment one deployment, and the import says what it matched and by which rule."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Site, bearer, ok
from tests.support.camtrapdp import EXAMPLE, zip_folder
from tests.support.factories import Sites, Uploads
from tests.support.platform import RunningPlatform, eventually

IMPORTS = "/v1/projects/{}/imports/camtrap-dp"
HERON = "62c200a9"
TOTAL_MEDIA = 423

pytestmark = pytest.mark.services("catalogue", "ingest")


def _heron_rows() -> dict[str, dict[str, str]]:
    """The example's media rows that come with their files, by file name."""
    with (EXAMPLE / "media.csv").open(newline="", encoding="utf-8") as handle:
        return {
            r["fileName"]: r for r in csv.DictReader(handle) if r["filePath"].startswith("media/")
        }


def _tables_only() -> bytes:
    """The example without its image files."""
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        for name in ("datapackage.json", "deployments.csv", "media.csv", "observations.csv"):
            archive.write(EXAMPLE / name, name)
    return package.getvalue()


async def _import(wl: RunningPlatform, token: str, pid: str, package: bytes) -> dict[str, Any]:
    response = await wl.client.post(
        IMPORTS.format(pid),
        files={"files": ("package.zip", package, "application/zip")},
        headers=bearer(token),
    )
    return dict(await ok(response, 200))


async def _all(wl: RunningPlatform, token: str, path: str) -> list[dict[str, Any]]:
    body = await ok(await wl.client.get(f"{path}?limit=1000", headers=bearer(token)), 200)
    assert body["next_cursor"] is None
    return list(body["items"])


async def _upload_herons(
    wl: RunningPlatform, admin: str, upload: Uploads
) -> dict[str, dict[str, Any]]:
    """The ten heron photos through the site's gateway, by file name, once recorded."""
    uploaded = {}
    for path in sorted((EXAMPLE / "media").glob("*.JPG")):
        uploaded[path.name] = (await upload(path))["media_id"]

    async def recorded(media_id: str) -> dict[str, Any] | None:
        response = await wl.client.get(f"/v1/media/{media_id}", headers=bearer(admin))
        return response.json() if response.status_code == 200 else None

    return {name: await eventually(partial(recorded, i)) for name, i in uploaded.items()}


def _matched(summary: dict[str, Any], table: str) -> dict[str, tuple[str, str]]:
    """The import's matches for ``table``: the file's id → (the platform's id, the rule)."""
    return {m["source_id"]: (m["id"], m["rule"]) for m in summary["matches"] if m["table"] == table}


async def test_photos_uploaded_before_their_package_stay_one_medium(
    wl: RunningPlatform, admin: str, new_site: Sites
) -> None:
    # The gateway's camera is the package's camera 315, out over the same weeks.
    site = await new_site(serial="315")
    uploaded = await _upload_herons(wl, admin, Uploads(wl.client, site.device_token))
    rows = _heron_rows()

    summary = await _import(wl, admin, site.project_id, zip_folder(EXAMPLE))

    assert _matched(summary, "deployments") == {
        HERON: (site.deployment_id, "camera and overlapping span")
    }
    assert _matched(summary, "media") == {
        rows[name]["mediaID"]: (medium["id"], "content hash") for name, medium in uploaded.items()
    }
    assert summary["created"]["media"] == TOTAL_MEDIA - 10
    assert summary["created"]["deployments"] == 3
    media = await _all(wl, admin, f"/v1/projects/{site.project_id}/media")
    assert len(media) == TOTAL_MEDIA
    deployments = await _all(wl, admin, f"/v1/projects/{site.project_id}/deployments")
    assert len(deployments) == 4
    heron = next(d for d in deployments if d["id"] == site.deployment_id)
    # The gateway's camera stays the deployment's, so its token still places new photos.
    assert heron["device_id"] == site.device_id
    for name, before in uploaded.items():
        after = await ok(
            await wl.client.get(f"/v1/media/{before['id']}", headers=bearer(admin)), 200
        )
        assert after["deployment_id"] == site.deployment_id
        assert datetime.fromisoformat(after["captured_at"]) == datetime.fromisoformat(
            rows[name]["timestamp"]
        )
        # The package's boxes now sit on the uploaded photo.
        assert "Ardea" in {o["scientific_name"] for o in after["observations"]}, name

    # The same package again finds everything by the ids the first import gave it.
    again = await _import(wl, admin, site.project_id, zip_folder(EXAMPLE))
    assert again["matches"] == []
    assert again["created"].get("media", 0) == 0
    assert again["updated"]["media"] == TOTAL_MEDIA
    assert len(await _all(wl, admin, f"/v1/projects/{site.project_id}/media")) == TOTAL_MEDIA


async def test_a_deployment_is_found_by_the_photos_it_holds(
    wl: RunningPlatform, admin: str, site: Site, upload: Uploads
) -> None:
    # The site's camera has another serial than the package's: its photos tell it apart.
    uploaded = await _upload_herons(wl, admin, upload)

    summary = await _import(wl, admin, site.project_id, zip_folder(EXAMPLE))

    assert _matched(summary, "deployments") == {HERON: (site.deployment_id, "holds the same media")}
    assert {rule for _, rule in _matched(summary, "media").values()} == {"content hash"}
    assert len(_matched(summary, "media")) == len(uploaded) == 10
    assert len(await _all(wl, admin, f"/v1/projects/{site.project_id}/media")) == TOTAL_MEDIA


async def test_without_the_files_a_photo_is_known_by_deployment_time_and_name(
    wl: RunningPlatform, admin: str, new_site: Sites
) -> None:
    site = await new_site(serial="315")
    uploaded = await _upload_herons(wl, admin, Uploads(wl.client, site.device_token))
    rows = _heron_rows()

    summary = await _import(wl, admin, site.project_id, _tables_only())

    assert _matched(summary, "media") == {
        rows[name]["mediaID"]: (medium["id"], "deployment, timestamp and file name")
        for name, medium in uploaded.items()
    }
    assert summary["media_files_stored"] == 0
    media = await _all(wl, admin, f"/v1/projects/{site.project_id}/media")
    assert len(media) == TOTAL_MEDIA
    # The uploaded photos keep their bytes.
    for medium in uploaded.values():
        after = await ok(
            await wl.client.get(f"/v1/media/{medium['id']}", headers=bearer(admin)), 200
        )
        assert after["sha256"] == medium["sha256"]


async def test_a_camera_out_at_another_time_is_another_deployment(
    wl: RunningPlatform, admin: str, new_site: Sites
) -> None:
    # Camera 315, but a year before the package's deployment: nothing to match.
    site = await new_site(
        serial="315", start="2020-03-27T21:38:18+01:00", end="2020-04-18T22:25:00+01:00"
    )
    summary = await _import(wl, admin, site.project_id, _tables_only())
    assert summary["matches"] == []
    assert summary["created"]["deployments"] == 4


async def test_a_package_exported_by_the_platform_comes_back_onto_its_own_records(
    tmp_path: Path, wl: RunningPlatform, admin: str, site: Site, upload: Uploads
) -> None:
    accepted = await upload(sorted((EXAMPLE / "media").glob("*.JPG"))[0])

    async def recorded() -> bool:
        response = await wl.client.get(f"/v1/media/{accepted['media_id']}", headers=bearer(admin))
        return response.status_code == 200

    await eventually(recorded)
    h = bearer(admin)
    pid = site.project_id
    job = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/exports", json={"format": "camtrap-dp"}, headers=h
        ),
        202,
    )

    async def finished() -> dict[str, Any] | None:
        body = await ok(
            await wl.client.get(f"/v1/projects/{pid}/exports/{job['id']}", headers=h), 200
        )
        return body if body["status"] in ("done", "failed") else None

    done = await eventually(finished, timeout=60)
    assert done["status"] == "done", done["error"]
    package = await wl.platform.store.get_bytes(f"exports/{pid}/{job['id']}.zip")

    summary = await _import(wl, admin, pid, package)

    assert _matched(summary, "deployments") == {
        site.deployment_id: (site.deployment_id, "platform id")
    }
    assert _matched(summary, "media") == {
        accepted["media_id"]: (accepted["media_id"], "platform id")
    }
    assert summary["created"].get("media", 0) == 0
    assert len(await _all(wl, admin, f"/v1/projects/{pid}/media")) == 1


async def test_a_coco_file_names_the_photos_the_gateway_uploaded(
    wl: RunningPlatform, admin: str, site: Site, upload: Uploads
) -> None:
    uploaded = await _upload_herons(wl, admin, upload)
    rows = _heron_rows()
    # The photos' labels, from a COCO Camera Traps file of the same site: local camera time.
    document = {
        "info": {"version": "1.0"},
        "images": [
            {
                "id": f"img-{n}",
                "file_name": f"card1/{name}",
                "location": "B_DM_val 4_'t WAD",
                "datetime": datetime.fromisoformat(rows[name]["timestamp"]).strftime(
                    "%Y-%m-%d %H:%M:%S"
                ),
            }
            for n, name in enumerate(sorted(uploaded))
        ],
        "categories": [{"id": 1, "name": "Ardea cinerea"}],
        "annotations": [
            {"id": f"a-{n}", "image_id": f"img-{n}", "category_id": 1} for n in range(len(uploaded))
        ],
    }
    response = await wl.client.post(
        f"/v1/projects/{site.project_id}/imports/coco",
        files={"file": ("coco.json", json.dumps(document).encode(), "application/json")},
        data={"utc_offset": "+01:00"},
        headers=bearer(admin),
    )
    summary = await ok(response, 200)

    deployment = _matched(summary, "deployments")
    assert [(i, rule) for i, rule in deployment.values()] == [
        (site.deployment_id, "location and overlapping span")
    ]
    assert _matched(summary, "media") == {
        f"img-{n}": (uploaded[name]["id"], "deployment, timestamp and file name")
        for n, name in enumerate(sorted(uploaded))
    }
    assert summary["created"].get("media", 0) == 0
    assert len(await _all(wl, admin, f"/v1/projects/{site.project_id}/media")) == 10
    assert len(await _all(wl, admin, f"/v1/projects/{site.project_id}/deployments")) == 1
    labelled = await ok(
        await wl.client.get(
            f"/v1/media/{uploaded[sorted(uploaded)[0]]['id']}", headers=bearer(admin)
        ),
        200,
    )
    assert "Ardea cinerea" in {o["scientific_name"] for o in labelled["observations"]}
