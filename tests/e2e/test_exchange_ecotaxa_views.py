"""Objects with several images (a FlowCam's or an IFCB's views: rows of one ``object_id``
with ``img_rank`` 0, 1, ...), on the embedded and the real backends: the rank-0 image is the
object's medium, the others are kept on it and exported back with their ranks, the object
counted once; a further image without its object, or a rank given twice, is refused."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from tests.e2e.test_exchange_coco import export_zip, new_project
from tests.e2e.test_exchange_ecotaxa import PLANKTON_TAXA, _job
from tests.e2e.test_taxa import import_tree
from tests.support.api import bearer, ok
from tests.support.ecotaxa import EcoRow, bundle_zip, write_bundle
from tests.support.platform import RunningPlatform, eventually

pytestmark = pytest.mark.services("catalogue", "ingest")


def _validated(object_id: str, kind: str, rank: int = 0, image: str = "") -> EcoRow:
    row = EcoRow(object_id, kind, 20 + rank * 4)
    row.cells |= {
        "object_annotation_status": "validated",
        "object_annotation_person_name": "Marie Curie",
        "img_rank": str(rank),
    }
    if image:
        row.cells["img_file_name"] = image
    return row


def _rows() -> list[EcoRow]:
    """f1 with three views (its further ones written first), f2 with one."""
    return [
        _validated("f1", "square", 2, "f1_2.png"),
        _validated("f1", "disc"),
        _validated("f1", "ring", 1, "f1_1.png"),
        _validated("f2", "disc"),
    ]


def _back(archive: zipfile.ZipFile) -> dict[tuple[str, str], dict[str, str]]:
    """The exported rows by object id and rank."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for name in archive.namelist():
        if name.endswith(".tsv") and "/ecotaxa_" in name:
            header, _types, *body = list(
                csv.reader(io.StringIO(archive.read(name).decode()), delimiter="\t")
            )
            for values in body:
                row = dict(zip(header, values, strict=True))
                row["_folder"] = name.rsplit("/", 1)[0]
                found[(row["object_id"], row["img_rank"])] = row
    return found


async def test_an_object_keeps_all_its_images_and_counts_once(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    await import_tree(wl.client, admin, PLANKTON_TAXA)
    pid = await new_project(wl, admin, "FlowCam")
    files = write_bundle(tmp_path / "views", _rows())
    done = await _job(wl, admin, pid, bundle_zip(files))
    assert done["status"] == "succeeded", (done["error"], done["problems"][:5])
    created = done["summary"]["created"]
    assert created["media"] == created["objects"] == created["observations"] == 2
    assert done["summary"]["media_files_stored"] == 4

    listed = await ok(
        await wl.client.get(f"/v1/projects/{pid}/media?limit=100", headers=bearer(admin)), 200
    )
    assert sorted(m["filename"] for m in listed["items"]) == ["f1.png", "f2.png"]
    abundance = await ok(
        await wl.client.get(f"/v1/projects/{pid}/statistics/abundance", headers=bearer(admin)),
        200,
    )
    assert [(r["sample"], r["taxon"], r["objects"]) for r in abundance["rows"]] == [
        ("s1", "Copepoda", 2)
    ]

    archive = await export_zip(wl, admin, pid, "ecotaxa")
    back = _back(archive)
    assert sorted(back) == [("f1", "0"), ("f1", "1"), ("f1", "2"), ("f2", "0")]
    for rank, image in (("0", "f1.png"), ("1", "f1_1.png"), ("2", "f1_2.png")):
        row = back[("f1", rank)]
        assert archive.read(f"{row['_folder']}/{row['img_file_name']}") == files[f"s1/{image}"]
        assert row["object_annotation_status"] == "validated"
        assert row["object_major"] == back[("f1", "0")]["object_major"]

    # The export imports again as it is: the same two objects, their views unchanged.
    exported = {n: archive.read(n) for n in archive.namelist() if not n.endswith("/")}
    other = await new_project(wl, admin, "FlowCam again")
    again = await _job(wl, admin, other, bundle_zip(exported))
    assert again["status"] == "succeeded", (again["error"], again["problems"][:5])
    assert again["summary"]["created"]["media"] == 2
    second = _back(await export_zip(wl, admin, other, "ecotaxa"))
    assert sorted(second) == sorted(back)

    # The further images go with their object: kept while the other project's copy holds
    # the same bytes, removed from the store once no object has them.
    store = wl.platform.store
    keys = [
        f"object-views/{digest[:2]}/{digest}.png"
        for digest in (
            hashlib.sha256(files[f"s1/{n}"]).hexdigest() for n in ("f1_1.png", "f1_2.png")
        )
    ]
    assert all([await store.exists(k) for k in keys])
    for project in (pid, other):
        media = await ok(
            await wl.client.get(f"/v1/projects/{project}/media?limit=100", headers=bearer(admin)),
            200,
        )
        f1 = next(m["id"] for m in media["items"] if m["filename"] == "f1.png")
        await ok(
            await wl.client.delete(f"/v1/projects/{project}/media/{f1}", headers=bearer(admin)),
            200,
        )
        if project == pid:
            await asyncio.sleep(0.5)
            assert all([await store.exists(k) for k in keys])

    async def gone() -> bool:
        return not any([await store.exists(k) for k in keys])

    await eventually(gone)


async def test_a_view_without_its_object_or_a_rank_twice_is_refused(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    await import_tree(wl.client, admin, PLANKTON_TAXA)
    pid = await new_project(wl, admin, "Bad views")
    rows = [
        _validated("f1", "disc"),
        _validated("f1", "ring", 1, "f1_1.png"),
        _validated("f1", "square", 1, "f1_1b.png"),
        _validated("lone", "ring", 1, "lone_1.png"),
    ]
    done = await _job(wl, admin, pid, bundle_zip(write_bundle(tmp_path / "bad", rows)))
    assert done["status"] == "failed"
    messages = [p["message"] for p in done["problems"]]
    assert any("'f1' appears twice with img_rank 1" in m for m in messages), messages
    assert any("'lone' has an image of img_rank 1 but none of rank 0" in m for m in messages)
    listed = await ok(
        await wl.client.get(f"/v1/projects/{pid}/media?limit=100", headers=bearer(admin)), 200
    )
    assert listed["items"] == []
