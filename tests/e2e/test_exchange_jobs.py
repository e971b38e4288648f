"""Export jobs outlive the process that accepted them, on both backends."""

from __future__ import annotations

import csv
import io
import json
import uuid
import xml.etree.ElementTree as ET
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.e2e.test_exchange_coco import export_zip, import_example, new_project
from tests.e2e.test_predict import check_megadetector_format
from tests.support.api import bearer, ok
from tests.support.camtrapdp import validate
from tests.support.platform import RunningPlatform, admin_token, eventually, running
from wildlens.catalogue.models import ExportJob
from wildlens.common.db import create_database, utcnow
from wildlens.common.settings import Settings


async def _leave_jobs(settings: Settings, project_id: str) -> dict[str, uuid.UUID]:
    """What catalogue processes that are gone left behind: a job accepted but never started,
    one cut off halfway, one cut off too often, and one another live process is running."""
    pid = uuid.UUID(project_id)
    now = utcnow()
    jobs = {
        "queued": ExportJob(project_id=pid, format="csv", created_by="admin"),
        "cut off": ExportJob(
            project_id=pid,
            format="coco",
            created_by="admin",
            status="running",
            progress=0.4,
            attempts=1,
            lease_owner="catalogue-that-died",
            lease_expires_at=now - timedelta(seconds=5),
        ),
        "cut off too often": ExportJob(
            project_id=pid,
            format="coco",
            created_by="admin",
            status="running",
            attempts=3,
            lease_owner="catalogue-that-died",
            lease_expires_at=now - timedelta(seconds=5),
        ),
        "still running elsewhere": ExportJob(
            project_id=pid,
            format="dwca",
            created_by="admin",
            status="running",
            attempts=1,
            lease_owner="catalogue-alive",
            lease_expires_at=now + timedelta(hours=1),
        ),
    }
    db = create_database(settings, "catalogue")
    try:
        async with db.transaction() as session:
            session.add_all(jobs.values())
    finally:
        await db.dispose()
    return {name: job.id for name, job in jobs.items()}


async def _job(wl: RunningPlatform, token: str, pid: str, job_id: uuid.UUID) -> dict[str, Any]:
    response = await wl.client.get(f"/v1/projects/{pid}/exports/{job_id}", headers=bearer(token))
    return dict(await ok(response, 200))


async def _download(wl: RunningPlatform, url: str) -> bytes:
    if url.startswith(wl.settings.public_url):
        parts = urlsplit(url)
        response = await wl.client.get(f"{parts.path}?{parts.query}")
    else:
        async with httpx.AsyncClient() as outside:
            response = await outside.get(url)
    assert response.status_code == 200
    return response.content


async def test_jobs_left_by_a_stopped_catalogue_are_finished_by_the_next(
    settings_for: Any,
) -> None:
    settings = settings_for()
    admin = admin_token(settings)
    async with running(settings) as wl:
        pid = await new_project(wl, admin)
        await import_example(wl, admin, pid)
    jobs = await _leave_jobs(settings, pid)

    async with running(settings) as wl:

        async def settled() -> dict[str, dict[str, Any]] | None:
            states = {name: await _job(wl, admin, pid, i) for name, i in jobs.items()}
            waiting = ("queued", "cut off", "cut off too often")
            return (
                states if all(states[n]["status"] in ("done", "failed") for n in waiting) else None
            )

        states = await eventually(settled, timeout=120)
        assert states["queued"]["status"] == "done", states["queued"]["error"]
        assert states["cut off"]["status"] == "done", states["cut off"]["error"]
        assert states["cut off"]["progress"] == 1.0
        assert states["cut off too often"]["status"] == "failed"
        assert "interrupted 3 times" in states["cut off too often"]["error"]
        # A job another catalogue holds a live lease on is left to it.
        assert states["still running elsewhere"]["status"] == "running"
        assert states["still running elsewhere"]["download_url"] is None

        with zipfile.ZipFile(
            io.BytesIO(await _download(wl, states["cut off"]["download_url"]))
        ) as archive:
            assert len(json.loads(archive.read("coco.json"))["images"]) == 423
        with zipfile.ZipFile(
            io.BytesIO(await _download(wl, states["queued"]["download_url"]))
        ) as archive:
            assert archive.namelist() == ["observations.csv"]


