"""Whose a bulk upload is, and what an upload may name.

An upload session belongs to whoever opened it (a person, or an upload station with its device
token) and to the project's managers; to anyone else, in the project or not, it does not exist.
An upload that names another project's deployment or camera is refused while the caller waits,
and nothing of it is kept.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from tests.support import bad_files
from tests.support.api import Site, bearer, ok, post_media
from tests.support.factories import Sites, Tokens
from tests.support.platform import RunningPlatform
from wildlens.ingest.models import BulkUpload, IngestedMedia

pytestmark = pytest.mark.services("catalogue", "ingest")


def _entry(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


async def _every_call(
    client: httpx.AsyncClient, upload: str, token: str
) -> dict[str, httpx.Response]:
    """Each thing one can do with an upload session, done with ``token``."""
    h = bearer(token)
    return {
        "read": await client.get(f"/v1/uploads/{upload}", headers=h),
        "add files": await client.post(
            f"/v1/uploads/{upload}/files",
            json={"files": [_entry("more.jpg", b"more")]},
            headers=h,
        ),
        "renew urls": await client.post(f"/v1/uploads/{upload}/urls", headers=h),
        "complete": await client.post(f"/v1/uploads/{upload}/complete", headers=h),
    }


def _statuses(answers: dict[str, httpx.Response]) -> dict[str, int]:
    return {what: response.status_code for what, response in answers.items()}


async def test_an_upload_session_is_its_openers_and_the_managers(
    wl: RunningPlatform, admin: str, new_site: Sites, token_for: Tokens
) -> None:
    mine = await new_site(name="Mine")
    theirs = await new_site(name="Theirs", serial="OTHER-CAM")
    pid = mine.project_id
    annotator = token_for("annotator", {pid: "annotator"})
    people = {
        "another annotator": token_for("annotator-2", {pid: "annotator"}),
        "viewer": token_for("viewer", {pid: "viewer"}),
        "volunteer": token_for("volunteer", {pid: "volunteer"}),
        "the project's gateway": mine.device_token,
        "another project's admin": token_for("outsider", {theirs.project_id: "admin"}),
        "another project's gateway": theirs.device_token,
    }
    everything = {"read": 200, "add files": 200, "renew urls": 200, "complete": 200}
    hidden = dict.fromkeys(everything, 404)

    # A person's session: the gateway of the same project cannot touch it (it could before).
    by_annotator = await ok(
        await wl.client.post(
            "/v1/uploads",
            json={"project_id": pid, "files": [_entry("a.jpg", bad_files.small_jpeg())]},
            headers=bearer(annotator),
        ),
        201,
    )
    for who, token in people.items():
        answers = await _every_call(wl.client, by_annotator["id"], token)
        assert _statuses(answers) == hidden, who
        # Refused the same way as an id that exists nowhere: nothing says it exists.
        assert {r.json()["detail"] for r in answers.values()} == {"upload not found"}
    assert _statuses(await _every_call(wl.client, by_annotator["id"], annotator)) == everything
    manager = token_for("manager", {pid: "manager"})
    assert _statuses(await _every_call(wl.client, by_annotator["id"], manager)) == everything
    assert _statuses(await _every_call(wl.client, by_annotator["id"], admin)) == everything
    # Its opener, demoted to viewer, may still watch it but no longer feed it.
    demoted = token_for("annotator", {pid: "viewer"})
    assert _statuses(await _every_call(wl.client, by_annotator["id"], demoted)) == {
        "read": 200,
        "add files": 403,
        "renew urls": 403,
        "complete": 403,
    }
    # And gone from the project, they no longer see it.
    departed = token_for("annotator", {theirs.project_id: "admin"})
    assert _statuses(await _every_call(wl.client, by_annotator["id"], departed)) == hidden

    # An upload station opens sessions for its own camera; they are its own and the managers'.
    by_gateway = await ok(
        await wl.client.post(
            "/v1/uploads",
            json={"files": [_entry("b.jpg", bad_files.valid_png())]},
            headers=bearer(mine.device_token),
        ),
        201,
    )
    assert by_gateway["project_id"] == pid
    progress = await ok(
        await wl.client.get(f"/v1/uploads/{by_gateway['id']}", headers=bearer(manager)), 200
    )
    assert progress["device_id"] == mine.device_id
    assert progress["created_by"] == f"gateway:{mine.device_id}"
    assert (
        _statuses(await _every_call(wl.client, by_gateway["id"], mine.device_token)) == everything
    )
    for who, token in {"annotator": annotator, **people}.items():
        if token != mine.device_token:
            assert _statuses(await _every_call(wl.client, by_gateway["id"], token)) == hidden, who
    # A person cannot pass for a gateway by taking its subject as a name.
    impostor = token_for(f"gateway:{mine.device_id}", {pid: "annotator"})
    assert _statuses(await _every_call(wl.client, by_gateway["id"], impostor)) == hidden


async def _nothing_stored(wl: RunningPlatform) -> None:
    """No upload session, no medium, no original and no announcement."""
    ingest = wl.platform.contexts["ingest"]
    async with ingest.db.transaction() as session:
        for table in (BulkUpload, IngestedMedia):
            count = (await session.exec(select(func.count()).select_from(table))).one()
            assert count == 0, f"{table.__tablename__}: {count} rows"
    assert [info.key for info in await wl.platform.store.list("media/")] == []
    assert await ingest.relay.relay_once() == 0


async def test_uploads_naming_another_projects_deployment_or_camera_are_refused(
    wl: RunningPlatform, admin: str, new_site: Sites, token_for: Tokens
) -> None:
    mine = await new_site(name="Mine")
    theirs = await new_site(name="Theirs", serial="OTHER-CAM")
    pid = mine.project_id
    member = token_for("member", {pid: "annotator"})
    image = bad_files.small_jpeg()
    manifest = [_entry("a.jpg", image)]

    def field_of(response: httpx.Response) -> list[Any]:
        assert response.status_code == 422, response.text
        return [f["location"] for f in response.json()["fields"]]

    for token in (member, admin):
        # The deployment of another project, with this project's id.
        bulk = await wl.client.post(
            "/v1/uploads",
            json={"project_id": pid, "deployment_id": theirs.deployment_id, "files": manifest},
            headers=bearer(token),
        )
        assert field_of(bulk) == [["body", "deployment_id"]]
        single = await post_media(
            wl.client,
            token,
            data=image,
            fields={"project_id": pid, "deployment_id": theirs.deployment_id},
        )
        assert field_of(single) == [["body", "deployment_id"]]
        # The camera of another project.
        bulk = await wl.client.post(
            "/v1/uploads",
            json={"project_id": pid, "device_id": theirs.device_id, "files": manifest},
            headers=bearer(token),
        )
        assert field_of(bulk) == [["body", "device_id"]]
        single = await post_media(
            wl.client, token, data=image, fields={"project_id": pid, "device_id": theirs.device_id}
        )
        assert field_of(single) == [["body", "device_id"]]
        # This project's deployment with another camera than its own.
        single = await post_media(
            wl.client,
            token,
            data=image,
            fields={
                "project_id": pid,
                "deployment_id": mine.deployment_id,
                "device_id": theirs.device_id,
            },
        )
        assert field_of(single) == [["body", "device_id"]]

    # A gateway naming another project's deployment: its token says which project it is in.
    for response in (
        await wl.client.post(
            "/v1/uploads",
            json={"deployment_id": theirs.deployment_id, "files": manifest},
            headers=bearer(mine.device_token),
        ),
        await post_media(
            wl.client,
            mine.device_token,
            data=image,
            fields={"deployment_id": theirs.deployment_id},
        ),
    ):
        assert field_of(response) == [["body", "deployment_id"]]
    await _nothing_stored(wl)


async def test_a_gateway_uploads_only_into_its_own_cameras_deployments(
    wl: RunningPlatform, admin: str, site: Site
) -> None:
    pid = site.project_id
    h = bearer(admin)
    camera = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/devices", json={"serial": "SECOND-CAM"}, headers=h
        ),
        201,
    )
    elsewhere = await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/deployments",
            json={
                "location_id": site.location_id,
                "device_id": camera["id"],
                "start": "2021-03-27T00:00:00+01:00",
            },
            headers=h,
        ),
        201,
    )
    image = bad_files.small_jpeg()
    # Another camera's deployment in the gateway's own project is not its to fill.
    for response in (
        await wl.client.post(
            "/v1/uploads",
            json={"deployment_id": elsewhere["id"], "files": [_entry("a.jpg", image)]},
            headers=bearer(site.device_token),
        ),
        await post_media(
            wl.client, site.device_token, data=image, fields={"deployment_id": elsewhere["id"]}
        ),
    ):
        assert response.status_code == 403, response.text
    await _nothing_stored(wl)
    # Its own camera's deployment is: the upload keeps it.
    accepted = await post_media(
        wl.client, site.device_token, data=image, fields={"deployment_id": site.deployment_id}
    )
    assert accepted.status_code == 202, accepted.text
    opened = await ok(
        await wl.client.post(
            "/v1/uploads",
            json={"deployment_id": site.deployment_id, "files": []},
            headers=bearer(site.device_token),
        ),
        201,
    )
    progress = await ok(
        await wl.client.get(f"/v1/uploads/{opened['id']}", headers=bearer(site.device_token)),
        200,
    )
    assert (progress["deployment_id"], progress["device_id"]) == (
        site.deployment_id,
        site.device_id,
    )