async def test_an_export_request_is_checked(wl: RunningPlatform, admin: str) -> None:
    pid = await new_project(wl, admin)
    unknown = await wl.client.post(
        f"/v1/projects/{pid}/exports", json={"format": "shapefile"}, headers=bearer(admin)
    )
    assert unknown.status_code == 422
    assert "format" in unknown.text
    elsewhere = await wl.client.get(
        f"/v1/projects/{pid}/exports/{uuid.uuid4()}", headers=bearer(admin)
    )
    assert elsewhere.status_code == 404


async def test_a_catalogue_that_stops_hands_its_jobs_back(settings_for: Any) -> None:
    settings = settings_for()
    admin = admin_token(settings)
    async with running(settings) as wl:
        pid = await new_project(wl, admin)
        await import_example(wl, admin, pid)
        ctx = wl.platform.contexts["catalogue"]
        # A job this process holds with a lease that has long to run, as one it is working on.
        job = ExportJob(
            project_id=uuid.UUID(pid),
            format="csv",
            created_by="admin",
            status="running",
            attempts=1,
            lease_owner=ctx.instance,
            lease_expires_at=utcnow() + timedelta(hours=1),
        )
        async with ctx.db.transaction() as session:
            session.add(job)
    db = create_database(settings, "catalogue")
    try:
        async with db.transaction() as session:
            handed_back = await session.get(ExportJob, job.id)
            assert handed_back is not None
            assert (handed_back.status, handed_back.lease_owner) == ("queued", "")
    finally:
        await db.dispose()

    # The next catalogue runs it at once, without waiting for the old lease to run out.
    async with running(settings) as wl:

        async def done() -> dict[str, Any] | None:
            state = await _job(wl, admin, pid, job.id)
            return state if state["status"] in ("done", "failed") else None

        state = await eventually(done, timeout=60)
        assert state["status"] == "done", state["error"]


def _rows(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    text = archive.read(name).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text), delimiter="\t" if name.endswith(".txt") else ","))


async def test_an_empty_project_exports_valid_empty_files_in_every_format(
    tmp_path: Path, wl: RunningPlatform, admin: str
) -> None:
    pid = await new_project(wl, admin)

    with await export_zip(wl, admin, pid, "camtrap-dp") as archive:
        archive.extractall(tmp_path / "package")
    report = validate(tmp_path / "package" / "datapackage.json")
    assert report.valid, report.flatten(["type", "message"])[:10]
    for table in ("deployments", "media", "observations"):
        header = (tmp_path / "package" / f"{table}.csv").read_text().splitlines()
        assert len(header) == 1, table

    with await export_zip(wl, admin, pid, "coco") as archive:
        coco = json.loads(archive.read("coco.json"))
    assert (coco["images"], coco["annotations"]) == ([], [])
    assert isinstance(coco["categories"], list)

    with await export_zip(wl, admin, pid, "megadetector") as archive:
        results = json.loads(archive.read("megadetector.json"))
    check_megadetector_format(results)
    assert results["images"] == []

    with await export_zip(wl, admin, pid, "dwca") as archive:
        meta = ET.fromstring(archive.read("meta.xml"))
        core = meta.find("{http://rs.tdwg.org/dwc/text/}core")
        assert core is not None
        location = core.find(
            "{http://rs.tdwg.org/dwc/text/}files/{http://rs.tdwg.org/dwc/text/}location"
        )
        assert location is not None
        assert location.text
        assert _rows(archive, location.text) == []
        ET.fromstring(archive.read("eml.xml"))

    with await export_zip(wl, admin, pid, "csv") as archive:
        assert _rows(archive, "observations.csv") == []
